"""Per-camera state to bytes and back, for the runtime's changelog topic.

JSON, not pickle: the bytes outlive the process that wrote them (a worker on another
version restores them after a rebalance), must not execute anything when read, and stay
readable when debugging a changelog. Python floats round-trip exactly through JSON, and
every collection is written in its iteration order, so a restored camera produces exactly
the outputs (ids, values, order) the original would have.
"""

from __future__ import annotations

import json
from typing import Any

from stream_processors.errors import SnapshotError
from stream_processors.rules.camera import Camera
from stream_processors.rules.kinds import compile_rule
from stream_processors.rules.tracks import Track

FORMAT = 1
"""Version of the state layout; a reader refuses versions it does not know."""


def dump_camera(cam: Camera) -> bytes:
    """The camera's state as compact JSON bytes."""
    rules = [[sid, r.fingerprint(), r.active, r.state()] for sid, r in cam.rules.items()]
    rules.extend([sid, *entry] for sid, entry in cam.orphans.items())
    state = {
        "v": FORMAT,
        "camera": cam.camera_id,
        "clock": [cam.det_ts, cam.det_seq, cam.watermark, cam.absence_ts, cam.msg_index],
        "tracks": [t.to_state() for t in cam.tracks.values()],
        "parked": cam.parked.to_state(),
        "rules": rules,
        "groups": cam.grouper.to_state(),
        "fp": cam.fp.to_state(),
        "alerts": cam.alerts.to_state(),
    }
    return json.dumps(state, separators=(",", ":"), allow_nan=False).encode()


def load_camera(cam: Camera, data: bytes) -> None:
    """Replace the camera's state with what :func:`dump_camera` wrote (rules stay as defined)."""
    try:
        state = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SnapshotError(f"camera {cam.camera_id!r}: state is not valid JSON: {exc}") from exc
    if not isinstance(state, dict) or state.get("v") != FORMAT:
        version = state.get("v") if isinstance(state, dict) else None
        raise SnapshotError(f"camera {cam.camera_id!r}: unknown state format {version!r}")
    if state.get("camera") != cam.camera_id:
        raise SnapshotError(
            f"camera {cam.camera_id!r}: state belongs to camera {state.get('camera')!r}"
        )
    try:
        _load(cam, state)
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotError(f"camera {cam.camera_id!r}: malformed state: {exc!r}") from exc


def _load(cam: Camera, state: dict[str, Any]) -> None:
    history = cam.opts.score_history
    cam.det_ts, cam.det_seq, cam.watermark, cam.absence_ts, cam.msg_index = (
        int(v) for v in state["clock"]
    )
    # In place: the camera's rule context holds this very dict.
    cam.tracks.clear()
    for t in state["tracks"]:
        track = Track.from_state(t, history)
        cam.tracks[track.track_id] = track
    cam.parked.load_state(state["parked"])
    # Fresh rules from their definitions, then the saved per-track state where it applies.
    definitions = [cam.rules[k].config for k in list(cam.rules)]
    cam.rules = {cfg.sensor_id: compile_rule(cfg, cam.opts) for cfg in definitions}
    cam.orphans = {}
    for sid, fingerprint, active, rule_state in state["rules"]:
        rule = cam.rules.get(sid)
        if rule is not None and rule.fingerprint() == fingerprint:
            rule.load(rule_state)
            rule.active = bool(active)
        elif rule is None:
            cam.orphans[str(sid)] = [fingerprint, active, rule_state]
    cam.grouper.load_state(state["groups"])
    cam.fp.load_state(state["fp"])
    cam.alerts.load_state(state["alerts"])
    cam.reload()
