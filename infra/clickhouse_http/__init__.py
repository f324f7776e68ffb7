"""A ClickHouse HTTP endpoint over chDB, the ClickHouse engine as a library.

Only one process may open a chDB data directory, so the local stack runs this one server over
it, and everything else (clickhouse-connect, curl, Dagster) talks to it exactly as to a
ClickHouse server: ``python -m infra.clickhouse_http --host 127.0.0.1 --port 8123 --path DIR
--password-file FILE``. What a query may reach is the engine's to enforce (see ``access``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.clickhouse_http.server import ClickHouseHttpServer, ServerConfig, serve

__all__ = ["ClickHouseHttpServer", "ServerConfig", "serve"]


def __getattr__(name: str) -> object:
    # Lazy: the pure modules (protocol, sqltext, codecs) must not pay for importing chDB.
    if name in __all__:
        from infra.clickhouse_http import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
