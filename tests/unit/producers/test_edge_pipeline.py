"""The camera pipeline turns frames into FrameRef/Detections that match the scene's truth."""

from __future__ import annotations

import itertools

import numpy as np

from producers.detectors.ground_truth import GroundTruthDetector, GroundTruthOptions
from producers.detectors.motion import MotionDetector, MotionOptions
from producers.evidence import EvidenceRef, evidence_object
from producers.frames import Frame, Image
from producers.motion import MotionConfig, MotionGate
from producers.pipeline import CameraPipeline, PipelineOptions
from producers.sampling import Sampler
from producers.sources.base import SourceContext
from producers.sources.factory import open_source, parse_source
from producers.synthetic.scene import Scene, SceneSpec
from producers.tracking import Tracker, iou_matrix
from schemas.records.ids import detections_event_id, frame_event_id

START = 1_700_000_000_000_000


class MemoryEvidence:
    def __init__(self) -> None:
        self.puts: list[tuple[str, int, bytes]] = []

    def put(self, camera_id: str, frame_ts_us: int, jpeg: bytes) -> EvidenceRef:
        self.puts.append((camera_id, frame_ts_us, jpeg))
        return evidence_object(camera_id, frame_ts_us, jpeg).ref("bucket")


def fake_jpeg(img: Image, quality: int) -> bytes:
    return b"JPEG%d:%d" % (quality, int(img.sum()) % 1000)


def make(detector: object, sink: MemoryEvidence | None = None, **opts: object) -> CameraPipeline:
    return CameraPipeline(
        PipelineOptions(camera_id="cam", **opts),  # type: ignore[arg-type]
        sampler=Sampler(5),
        gate=MotionGate(MotionConfig(work_width=320)),
        detector=detector,  # type: ignore[arg-type]
        tracker_factory=lambda first: Tracker(first_id=first),
        evidence=sink,
        encode_jpeg=fake_jpeg,
    )


def synthetic(seed: int, seconds: int, fps: int = 10) -> list[Frame]:
    url = f"synthetic:crossing?seed={seed}&duration={seconds}&fps={fps}&start={START}"
    return list(open_source(parse_source(url), SourceContext(camera_id="cam", fps=fps)).frames())


def test_ground_truth_detector_gives_exact_tracks_and_boxes() -> None:
    evidence = MemoryEvidence()
    pipe = make(GroundTruthDetector(GroundTruthOptions()), evidence, gate=False)
    scene = Scene(SceneSpec(seed=4))
    outcomes = [o for f in synthetic(4, 30) if (o := pipe.process(f)) is not None]
    assert len(outcomes) == 150  # 10 fps rendered, 5 fps analysed
    assert [o.frame.seq for o in outcomes] == list(range(150))
    for o in outcomes:
        fr = o.frame
        assert fr.event_id == frame_event_id("cam", fr.frame_ts, fr.seq)
        assert fr.analysed and (fr.width, fr.height) == (640, 360)
        truth = scene.truth_at((fr.frame_ts - START) / 1e6)
        if not truth:
            assert o.detections is None and fr.object_count == 0 and fr.evidence_uri is None
            continue
        d = o.detections
        assert d is not None and d.model == "ground_truth"
        assert d.event_id == detections_event_id("cam", fr.frame_ts, fr.seq)
        # The scene's object ids, offset by the first analysed frame's time (ids of a
        # restarted source never collide with the old ones).
        base = outcomes[0].frame.frame_ts
        assert [(x.track_id, x.label, x.bbox) for x in d.objects] == [
            (base + t.object_id, t.label, t.bbox) for t in truth
        ]
        assert fr.object_count == len(truth)
        assert fr.evidence_uri == d.evidence_uri
        assert fr.evidence_uri == f"s3://bucket/evidence/cam/2023/11/14/22/{fr.frame_ts}.jpg"
    assert len(evidence.puts) == sum(1 for o in outcomes if o.detections is not None)


def test_motion_detector_and_tracker_follow_every_object() -> None:
    pipe = make(MotionDetector(MotionOptions()), None)
    scene = Scene(SceneSpec(seed=6))
    tracks: dict[int, set[int]] = {}
    ious = []
    for frame in synthetic(6, 60):
        o = pipe.process(frame)
        if o is None or o.detections is None:
            continue
        truth = [t for t in scene.truth_at(frame.pts_s) if t.bbox.area >= 0.004]
        objs = o.detections.objects
        if not truth:
            continue
        t_boxes = np.array([(t.bbox.x1, t.bbox.y1, t.bbox.x2, t.bbox.y2) for t in truth])
        o_boxes = np.array([(x.bbox.x1, x.bbox.y1, x.bbox.x2, x.bbox.y2) for x in objs])
        m = iou_matrix(t_boxes, o_boxes)
        for i, t in enumerate(truth):
            j = int(m[i].argmax())
            ious.append(m[i, j])
            if m[i, j] > 0.5:
                tracks.setdefault(t.object_id, set()).add(objs[j].track_id)
    assert len(tracks) >= 10
    assert all(len(ids) == 1 for ids in tracks.values()), tracks
    assert len({next(iter(v)) for v in tracks.values()}) == len(tracks)
    assert min(next(iter(v)) for v in tracks.values()) > START  # ids start at the first time
    assert float(np.median(ious)) > 0.85


def test_the_gate_skips_quiet_frames() -> None:
    pipe = make(MotionDetector(MotionOptions()), None)
    still = np.full((90, 160, 3), 100, dtype=np.uint8)
    outcomes = [
        pipe.process(
            Frame(ts_us=START + i * 200_000, pts_s=i * 0.2, width=160, height=90, bgr=still)
        )
        for i in range(5)
    ]
    assert all(o is not None and not o.frame.analysed and o.detector_s is None for o in outcomes)
    assert all(o is not None and o.frame.motion_score == 0.0 for o in outcomes)


def test_evidence_min_interval_and_switch() -> None:
    evidence = MemoryEvidence()
    pipe = make(
        GroundTruthDetector(GroundTruthOptions()), evidence, gate=False, evidence_min_interval_s=1.0
    )
    for f in synthetic(4, 20):
        pipe.process(f)
    times = [ts for _, ts, _ in evidence.puts]
    assert times and all(b - a >= 1_000_000 for a, b in itertools.pairwise(times))
    off = make(GroundTruthDetector(GroundTruthOptions()), evidence, gate=False, evidence=False)
    before = len(evidence.puts)
    outs = [off.process(f) for f in synthetic(4, 20)]
    assert len(evidence.puts) == before
    assert all(o is None or o.frame.evidence_uri is None for o in outs)
