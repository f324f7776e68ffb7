"""What the console reads from the stores (blocking; called from a thread pool).

PostgreSQL is the system of record for alerts, feedback, cameras; MongoDB holds one document per
analysed frame (the boxes of an evidence frame); ClickHouse the alert revisions not merged yet;
S3 the evidence images. Every query is parameterised and bounded (LIMIT, timeouts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from vidsight.console.settings import ConsoleSettings

ALERT_COLUMNS = (
    "alert_id", "camera_id", "sensor_id", "kind", "rule", "lifecycle", "revision", "severity",
    "label", "top_score", "start_ts", "end_ts", "updated_ts", "evidence_uri", "track_ids",
    "event_count", "direction", "bbox",
)  # fmt: skip
_TIMES = ("start_ts", "end_ts", "updated_ts", "ts")
REVIEW_SQL = (
    "(SELECT f.verdict FROM feedback f WHERE f.alert_id = a.alert_id ORDER BY f.ts DESC LIMIT 1)"
)


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """Validated filters and the page to fetch (see ``api.parse_alert_query``)."""

    camera: str | None = None
    sensor: str | None = None
    rule: str | None = None
    severity: str | None = None
    lifecycle: str | None = None
    review: str | None = None
    limit: int = 50
    before: tuple[int, str] | None = None  # cursor: (start_ts us, alert_id) of the last row


def micros(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return int(value.timestamp() * 1_000_000)
    return value


def alert_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """A store row as the Avro-shaped JSON the pages use (times in UTC microseconds)."""
    out = {k: micros(row.get(k)) if k in _TIMES else row.get(k) for k in ALERT_COLUMNS}
    out["alert_id"] = str(out["alert_id"])
    box = row.get("bbox")
    if isinstance(box, Sequence) and len(box) == 4:
        out["bbox"] = dict(zip(("x1", "y1", "x2", "y2"), (float(v) for v in box), strict=True))
    out["track_ids"] = list(row.get("track_ids") or [])
    out["review"] = _review(row.get("review"))
    return out


def _review(verdict: str | None) -> str:
    return verdict if verdict in ("true_positive", "false_positive") else "unreviewed"


class Stores:
    """Blocking readers of the stores; one short-lived connection per call."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.s = settings

    # ---- PostgreSQL -----------------------------------------------------------------------

    def _pg(self) -> Any:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict
        from psycopg.rows import dict_row

        timeout_ms = int(self.s.store_timeout_s * 1000)
        dsn = self.s.postgres_dsn.get_secret_value()
        # Keep the DSN's own options (a search_path, say): the keyword replaces them.
        given = str(conninfo_to_dict(dsn).get("options") or "")
        options = f"-c statement_timeout={timeout_ms} -c default_transaction_read_only=on"
        return psycopg.connect(
            dsn,
            connect_timeout=max(1, int(self.s.store_timeout_s)),
            row_factory=dict_row,
            options=f"{given} {options}" if given else options,
        )

    def alerts(self, q: AlertQuery) -> list[dict[str, Any]]:
        where: list[str] = []
        args: list[object] = []
        for column, value in (
            ("camera_id", q.camera),
            ("sensor_id", q.sensor),
            ("rule", q.rule),
            ("severity", q.severity),
            ("lifecycle", q.lifecycle),
        ):
            if value is not None:
                where.append(f"a.{column} = %s")
                args.append(value)
        if q.review == "unreviewed":
            where.append(
                f"coalesce({REVIEW_SQL}, 'unknown') NOT IN ('true_positive', 'false_positive')"
            )
        elif q.review is not None:
            where.append(f"{REVIEW_SQL} = %s")
            args.append(q.review)
        if q.before is not None:
            start = dt.datetime.fromtimestamp(q.before[0] / 1e6, tz=dt.UTC)
            where.append("(a.start_ts, a.alert_id) < (%s, %s::uuid)")
            args += [start, q.before[1]]
        sql = (
            f"SELECT a.*, {REVIEW_SQL} AS review FROM alerts a"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY a.start_ts DESC, a.alert_id DESC LIMIT %s"
        )
        with self._pg() as conn:
            rows = conn.execute(sql.encode(), [*args, q.limit]).fetchall()
        return [alert_view(r) for r in rows]

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        sql = f"SELECT a.*, {REVIEW_SQL} AS review FROM alerts a WHERE a.alert_id = %s::uuid"
        with self._pg() as conn:
            row = conn.execute(sql.encode(), [alert_id]).fetchone()
            if row is None:
                return None
            fb = conn.execute(
                b"SELECT feedback_id, verdict, operator, ts, note, label FROM feedback "
                b"WHERE alert_id = %s::uuid ORDER BY ts LIMIT 100",
                [alert_id],
            ).fetchall()
        view = alert_view(row)
        view["feedback"] = [
            {**f, "feedback_id": str(f["feedback_id"]), "ts": micros(f["ts"])} for f in fb
        ]
        return view

    def recorded(self, camera_id: str, start_us: int, end_us: int) -> list[tuple[int, int]]:
        """(start, end) in UTC micros of the camera's recorded segments overlapping the range;
        none when PostgreSQL has no recordings table (nothing recorded yet)."""
        with self._pg() as conn:
            if conn.execute(b"SELECT to_regclass('recordings') AS t").fetchone()["t"] is None:
                return []
            rows = conn.execute(
                b"SELECT start_ts, end_ts FROM recordings WHERE camera_id = %s "
                b"AND start_ts < %s AND end_ts > %s ORDER BY start_ts LIMIT 1000",
                [camera_id, dt.datetime.fromtimestamp(end_us / 1e6, tz=dt.UTC),
                 dt.datetime.fromtimestamp(start_us / 1e6, tz=dt.UTC)],
            ).fetchall()  # fmt: skip
        return [(micros(r["start_ts"]), micros(r["end_ts"])) for r in rows]

    def cameras(self) -> list[dict[str, Any]]:
        with self._pg() as conn:
            rows = conn.execute(
                b"SELECT camera_id, name, enabled FROM cameras ORDER BY camera_id LIMIT 1000"
            ).fetchall()
            known = {r["camera_id"] for r in rows}
            extra = conn.execute(
                b"SELECT DISTINCT camera_id FROM sensors ORDER BY camera_id LIMIT 1000"
            ).fetchall()
            latest = conn.execute(
                b"SELECT DISTINCT ON (camera_id) camera_id, evidence_uri FROM alerts "
                b"WHERE evidence_uri IS NOT NULL ORDER BY camera_id, start_ts DESC"
            ).fetchall()
            open_rows = conn.execute(
                f"SELECT a.*, {REVIEW_SQL} AS review FROM alerts a WHERE a.lifecycle <> 'end' "
                "ORDER BY a.start_ts DESC LIMIT 500".encode()
            ).fetchall()
        cams = [dict(r) for r in rows]
        others = {r["camera_id"] for r in (*extra, *latest, *open_rows)} - known
        cams += [{"camera_id": c, "name": None, "enabled": True} for c in sorted(others)]
        frames = {r["camera_id"]: r["evidence_uri"] for r in latest}
        for cam in cams:
            cam["latest_evidence"] = frames.get(cam["camera_id"])
            cam["open_alerts"] = [
                alert_view(r) for r in open_rows if r["camera_id"] == cam["camera_id"]
            ]
        return sorted(cams, key=lambda c: c["camera_id"])

    # ---- MongoDB and ClickHouse -----------------------------------------------------------

    def frame_objects(self, camera_id: str, evidence_uri: str) -> list[dict[str, Any]]:
        """The detections of the analysed frame whose evidence this is (MongoDB)."""
        import pymongo

        ms = int(self.s.store_timeout_s * 1000)
        client: Any = pymongo.MongoClient(
            self.s.mongo_uri.get_secret_value(),
            serverSelectionTimeoutMS=ms,
            connectTimeoutMS=ms,
            socketTimeoutMS=ms,
        )
        try:
            doc = client["vidsight"]["detections"].find_one(
                {"camera_id": camera_id, "evidence_uri": evidence_uri},
                {"objects": 1},
                max_time_ms=ms,
            )
        finally:
            client.close()
        return list((doc or {}).get("objects", []))[:500]

    def revisions(self, alert_id: str) -> list[dict[str, Any]]:
        """Alert rows of ClickHouse for one alert, without FINAL: every revision not merged."""
        import clickhouse_connect

        url = urlsplit(self.s.clickhouse_url)
        client = clickhouse_connect.get_client(
            host=url.hostname or "127.0.0.1",
            port=url.port or 8123,
            secure=url.scheme == "https",
            username=self.s.clickhouse_user,
            password=self.s.clickhouse_password.get_secret_value(),
            connect_timeout=self.s.store_timeout_s,
            send_receive_timeout=self.s.store_timeout_s,
            autogenerate_session_id=False,
            query_retries=0,
        )
        try:
            cols = ", ".join(c for c in ALERT_COLUMNS if c != "bbox")
            result = client.query(
                f"SELECT {cols} FROM vidsight.alerts WHERE alert_id = {{id:String}} "
                "ORDER BY revision LIMIT 200",
                parameters={"id": alert_id},
            )
            rows = [dict(zip(result.column_names, r, strict=True)) for r in result.result_rows]
        finally:
            client.close()
        return [alert_view(r) for r in rows]

    # ---- S3 -------------------------------------------------------------------------------

    def evidence(self, key: str) -> tuple[bytes, str] | None:
        """The bytes and content type of an evidence object, None when missing or too big."""
        from botocore.exceptions import ClientError

        from vidsight.s3 import s3_client

        client = s3_client(self.s, timeout_s=self.s.store_timeout_s, path_style=True)
        try:
            head = client.head_object(Bucket=self.s.s3_bucket, Key=key)
            if int(head["ContentLength"]) > self.s.evidence_max_bytes:
                return None
            body = client.get_object(Bucket=self.s.s3_bucket, Key=key)["Body"].read(
                self.s.evidence_max_bytes + 1
            )
        except ClientError:
            return None
        if len(body) > self.s.evidence_max_bytes:
            return None
        return body, sniff_image(body)


def sniff_image(data: bytes) -> str:
    """The content type of image bytes from their magic number (never the stored header)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"
