"""Apply a request's database and settings to a chDB handle, for that one query.

In ClickHouse, URL settings and ``database`` shape the *query* context: they never leak into
the session. chDB has no per-query settings argument, so they are applied with ``USE``/``SET``.
On a fresh handle that is all: the handle dies with the request. On a session's handle the
endpoint remembers the session's own values and what it laid over them, and reconciles lazily
at the start of the next request: clickhouse-connect sends the same settings with every
request, so after the first one a session request costs no extra statement at all (reading
``system.settings`` costs ~3.5 ms, a ``SET`` ~0.15 ms).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from infra.clickhouse_http.engine import Handle
from infra.clickhouse_http.sqltext import Statement, quote_identifier, quote_value

__all__ = ["SessionSettings", "apply_fresh", "quote_identifier", "quote_value", "set_statement"]

# readonly cannot be taken back once set (readonly=1/2 forbid changing it), so a session's
# readonly level is fixed once, by the executor (_session_readonly), not per request here.
_NOT_ON_SESSIONS = frozenset({"readonly"})


def set_statement(changes: Mapping[str, str | None]) -> str:
    """``SET a = 'x', b = DEFAULT``; readonly goes last since it forbids the ones after it."""
    parts = []
    for name in sorted(changes, key=lambda n: n == "readonly"):
        value = changes[name]
        literal = "DEFAULT" if value is None else quote_value(value)
        parts.append(f"{quote_identifier(name)} = {literal}")
    return "SET " + ", ".join(parts)


def apply_fresh(
    handle: Handle, database: str | None, settings: Mapping[str, str], defaults: Mapping[str, str]
) -> None:
    """Prepare a handle that lives for this request only; nothing needs undoing."""
    if database:
        handle.text(f"USE {quote_identifier(database)}")
    changes: dict[str, str | None] = {k: v for k, v in settings.items() if defaults.get(k) != v}
    if changes:
        handle.text(set_statement(changes))  # all or nothing: chDB checks every name first


class SessionSettings:
    """What the endpoint knows about one session handle's settings and current database."""

    def __init__(self) -> None:
        self._base: dict[str, tuple[str, bool]] = {}  # session's own (value, changed)
        self._overlay: dict[str, str] = {}  # URL values currently laid over the base
        self._base_db: str | None = None  # None: not read yet
        self._current_db: str | None = None

    def prepare(self, handle: Handle, database: str | None, settings: Mapping[str, str]) -> None:
        """Make the handle show the session's state plus this request's database and settings."""
        wanted = {k: v for k, v in settings.items() if k not in _NOT_ON_SESSIONS}
        unknown = [name for name in wanted if name not in self._base]
        if unknown:
            self._base.update(_snapshot(handle, unknown))
        changes: dict[str, str | None] = {}
        for name, value in wanted.items():
            base = self._base.get(name)
            if self._overlay.get(name, base[0] if base else None) != value:
                changes[name] = value
        for name in self._overlay.keys() - wanted.keys():
            value, changed = self._base[name]
            changes[name] = value if changed else None
        if changes:
            handle.text(set_statement(changes))  # all or nothing: on error the state holds
        self._overlay = {
            name: value
            for name, value in wanted.items()
            if name in self._base and self._base[name][0] != value
        }
        self._use(handle, database)

    def _use(self, handle: Handle, database: str | None) -> None:
        if database:
            if self._current_db is None:
                self._current_db = self._base_db = handle.text("SELECT currentDatabase()").strip()
            if database != self._current_db:
                handle.text(f"USE {quote_identifier(database)}")
                self._current_db = database
        elif self._base_db is not None and self._current_db != self._base_db:
            handle.text(f"USE {quote_identifier(self._base_db)}")
            self._current_db = self._base_db

    def after(self, statement: Statement) -> None:
        """Forget what the statement itself changed in the session (SET and USE persist)."""
        if statement.keyword == "SET":
            for name in statement.set_names:
                self._base.pop(name, None)
                self._overlay.pop(name, None)
        elif statement.keyword == "USE":
            self._base_db = self._current_db = None


def _snapshot(handle: Handle, names: list[str]) -> dict[str, tuple[str, bool]]:
    """(value, changed) of each named setting; unknown names are left out (SET refuses them)."""
    listed = ", ".join(quote_value(n) for n in names)
    # JSONEachRow keeps values byte-exact; TabSeparated would escape them.
    text = handle.text(
        f"SELECT name, value, changed FROM system.settings WHERE name IN ({listed}) "
        "FORMAT JSONEachRow"
    )
    rows = [json.loads(line) for line in text.splitlines() if line]
    return {str(r["name"]): (str(r["value"]), bool(r["changed"])) for r in rows}
