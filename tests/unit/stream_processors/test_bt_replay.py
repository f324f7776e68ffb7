"""The backtest's pure parts: input order, replay, false-positive matching, the report."""

from __future__ import annotations

import json

from sp_helpers import (
    CAM,
    T0,
    S,
    det,
    feedback,
    frame,
    make_engine,
    obj,
    tripwire,
    zone,
)

from schemas import catalog
from schemas.records import Alert, BBox, Detections, FrameRef, Verdict
from schemas.serde import InMemorySchemaResolver, Serde
from sinks.batching import SourceMessage
from sinks.s3archive import encode
from stream_processors.backtest.replay import by_camera, replay
from stream_processors.backtest.report import compare, false_positives
from stream_processors.backtest.source import archive_hours, decode_objects
from stream_processors.rules import EngineOptions


def _walk(
    camera: str = CAM, start: float = 0.0, seq0: int = 0
) -> tuple[list[FrameRef], list[Detections]]:
    """A person walking left to right across x = 0.5, five frames a second, then empty frames."""
    frames, dets = [], []
    for i in range(40):
        ts = T0 + round((start + i * 0.2) * S)
        seq = seq0 + i
        if i < 20:
            dets.append(det(ts, [obj(1, 0.1 + i * 0.04, 0.6)], seq=seq, camera=camera))
            frames.append(frame(ts, seq=seq, analysed=True, count=1, camera=camera))
        else:
            frames.append(frame(ts, seq=seq, analysed=True, count=0, camera=camera))
    return frames, dets


def test_inputs_are_merged_per_camera_with_each_frame_after_its_detections() -> None:
    frames, dets = _walk()
    other_frames, other_dets = _walk("cam-2")
    merged = by_camera(
        list(reversed(frames)) + other_frames,
        dets + dets[:3] + other_dets,  # redelivered 3
    )
    assert list(merged) == [CAM, "cam-2"]
    recs = merged[CAM]
    assert len(recs) == 60
    keys = [(r.frame_ts, r.seq, isinstance(r, FrameRef)) for r in recs]
    assert keys == sorted(keys)
    assert isinstance(recs[0], Detections) and isinstance(recs[1], FrameRef)


def test_replay_gives_what_the_engine_gives_fed_in_that_order() -> None:
    frames, dets = _walk()
    sensors = [tripwire(group_gap_s=1.0), zone(group_gap_s=1.0)]
    records = by_camera(frames, dets)
    engine = make_engine(*sensors)
    live: dict[str, Alert] = {}
    for rec in records[CAM]:
        outs = engine.on_detections(rec) if isinstance(rec, Detections) else engine.on_frame(rec)
        live.update({o.alert_id: o for o in outs if isinstance(o, Alert)})
    result = replay(sensors, records)
    assert live and result.alerts == live
    assert result.sensor_events["line"] == 1
    assert result.detections == 20 and result.frames == 40


def test_feedback_before_the_range_suppresses_and_the_report_counts_it() -> None:
    frames, dets = _walk()
    sensors = [zone(group_gap_s=1.0)]
    records = by_camera(frames, dets)
    first = replay(sensors, records)
    (alert,) = first.alerts.values()
    box = BBox(0.05, 0.39, 0.95, 0.61)  # the whole walk, as an operator drew it
    verdict = feedback(alert.alert_id, boxes=[box], ts=T0 - S)
    opts = EngineOptions(fp_iou=0.01)
    second = replay(sensors, records, [verdict], options=opts)
    assert second.alerts == {} and second.learned_fp > 0

    fps = false_positives([verdict], first.alerts)
    assert fps.matches(alert, 0.6)  # by id
    moved = zone("zone-2", group_gap_s=1.0)
    third = replay([moved], records)
    (other,) = third.alerts.values()
    assert other.alert_id != alert.alert_id
    assert fps.matches(other, 0.01) and not fps.matches(other, 0.99)  # by box

    results = compare([moved], sensors, cand_run=third, force_run=first, fps=fps, thr=0.6)
    by_id = {r.sensor_id: r for r in results}
    assert by_id["zone"].change == "removed" and by_id["zone"].candidate is None
    assert by_id["zone"].in_force is not None and by_id["zone"].in_force.false_positive_matches == 1
    assert by_id["zone-2"].change == "added" and by_id["zone-2"].alerts_added == (other.alert_id,)
    assert by_id["zone"].alerts_removed == (alert.alert_id,)


