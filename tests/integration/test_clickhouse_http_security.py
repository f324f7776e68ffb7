"""Attacks on the ClickHouse HTTP endpoint, each performed for real and seen refused.

The endpoint runs as the stack runs it (a child process with a password file); every test
first makes sure the attack would have had something to take (a readable secret file, an
existing table), then that the server refused it and nothing happened.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from clickhouse_server import USER, ServerProcess

from sinks.errors import SqlError
from sinks.settings import SinkSettings
from sinks.sql import run_query, stream_query

pytestmark = pytest.mark.integration

MAX_SESSIONS = 4
MAX_BODY = 1 << 20
BLANKS = ["\u00a0", "\ufeff", "\u2003", "\u3000"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("clickhouse_security")
    srv = ServerProcess(
        root / "data",
        root / "server.log",
        ("--max-sessions", str(MAX_SESSIONS), "--max-body-bytes", str(MAX_BODY)),
    )
    srv.start()
    assert _post(srv, "CREATE DATABASE IF NOT EXISTS vidsight").status_code == 200
    yield srv
    if srv.proc is not None and srv.proc.poll() is None:
        srv.stop()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file the server's user can read, standing in for /etc/shadow."""
    path = tmp_path_factory.mktemp("host") / "shadow"
    path.write_text("root:SECRET-HASH-7f3a:19000:0:99999:7:::\n")
    return path


def _post(server: ServerProcess, sql: str, **params: str) -> httpx.Response:
    return httpx.post(server.url, params=params, content=sql.encode(), timeout=30)


def _get(server: ServerProcess, sql: str, **params: str) -> httpx.Response:
    return httpx.get(server.url, params={"query": sql, **params}, timeout=30)


def _code(resp: httpx.Response) -> int:
    return int(resp.headers.get("X-ClickHouse-Exception-Code", "0"))


def _table(server: ServerProcess) -> str:
    name = f"vidsight.t_{uuid.uuid4().hex[:8]}"
    resp = _post(server, f"CREATE TABLE {name} (x UInt8) ENGINE = MergeTree ORDER BY x")
    assert resp.status_code == 200, resp.text
    assert _post(server, f"INSERT INTO {name} VALUES (1)").status_code == 200
    return name


def _exists(server: ServerProcess, table: str) -> bool:
    return _post(server, f"EXISTS TABLE {table}").text == "1\n"


# --- host files and the network ----------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM file('{path}', 'LineAsString')",
        "SELECT * FROM file('{path}')",
        "SELECT file('{path}')",
        "SELECT * FROM\u00a0FILE('{path}', 'LineAsString')",
        "/* c */ select * from view(SELECT * FROM file('{path}', 'LineAsString'))",
        "WITH s AS (SELECT * FROM file('{path}', 'LineAsString')) SELECT * FROM s",
        "SELECT * FROM `{path}`",
        "SELECT * FROM default.`{path}`",
        "SELECT * FROM fileCluster('default', '{path}', 'LineAsString')",
        "SELECT * FROM filesystem('{dir}')",
        "SELECT 1 FORMAT Template SETTINGS format_template_row = '{path}'",
        "SELECT * FROM python(x)",
    ],
)
def test_host_files_cannot_be_read(server: ServerProcess, secret_file: Path, sql: str) -> None:
    query = sql.format(path=secret_file, dir=secret_file.parent)
    for resp in (_post(server, query), _get(server, query)):
        assert resp.status_code != 200, resp.text
        assert "SECRET-HASH" not in resp.text
        assert _code(resp) in (452, 497), resp.text  # setting constraint / access denied


