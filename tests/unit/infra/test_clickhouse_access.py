"""The endpoint's access rules as pure logic: the guard, the engine's users.xml, Host/Origin."""

from __future__ import annotations

import io
from contextlib import ExitStack
from typing import cast

import pytest

from infra.clickhouse_http.access import (
    SOURCES,
    check_allowed,
    check_statement,
    denied_functions,
    users_xml,
)
from infra.clickhouse_http.body import RawBody
from infra.clickhouse_http.engine import Handle
from infra.clickhouse_http.errors import ClickHouseHttpError, ErrorCode
from infra.clickhouse_http.protocol import SessionSpec
from infra.clickhouse_http.server import ServerConfig, _names_us, _origin_ok
from infra.clickhouse_http.sessions import SessionRegistry

DENIED = denied_functions(["file", "url", "s3", "numbers", "python", "view", "filesystem"], set())


@pytest.mark.parametrize(
    "canonical",
    [
        "SELECT 1 INTO OUTFILE '/tmp/x'",
        "WITH x AS (SELECT 1) SELECT * FROM x INTO OUTFILE 'a' AND STDOUT FORMAT CSV",
        "INSERT INTO t FROM INFILE '/etc/shadow' FORMAT LineAsString",
        "SELECT file('/etc/shadow')",
        "SELECT * FROM view(SELECT * FROM file('/etc/shadow', 'LineAsString'))",
        "SELECT * FROM `FILE`('/etc/shadow')",
        "SELECT * FROM (SELECT * FROM Url('http://127.0.0.1/'))",
        "SELECT * FROM python(df)",
        "SELECT * FROM filesystem('/etc')",
        "ATTACH TABLE z FROM '/tmp/zz' (`x` Int32) ENGINE = MergeTree ORDER BY x",
        "CREATE TABLE d (x Int32) ENGINE = MergeTree ORDER BY x SETTINGS disk = disk(type = web)",
        "BACKUP TABLE t TO Disk('backups', 'b')",
        "RESTORE TABLE t FROM S3('http://127.0.0.1:1/b')",
        "EXPLAIN SELECT 1 INTO OUTFILE 'x'",
    ],
)
def test_guard_refuses_what_the_grants_cannot_see(canonical: str) -> None:
    with pytest.raises(ClickHouseHttpError) as err:
        check_statement(canonical, DENIED, inline_data=True)
    assert err.value.code == ErrorCode.ACCESS_DENIED


@pytest.mark.parametrize(
    "canonical",
    [
        "SELECT 'INTO OUTFILE', `file` FROM t",  # a string, a column: not calls, not clauses
        "SELECT file_size FROM t WHERE url = 'x'",
        "SELECT * FROM numbers(10)",
        "SELECT format('{}', 1)",
        "INSERT INTO t SELECT * FROM format(CSV, 'a')",
        "ATTACH TABLE t",
        "SELECT * FROM view(SELECT 1)",
    ],
)
def test_guard_lets_ordinary_statements_through(canonical: str) -> None:
    check_statement(canonical, DENIED, inline_data=True)


def test_inserts_with_inline_data_only_on_the_streaming_path() -> None:
    with pytest.raises(ClickHouseHttpError) as err:
        check_statement("INSERT INTO t FORMAT Values", DENIED, inline_data=True)
    assert err.value.code == ErrorCode.NOT_IMPLEMENTED
    check_statement("INSERT INTO t FORMAT Values", DENIED, inline_data=False)
    check_statement("INSERT INTO t SELECT 1", DENIED, inline_data=True)


def test_allowed_table_functions_are_granted_and_not_denied() -> None:
    allowed = check_allowed(["URL", " postgresql "])
    assert allowed == {"url", "postgresql"}
    denied = denied_functions(["file", "url", "postgresql", "s3"], allowed)
    assert "url" not in denied and "postgresql" not in denied
    assert {"file", "s3", "mysql", "remote"} <= denied
    xml = users_xml(allowed)
    assert "GRANT URL ON *.*" in xml and "GRANT POSTGRES ON *.*" in xml
    assert "GRANT FILE" not in xml and "GRANT S3" not in xml
    with pytest.raises(ValueError, match="python"):
        check_allowed(["python"])


