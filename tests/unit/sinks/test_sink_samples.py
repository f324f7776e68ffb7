"""The sample scene used by demos, integration tests and benchmarks is consistent."""

from __future__ import annotations

from schemas import catalog
from schemas.records import AlertLifecycle, alert_id, detections_event_id
from tests.support import samples


def test_scene_is_deterministic_and_ids_are_the_deterministic_ones() -> None:
    a, b = samples.scene(2, 30, seed=3), samples.scene(2, 30, seed=3)
    assert a == b
    d = a.detections[0]
    assert d.event_id == detections_event_id(d.camera_id, d.frame_ts, d.seq)
    first = a.alerts[0]
    assert first.alert_id == alert_id(first.camera_id, first.sensor_id, first.start_ts)


def test_alerts_go_new_update_end_and_each_cameras_last_one_stays_open() -> None:
    scene = samples.scene(3, 60)
    by_id: dict[str, list[AlertLifecycle]] = {}
    for alert in scene.alerts:
        by_id.setdefault(alert.alert_id, []).append(alert.lifecycle)
    full = [AlertLifecycle.NEW, AlertLifecycle.UPDATE, AlertLifecycle.END]
    assert all(steps in (full, full[:2]) for steps in by_id.values())
    assert scene.alert_states() == [("end", 2, 6), ("update", 1, 3)]
    assert len(scene.final_alerts()) == len(by_id) == 9


def test_prefix_keeps_scenes_apart_and_keys_follow_the_catalog() -> None:
    scene = samples.scene(1, 10, prefix="t1-")
    assert scene.cameras[0].camera_id == "t1-cam-000"
    sensor = scene.sensors[0]
    assert samples.message_key(catalog.CONFIG_SENSORS, sensor) == sensor.sensor_id.encode()
    assert samples.message_key(catalog.DETECTIONS, scene.detections[0]) == b"t1-cam-000"
    assert scene.object_count == sum(len(d.objects) for d in scene.detections)
