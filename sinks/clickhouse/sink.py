"""``ClickHouseSink``: large columnar inserts into the fact tables (``ddl`` says why exact)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import (
    DatabaseError,
    DataError,
    OperationalError,
)

from schemas.records import AvroRecord
from sinks.base import Sink
from sinks.batching import Batch, SourceMessage, TopicPartition
from sinks.clickhouse import columns, ddl, migrate
from sinks.errors import BatchDataError, StoreUnavailableError
from sinks.settings import SinkSettings

log = logging.getLogger(__name__)

# Server error codes that mean "this data", not "this server": parse failures, type
# mismatches, values out of range, NULL into a non-Nullable column.
DATA_ERROR_CODES = frozenset({6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 131, 321, 349})
_CODE = re.compile(r"code: (\d+)")


def error_code(exc: DatabaseError) -> int | None:
    """The server error code of a clickhouse-connect error, when it carries one."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    match = _CODE.search(str(exc))
    return int(match.group(1)) if match else None


def dedup_token(batch: Batch[Any], topic_id: str = "") -> str:
    """The insert deduplication token of a batch: its topic (and the topic's incarnation,
    where known), partition and offset range."""
    topic = f"{batch.topic}@{topic_id}" if topic_id else batch.topic
    return f"{topic}:{batch.partition}:{batch.first_offset}-{batch.last_offset}"


def client_for(settings: SinkSettings, *, database: str | None = None) -> Client:
    """A clickhouse-connect client for the configured endpoint (no session: one per thread).

    It names the user and password of ``Endpoints`` (the local stack generates the password).
    """
    url = urlsplit(settings.clickhouse_url)
    return clickhouse_connect.get_client(
        host=url.hostname or "127.0.0.1",
        port=url.port or (8443 if url.scheme == "https" else 8123),
        secure=url.scheme == "https",
        username=settings.clickhouse_user,
        password=settings.clickhouse_password.get_secret_value(),
        database=database or "default",
        connect_timeout=settings.store_timeout_s,
        send_receive_timeout=settings.store_timeout_s * 4,
        autogenerate_session_id=False,
        compress=False,
        query_retries=0,
    )


class ClickHouseSink(Sink[AvroRecord]):
    """Projects detections, sensor events, alerts and heartbeats into ClickHouse fact tables."""

    name = "clickhouse"
    topics = tuple(t.topic for t in ddl.FACT_TABLES)
    knows_offsets = True

    def __init__(self, settings: SinkSettings) -> None:
        super().__init__(settings)
        self.db = settings.clickhouse_database
        self._client: Client | None = None
        self._opened = False

    def prepare(self, message: SourceMessage, record: AvroRecord | None) -> AvroRecord:
        """The record itself, checked against the column types (columns are built per batch)."""
        return columns.check(message, record)

    def _connect(self) -> Client:
        if self._client is None:
            try:
                client = client_for(self.settings)
                if self._opened:
                    # Back after an outage: a server that lost its data gets the schema again
                    # (what was lost before the committed offsets needs `vidsight replay`).
                    migrate.ensure_schema(client, self.db)
            except (OperationalError, DatabaseError, OSError) as exc:
                raise StoreUnavailableError("clickhouse", str(exc)) from exc
            self._client = client
        return self._client

    def _reset(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def open(self) -> None:
        """Apply the pending migrations (database, tables, views) and check the tables."""
        client = self._connect()
        try:
            migrate.ensure_schema(client, self.db)
        except (OperationalError, OSError) as exc:
            self._reset()
            raise StoreUnavailableError("clickhouse", str(exc)) from exc
        self._opened = True

    def close(self) -> None:
        """Close the client."""
        self._reset()

    def drop(self) -> None:
        """Drop the views and tables of the projection."""
        client = self._connect()
        try:
            for statement in ddl.drops(self.db):
                client.command(statement)
        except (OperationalError, OSError) as exc:
            self._reset()
            raise StoreUnavailableError("clickhouse", str(exc)) from exc

    def resume_point(self, tp: TopicPartition, from_offset: int) -> int | None:
        """The highest offset >= ``from_offset`` the partition's table has rows for."""
        rows = self._query(
            "SELECT max(_offset), count() FROM {db}.{table} "
            "WHERE _topic_id = {t:String} AND _partition = {p:UInt16} AND _offset >= {a:UInt64}",
            tp,
            {"t": self.incarnation_of(tp.topic), "p": tp.partition, "a": from_offset},
        )
        top, count = rows[0]
        return int(top) if count else None

    def stored_offsets(self, tp: TopicPartition, first: int, last: int) -> set[int]:
        """Offsets in first..last the partition's table has rows for (after a restart)."""
        rows = self._query(
            "SELECT DISTINCT _offset FROM {db}.{table} WHERE _topic_id = {t:String} "
            "AND _partition = {p:UInt16} AND _offset BETWEEN {a:UInt64} AND {b:UInt64}",
            tp,
            {"t": self.incarnation_of(tp.topic), "p": tp.partition, "a": first, "b": last},
        )
        return {int(o) for (o,) in rows}

    def _query(
        self, template: str, tp: TopicPartition, parameters: dict[str, Any]
    ) -> list[Sequence[Any]]:
        table = ddl.BY_TOPIC[tp.topic].name
        client = self._connect()
        try:
            result = client.query(
                template.replace("{db}", self.db).replace("{table}", table),
                parameters=parameters,
            )
        except (OperationalError, OSError) as exc:
            self._reset()
            raise StoreUnavailableError("clickhouse", str(exc)) from exc
        except DatabaseError as exc:
            raise StoreUnavailableError("clickhouse", str(exc)) from exc
        return list(result.result_rows)

    def write(self, batch: Batch[AvroRecord]) -> int:
        """One columnar insert of the batch, deduplicated by its offset range."""
        table = ddl.BY_TOPIC[batch.topic]
        # ``prepare`` checked every record against the column types: what fails here is a
        # bug in the column building, which must stop the sink, not dead-letter the batch.
        cols, rows = columns.columns_for(table.name, batch.items)
        if rows == 0:
            return 0
        topic_id = self.incarnation_of(batch.topic)
        cols.append([topic_id] * rows)
        client = self._connect()
        try:
            client.insert(
                table.name,
                cols,
                column_names=table.insert_names,
                database=self.db,
                column_type_names=table.insert_types,
                column_oriented=True,
                settings={"insert_deduplication_token": dedup_token(batch, topic_id)},
            )
        except DataError as exc:
            raise BatchDataError(f"clickhouse cannot take a {table.name} batch: {exc}") from exc
        except OperationalError as exc:
            self._reset()
            raise StoreUnavailableError("clickhouse", str(exc)) from exc
        except DatabaseError as exc:
            if error_code(exc) in DATA_ERROR_CODES:
                raise BatchDataError(f"clickhouse rejected a {table.name} batch: {exc}") from exc
            log.error("clickhouse insert failed table=%s: %s", table.name, exc)
            raise StoreUnavailableError("clickhouse", str(exc)) from exc
        except OSError as exc:
            self._reset()
            raise StoreUnavailableError("clickhouse", str(exc)) from exc
        return rows
