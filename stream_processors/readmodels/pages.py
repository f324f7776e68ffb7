"""The HTTP pages: JSON views of the tables, each routed to the worker that holds the camera.

``@app.table_route(..., match_info="camera_id")`` hashes the camera id as the producers did
and, when another worker holds that partition, forwards the request (path and query) there.
"""

from __future__ import annotations

from faust.web import Request, Response, View

from stream_processors.readmodels.buckets import parse_day, utc_today
from stream_processors.readmodels.crossings import CameraCrossings, crossings_view
from stream_processors.readmodels.faust_app import ReadModelApp
from stream_processors.readmodels.metrics import ReadModelMetrics
from stream_processors.readmodels.occupancy import CameraOccupancy, occupancy_view
from stream_processors.readmodels.open_alerts import CameraAlerts, open_alerts_view
from stream_processors.readmodels.tables import StateTable
from stream_processors.readmodels.verdicts import CameraVerdicts, verdicts_view


def _day(web: View, request: Request) -> str | Response:
    """The ``day`` query parameter (default: today, UTC), or a 400 answer."""
    text = request.query.get("day")
    if text is None:
        return utc_today()
    try:
        return parse_day(text)
    except ValueError as exc:
        return web.json({"error": str(exc)}, status=400)


def add_pages(
    app: ReadModelApp,
    *,
    occupancy: StateTable[CameraOccupancy],
    crossings: StateTable[CameraCrossings],
    open_alerts: StateTable[CameraAlerts],
    fp_verdicts: StateTable[CameraVerdicts],
    metrics: ReadModelMetrics,
) -> None:
    """Register the ``/state/...`` pages and ``/metrics`` on the app's web server."""
    route = app.table_route

    @app.page("/state/occupancy/{camera_id}")
    @route(table=occupancy.table, match_info="camera_id")
    async def occupancy_page(web: View, request: Request, camera_id: str) -> Response:
        return web.json(occupancy_view(camera_id, occupancy.get(camera_id)))

    @app.page("/state/crossings/{camera_id}")
    @route(table=crossings.table, match_info="camera_id")
    async def crossings_page(web: View, request: Request, camera_id: str) -> Response:
        day = _day(web, request)
        if not isinstance(day, str):
            return day
        return web.json(crossings_view(camera_id, crossings.get(camera_id), day))

    @app.page("/state/crossings/{camera_id}/{sensor_id}")
    @route(table=crossings.table, match_info="camera_id")
    async def sensor_crossings_page(
        web: View, request: Request, camera_id: str, sensor_id: str
    ) -> Response:
        day = _day(web, request)
        if not isinstance(day, str):
            return day
        return web.json(crossings_view(camera_id, crossings.get(camera_id), day, sensor_id))

    @app.page("/state/alerts/open/{camera_id}")
    @route(table=open_alerts.table, match_info="camera_id")
    async def open_alerts_page(web: View, request: Request, camera_id: str) -> Response:
        return web.json(open_alerts_view(camera_id, open_alerts.get(camera_id)))

    @app.page("/state/feedback/{camera_id}")
    @route(table=fp_verdicts.table, match_info="camera_id")
    async def feedback_page(web: View, request: Request, camera_id: str) -> Response:
        return web.json(verdicts_view(camera_id, fp_verdicts.get(camera_id)))

    @app.page("/metrics")
    async def metrics_page(web: View, request: Request) -> Response:
        return web.bytes(metrics.exposition(), content_type="text/plain; version=0.0.4")
