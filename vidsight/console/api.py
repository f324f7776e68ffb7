"""The JSON API (``/api/...``) and the evidence and event-stream endpoints.

Errors: 422 ``{"detail": [{"loc": [...], "msg": ...}]}`` naming each bad field by its path,
404 for an unknown alert, 409 for a refused sensor move, 501 while the backtest is missing,
503 when a store does not answer (the message says which, never how it is reached).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from schemas.records import now_micros
from vidsight.console import inputs
from vidsight.console.clips import video_evidence, video_range
from vidsight.console.context import Console
from vidsight.console.inputs import InputError
from vidsight.console.writes import MoveRefusedError, feedback_record, sensor_json, validate_sensor
from vidsight.errors import VidsightError
from vidsight.settings import shared_fields

log = logging.getLogger(__name__)
T = TypeVar("T")
HEARTBEAT_S = 15.0
BACKTEST_WINDOW_US = 24 * 3600 * 1_000_000


def _ctx(request: Request) -> Console:
    ctx: Console = request.app.state.console
    return ctx


def _user(request: Request) -> str:
    return str(request.scope["state"]["session"].user)


def unprocessable(exc: InputError) -> JSONResponse:
    return JSONResponse({"detail": exc.errors}, status_code=422)


async def _store(call: Callable[[], T], what: str) -> T | JSONResponse:
    try:
        return await run_in_threadpool(call)
    except Exception as exc:  # any driver error: the answer names the store, not the DSN
        log.warning("store call failed what=%s error=%s", what, type(exc).__name__)
        return JSONResponse({"error": f"{what} is not answering"}, status_code=503)


async def _json_body(request: Request) -> object:
    raw = await request.body()
    if len(raw) > _ctx(request).settings.max_body_bytes:
        raise InputError([{"loc": ["body"], "msg": "too large"}])
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise InputError([{"loc": ["header", "content-type"], "msg": "must be application/json"}])
    try:
        return json.loads(raw)
    except ValueError:
        raise InputError([{"loc": ["body"], "msg": "not valid JSON"}]) from None


async def list_alerts(request: Request) -> Response:
    try:
        query = inputs.parse_alert_query(request.query_params)
    except InputError as exc:
        return unprocessable(exc)
    rows = await _store(lambda: _ctx(request).stores.alerts(query), "PostgreSQL")
    if isinstance(rows, JSONResponse):
        return rows
    cursor = inputs.make_cursor(rows[-1]) if len(rows) == query.limit else None
    return JSONResponse({"alerts": rows, "next_cursor": cursor})


async def get_alert(request: Request) -> Response:
    try:
        aid = inputs.alert_id(request.path_params["alert_id"])
    except InputError as exc:
        return unprocessable(exc)
    ctx = _ctx(request)
    alert = await _store(lambda: ctx.stores.alert(aid), "PostgreSQL")
    if isinstance(alert, JSONResponse):
        return alert
    seen = ctx.hub.revisions(aid)
    if alert is None and not seen:
        return JSONResponse({"error": f"no alert {aid}"}, status_code=404)
    stored = await _store(lambda: ctx.stores.revisions(aid), "ClickHouse")
    revisions = {r["revision"]: r for r in ([] if isinstance(stored, JSONResponse) else stored)}
    revisions.update({r["revision"]: {**r, "review": None} for r in seen})
    latest = alert or max(seen, key=lambda r: r["revision"])
    if alert is not None:
        revisions.setdefault(alert["revision"], alert)
    objects: list[dict[str, Any]] = []
    if latest.get("evidence_uri"):
        found = await _store(
            lambda: ctx.stores.frame_objects(latest["camera_id"], latest["evidence_uri"]),
            "MongoDB",
        )
        objects = [] if isinstance(found, JSONResponse) else found
    lo, hi = video_range(latest)
    recorded = await _store(lambda: ctx.stores.recorded(latest["camera_id"], lo, hi), "PostgreSQL")
    video = None if isinstance(recorded, JSONResponse) else video_evidence(latest, recorded)
    return JSONResponse(
        {
            "alert": latest,
            "revisions": [revisions[k] for k in sorted(revisions)],
            "frame_objects": objects,
            "video": video,
        }
    )


async def post_feedback(request: Request) -> Response:
    ctx = _ctx(request)
    try:
        given = inputs.parse_feedback(await _json_body(request))
    except InputError as exc:
        return unprocessable(exc)
    alert = await _store(lambda: ctx.stores.alert(given.alert_id), "PostgreSQL")
    if isinstance(alert, JSONResponse):
        return alert
    if alert is None:
        seen = ctx.hub.revisions(given.alert_id)
        if not seen:
            return JSONResponse({"error": f"no alert {given.alert_id}"}, status_code=404)
        alert = seen[-1]
    record = feedback_record(given, alert, _user(request), now_micros())
    done = await _store(lambda: ctx.writer.publish_feedback(record), "Kafka")
    if isinstance(done, JSONResponse):
        return done
    return JSONResponse({"feedback": record.to_avro(), "status": "published"}, status_code=202)


async def list_cameras(request: Request) -> Response:
    cams = await _store(_ctx(request).stores.cameras, "PostgreSQL")
    if isinstance(cams, JSONResponse):
        return cams
    figures = await _ctx(request).readmodels.figures([c["camera_id"] for c in cams])
    for cam in cams:
        cam["live"] = figures.get(cam["camera_id"])
    return JSONResponse({"cameras": cams, "readmodels": figures.get("_state", "running")})


async def list_sensors(request: Request) -> Response:
    camera = request.query_params.get("camera")
    if camera is not None:
        try:
            inputs.ident(camera, ("query", "camera"))
        except InputError as exc:
            return unprocessable(exc)
    current = await _store(_ctx(request).writer.current_sensors, "Kafka")
    if isinstance(current, JSONResponse):
        return current
    shown = [sensor_json(c) for c in current.values() if camera in (None, c.camera_id)]
    return JSONResponse({"sensors": sorted(shown, key=lambda s: s["id"])})


async def get_sensor(request: Request) -> Response:
    try:
        sid = inputs.ident(request.path_params["sensor_id"], ("path", "sensor_id"))
    except InputError as exc:
        return unprocessable(exc)
    current = await _store(_ctx(request).writer.current_sensors, "Kafka")
    if isinstance(current, JSONResponse):
        return current
    if sid not in current:
        return JSONResponse({"error": f"no sensor {sid}"}, status_code=404)
    return JSONResponse({"sensor": sensor_json(current[sid])})


async def put_sensor(request: Request) -> Response:
    ctx = _ctx(request)
    allow_move = request.query_params.get("allow_move") == "true"
    dry_run = request.query_params.get("dry_run") == "true"
    try:
        sid = inputs.ident(request.path_params["sensor_id"], ("path", "sensor_id"))
        cfg = validate_sensor(sid, await _json_body(request))
    except InputError as exc:
        return unprocessable(exc)
    try:
        change = await run_in_threadpool(
            lambda: ctx.writer.save_sensor(cfg, allow_move=allow_move, dry_run=dry_run)
        )
    except MoveRefusedError as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    except Exception as exc:
        log.warning("sensor save failed error=%s", type(exc).__name__)
        return JSONResponse({"error": "Kafka is not answering"}, status_code=503)
    return JSONResponse(
        {"sensor": sensor_json(cfg), "action": change.action.value, "published": not dry_run}
    )


async def backtest_sensor(request: Request) -> Response:
    """What the candidate sensor would have done over the last 24 h (item 4's backtest)."""
    try:
        sid = inputs.ident(request.path_params["sensor_id"], ("path", "sensor_id"))
        cfg = validate_sensor(sid, await _json_body(request))
    except InputError as exc:
        return unprocessable(exc)
    try:
        from stream_processors.backtest import run_backtest
        from stream_processors.backtest.settings import BacktestSettings
    except ImportError:
        return JSONResponse(
            {"error": "the backtest (stream_processors.backtest) is not installed in this build"},
            status_code=501,
        )
    ctx = _ctx(request)
    settings = BacktestSettings.model_validate(
        {name: getattr(ctx.settings, name) for name in shared_fields(BacktestSettings)}
    )
    end = now_micros()
    try:
        report = await run_in_threadpool(
            lambda: run_backtest(
                settings,
                [cfg],
                start_us=end - BACKTEST_WINDOW_US,
                end_us=end,
                camera_id=cfg.camera_id,
                serde=ctx.writer.serde,
            )
        )
    except VidsightError as exc:  # its messages name what is wrong, never a credential
        return JSONResponse({"error": f"backtest failed: {exc}"}, status_code=503)
    except Exception as exc:  # a driver error may quote an endpoint: only its kind is shown
        log.warning("backtest failed error=%s", type(exc).__name__)
        return JSONResponse({"error": f"backtest failed: {type(exc).__name__}"}, status_code=503)
    return JSONResponse({"report": report.to_dict()})


async def evidence(request: Request) -> Response:
    ctx = _ctx(request)
    try:
        key = inputs.evidence_key(request.query_params.get("uri", ""), ctx.settings.s3_bucket)
    except InputError as exc:
        return unprocessable(exc)
    found = await _store(lambda: ctx.stores.evidence(key), "S3")
    if isinstance(found, JSONResponse):
        return found
    if found is None or not found[1].startswith("image/"):
        return JSONResponse({"error": "no such evidence image"}, status_code=404)
    return Response(
        found[0], media_type=found[1], headers={"cache-control": "private, max-age=3600"}
    )


async def events(request: Request) -> Response:
    """Server-Sent Events: one ``data:`` line per alert or feedback record, as it arrives."""
    hub = _ctx(request).hub
    queue = hub.subscribe()

    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n: connected\n\n"
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    yield ": ping\n\n"
                    continue
                if item is None:
                    return
                yield f"data: {item}\n\n"
        finally:
            hub.unsubscribe(queue)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"x-accel-buffering": "no"}
    )


async def session_info(request: Request) -> Response:
    session = request.scope["state"]["session"]
    ctx = _ctx(request)
    return JSONResponse({"user": session.user, "csrf_token": ctx.signer.csrf(session)})


async def openapi(request: Request) -> Response:
    from vidsight.console.openapi import SPEC

    return JSONResponse(SPEC)


ROUTES = [
    Route("/api/alerts", list_alerts, methods=["GET"]),
    Route("/api/alerts/{alert_id}", get_alert, methods=["GET"]),
    Route("/api/feedback", post_feedback, methods=["POST"]),
    Route("/api/cameras", list_cameras, methods=["GET"]),
    Route("/api/sensors", list_sensors, methods=["GET"]),
    Route("/api/sensors/{sensor_id}", get_sensor, methods=["GET"]),
    Route("/api/sensors/{sensor_id}", put_sensor, methods=["PUT"]),
    Route("/api/sensors/{sensor_id}/backtest", backtest_sensor, methods=["POST"]),
    Route("/api/session", session_info, methods=["GET"]),
    Route("/api/openapi.json", openapi, methods=["GET"]),
    Route("/evidence", evidence, methods=["GET"]),
    Route("/events", events, methods=["GET"]),
]
