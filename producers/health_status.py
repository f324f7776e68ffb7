"""``vidsight edge status``: the nodes and cameras as PostgreSQL's ``camera_status`` has them.

``camera_status`` holds the latest heartbeat of every camera and node (the PostgreSQL sink
projects vidsight.health into it), so the status is one query, not a read of the topic.
``status_lines`` (pure) turns those heartbeats into what the command prints: each node with its
cameras under it, their state, the age of the last frame and the fps against the configured
one. A row whose heartbeat is older than ``SILENT_INTERVALS`` of its interval is shown as
``silent``: its sender stopped reporting (a killed node, a removed camera, a broker outage).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from producers.errors import EdgeError
from producers.settings import EdgeSettings
from schemas.records import HealthState, Heartbeat, heartbeat_id, to_micros
from sinks.postgres_settings import PostgresConnection

_STATES = {s.value: s for s in HealthState}

SILENT_INTERVALS = 3.0
"""A heartbeat older than this many intervals means its sender went silent."""

_COLUMNS = (
    "node_id", "site", "camera_id", "state", "configured_fps", "decoded_fps", "analysed_fps",
    "frames_decoded", "frames_analysed", "decode_errors", "reconnects", "last_frame_ts",
    "detector_latency_ms", "spool_depth", "spool_evictions", "evidence_backlog", "error",
    "interval_s", "ts",
)  # fmt: skip


class EdgeStatusSettings(EdgeSettings, PostgresConnection):
    """The edge's settings and where the camera_status projection is."""


class StatusUnavailableError(EdgeError):
    """camera_status could not be read."""


def read_status(dsn: str, *, timeout_s: float = 10.0) -> list[Heartbeat]:
    """The latest heartbeat of every camera and node, from PostgreSQL's camera_status."""
    query = f"SELECT {', '.join(_COLUMNS)} FROM camera_status ORDER BY node_id, key"
    try:
        with psycopg.connect(dsn, connect_timeout=max(1, int(timeout_s))) as conn:
            rows = conn.execute(query).fetchall()
    except psycopg.errors.UndefinedTable as exc:
        raise StatusUnavailableError(
            "camera_status does not exist yet: is the PostgreSQL sink running (vidsight up)?"
        ) from exc
    except psycopg.Error as exc:
        raise StatusUnavailableError(f"cannot read camera_status: {exc}".strip()) from exc
    beats = []
    for row in rows:
        v = dict(zip(_COLUMNS, row, strict=True))
        ts = to_micros(v["ts"])
        last = v["last_frame_ts"]
        beats.append(
            Heartbeat(
                heartbeat_id=heartbeat_id(v["node_id"], v["camera_id"], ts),
                node_id=v["node_id"],
                site=v["site"],
                camera_id=v["camera_id"],
                state=_STATES.get(v["state"], HealthState.UNKNOWN),
                configured_fps=v["configured_fps"],
                decoded_fps=v["decoded_fps"],
                analysed_fps=v["analysed_fps"],
                frames_decoded=v["frames_decoded"],
                frames_analysed=v["frames_analysed"],
                decode_errors=v["decode_errors"],
                reconnects=v["reconnects"],
                last_frame_ts=None if last is None else to_micros(last),
                detector_latency_ms=v["detector_latency_ms"],
                spool_depth=v["spool_depth"],
                spool_evictions=v["spool_evictions"],
                evidence_backlog=v["evidence_backlog"],
                error=v["error"],
                interval_s=v["interval_s"],
                ts=ts,
            )
        )
    return beats


@dataclass(frozen=True, slots=True)
class StatusLine:
    """One printed line: a node, or a camera of the node above it."""

    node_id: str
    camera_id: str | None
    state: str
    last_heard_s: float
    last_frame_s: float | None
    fps: str
    detail: str

    def as_json(self) -> dict[str, object]:
        """JSON-ready fields."""
        return {
            "node_id": self.node_id,
            "camera_id": self.camera_id,
            "state": self.state,
            "last_heard_s": round(self.last_heard_s, 1),
            "last_frame_s": None if self.last_frame_s is None else round(self.last_frame_s, 1),
            "fps": self.fps,
            "detail": self.detail,
        }


def _state(hb: Heartbeat, now_us: int) -> str:
    if (
        hb.state is not HealthState.STOPPED
        and now_us - hb.ts > SILENT_INTERVALS * hb.interval_s * 1e6
    ):
        return f"silent ({hb.state.value})"
    return hb.state.value


def _line(hb: Heartbeat, now_us: int) -> StatusLine:
    last_frame = None if hb.last_frame_ts is None else (now_us - hb.last_frame_ts) / 1e6
    if hb.camera_id is None:
        fps = f"{hb.analysed_fps:.1f} analysed, {hb.decoded_fps:.1f} decoded"
        site = f"site {hb.site}, " if hb.site else ""
        detail = (
            f"{site}spool {hb.spool_depth or 0} (evicted {hb.spool_evictions or 0}), "
            f"evidence backlog {hb.evidence_backlog or 0}"
        )
    else:
        configured = "?" if hb.configured_fps is None else f"{hb.configured_fps:g}"
        fps = f"{hb.analysed_fps:.1f}/{configured} (decoded {hb.decoded_fps:.1f})"
        detail = f"reconnects {hb.reconnects}, decode errors {hb.decode_errors}"
        if hb.detector_latency_ms is not None:
            detail += f", detector {hb.detector_latency_ms:.1f} ms"
        if hb.error:
            detail += f", error: {hb.error}"
    return StatusLine(
        node_id=hb.node_id,
        camera_id=hb.camera_id,
        state=_state(hb, now_us),
        last_heard_s=(now_us - hb.ts) / 1e6,
        last_frame_s=last_frame,
        fps=fps,
        detail=detail,
    )


def status_lines(beats: Sequence[Heartbeat], now_us: int) -> list[StatusLine]:
    """Each node (sorted by id), then its cameras (sorted by id); cameras whose node sent no
    heartbeat of its own still come under their node id."""
    nodes = {b.node_id: b for b in beats if b.camera_id is None}
    cameras: dict[str, list[Heartbeat]] = {}
    for b in beats:
        if b.camera_id is not None:
            cameras.setdefault(b.node_id, []).append(b)
    out: list[StatusLine] = []
    for node_id in sorted(set(nodes) | set(cameras)):
        node = nodes.get(node_id)
        if node is not None:
            out.append(_line(node, now_us))
        else:
            out.append(StatusLine(node_id, None, "no node heartbeat", 0.0, None, "", ""))
        for cam in sorted(cameras.get(node_id, []), key=lambda b: b.camera_id or ""):
            out.append(_line(cam, now_us))
    return out
