"""``GET /api/alerts/{alert_id}/clip.mp4``: the recorded video of an alert, for the detail page.

Behind the console's login like every ``/api/`` path. The id must be a UUID; ``pre`` and
``post`` (seconds of video around the alert, default 5) are at most 60; a clip is at most
``MAX_CLIP_S`` long and at most ``MAX_CONCURRENT`` are cut at once (429 beyond), so one
operator cannot make the console fetch and remux hours of video. The clip is cut without
re-encoding into a temporary file and served with range support (the <video> element asks
for ranges as it seeks); the last few clips are kept for ``KEEP_S`` seconds so those range
requests do not cut the clip again, then deleted.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from producers.recording.clip import clip_range
from producers.recording.errors import ClipError
from producers.recording.library import RecordingLibrary, alert_uuid
from vidsight.console.context import Console
from vidsight.console.settings import ConsoleSettings

log = logging.getLogger(__name__)

MAX_CLIP_S = 120.0
MAX_ROLL_S = 60.0
MAX_CONCURRENT = 2
DEFAULT_ROLL_S = 5.0
KEEP_S = 120.0
KEEP_CLIPS = 8


def _roll(request: Request, name: str) -> float:
    raw = request.query_params.get(name)
    if raw is None:
        return DEFAULT_ROLL_S
    try:
        value = float(raw[:16])
    except ValueError:
        raise ValueError("not a number") from None
    if not 0 <= value <= MAX_ROLL_S:  # also refuses nan
        raise ValueError(f"must be between 0 and {MAX_ROLL_S:g} seconds")
    return value


def _library(settings: ConsoleSettings) -> RecordingLibrary:
    from vidsight.s3 import s3_client

    return RecordingLibrary(
        settings.postgres_dsn.get_secret_value(),
        s3_client(settings, timeout_s=settings.store_timeout_s, path_style=True),
        settings.s3_bucket,
        timeout_s=settings.store_timeout_s,
    )


class _Kept:
    """The last clips cut (key -> file, time), oldest first; files deleted when they go."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clips: OrderedDict[tuple[str, float, float], tuple[Path, float]] = OrderedDict()

    def get(self, key: tuple[str, float, float]) -> Path | None:
        with self._lock:
            self._expire(time.monotonic())
            found = self._clips.get(key)
            return None if found is None or not found[0].exists() else found[0]

    def put(self, key: tuple[str, float, float], path: Path) -> None:
        with self._lock:
            old = self._clips.pop(key, None)
            if old is not None:
                old[0].unlink(missing_ok=True)
            self._clips[key] = (path, time.monotonic())
            while len(self._clips) > KEEP_CLIPS:
                _, (gone, _) = self._clips.popitem(last=False)
                gone.unlink(missing_ok=True)

    def _expire(self, now: float) -> None:
        while self._clips:
            key, (path, made) = next(iter(self._clips.items()))
            if now - made < KEEP_S:
                return
            del self._clips[key]
            path.unlink(missing_ok=True)


def _cut(settings: ConsoleSettings, alert_id: str, pre_s: float, post_s: float) -> Path:
    library = _library(settings)
    video = library.alert_video(alert_id, pre_s=pre_s, post_s=post_s, max_s=MAX_CLIP_S)
    fd, name = tempfile.mkstemp(prefix="vidsight-clip-", suffix=".mp4")
    os.close(fd)
    path = Path(name)
    try:
        library.clip(video, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def video_range(alert: dict[str, Any]) -> tuple[int, int]:
    """The range of video the alert detail's clip shows (default pre/post roll, capped)."""
    end = alert.get("end_ts") or alert.get("updated_ts") or alert["start_ts"]
    return clip_range(
        alert["start_ts"], end, pre_s=DEFAULT_ROLL_S, post_s=DEFAULT_ROLL_S, max_s=MAX_CLIP_S
    )


def video_evidence(alert: dict[str, Any], recorded: list[tuple[int, int]]) -> dict[str, Any] | None:
    """What the alert detail says about its video: the range, how much of it is recorded,
    and where the clip is; None when no recorded segment overlaps it."""
    lo, hi = video_range(alert)
    covered = sum(max(0, min(b, hi) - max(a, lo)) for a, b in recorded)
    if not covered:
        return None
    return {
        "start_ts": lo,
        "end_ts": hi,
        "recorded_s": round(covered / 1e6, 3),
        "segments": len(recorded),
        "clip": f"/api/alerts/{alert['alert_id']}/clip.mp4",
    }


def _send(path: Path) -> Response:
    return FileResponse(
        path, media_type="video/mp4", headers={"cache-control": "private, max-age=60"}
    )


def clip_routes() -> list[Route]:
    """The clip route, with its own bound on concurrent cuts."""
    slots = threading.BoundedSemaphore(MAX_CONCURRENT)
    kept = _Kept()

    async def alert_clip(request: Request) -> Response:
        ctx: Console = request.app.state.console
        errors = []
        try:
            alert_id = alert_uuid(request.path_params["alert_id"])
        except ClipError:
            errors.append({"loc": ["path", "alert_id"], "msg": "not a UUID"})
        rolls: dict[str, float] = {}
        for name in ("pre", "post"):
            try:
                rolls[name] = _roll(request, name)
            except ValueError as exc:
                errors.append({"loc": ["query", name], "msg": str(exc)})
        if errors:
            return JSONResponse({"detail": errors}, status_code=422)
        key = (alert_id, rolls["pre"], rolls["post"])
        found = kept.get(key)
        if found is not None:
            return _send(found)
        if not slots.acquire(blocking=False):
            return JSONResponse({"error": "too many clips being cut; retry"}, status_code=429)
        try:
            path = await run_in_threadpool(
                _cut, ctx.settings, alert_id, rolls["pre"], rolls["post"]
            )
        except ClipError as exc:
            text = str(exc)
            if "is not in PostgreSQL" in text:
                return JSONResponse({"error": "no such alert"}, status_code=404)
            if "no recorded" in text:
                return JSONResponse({"error": "no recorded video covers this alert"}, 404)
            log.warning("clip failed alert=%s error=%s", alert_id, text)
            return JSONResponse({"error": "recorded video is not available"}, status_code=503)
        finally:
            slots.release()
        kept.put(key, path)
        return _send(path)

    return [Route("/api/alerts/{alert_id}/clip.mp4", alert_clip, methods=["GET"])]