def test_file_tables_databases_and_views_cannot_be_created(
    server: ServerProcess, secret_file: Path
) -> None:
    name = f"vidsight.f_{uuid.uuid4().hex[:8]}"
    for sql in (
        f"CREATE TABLE {name} (l String) ENGINE = File(LineAsString, '{secret_file}')",
        f"CREATE TABLE {name} (l String) ENGINE = URL('http://127.0.0.1:1/', CSV)",
        f"CREATE TABLE {name} AS file('{secret_file}', 'LineAsString')",
        f"CREATE VIEW {name} AS SELECT * FROM file('{secret_file}', 'LineAsString')",
        f"CREATE DATABASE f_{uuid.uuid4().hex[:8]} ENGINE = Filesystem('{secret_file.parent}')",
        f"CREATE DICTIONARY {name} (l String) PRIMARY KEY l SOURCE(FILE(path '{secret_file}' "
        "format 'LineAsString')) LAYOUT(FLAT()) LIFETIME(0)",
        f"ATTACH TABLE {name} FROM '{secret_file.parent}/attached' (x UInt8) "
        "ENGINE = MergeTree ORDER BY x",
        f"BACKUP TABLE vidsight.x TO File('{secret_file.parent}/backup')",
        "SYSTEM SHUTDOWN",
    ):
        resp = _post(server, sql)
        assert resp.status_code == 403 and _code(resp) == 497, (sql, resp.text)
    assert not _exists(server, name)
    assert not (secret_file.parent / "attached").exists()


def test_files_cannot_be_written(server: ServerProcess, tmp_path: Path) -> None:
    table = _table(server)
    owned = tmp_path / "owned.txt"
    for sql in (
        f"INSERT INTO FUNCTION file('{owned}', 'LineAsString') VALUES ('x')",
        f"INSERT INTO FUNCTION file('{owned}', 'LineAsString') SELECT 'x'",
        f"SELECT 1 INTO OUTFILE '{owned}'",
        f"SELECT 1 INTO OUTFILE '{owned}' AND STDOUT FORMAT CSV",
        f"\u00a0select 1 into\u2003outfile '{owned}'",
        f"SELECT 1 SETTINGS output_format_schema = '{owned}'",
        f"SELECT 1 SETTINGS input_format_record_errors_file_path = '{owned}'",
        f"INSERT INTO {table} FROM INFILE '/etc/hostname' FORMAT TSV",
    ):
        resp = _post(server, sql)
        assert resp.status_code != 200, (sql, resp.text)
        assert _code(resp) in (452, 497), (sql, resp.text)
        resp = _get(server, sql)
        assert resp.status_code != 200, (sql, resp.text)
    assert not owned.exists()


def test_statements_smuggled_after_insert_data_do_not_run(
    server: ServerProcess, tmp_path: Path
) -> None:
    table = _table(server)
    owned = tmp_path / "smuggled.txt"
    for sql in (
        f"INSERT INTO {table} VALUES (2); SELECT 1 INTO OUTFILE '{owned}'",
        f"INSERT INTO {table} FORMAT CSV\n3\n\nSELECT 1 INTO OUTFILE '{owned}'",
        f"SELECT 1; SELECT 1 INTO OUTFILE '{owned}'",
        f"SELECT 1; DROP TABLE {table}",
    ):
        _post(server, sql)
    assert not owned.exists()
    assert _exists(server, table)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM url('http://127.0.0.1:{port}/ping', 'LineAsString')",
        "SELECT * FROM s3('http://127.0.0.1:{port}/b/k.csv', 'CSV', 'a String')",
        "SELECT * FROM postgresql('127.0.0.1:5432', 'd', 't', 'u', 'p')",
        "SELECT * FROM mysql('127.0.0.1:3306', 'd', 't', 'u', 'p')",
        "SELECT * FROM mongodb('127.0.0.1:27017', 'd', 'c', 'u', 'p', 'x String')",
        "SELECT * FROM remote('127.0.0.1:9000', system.one)",
        "SELECT * FROM cluster('default', system.one)",
        "SELECT * FROM sqlite('/tmp/x.db', 't')",
        "SELECT * FROM executable('cat /etc/hostname', TSV, 'x String')",
        "SELECT * FROM hdfs('hdfs://127.0.0.1:9000/x', 'TSV', 'x String')",
        "SELECT * FROM azureBlobStorage('http://127.0.0.1:{port}', 'c', 'b', 'CSV')",
        "SELECT * FROM icebergS3('http://127.0.0.1:{port}/b/t/')",
        "SELECT * FROM deltaLake('http://127.0.0.1:{port}/b/t/')",
        "SELECT * FROM jdbc('jdbc:x', 't')",
        "SELECT * FROM odbc('DSN=x', 't')",
        "SELECT * FROM redis('127.0.0.1:6379', 'k', 'k String')",
        "SELECT * FROM merge('system', '^one$') WHERE 0 UNION ALL "
        "SELECT * FROM url('http://127.0.0.1:{port}/', 'LineAsString')",
    ],
)
def test_network_table_functions_are_refused(server: ServerProcess, sql: str) -> None:
    resp = _post(server, sql.format(port=server.port))
    assert resp.status_code == 403 and _code(resp) == 497, resp.text


