"""HTTP sessions (``session_id``): a chDB handle that outlives the request, as in ClickHouse.

A session keeps what its handle keeps: ``SET`` settings, ``USE`` database and temporary
tables. Like ClickHouse, a session expires ``session_timeout`` seconds after its last request
ended, ``session_check=1`` refuses to create one, ``close_session=1`` drops it after the
request, and a second request on a session that is still busy is refused at once
(SESSION_IS_LOCKED) instead of being queued.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from infra.clickhouse_http.engine import Handle
from infra.clickhouse_http.errors import ClickHouseHttpError, ErrorCode
from infra.clickhouse_http.protocol import QueryRequest, SessionSpec
from infra.clickhouse_http.query_context import SessionSettings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Session:
    """A session's handle and what is known about its settings."""

    handle: Handle
    timeout_s: float
    last_used: float
    busy: bool = False
    settings: SessionSettings = field(default_factory=SessionSettings)
    readonly: int | None = None  # the engine's readonly level, fixed by the first request


class SessionRegistry:
    """The open sessions, by id; thread-safe."""

    def __init__(
        self,
        open_handle: Callable[[], Handle],
        clock: Callable[[], float] = time.monotonic,
        max_sessions: int = 256,
    ) -> None:
        self._open = open_handle
        self._clock = clock
        self._max = max_sessions
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    @contextmanager
    def acquire(self, spec: SessionSpec) -> Iterator[Session]:
        """The session, held exclusively until the block ends."""
        with self._lock:
            self._expire_locked()
            session = self._sessions.get(spec.session_id)
            if session is None:
                if spec.check:
                    raise ClickHouseHttpError.of(
                        ErrorCode.SESSION_NOT_FOUND, f"Session {spec.session_id} not found"
                    )
                self._make_room_locked()
                session = Session(self._open(), spec.timeout_s, self._clock())
                self._sessions[spec.session_id] = session
                log.debug("session opened session_id=%s", spec.session_id)
            elif session.busy:
                raise ClickHouseHttpError.of(
                    ErrorCode.SESSION_IS_LOCKED,
                    f"Session {spec.session_id} is locked by a concurrent client",
                )
            session.busy = True
            session.timeout_s = spec.timeout_s
        try:
            yield session
        finally:
            with self._lock:
                session.busy = False
                session.last_used = self._clock()
                if spec.close and self._sessions.get(spec.session_id) is session:
                    del self._sessions[spec.session_id]
                    session.handle.close()
                    log.debug("session closed on request session_id=%s", spec.session_id)

    def _make_room_locked(self) -> None:
        if len(self._sessions) < self._max:
            return
        idle = [(s.last_used, sid) for sid, s in self._sessions.items() if not s.busy]
        if not idle:
            raise ClickHouseHttpError.of(
                ErrorCode.USER_SESSION_LIMIT_EXCEEDED,
                f"Too many sessions: all {self._max} are busy; close one (close_session=1) or wait",
            )
        _, oldest = min(idle)
        self._sessions.pop(oldest).handle.close()
        log.info("session evicted to make room session_id=%s max_sessions=%d", oldest, self._max)

    def _expire_locked(self) -> None:
        now = self._clock()
        expired = [
            sid
            for sid, s in self._sessions.items()
            if not s.busy and now - s.last_used > s.timeout_s
        ]
        for sid in expired:
            self._sessions.pop(sid).handle.close()
            log.debug("session expired session_id=%s", sid)

    def expire(self) -> None:
        """Close the sessions whose timeout has passed."""
        with self._lock:
            self._expire_locked()

    def close_all(self) -> None:
        """Close every session (at shutdown, after the requests using them ended)."""
        with self._lock:
            for session in self._sessions.values():
                session.handle.close()
            self._sessions.clear()


# How strict a readonly level is: 1 forbids changing settings too, 2 only writes.
_STRICTNESS = {0: 0, 2: 1, 1: 2}


def fix_readonly(session: Session, req: QueryRequest) -> None:
    """The engine's readonly level of a session: set by its first request, never lowered.

    readonly cannot be taken back on a handle, so a session opened read-only stays so, and a
    read-only request on a session opened for writing is refused rather than run writable.
    """
    level = req.readonly
    if session.readonly is None:
        if level:
            session.handle.text(f"SET readonly = {level}")
        session.readonly = level
    elif _STRICTNESS[level] > _STRICTNESS[session.readonly]:
        why = " (method GET implies readonly=2)" if req.method in ("GET", "HEAD") else ""
        sid = req.session.session_id if req.session else "-"
        raise ClickHouseHttpError.of(
            ErrorCode.READONLY,
            f"Cannot execute query in readonly mode{why}: session {sid} was "
            f"opened with readonly={session.readonly}, and a session's readonly level is fixed "
            "by its first request. Use a session of its own, or none, for read-only queries",
        )
