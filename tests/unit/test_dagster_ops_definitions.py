"""The lake, retention, checks and automation domains are in the one Definitions, on by default."""

from dagster import AssetKey, DefaultScheduleStatus, DefaultSensorStatus, Definitions

CHECKS = {
    "archive_manifest:archive_complete",
    "clickhouse/detections:rollups_match_raw",
    "occupancy_heatmap:heatmap_sums",
    "mongo/detections:stores_agree",
    "sensor_hourly:no_null_keys_sensor_hourly",
    "camera_hourly:no_null_keys_camera_hourly",
    "occupancy_heatmap:no_null_keys_heatmap_cells",
} | {
    f"{source}:freshness"
    for source in (
        "clickhouse/detections", "clickhouse/sensor_events", "clickhouse/alerts",
        "mongo/detections", "postgres/alerts", "postgres/feedback", "s3/archive", "s3/evidence",
    )
}  # fmt: skip
SENSORS = {"closed_hours_sensor", "late_archive_data", "sources_observer", "vidsight_automation"}
SCHEDULES = {"lake_parquet_daily_schedule", "retention_schedule"}


def test_every_check_sensor_and_schedule_is_present_and_on_by_default() -> None:
    from dagster_project.definitions import defs

    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    for name in ("archive_manifest", "lake_parquet", "retention"):
        assert AssetKey(name) in graph.get_all_asset_keys(), name
    assert {k.to_user_string() for k in graph.asset_check_keys} >= CHECKS
    repo = defs.get_repository_def()
    sensors = {s.name: s for s in repo.sensor_defs}
    assert set(sensors) >= SENSORS
    assert all(sensors[n].default_status is DefaultSensorStatus.RUNNING for n in SENSORS)
    schedules = {s.name: s for s in repo.schedule_defs}
    assert set(schedules) >= SCHEDULES
    assert all(schedules[n].default_status is DefaultScheduleStatus.RUNNING for n in SCHEDULES)


def test_archive_complete_blocks() -> None:
    from dagster_project.checks import archive_complete

    [spec] = archive_complete.check_specs
    assert spec.blocking