def test_engine_users_have_no_sources_and_locked_settings() -> None:
    xml = users_xml(frozenset())
    for source in set(SOURCES.values()):
        assert f"GRANT {source} " not in xml
    for word in ("SYSTEM", "BACKUP", "SOURCES", "DICTIONARY", "NAMED COLLECTION"):
        assert word not in xml
    assert "<format_schema><const/></format_schema>" in xml
    assert "<dialect><const/></dialect>" in xml


# --- Host and Origin -------------------------------------------------------------------


ALLOWED = ServerConfig(path=cast(object, None), host="127.0.0.1").host_names()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1:8123", True),
        ("localhost", True),
        ("[::1]:8123", True),
        ("localhost:9999", False),  # another port: not a name of this server
        ("evil.example:8123", False),  # DNS rebinding
        ("127.0.0.1.nip.io:8123", False),
        ("", False),
    ],
)
def test_host_header(host: str, ok: bool) -> None:
    assert _names_us(host, ALLOWED, 8123) is ok


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        ("http://127.0.0.1:8123", True),
        ("http://localhost:8123", True),
        ("http://[::1]:8123", True),
        ("http://127.0.0.1:3000", False),  # another local web app
        ("https://evil.example", False),
        ("null", False),
        ("file://", False),
        ("http://127.0.0.1:notaport", False),
    ],
)
def test_origin_header(origin: str, ok: bool) -> None:
    assert _origin_ok(origin, ALLOWED, 8123) is ok


def test_extra_allowed_hosts_and_no_password_refused() -> None:
    config = ServerConfig(path=cast(object, None), host="0.0.0.0", allowed_hosts=("ch.lan",))  # type: ignore[arg-type]
    assert {"ch.lan", "0.0.0.0", "localhost"} <= config.host_names()
    with pytest.raises(ValueError, match="password"):
        config.check()
    ServerConfig(path=cast(object, None), insecure_no_auth=True).check()  # type: ignore[arg-type]
    ServerConfig(path=cast(object, None), password="pw").check()  # type: ignore[arg-type]


# --- sessions and bodies ---------------------------------------------------------------


class _StandInHandle:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_sessions_are_capped_oldest_idle_evicted_all_busy_refused() -> None:
    clock = [0.0]
    opened: list[_StandInHandle] = []

    def open_handle() -> Handle:
        opened.append(_StandInHandle())
        return cast(Handle, opened[-1])

    registry = SessionRegistry(open_handle, clock=lambda: clock[0], max_sessions=2)
    for sid in ("a", "b"):
        clock[0] += 1
        with registry.acquire(SessionSpec(sid, 600, False, False)):
            pass
    with registry.acquire(SessionSpec("c", 600, False, False)):
        pass
    assert len(registry) == 2 and opened[0].closed and not opened[1].closed  # "a" gave way
    with ExitStack() as busy:
        busy.enter_context(registry.acquire(SessionSpec("b", 600, False, False)))
        busy.enter_context(registry.acquire(SessionSpec("c", 600, False, False)))
        with (
            pytest.raises(ClickHouseHttpError) as err,
            registry.acquire(SessionSpec("d", 600, False, False)),
        ):
            pass
    assert err.value.code == ErrorCode.USER_SESSION_LIMIT_EXCEEDED
    assert len(registry) == 2


def test_chunked_body_over_the_limit_is_refused() -> None:
    chunk = b"x" * 100
    stream = io.BytesIO(b"".join(b"64\r\n" + chunk + b"\r\n" for _ in range(5)) + b"0\r\n\r\n")
    raw = RawBody(stream, None, chunked=True, limit=250)
    raw.read()
    raw.read()
    with pytest.raises(ClickHouseHttpError) as err:
        raw.read()
    assert err.value.code == ErrorCode.QUERY_IS_TOO_LARGE
    assert raw.too_large and raw.done