def test_an_allowed_table_function_works_and_only_that_one(
    tmp_path: Path, secret_file: Path
) -> None:
    srv = ServerProcess(
        tmp_path / "data", tmp_path / "server.log", ("--allow-table-function", "file")
    )
    srv.start()
    try:
        resp = _post(srv, f"SELECT * FROM file('{secret_file}', 'LineAsString')")
        assert "SECRET-HASH" in resp.text, resp.text  # so the refusals above are real
        assert _code(_post(srv, "SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')")) == 497
    finally:
        srv.stop()


# --- read-only is the engine's ------------------------------------------------------------


@pytest.mark.parametrize("blank", BLANKS)
def test_unicode_prefixed_drop_over_get_is_refused(server: ServerProcess, blank: str) -> None:
    table = _table(server)
    resp = _get(server, f"{blank}DROP TABLE {table}")
    assert resp.status_code == 500 and _code(resp) == 164, resp.text  # READONLY
    assert _exists(server, table)


@pytest.mark.parametrize("blank", BLANKS)
def test_unicode_prefixed_drop_in_a_readonly_session_is_refused(
    server: ServerProcess, blank: str
) -> None:
    table = _table(server)
    session = f"ro-{uuid.uuid4().hex[:8]}"
    resp = _post(server, f"{blank}DROP TABLE {table}", readonly="2", session_id=session)
    assert _code(resp) == 164, resp.text
    # The session stays read-only: a later writing request on it is refused by the engine too.
    again = _post(server, f"DROP TABLE {table}", session_id=session)
    assert _code(again) == 164, again.text
    assert _exists(server, table)
    _post(server, "SELECT 1", session_id=session, close_session="1")


def test_readonly_request_on_a_writing_session_is_refused(server: ServerProcess) -> None:
    table = _table(server)
    session = f"rw-{uuid.uuid4().hex[:8]}"
    assert _post(server, "SELECT 1", session_id=session).status_code == 200
    resp = _get(server, f"\u00a0DROP TABLE {table}", session_id=session)
    assert _code(resp) == 164, resp.text
    resp = _post(server, f"DROP TABLE {table}", session_id=session, readonly="1")
    assert _code(resp) == 164, resp.text
    assert _exists(server, table)
    _post(server, "SELECT 1", session_id=session, close_session="1")


def test_get_cannot_insert_and_readonly_cannot_be_undone(server: ServerProcess) -> None:
    table = _table(server)
    for resp in (
        _get(server, f"INSERT INTO {table} VALUES (7)"),
        _get(server, f"\ufeffINSERT INTO {table} FORMAT CSV\n7\n"),
        _get(server, f"INSERT INTO {table} SELECT 7"),
        _get(server, f"INSERT INTO {table} SELECT 7 SETTINGS readonly = 0"),
        _get(server, f"INSERT INTO {table} SELECT 7", readonly="0"),
        _post(server, f"INSERT INTO {table} SELECT 7 SETTINGS readonly = 0", readonly="1"),
        _post(server, "SET readonly = 0", readonly="2"),
        _post(server, f"TRUNCATE TABLE {table}", readonly="%C2%A00"),
    ):
        assert resp.status_code != 200, resp.text
    assert _post(server, f"SELECT count() FROM {table}").text == "1\n"


# --- authentication ------------------------------------------------------------------------


