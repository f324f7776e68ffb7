"""Record builders for the read-model tests (no tests here; imported by the test_rm_* modules)."""

from __future__ import annotations

from schemas.records import (
    Alert,
    AlertLifecycle,
    CrossingDirection,
    Feedback,
    SensorEvent,
    SensorEventKind,
    SensorKind,
    Severity,
    Verdict,
    alert_id,
    feedback_id,
    sensor_event_id,
)

CAM = "cam-1"
T0 = 1_700_000_000_000_000  # 2023-11-14T22:13:20Z
DAY0 = "2023-11-14"
HOUR = 3_600_000_000
DAY = 24 * HOUR


def event(
    kind: SensorEventKind,
    ts: int,
    *,
    sensor: str = "s1",
    camera: str = CAM,
    count: int | None = None,
    direction: CrossingDirection | None = None,
    track: int | None = 1,
) -> SensorEvent:
    return SensorEvent(
        event_id=sensor_event_id(camera, sensor, kind, ts, track, direction=direction),
        camera_id=camera,
        sensor_id=sensor,
        kind=kind,
        direction=direction,
        track_id=track,
        label="person",
        score=0.9,
        ts=ts,
        count=count,
        frame_seq=1,
    )


def occupancy(count: int, ts: int, sensor: str = "zone", camera: str = CAM) -> SensorEvent:
    return event(
        SensorEventKind.OCCUPANCY, ts, sensor=sensor, camera=camera, count=count, track=None
    )


def crossing(ts: int, direction: CrossingDirection, sensor: str = "line") -> SensorEvent:
    return event(SensorEventKind.LINE_CROSS, ts, sensor=sensor, direction=direction)


def alert(
    lifecycle: AlertLifecycle, revision: int, *, start: int = T0, sensor: str = "line"
) -> Alert:
    return Alert(
        alert_id=alert_id(CAM, sensor, start),
        camera_id=CAM,
        sensor_id=sensor,
        kind=SensorEventKind.LINE_CROSS,
        rule=SensorKind.TRIPWIRE,
        lifecycle=lifecycle,
        revision=revision,
        severity=Severity.HIGH,
        label="person",
        top_score=0.5 + revision / 10,
        start_ts=start,
        end_ts=None,
        updated_ts=start + revision,
        evidence_uri=f"s3://vidsight/evidence/{revision}.jpg",
        event_count=revision + 1,
    )


def feedback(verdict: Verdict, ts: int, *, sensor: str = "line", operator: str = "op") -> Feedback:
    aid = alert_id(CAM, sensor, T0)
    return Feedback(
        feedback_id=feedback_id(aid, operator, ts),
        alert_id=aid,
        camera_id=CAM,
        sensor_id=sensor,
        verdict=verdict,
        operator=operator,
        ts=ts,
    )
