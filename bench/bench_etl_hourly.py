"""Dagster overhead of the hourly analytics: one hour with >= 1,000,000 detection rows.

Figures, all measured in this run on the same data:
- direct: the same work the assets do (``sensor_hourly``'s and ``heatmap_cells``'s
  delete-then-insert SQL, then the heatmap PNGs to S3), called as plain functions;
- dagster: ``materialize([sensor_hourly, occupancy_heatmap])`` in process on that partition;
- ratio dagster / direct (goal: overhead under 20 %, ratio <= 1.2).

The rows are generated inside ClickHouse (``numbers()``) into a database of the bench's own.
Usage: ``python bench/bench_etl_hourly.py --data-dir DIR [--rows 1000000] [--repeat 3]``
against a running stack (``vidsight up``; S3 is needed for the PNGs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime

HOUR = datetime(2024, 3, 4, 10, tzinfo=UTC)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("VIDSIGHT_DATA_DIR", ""))
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--cameras", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--database", default="bench_etl")
    args = ap.parse_args()
    os.environ["VIDSIGHT_CLICKHOUSE_DATABASE"] = args.database
    if args.data_dir:
        os.environ["VIDSIGHT_DATA_DIR"] = args.data_dir

    from dagster import DagsterInstance, materialize

    from dagster_project.analytics import occupancy_heatmap, render_heatmaps, replace_hour
    from dagster_project.analytics import sensor_hourly as sensor_hourly_asset
    from dagster_project.analytics_settings import analytics_settings, clickhouse
    from dagster_project.partitions import HOURLY
    from dagster_project.resources import PlatformResource
    from etl.analytics import sql

    s = analytics_settings(args.data_dir)
    db = sql.ident(args.database)
    client = clickhouse(s)
    for table in ("detections", "sensor_events"):
        client.command(f"TRUNCATE TABLE IF EXISTS {db}.{table}")
    start = sql.ts(HOUR)
    client.command(
        f"INSERT INTO {db}.detections (event_id, object_index, camera_id, frame_ts, seq, model, "
        "track_id, label, score, x1, y1, x2, y2, evidence_uri, _partition, _offset) "
        f"SELECT toString(intDiv(number, 4)), number % 4, concat('cam-', toString(number % "
        f"{args.cameras})), {start} + toIntervalMicrosecond(intDiv(number * 3599000000, "
        f"{args.rows})), intDiv(number, 4), 'bench', number % 500, "
        "['person', 'car'][1 + number % 2], 0.5 + (number % 50) / 100, "
        "(number % 97) / 100, (number % 89) / 100, (number % 97) / 100 + 0.02, "
        f"least(1, (number % 89) / 100 + 0.1), NULL, 0, number FROM numbers({args.rows})"
    )
    events = args.rows // 10
    client.command(
        f"INSERT INTO {db}.sensor_events (event_id, camera_id, sensor_id, kind, direction, "
        "track_id, label, score, ts, count, dwell_s, frame_seq, _partition, _offset) "
        f"SELECT toString(number), concat('cam-', toString(number % {args.cameras})), "
        "concat('s', toString(number % 3)), ['line_cross', 'zone_enter', 'zone_exit', "
        "'occupancy'][1 + number % 4], if(number % 4 = 0, "
        "['a_to_b', 'b_to_a'][1 + intDiv(number % 8, 4)], NULL), number % 500, 'person', 0.9, "
        f"{start} + toIntervalMicrosecond(intDiv(number * 3599000000, {events})), "
        "if(number % 4 = 3, toInt32(number % 9), NULL), if(number % 4 = 2, (number % 60) / 2, "
        f"NULL), number, 0, number FROM numbers({events})"
    )
    n = client.query(f"SELECT count() FROM {db}.detections").result_rows[0][0]
    client.close()

    def direct() -> None:
        replace_hour(s, "sensor_hourly", HOUR)
        replace_hour(s, "heatmap_cells", HOUR)
        render_heatmaps(s, HOUR)

    key = HOURLY.get_partition_key_for_timestamp(HOUR.timestamp())
    instance = DagsterInstance.ephemeral()
    resources = {"platform": PlatformResource(data_dir=args.data_dir)}

    def through_dagster() -> None:
        result = materialize(
            [sensor_hourly_asset, occupancy_heatmap],
            partition_key=key,
            resources=resources,
            instance=instance,
        )
        assert result.success

    timings: dict[str, list[float]] = {"direct": [], "dagster": []}
    for _ in range(args.repeat):  # interleaved so drift hits both alike
        for name, fn in (("direct", direct), ("dagster", through_dagster)):
            t0 = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - t0)
    d, g = statistics.median(timings["direct"]), statistics.median(timings["dagster"])
    print(f"detection rows in the hour: {n:,}; sensor events: {events:,}; cameras: {args.cameras}")
    print(f"{'path':<10}{'median s':>10}{'all runs (s)':>40}")
    for name, runs in timings.items():
        print(
            f"{name:<10}{statistics.median(runs):>10.3f}{'  '.join(f'{r:.3f}' for r in runs):>40}"
        )
    print(f"ratio dagster / direct: {g / d:.3f} (overhead {100 * (g / d - 1):.1f} %)")


if __name__ == "__main__":
    main()