def test_missing_and_wrong_credentials_are_refused(server: ServerProcess) -> None:
    url = server.bare_url
    wrong = "not-" + server.password
    attempts = [
        httpx.post(url, content=b"SELECT 1"),
        httpx.post(url, content=b"SELECT 1", auth=(USER, wrong)),
        httpx.post(url, content=b"SELECT 1", auth=("default", server.password)),
        httpx.post(url, content=b"SELECT 1", auth=("default", "")),
        httpx.post(url, content=b"SELECT 1", headers={"X-ClickHouse-User": USER}),
        httpx.post(
            url, content=b"SELECT 1", headers={"X-ClickHouse-User": USER, "X-ClickHouse-Key": wrong}
        ),
        httpx.post(url, params={"user": USER, "password": wrong}, content=b"SELECT 1"),
        httpx.get(url, params={"query": "SELECT 1"}),
    ]
    for resp in attempts:
        assert resp.status_code == 403, resp.text
        assert _code(resp) == 516
        assert (
            "Authentication failed: password is incorrect, or there is no user with such name"
            in (resp.text)
        )
    for resp in (
        httpx.post(url, content=b"SELECT 1", auth=server.auth),
        httpx.post(
            url,
            content=b"SELECT 1",
            headers={"X-ClickHouse-User": USER, "X-ClickHouse-Key": server.password},
        ),
        httpx.post(url, params={"user": USER, "password": server.password}, content=b"SELECT 1"),
    ):
        assert resp.text == "1\n"


def test_server_refuses_to_start_without_a_password(tmp_path: Path) -> None:
    base = [sys.executable, "-m", "infra.clickhouse_http", "--path", str(tmp_path / "d")]
    env = {k: v for k, v in os.environ.items() if k != "VIDSIGHT_CLICKHOUSE_PASSWORD"}
    out = subprocess.run(
        [*base, "--port", "0"], capture_output=True, env=env, timeout=60, check=False
    )
    assert out.returncode == 2
    assert b"no ClickHouse password configured" in out.stderr
    legacy = subprocess.run(
        [*base, "--password", "on-the-command-line"],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert legacy.returncode == 2 and b"unrecognized arguments: --password" in legacy.stderr


# --- web pages, headers, resources ----------------------------------------------------------


def test_foreign_host_and_origin_are_refused(server: ServerProcess) -> None:
    name = f"vidsight.web_{uuid.uuid4().hex[:8]}"
    create = f"CREATE TABLE {name} (x UInt8) ENGINE = Memory".encode()
    rebinding = httpx.post(
        server.url, content=create, headers={"Host": f"attacker.example:{server.port}"}
    )
    assert rebinding.status_code == 403, rebinding.text
    for origin in ("https://attacker.example", "null", "http://127.0.0.1:3000"):
        page = httpx.post(server.url, content=create, headers={"Origin": origin})
        assert page.status_code == 403, (origin, page.text)
    assert (
        httpx.get(f"{server.bare_url}/ping", headers={"Host": "attacker.example"}).status_code
        == 403
    )
    assert not _exists(server, name)
    same = httpx.post(
        server.url, content=b"SELECT 1", headers={"Origin": f"http://localhost:{server.port}"}
    )
    assert same.text == "1\n"


@pytest.mark.parametrize(
    "params",
    [
        {"query_id": "q\r\nSet-Cookie: injected=1"},
        {"session_timezone": "UTC\r\nSet-Cookie: injected=1"},
        {"session_id": "s\r\nSet-Cookie: injected=1"},
        {"default_format": "TSV\nSet-Cookie: injected=1"},
    ],
)
def test_header_injection_is_refused(server: ServerProcess, params: dict[str, str]) -> None:
    resp = httpx.post(server.url, params=params, content=b"SELECT 1")
    assert resp.status_code == 400 and _code(resp) == 36, resp.text
    assert "control characters" in resp.text
    assert "set-cookie" not in resp.headers and "injected" not in str(resp.headers)


def test_sessions_are_bounded(server: ServerProcess) -> None:
    first = f"cap-{uuid.uuid4().hex[:8]}"
    assert _post(server, "SELECT 1", session_id=first).status_code == 200
    for _ in range(MAX_SESSIONS):
        assert _post(server, "SELECT 1", session_id=f"cap-{uuid.uuid4().hex[:8]}").text == "1\n"
    # The oldest idle session gave way.
    gone = _post(server, "SELECT 1", session_id=first, session_check="1")
    assert _code(gone) == 372, gone.text
    # With every session busy, a new one is refused.
    sleepers = [
        threading.Thread(
            target=_post, args=(server, "SELECT sleep(2)"), kwargs={"session_id": f"busy-{i}"}
        )
        for i in range(MAX_SESSIONS)
    ]
    for thread in sleepers:
        thread.start()
    time.sleep(1.0)
    try:
        refused = _post(server, "SELECT 1", session_id="one-too-many")
        assert _code(refused) == 700, refused.text
    finally:
        for thread in sleepers:
            thread.join()


def _raw_request(server: ServerProcess, head: str) -> bytes:
    """Send a request head only; the server answers and closes without waiting for a body."""
    answer = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head.encode())
        while piece := sock.recv(65536):
            answer += piece
    return answer


