"""The chDB adapter: one engine per data directory, one connection handle per query or session.

What chDB 4.4 does, as measured for this endpoint (see the integration tests):
- only one process may open a data directory; a second one fails at connect time;
- inside that process any number of connection handles share the engine; each handle has its
  own current database, settings and temporary tables, and opening one costs ~0.3 ms;
- queries on different handles run in parallel (the GIL is released while chDB works), while
  calls on one handle are serialised by chDB's own mutex;
- ``send_insert`` takes input-format bytes in pieces of any size (a Native block may be split
  anywhere), so an INSERT body streams from the socket into the engine;
- ``send_query`` encodes each block on its own, see ``formats.is_stream_safe``.
So every request gets a handle of its own (a fresh one, or its session's), and no global lock
is needed: the engine's concurrency is the engine's.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Protocol, cast

from chdb.state.sqlitelike import Connection

from infra.clickhouse_http import access
from infra.clickhouse_http.errors import ClickHouseHttpError, EngineStartError
from infra.clickhouse_http.protocol import QueryStats
from infra.clickhouse_http.sqltext import quote_identifier

log = logging.getLogger(__name__)


class _View(Protocol):
    def view(self) -> memoryview: ...


class _Result(Protocol):
    """chDB's query_result (a C++ object; only the methods used here)."""

    def bytes(self) -> bytes: ...
    def get_memview(self) -> _View: ...
    def rows_read(self) -> int: ...
    def bytes_read(self) -> int: ...
    def rows_written(self) -> int: ...
    def bytes_written(self) -> int: ...
    def storage_rows_read(self) -> int: ...
    def storage_bytes_read(self) -> int: ...
    def elapsed(self) -> float: ...


class _Stream(Protocol):
    def fetch(self) -> _Result | None: ...
    def cancel(self) -> None: ...


class _InsertResult(Protocol):
    rows_written: int
    bytes_written: int
    elapsed: float


class _Inserter(Protocol):
    def append(self, data: bytes) -> None: ...
    def finish(self) -> _InsertResult: ...
    def cancel(self) -> None: ...


def _stats(result: _Result) -> QueryStats:
    return QueryStats(
        read_rows=result.storage_rows_read(),
        read_bytes=result.storage_bytes_read(),
        written_rows=result.rows_written(),
        written_bytes=result.bytes_written(),
        result_rows=result.rows_read(),
        result_bytes=result.bytes_read(),
        elapsed_ns=int(result.elapsed() * 1e9),
    )


class Materialized:
    """A whole result held by chDB; ``body`` is a zero-copy view valid while this object lives."""

    def __init__(self, result: _Result) -> None:
        self._result = result  # owns the memory body points into
        self.body: memoryview = result.get_memview().view()
        self.stats = _stats(result)


class Streamed:
    """A result read block by block; the first block is fetched before headers are sent."""

    def __init__(self, stream: _Stream, first: _Result | None) -> None:
        self._stream = stream
        self._first = first
        self._done = first is None
        self.stats = _stats(first) if first is not None else QueryStats()

    def chunks(self) -> Iterator[bytes]:
        """Encoded blocks; an engine error mid-stream is raised as ClickHouseHttpError."""
        block, self._first = self._first, None
        while block is not None:
            yield block.bytes()
            try:
                block = self._stream.fetch()
            except Exception as exc:  # chDB raises ChdbError and RuntimeError alike
                self._done = True
                raise ClickHouseHttpError.from_engine(str(exc)) from exc
        self._done = True

    def close(self) -> None:
        """Cancel the query if the client did not read it to the end."""
        if not self._done:
            self._done = True
            try:
                self._stream.cancel()
            except Exception:  # the handle is closed or reset next anyway
                log.debug("stream cancel failed", exc_info=True)