def test_a_later_true_positive_verdict_lifts_the_match() -> None:
    frames, dets = _walk()
    run = replay([zone(group_gap_s=1.0)], by_camera(frames, dets))
    (alert,) = run.alerts.values()
    fp = feedback(alert.alert_id, ts=T0)
    tp = feedback(alert.alert_id, Verdict.TRUE_POSITIVE, ts=T0 + S)
    assert not false_positives([tp, fp], run.alerts).matches(alert, 0.6)
    assert false_positives([fp], run.alerts).matches(alert, 0.6)


def test_unchanged_sensor_diff_is_empty_and_json_names_both_runs() -> None:
    from stream_processors.backtest.report import BacktestReport

    frames, dets = _walk()
    sensors = [zone(group_gap_s=1.0)]
    records = by_camera(frames, dets)
    run = replay(sensors, records)
    changed = [zone(group_gap_s=1.0, updated_ts=99)]  # only the update time differs
    fps = false_positives([], run.alerts)
    (result,) = compare(changed, sensors, cand_run=run, force_run=run, fps=fps, thr=0.6)
    assert result.change == "unchanged" and result.alerts_added == result.alerts_removed == ()
    report = BacktestReport(T0, T0 + 10 * S, None, (CAM,), 20, 40, 0, (result,), "s3://b/a")
    doc = json.loads(report.to_json())
    assert doc["sensors"][0]["candidate"]["alerts"] == 1
    assert doc["sensors"][0]["in_force"]["alert_ids"] == list(run.alerts)


def test_archive_objects_decode_to_the_range_and_cameras_asked() -> None:
    serde = Serde(InMemorySchemaResolver())
    codec = serde.topic(catalog.FRAMES, FrameRef)
    frames, _ = _walk()
    others, _ = _walk("cam-2")
    msgs = [
        SourceMessage(catalog.FRAMES, 0, i, f.camera_id.encode(), codec.encode(f), 0, ())
        for i, f in enumerate(frames + others)
    ]
    blob = encode(
        "k", msgs, topic=catalog.FRAMES, partition=0, block_start=0, block=1000, codec="null"
    )
    got = decode_objects(codec, catalog.FRAMES, [blob], [CAM], start_us=T0 + S, end_us=T0 + 2 * S)
    assert [f.frame_ts for f in got] == [f.frame_ts for f in frames[5:10]]


def test_archive_hours_cover_the_range_and_the_slack() -> None:
    hours = archive_hours(T0, T0 + 60 * S, 3600)
    assert hours[1].timestamp() <= T0 / S < hours[1].timestamp() + 3600
    assert len(hours) == 3


class _MemoryS3:
    def __init__(self, objects: dict[str, tuple[bytes, str]]) -> None:
        self.objects = objects
        self.gets = 0

    def get_paginator(self, name: str) -> _MemoryS3:
        return self

    def paginate(self, *, Bucket: str, Prefix: str) -> list[dict[str, object]]:  # noqa: N803
        keys = sorted(k for k in self.objects if k.startswith(Prefix))
        return [{"Contents": [{"Key": k, "ETag": self.objects[k][1]} for k in keys]}]

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, object]:  # noqa: N803
        import io

        self.gets += 1
        return {"Body": io.BytesIO(self.objects[Key][0])}


def test_the_reader_keeps_decoded_records_until_an_object_changes() -> None:
    from sinks.s3archive import hour_of, object_key
    from stream_processors.backtest.settings import BacktestSettings
    from stream_processors.backtest.source import ArchiveReader

    serde = Serde(InMemorySchemaResolver())
    codec = serde.topic(catalog.FRAMES, FrameRef)
    frames, _ = _walk()
    key = object_key("archive", catalog.FRAMES, 0, hour=hour_of(T0 // 1000), block_start=0,
                     block=1000)  # fmt: skip
    msgs = [
        SourceMessage(catalog.FRAMES, 0, i, f.camera_id.encode(), codec.encode(f), T0 // 1000, ())
        for i, f in enumerate(frames)
    ]

    def blob(n: int) -> bytes:
        return encode(key, msgs[:n], topic=catalog.FRAMES, partition=0, block_start=0,
                      block=1000, codec="null")  # fmt: skip

    s3 = _MemoryS3({key: (blob(10), "e1")})
    reader = ArchiveReader(BacktestSettings(archive_slack_s=0), s3)
    span = {"start_us": T0, "end_us": T0 + 60 * S}
    assert reader.records(codec, catalog.FRAMES, [CAM], **span) == frames[:10]
    assert reader.records(codec, catalog.FRAMES, [CAM], **span) == frames[:10]
    assert s3.gets == 1
    s3.objects[key] = (blob(20), "e2")  # a late batch merged into the object
    assert reader.records(codec, catalog.FRAMES, [CAM], **span) == frames[:20]
    assert s3.gets == 2
    assert reader.records(codec, catalog.FRAMES, ["cam-9"], **span) == []
