"""Backtests on the real stack: synthetic scenes through edge, processor and the S3 archive
sink, then ``run_backtest`` (and ``vidsight sensors backtest``) over the archived range.

1. Backtesting the sensors in force over a range that starts at the scene start reproduces
   exactly the alerts the processor emitted (same alert ids), sensor by sensor.
2. Feedback teaches the filter: a nuisance light flickers in a zone that walkers cross
   elsewhere; the first two nuisance alerts are marked false positive with the function
   behind ``vidsight feedback mark``; after that, at least 80% of the nuisance alerts are
   suppressed and no walker alert is lost. The figures are printed (run with ``-s``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from click.testing import CliRunner

from producers.config import Camera
from producers.settings import EdgeSettings
from producers.synthetic.scene import Flicker, Scene, SceneSpec
from schemas import catalog
from schemas.records import Alert, BBox, Verdict, now_micros
from schemas.registration import register_all
from schemas.serde import Serde
from stream_processors.backtest import BacktestSettings, run_backtest
from stream_processors.feedback import AlertRef, publish_feedback, verdict_for
from stream_processors.rules.geometry import iou
from stream_processors.runtime import sensors_topic
from stream_processors.runtime.settings import ProcessorSettings
from tests.integration.test_processor_support import read_all
from tests.integration.test_sink_env import isolated
from vidsight.demo.pipeline import run_pipeline
from vidsight.demo.run import apply_site, scene_start
from vidsight.demo.site import demo_site

pytestmark = pytest.mark.integration

S = 1_000_000


def _settings(stack: Any, tag: str, tmp_path: Path) -> tuple[EdgeSettings, ProcessorSettings, Any]:
    edge = EdgeSettings(
        **{**stack.endpoints.model_dump(), "data_dir": tmp_path, "spool_dir": tmp_path / "spool"}
    )
    processor = ProcessorSettings(
        **stack.endpoints.model_dump(), group_id=f"it-{tag}-processor", session_timeout_ms=3000
    )
    return edge, processor, isolated(stack, tag)


def _emitted(stack: Any, serde: Serde, cameras: Sequence[str]) -> dict[str, Alert]:
    codec = serde.topic(catalog.ALERTS, Alert)
    out: dict[str, Alert] = {}
    for msg in sorted(read_all(stack, catalog.ALERTS), key=lambda m: (m.partition(), m.offset())):
        alert = codec.decode(msg.value())
        if alert.camera_id in cameras:
            out[alert.alert_id] = alert
    return out


def test_backtest_of_the_sensors_in_force_reproduces_the_emitted_alerts(
    catalog_topics: Any, tmp_path: Path
) -> None:
    stack = catalog_topics
    register_all(stack.endpoints)
    tag = f"bt{uuid.uuid4().hex[:6]}"
    site = demo_site(seconds=20, cameras=2, prefix=tag, first_seed=31)
    edge, processor, projection = _settings(stack, tag, tmp_path)
    site_file = tmp_path / "site.yaml"
    n_cameras, n_sensors = apply_site(site, site_file, edge, processor)
    start = scene_start(site, None)
    run_pipeline(
        site.edge_cameras(start),
        edge,
        processor,
        projection.settings,
        config_records={catalog.CONFIG_CAMERAS: n_cameras, catalog.CONFIG_SENSORS: n_sensors},
        stores=("s3",),
        timeout_s=300,
    )
    serde = Serde.for_registry(stack.endpoints)
    emitted = _emitted(stack, serde, site.camera_ids)
    assert len(emitted) >= 4, "the scenes raised alerts to reproduce"
    end = start + round(max(c.duration_s for c in site.cameras) * S) + 30 * S
    settings = BacktestSettings(
        **stack.endpoints.model_dump(),
        archive_prefix=projection.settings.archive_prefix,
        group_id=f"it-{tag}-backtest",
    )
    sensors, _ = sensors_topic.load_file(site_file, updated_ts=now_micros())
    report = run_backtest(settings, sensors, start_us=start, end_us=end, serde=serde)

    assert set(report.cameras) == set(site.camera_ids)
    assert report.detections > 0 and report.frames == sum(c.frames for c in site.cameras)
    for result in report.sensors:
        assert result.change == "unchanged", result
        assert result.candidate is not None and result.in_force is not None
        want = sorted(a for a, x in emitted.items() if x.sensor_id == result.sensor_id)
        assert list(result.in_force.alert_ids) == want, result.sensor_id
        assert result.candidate.alert_ids == result.in_force.alert_ids
    assert {a for r in report.sensors for a in r.in_force.alert_ids} == set(emitted)  # type: ignore[union-attr]

    # A candidate file without the loitering sensors and with a one-way line: the diff names
    # exactly the alerts that go away, and the CLI prints the same report as JSON.
    doc = site.document(start)
    doc["sensors"] = [s for s in doc["sensors"] if s["kind"] != "loitering"]
    for s in doc["sensors"]:
        if s["kind"] == "tripwire":
            s["direction"] = "a_to_b"
    candidate_file = tmp_path / "candidate.yaml"
    candidate_file.write_text(json.dumps(doc))
    from stream_processors.cli import cli

    env = {
        "VIDSIGHT_DATA_DIR": str(stack.data_dir),
        "VIDSIGHT_ARCHIVE_PREFIX": settings.archive_prefix,
        "VIDSIGHT_GROUP_ID": settings.group_id,
    }
    cam = site.camera_ids[0]
    out = CliRunner().invoke(
        cli,
        [
            "sensors",
            "backtest",
            str(candidate_file),
            "--from",
            str(start),
            "--to",
            str(end),
            "--camera",
            cam,
            "--json",
        ],
        env=env,
    )
    assert out.exit_code == 0, out.output
    cli_report = json.loads(out.output)
    by_id = {s["sensor_id"]: s for s in cli_report["sensors"]}
    assert by_id[f"{cam}-loiter"]["change"] == "removed"
    assert sorted(by_id[f"{cam}-loiter"]["alerts_removed"]) == sorted(
        a for a, x in emitted.items() if x.sensor_id == f"{cam}-loiter"
    )
    assert by_id[f"{cam}-upper"]["change"] == "unchanged"
    assert by_id[f"{cam}-upper"]["alerts_added"] == by_id[f"{cam}-upper"]["alerts_removed"] == []
    line = by_id[f"{cam}-line"]
    assert line["change"] == "changed"
    assert line["candidate"]["sensor_events"] < line["in_force"]["sensor_events"]


# ---- feedback teaches the filter ----------------------------------------------------------

LIGHT = (0.45, 0.08, 0.55, 0.2)
FLICKER = Flicker(BBox(*LIGHT), period_s=6.0, on_s=1.0, offset_s=3.0)
SPEC = SceneSpec(seed=5, labels=("person",), lanes=3, spawn_interval_s=6.0, flicker=FLICKER)
PHASE1_S, PHASE2_S = 14.0, 48.0


def _camera(camera_id: str, start_us: int, duration_s: float) -> Camera:
    url = (
        f"synthetic:crossing?seed={SPEC.seed}&labels=person&lanes=3&spawn=6"
        f"&duration={duration_s:g}&start={start_us}&flicker={','.join(map(str, LIGHT))},6,1,3"
    )
    return Camera(camera_id, "Flicker yard", url, 5.0, "motion", MappingProxyType({}))


def _is_nuisance(alert: Alert) -> bool:
    b = alert.bbox
    return b is not None and iou(b.x1, b.y1, b.x2, b.y2, *LIGHT) >= 0.3


def test_feedback_teaches_the_filter(catalog_topics: Any, tmp_path: Path) -> None:
    stack = catalog_topics
    register_all(stack.endpoints)
    tag = f"fp{uuid.uuid4().hex[:6]}"
    cam = f"{tag}-yard"
    edge, processor, projection = _settings(stack, tag, tmp_path)
    site_file = tmp_path / "site.yaml"
    site_file.write_text(json.dumps({
        "cameras": [{"id": cam, "source": "synthetic:crossing", "detector": {"kind": "motion"}}],
        "sensors": [{"id": f"{cam}-yard", "camera": cam, "kind": "zone", "labels": ["motion"],
                     "points": [[0.02, 0.02], [0.98, 0.02], [0.98, 0.98], [0.02, 0.98]],
                     "group_gap_s": 2.0}],
    }))  # fmt: skip
    serde = Serde.for_registry(processor)
    desired, scope = sensors_topic.load_file(site_file, updated_ts=now_micros())
    changes = sensors_topic.plan(sensors_topic.read_current(processor, serde), desired, scope)
    n_sensors = sensors_topic.publish(processor, serde, changes)

    def phase(start_us: int, seconds: float, configs: int = 0) -> dict[str, Alert]:
        run_pipeline(
            [_camera(cam, start_us, seconds)],
            edge,
            processor,
            projection.settings,
            config_records={catalog.CONFIG_SENSORS: configs},
            stores=("s3",),
            timeout_s=300,
        )
        return {
            a: x
            for a, x in _emitted(stack, serde, [cam]).items()
            if start_us <= x.start_ts < start_us + round(seconds * S)
        }

    start1 = now_micros() - round(PHASE1_S * S)
    first = phase(start1, PHASE1_S, n_sensors)
    nuisance1 = sorted((a for a in first.values() if _is_nuisance(a)), key=lambda a: a.start_ts)
    onsets1 = FLICKER.onsets(0, PHASE1_S)
    assert len(nuisance1) == len(onsets1) == 2, "every flicker alerted before any feedback"

    # The operator marks the first two nuisance alerts false positive (console not on main:
    # the publishing function of `vidsight feedback mark`, with the alert as the topic has it).
    publish_feedback(processor, serde, *(
        verdict_for(AlertRef(a.alert_id, a.camera_id, a.sensor_id, a.label, a.bbox),
                    Verdict.FALSE_POSITIVE, operator="it-operator", note="reason: lamp")
        for a in nuisance1
    ))  # fmt: skip
    marked_at = now_micros()

    start2 = max(marked_at + S, start1 + round(PHASE1_S * S) + 10 * S)
    second = phase(start2, PHASE2_S)
    onsets2 = FLICKER.onsets(0, PHASE2_S)
    nuisance2 = [a for a in second.values() if _is_nuisance(a)]
    walker_alerts = [a for a in second.values() if not _is_nuisance(a)]
    walkers = [o for o in Scene(SPEC).objects_between(0, PHASE2_S) if o.t_enter < PHASE2_S - 2]
    lost = [
        o
        for o in walkers
        if not any(
            0 <= a.start_ts - (start2 + round(o.t_enter * S)) <= 2 * S for a in walker_alerts
        )
    ]
    suppressed = 1 - len(nuisance2) / len(onsets2)
    print(
        f"\nFP learning: nuisance alerts before feedback {len(nuisance1)}/{len(onsets1)} "
        f"flickers; after {len(nuisance2)}/{len(onsets2)} flickers ({suppressed:.0%} "
        f"suppressed); walker alerts {len(walker_alerts)} for {len(walkers)} walkers, "
        f"{len(lost)} lost"
    )
    assert len(onsets2) >= 6 and len(walkers) >= 6
    assert suppressed >= 0.8
    assert lost == []

    # The backtest of the whole run (both phases, the verdicts in between) gives the same ids.
    settings = BacktestSettings(
        **stack.endpoints.model_dump(),
        archive_prefix=projection.settings.archive_prefix,
        group_id=f"it-{tag}-backtest",
    )
    report = run_backtest(
        settings, desired, start_us=start1, end_us=start2 + round(PHASE2_S * S) + 30 * S,
        serde=serde,
    )  # fmt: skip
    (result,) = report.sensors
    assert report.feedback == 2
    assert result.in_force is not None
    assert set(result.in_force.alert_ids) == set(first) | set(second)
    assert result.in_force.false_positive_matches == 2