class Handle:
    """One chDB connection handle. Used by one request at a time."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def execute(
        self, sql: str | bytes, fmt: str, params: Mapping[str, str] | None = None
    ) -> Materialized:
        """Run a statement to completion; fmt is the default output format."""
        try:
            result = cast(_Result, self._conn.query(cast(str, sql), fmt, params=dict(params or {})))
        except Exception as exc:
            raise ClickHouseHttpError.from_engine(str(exc)) from exc
        return Materialized(result)

    def text(self, sql: str) -> str:
        """Run a small control statement and return its TabSeparated output."""
        return bytes(self.execute(sql, "TabSeparated").body).decode()

    def canonical(self, sql: str) -> str:
        """The engine's own one-line rendering of one statement (its parser, its settings).

        A text that is not exactly one statement is refused with the engine's syntax error.
        """
        try:
            result = self.execute(
                "SELECT formatQuerySingleLine({q:String})", "TabSeparatedRaw", {"q": _escaped(sql)}
            )
        except ClickHouseHttpError as exc:
            raise ClickHouseHttpError(exc.code, _IN_SCOPE.sub("", exc.text)) from exc
        return bytes(result.body).decode().removesuffix("\n")

    def stream(
        self, sql: str | bytes, fmt: str, params: Mapping[str, str] | None = None
    ) -> Streamed:
        """Start a query and fetch its first block, so that early errors come before headers."""
        try:
            stream = cast(_Stream, self._conn.send_query(cast(str, sql), fmt, dict(params or {})))
            first = stream.fetch()
        except Exception as exc:
            raise ClickHouseHttpError.from_engine(str(exc)) from exc
        return Streamed(stream, first)

    def insert(self, head: bytes, fmt: str, data: Iterable[bytes]) -> QueryStats:
        """Stream input-format data into ``INSERT ... `` (head has no FORMAT clause)."""
        try:
            inserter = cast(_Inserter, self._conn.send_insert(cast(str, head), fmt))
        except Exception as exc:
            raise ClickHouseHttpError.from_engine(str(exc)) from exc
        try:
            for piece in data:
                inserter.append(piece)
            result = inserter.finish()
        except ClickHouseHttpError:
            inserter.cancel()
            raise
        except Exception as exc:
            # append/finish raise RuntimeError("Streaming insert ... failed: Code: ...") after
            # which the inserter is already finished; cancel() is a no-op then.
            inserter.cancel()
            raise ClickHouseHttpError.from_engine(str(exc)) from exc
        return QueryStats(
            written_rows=result.rows_written,
            written_bytes=result.bytes_written,
            elapsed_ns=int(result.elapsed * 1e9),
        )

    def close(self) -> None:
        """Release the handle (its temporary tables go with it)."""
        self._conn.close()


# A query parameter's String value is read in the escaped (TSV) form.
_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"})
_IN_SCOPE = re.compile(
    r"(?:\. )?:? In scope SELECT formatQuerySingleLine\(.*\)(?=\. \(\w+\)$)", re.S
)


def _escaped(text: str) -> str:
    return text.translate(_ESCAPES)


class ChdbEngine:
    """The embedded ClickHouse engine over one data directory, under access.py's grants."""

    def __init__(
        self,
        path: Path,
        allowed_table_functions: frozenset[str] = frozenset(),
        default_database: str | None = None,
        lake: access.Lake | None = None,
    ) -> None:
        self.path = path
        # The ETL user's one extra statement (None: no lake, nobody may create S3 tables).
        self.lake_ddl = lake.ddl() if lake is not None else None
        self.default_database = default_database
        path.mkdir(parents=True, exist_ok=True)
        # Private to this process and gone with it: only the engine reads it, at start.
        self._config_dir = Path(tempfile.mkdtemp(prefix="vidsight-chdb-"))
        config = access.write_engine_config(self._config_dir, allowed_table_functions, lake)
        self._target = f"{path}?config-file={config}"
        try:
            # This handle keeps the engine up for the server's lifetime: closing the last
            # handle shuts the engine down, and the next open would start it again.
            self._root = Handle(Connection(self._target))
        except Exception as exc:
            shutil.rmtree(self._config_dir, ignore_errors=True)
            raise EngineStartError(
                f"chDB could not open {path}: {exc}. Only one process may open a chDB "
                "directory; is another server (or a script) using it?"
            ) from exc
        version, timezone = self._root.text("SELECT version(), timezone()").rstrip("\n").split("\t")
        self.version = version
        self.timezone = timezone
        defaults = self._root.text("SELECT name, value FROM system.settings FORMAT TabSeparated")
        self.default_settings: dict[str, str] = dict(
            cast(tuple[str, str], tuple(line.split("\t", 1)))
            for line in defaults.splitlines()
            if "\t" in line
        )
        if default_database:
            # A query that names no database runs here (chDB's own `default` cannot hold
            # tables under the grants: it shows the host's files).
            self._root.text(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(default_database)}")
        functions = self._root.text("SELECT name FROM system.table_functions").split()
        engines = self._root.text(
            "SELECT name FROM system.table_engines UNION ALL "
            "SELECT name FROM system.database_engines"
        ).split()
        # One set for both: the guard refuses these as calls and after ``ENGINE =``.
        self.denied_functions = access.denied_functions(
            functions, allowed_table_functions
        ) | access.denied_engines(engines, allowed_table_functions)
        log.info("chdb engine opened path=%s version=%s timezone=%s", path, version, timezone)

    def open(self) -> Handle:
        """A fresh handle: default database and settings, no temporary tables."""
        try:
            handle = Handle(Connection(self._target))
        except Exception as exc:
            raise ClickHouseHttpError.from_engine(str(exc)) from exc
        if self.default_database:
            handle.text(f"USE {quote_identifier(self.default_database)}")
        return handle

    def close(self) -> None:
        """Shut the engine down; every other handle must be closed before."""
        self._root.close()
        shutil.rmtree(self._config_dir, ignore_errors=True)
        log.info("chdb engine closed path=%s", self.path)
