"""The analytics domains are in the one Definitions with their public asset keys."""

from dagster import AssetKey, Definitions

HOURLY = ["sensor_hourly", "camera_hourly", "occupancy_heatmap", "count_anomalies"]
DAILY = ["camera_health", "alert_quality", "storage_usage"]
SOURCES = [
    "clickhouse/detections", "clickhouse/sensor_events", "clickhouse/alerts", "mongo/detections",
    "postgres/alerts", "postgres/feedback", "s3/archive", "s3/evidence",
]  # fmt: skip


def test_analytics_assets_sources_and_sensors_load() -> None:
    from dagster_project.definitions import defs

    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    for name in HOURLY + DAILY + SOURCES:
        assert AssetKey(name.split("/")) in keys, name
    # each store depends on the topic it comes from
    parents = graph.get(AssetKey(["clickhouse", "detections"])).parent_keys
    assert parents == {AssetKey(["kafka", "vidsight.detections"])}
    assert graph.get(AssetKey("sensor_hourly")).partitions_def is not None
    repo = defs.get_repository_def()
    assert repo.has_sensor_def("sources_observer") and repo.has_sensor_def("closed_hours_sensor")
    assert repo.has_job("hourly_analytics")
