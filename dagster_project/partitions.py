"""The partitions every time-partitioned asset shares: UTC hours and UTC days.

Defined once so hourly assets, their checks, sensors and backfills agree on partition keys
(``2024-05-01-13:00`` for hours, ``2024-05-01`` for days). The start comes from
``VIDSIGHT_ETL_START_DATE`` when set (a deployment with no data before some day keeps the UI's
partition list short), else 2024-01-01.
"""

import os

from dagster import DailyPartitionsDefinition, HourlyPartitionsDefinition

DEFAULT_START_DATE = "2024-01-01"


def start_date() -> str:
    return os.environ.get("VIDSIGHT_ETL_START_DATE", "").strip() or DEFAULT_START_DATE


# end_offset=1: the hour (day) in progress is a partition too, so a demo or an operator can
# materialize what has arrived so far; sensors only request closed ones.
HOURLY = HourlyPartitionsDefinition(
    start_date=f"{start_date()}-00:00", timezone="UTC", end_offset=1
)
DAILY = DailyPartitionsDefinition(start_date=start_date(), timezone="UTC", end_offset=1)
