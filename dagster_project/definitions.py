"""The one ``Definitions`` of vidsight (``dagster-webserver -m dagster_project.definitions``).

Dagster discovers a module-level ``defs``; everything it holds is built by ``build_definitions``
from the ``DOMAIN`` of each domain module, so importing the assets registers nothing by side
effect. A new domain module adds its ``DOMAIN`` to ``DOMAINS`` below.
"""

from dagster import Definitions, in_process_executor

from dagster_project import (
    analytics,
    automation,
    checks,
    daily,
    lake,
    platform,
    retention,
    sources,
)
from dagster_project.domain import Domain
from dagster_project.resources import platform_resource

DOMAINS: tuple[Domain, ...] = (
    platform.DOMAIN,
    sources.DOMAIN,
    analytics.DOMAIN,
    daily.DOMAIN,
    lake.DOMAIN,
    retention.DOMAIN,
    checks.DOMAIN,
    automation.DOMAIN,
)


def build_definitions() -> Definitions:
    return Definitions(
        assets=[a for d in DOMAINS for a in d.assets],
        asset_checks=[c for d in DOMAINS for c in d.asset_checks],
        sensors=[s for d in DOMAINS for s in d.sensors],
        schedules=[s for d in DOMAINS for s in d.schedules],
        jobs=[j for d in DOMAINS for j in d.jobs],
        resources={"platform": platform_resource()},
        # One process per run: the assets' work happens in ClickHouse/S3, and a process per
        # step would multiply the run's memory by its steps (the queue runs at most two runs).
        executor=in_process_executor,
    )


defs = build_definitions()
