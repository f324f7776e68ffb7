"""The recorded video of alerts: alert and segment look-ups in PostgreSQL, segments from S3.

Used by ``vidsight alerts clip`` and the console. The PostgreSQL projection of
vidsight.recordings lists a camera's segments by time; each object is checked against the
SHA-256 its reference carries before it is used.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from producers.recording.clip import ClipInfo, SegmentRef, clip_range, covering, cut, gaps
from producers.recording.errors import ClipError
from schemas.records import from_micros, to_micros

MAX_CLIP_S = 600.0
"""The longest clip anyone gets (an alert that lasted longer is cut to its first minutes)."""

_SEGMENTS_SQL = """
SELECT camera_id, start_ts, end_ts, uri, sha256, bytes FROM recordings
WHERE camera_id = %s AND start_ts < %s AND end_ts > %s
ORDER BY start_ts
LIMIT 1000
"""


@dataclass(frozen=True, slots=True)
class AlertVideo:
    """The alert a clip is for and the range of video that covers it."""

    alert_id: str
    camera_id: str
    start_us: int
    end_us: int


def alert_uuid(alert_id: str) -> str:
    """The alert id in canonical form; ClipError when it is not a UUID."""
    text = alert_id.strip()
    if len(text) > 64:
        raise ClipError("alert id is not a UUID (too long)")
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ClipError(f"alert id {text[:64]!r} is not a UUID") from None


def _us(value: datetime) -> int:
    return to_micros(value)


class RecordingLibrary:
    """Alert ranges and segments from PostgreSQL, objects from S3 (a boto3 client)."""

    def __init__(self, postgres_dsn: str, s3: Any, bucket: str, *, timeout_s: float = 10) -> None:
        self._dsn = postgres_dsn
        self._s3 = s3
        self.bucket = bucket
        self._timeout = max(1, int(timeout_s))

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            with psycopg.connect(self._dsn, connect_timeout=self._timeout) as conn:
                return conn.execute(sql, params).fetchall()
        except psycopg.errors.UndefinedTable as exc:
            raise ClipError(
                "PostgreSQL has no recordings table yet (the postgres sink creates it)"
            ) from exc
        except psycopg.Error as exc:
            raise ClipError(f"PostgreSQL is not reachable: {type(exc).__name__}") from exc

    def alert_video(
        self, alert_id: str, *, pre_s: float, post_s: float, max_s: float = MAX_CLIP_S
    ) -> AlertVideo:
        """The alert's camera and its video range (pre/post roll, capped at ``max_s``)."""
        aid = alert_uuid(alert_id)
        rows = self._query(
            "SELECT camera_id, start_ts, coalesce(end_ts, updated_ts) FROM alerts "
            "WHERE alert_id = %s",
            (aid,),
        )
        if not rows:
            raise ClipError(f"alert {aid} is not in PostgreSQL")
        camera_id, start, end = rows[0]
        lo, hi = clip_range(
            _us(start), _us(end), pre_s=pre_s, post_s=post_s, max_s=min(max_s, MAX_CLIP_S)
        )
        return AlertVideo(aid, camera_id, lo, hi)

    def segments(self, camera_id: str, start_us: int, end_us: int) -> list[SegmentRef]:
        """The camera's segments that overlap ``[start_us, end_us)``, by start."""
        rows = self._query(_SEGMENTS_SQL, (camera_id, from_micros(end_us), from_micros(start_us)))
        found = [SegmentRef(c, _us(s), _us(e), u, h, int(b)) for c, s, e, u, h, b in rows]
        return covering(found, start_us, end_us)

    def download(self, segment: SegmentRef, directory: Path) -> Path:
        """The segment's object as a local file, checked against its SHA-256."""
        head = f"s3://{self.bucket}/"
        if not segment.uri.startswith(head):
            raise ClipError(f"segment {segment.uri} is not in bucket {self.bucket}")
        key = segment.uri[len(head) :]
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except Exception as exc:  # any S3/transport failure: say which object
            raise ClipError(f"recorded segment {key} cannot be fetched: {exc}") from exc
        if hashlib.sha256(body).hexdigest() != segment.sha256:
            raise ClipError(f"recorded segment {key} does not match its sha256")
        path = directory / f"{segment.start_us}.mp4"
        path.write_bytes(body)
        return path

    def clip(self, video: AlertVideo, out: Path) -> ClipInfo:
        """Cut the alert's range from its camera's segments into ``out`` (an MP4 file)."""
        segments = self.segments(video.camera_id, video.start_us, video.end_us)
        if not segments:
            raise ClipError(
                f"no recorded video of camera {video.camera_id} covers alert {video.alert_id}"
            )
        with tempfile.TemporaryDirectory(prefix="vidsight-clip-") as tmp:
            files = [(self.download(s, Path(tmp)), s.start_us) for s in segments]
            info = cut(files, video.start_us, video.end_us, out)
        missing = gaps(segments, max(video.start_us, info.start_us), video.end_us)
        if missing and info.note is None:
            total = sum(b - a for a, b in missing) / 1e6
            return ClipInfo(
                info.start_us,
                info.end_us,
                info.packets,
                info.segments,
                f"{total:.1f}s of the range has no recorded video",
            )
        return info