def test_oversized_body_is_answered_413_at_once(server: ServerProcess) -> None:
    auth = base64.b64encode(f"{USER}:{server.password}".encode()).decode()
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Basic {auth}\r\n"
        f"Content-Length: {50 << 30}\r\n"
    )
    started = time.monotonic()
    plain = _raw_request(server, head + "\r\n")
    waiting = _raw_request(server, head + "Expect: 100-continue\r\n\r\n")
    assert time.monotonic() - started < 5
    for answer in (plain, waiting):
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"QUERY_IS_TOO_LARGE" in answer

    table = f"vidsight.big_{uuid.uuid4().hex[:8]}"
    _post(server, f"CREATE TABLE {table} (s String) ENGINE = MergeTree ORDER BY s")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts as it reads
        yield f"INSERT INTO {table} FORMAT TSV\n".encode()
        for _ in range(64):
            yield (b"x" * 1023 + b"\n") * 64

    streamed = httpx.post(server.url, content=chunks())
    assert streamed.status_code == 413 and _code(streamed) == 229, streamed.text
    assert _post(server, f"SELECT count() FROM {table}").text == "0\n"


# --- vidsight sql ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM file('{path}', 'LineAsString')",
        "SELECT * FROM url('http://127.0.0.1:{port}/ping', 'LineAsString')",
        "SELECT * FROM s3('http://127.0.0.1:{port}/b/k.csv', 'CSV', 'a String')",
        "SELECT * FROM postgresql('127.0.0.1:5432', 'd', 't', 'u', 'p')",
        "SELECT * FROM mysql('127.0.0.1:3306', 'd', 't', 'u', 'p')",
        "SELECT * FROM mongodb('127.0.0.1:27017', 'd', 'c', 'u', 'p', 'x String')",
        "SELECT * FROM remote('127.0.0.1:9000', system.one)",
        "SELECT * FROM executable('cat /etc/hostname', TSV, 'x String')",
        "SELECT 1 INTO OUTFILE '{path}.out'",
        "\u00a0DROP TABLE {table}",
        "INSERT INTO {table} SELECT 9",
        "SELECT 1 SETTINGS readonly = 0",
    ],
)
def test_vidsight_sql_is_readonly_and_reaches_nothing(
    server: ServerProcess, secret_file: Path, sql: str
) -> None:
    table = _table(server)
    settings = SinkSettings(
        clickhouse_url=server.bare_url,
        clickhouse_user=USER,
        clickhouse_password=server.password,  # type: ignore[arg-type]
        store_timeout_s=10,
    )
    query = sql.format(path=secret_file, port=server.port, table=table)
    with pytest.raises(SqlError) as err:
        run_query(settings, query)
    assert "SECRET-HASH" not in str(err.value)
    with pytest.raises(SqlError):
        b"".join(stream_query(settings, query, fmt="csv"))
    assert _exists(server, table)
    assert _post(server, f"SELECT count() FROM {table}").text == "1\n"
    assert not Path(f"{secret_file}.out").exists()
    assert run_query(settings, f"SELECT count() FROM {table}").rows == [(1,)]
