"""``PostgresSink``: binary COPY for new rows, a guarded merge for known ones, one transaction.

Every batch is one topic-partition, so one table. Its operations are compacted per key. Keys
the table does not hold yet are COPYed (binary) straight into it; the others are COPYed into
a session temp table and merged with one
``INSERT ... SELECT ... ON CONFLICT DO UPDATE ... WHERE <stored version> < <incoming version>``,
so a redelivered older alert state never overwrites a newer one (immutable rows, feedback,
are simply left as they are), and tombstones delete.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import sql

from schemas import catalog
from schemas.records import AvroRecord
from sinks.base import Sink
from sinks.batching import Batch, SourceMessage
from sinks.errors import BatchDataError, StoreUnavailableError
from sinks.postgres import rows as r
from sinks.postgres.migrate import MIGRATIONS_TABLE, migrate
from sinks.settings import SinkSettings

log = logging.getLogger(__name__)

Connection = psycopg.Connection[Any]


def _upsert_sql(table: r.Table, stage: str) -> sql.Composed:
    cols = sql.SQL(", ").join(map(sql.Identifier, table.names))
    target = sql.Identifier(table.name)
    head = sql.SQL("INSERT INTO {t} ({c}) SELECT {c} FROM {s} ON CONFLICT ({k}) ").format(
        t=target, c=cols, s=sql.Identifier(stage), k=sql.Identifier(table.key)
    )
    if not table.version:
        return head + sql.SQL("DO NOTHING")
    updates = sql.SQL(", ").join(
        sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
        for c in table.names
        if c != table.key
    )
    stored = sql.SQL(", ").join(
        sql.SQL("{t}.{c}").format(t=target, c=sql.Identifier(c)) for c in table.version
    )
    incoming = sql.SQL(", ").join(
        sql.SQL("EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in table.version
    )
    op = sql.SQL("<" if table.strict else "<=")
    return head + sql.SQL("DO UPDATE SET {u} WHERE ROW({a}) {op} ROW({b})").format(
        u=updates, a=stored, op=op, b=incoming
    )


class PostgresSink(Sink[r.PgOp]):
    """Projects configs, alerts, feedback, recording references and camera status into
    PostgreSQL."""

    name = "postgres"
    topics = (
        catalog.CONFIG_CAMERAS,
        catalog.CONFIG_SENSORS,
        catalog.ALERTS,
        catalog.FEEDBACK,
        catalog.RECORDINGS,
        catalog.HEALTH,
    )

    def __init__(self, settings: SinkSettings) -> None:
        super().__init__(settings)
        self._dsn = settings.postgres_dsn.get_secret_value()
        self._conn: Connection | None = None
        self._staged: set[str] = set()
        self._opened = False

    def prepare(self, message: SourceMessage, record: AvroRecord | None) -> r.PgOp:
        """The upsert or delete of one record."""
        return r.to_op(message.topic, message.key, record)

    # ---- connection ----------------------------------------------------------------------

    def _connect(self) -> Connection:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        try:
            self._conn = psycopg.connect(
                self._dsn,
                connect_timeout=max(1, int(self.settings.store_timeout_s)),
                application_name="vidsight-sink-postgres",
            )
        except psycopg.OperationalError as exc:
            raise StoreUnavailableError("postgres", str(exc).strip()) from exc
        self._staged.clear()
        if self._opened:
            # Back after an outage: a server that lost its data gets the schema again.
            try:
                migrate(self._conn)
            except psycopg.OperationalError as exc:
                self._reset()
                raise StoreUnavailableError("postgres", str(exc).strip()) from exc
        return self._conn

    def _reset(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def open(self) -> None:
        """Connect and apply pending migrations."""
        conn = self._connect()
        try:
            applied = migrate(conn)
        except psycopg.OperationalError as exc:
            self._reset()
            raise StoreUnavailableError("postgres", str(exc).strip()) from exc
        self._opened = True
        if applied:
            log.info("migrated postgres to version %d", applied[-1].version)

    def close(self) -> None:
        """Close the connection."""
        self._reset()

    def drop(self) -> None:
        """Drop the projected tables and the migration record."""
        conn = self._connect()
        tables = [t.name for t in r.TABLES.values()] + [MIGRATIONS_TABLE]
        try:
            with conn.transaction():
                conn.execute(
                    sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(
                        sql.SQL(", ").join(map(sql.Identifier, tables))
                    )
                )
        except psycopg.OperationalError as exc:
            self._reset()
            raise StoreUnavailableError("postgres", str(exc).strip()) from exc

    # ---- writing -------------------------------------------------------------------------

    def write(self, batch: Batch[r.PgOp]) -> int:
        """Apply the batch's winning operations in one transaction."""
        table = r.TABLES[batch.topic]
        upserts, deletes = r.compact(item.value for item in batch.items)
        conn = self._connect()
        try:
            try:
                self._apply(conn, table, upserts, deletes, optimistic=True)
            except psycopg.errors.UniqueViolation:
                # A key inserted by someone else between the lookup and the COPY (a sink
                # that lost this partition in a rebalance): do it again, merging everything.
                log.info("concurrent insert into %s: merging the whole batch", table.name)
                self._apply(conn, table, upserts, deletes, optimistic=False)
        except psycopg.OperationalError as exc:
            self._reset()
            raise StoreUnavailableError("postgres", str(exc).strip()) from exc
        except (psycopg.DataError, psycopg.IntegrityError) as exc:
            self._staged.clear()  # a temp table created in the rolled-back transaction is gone
            raise BatchDataError(f"postgres rejected a {table.name} batch: {exc}") from exc
        except psycopg.Error as exc:
            # Not the data and not the connection (a table dropped under us, permissions):
            # retrying is the only choice that skips nothing; say why, loudly.
            log.error("postgres write failed table=%s: %s", table.name, exc)
            self._reset()
            raise StoreUnavailableError("postgres", f"{type(exc).__name__}: {exc}") from exc
        return len(upserts) + len(deletes)

    def _apply(
        self,
        conn: Connection,
        table: r.Table,
        upserts: list[r.Upsert],
        deletes: list[str],
        *,
        optimistic: bool,
    ) -> None:
        """One transaction: deletes, then new keys COPYed straight in, the rest merged.

        Most keys of a batch are new (a new alert, a new verdict), and a COPY into the table
        costs about half of COPY + INSERT ... SELECT; ``optimistic=False`` merges them all.
        """
        with conn.transaction():
            if deletes:
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE {} = ANY(%b)").format(
                        sql.Identifier(table.name), sql.Identifier(table.key)
                    ),
                    (deletes,),
                    prepare=False,
                )
            if not upserts:
                return
            fresh, known = self._split(conn, table, upserts) if optimistic else ([], upserts)
            if fresh:
                self._copy(conn, table.name, table, fresh)
            if known and table.version:
                self._merge(conn, table, known)

    def _split(
        self, conn: Connection, table: r.Table, upserts: list[r.Upsert]
    ) -> tuple[list[r.Upsert], list[r.Upsert]]:
        """(keys the table does not hold, keys it holds)."""
        index = table.names.index(table.key)
        found = conn.execute(
            sql.SQL("SELECT {k} FROM {t} WHERE {k} = ANY(%b)").format(
                k=sql.Identifier(table.key), t=sql.Identifier(table.name)
            ),
            ([u.row[index] for u in upserts],),
            # A prepared (generic) plan of "= ANY($1)" cannot see the array's size and scans
            # the whole table once the table is large: plan it for each batch instead.
            prepare=False,
        ).fetchall()
        existing = {row[0] for row in found}
        fresh = [u for u in upserts if u.row[index] not in existing]
        known = [u for u in upserts if u.row[index] in existing]
        return fresh, known

    def _copy(self, conn: Connection, target: str, table: r.Table, upserts: list[r.Upsert]) -> None:
        copy_sql = sql.SQL("COPY {s} ({c}) FROM STDIN (FORMAT BINARY)").format(
            s=sql.Identifier(target), c=sql.SQL(", ").join(map(sql.Identifier, table.names))
        )
        with conn.cursor() as cur, cur.copy(copy_sql) as copy:
            copy.set_types(list(table.types))
            for u in upserts:
                copy.write_row(u.row)

    def _merge(self, conn: Connection, table: r.Table, upserts: list[r.Upsert]) -> None:
        stage = f"stage_{table.name}"
        if stage not in self._staged:
            conn.execute(
                sql.SQL(
                    "CREATE TEMP TABLE IF NOT EXISTS {s} (LIKE {t} INCLUDING DEFAULTS) "
                    "ON COMMIT DELETE ROWS"
                ).format(s=sql.Identifier(stage), t=sql.Identifier(table.name))
            )
            self._staged.add(stage)
        self._copy(conn, stage, table, upserts)
        conn.execute(_upsert_sql(table, stage))
