"""The ClickHouse HTTP endpoint over chDB, run as the stack runs it: a child process.

Clients talk to it as to a ClickHouse server: plain HTTP (httpx, curl) and clickhouse-connect.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import clickhouse_connect
import httpx
import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, StreamFailureError
from clickhouse_server import ServerProcess, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("clickhouse_http")
    srv = ServerProcess(root / "data", root / "server.log")
    srv.start()
    yield srv
    if srv.proc is not None and srv.proc.poll() is None:
        srv.stop()


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[Client]:
    ch = clickhouse_connect.get_client(**server.client_args())
    ch.command("CREATE DATABASE IF NOT EXISTS vidsight")
    yield ch
    ch.close()


def _table(prefix: str) -> str:
    return f"vidsight.{prefix}_{uuid.uuid4().hex[:8]}"


# --- plain HTTP --------------------------------------------------------------------------


def test_root_and_ping_answer_ok(server: ServerProcess) -> None:
    assert httpx.get(f"{server.url}/").text == "Ok.\n"
    assert httpx.get(f"{server.url}/ping").text == "Ok.\n"


def test_get_select_1_like_curl(server: ServerProcess) -> None:
    resp = httpx.get(server.url, params={"query": "SELECT 1"})
    assert resp.status_code == 200
    assert resp.text == "1\n"
    assert resp.headers["X-ClickHouse-Format"] == "TabSeparated"
    assert resp.headers["Content-Type"] == "text/tab-separated-values; charset=UTF-8"
    assert resp.headers["X-ClickHouse-Timezone"]
    assert resp.headers["X-ClickHouse-Server-Display-Name"]
    assert uuid.UUID(resp.headers["X-ClickHouse-Query-Id"])
    summary = json.loads(resp.headers["X-ClickHouse-Summary"])
    assert set(summary) >= {
        "read_rows", "read_bytes", "written_rows", "written_bytes", "total_rows_to_read",
        "result_rows", "result_bytes", "elapsed_ns",
    }  # fmt: skip
    curl = shutil.which("curl")
    if curl:
        out = subprocess.run(
            [curl, "-sS", f"{server.url}/?query=SELECT%201"], capture_output=True, check=True
        )
        assert out.stdout == b"1\n"


def test_query_in_body_format_and_query_id(server: ServerProcess) -> None:
    resp = httpx.post(
        server.url,
        params={"query_id": "my-query", "default_format": "JSONEachRow"},
        content=b"SELECT 2 + 2 AS four",
    )
    assert resp.json() == {"four": 4}
    assert resp.headers["X-ClickHouse-Query-Id"] == "my-query"
    assert resp.headers["X-ClickHouse-Format"] == "JSONEachRow"
    explicit = httpx.post(server.url, content=b"SELECT 1 AS x FORMAT CSVWithNames")
    assert explicit.text == '"x"\n1\n'
    assert explicit.headers["Content-Type"] == "text/csv; charset=UTF-8; header=present"
    # query parameter + newline + body form one query, as in ClickHouse
    split = httpx.post(server.url, params={"query": "SELECT 40"}, content=b"+ 2")
    assert split.text == "42\n"


@pytest.mark.parametrize(
    ("method", "sql", "params", "status", "code"),
    [
        ("GET", "SELECT * FROM system.no_such_table", {}, 404, 60),
        ("POST", "SELEC 1", {}, 400, 62),
        ("POST", "SELECT no_such_column", {}, 404, 47),
        ("POST", "SELECT throwIf(1, 'boom')", {}, 500, 395),
        ("POST", "SELECT 1", {"no_such_setting": "1"}, 404, 115),
        ("GET", "CREATE TABLE t (a Int8) ENGINE = Memory", {}, 500, 164),
        ("POST", "", {}, 400, 62),
    ],
)
def test_errors_are_clickhouse_shaped(
    server: ServerProcess, method: str, sql: str, params: dict[str, str], status: int, code: int
) -> None:
    if method == "GET":
        resp = httpx.get(server.url, params={"query": sql, **params})
    else:
        resp = httpx.post(server.url, params=params, content=sql.encode())
    assert resp.status_code == status, resp.text
    assert resp.headers["X-ClickHouse-Exception-Code"] == str(code)
    assert resp.text.startswith(f"Code: {code}. DB::Exception: ")
    assert "(version " in resp.text


def test_insert_csv_values_and_compressed_bodies(server: ServerProcess, client: Client) -> None:
    table = _table("csv")
    client.command(f"CREATE TABLE {table} (id UInt32, name String) ENGINE = MergeTree ORDER BY id")
    csv = httpx.post(
        server.url, params={"query": f"INSERT INTO {table} FORMAT CSV"}, content=b"1,a\n2,b\n"
    )
    assert csv.status_code == 200, csv.text
    assert json.loads(csv.headers["X-ClickHouse-Summary"])["written_rows"] == "2"
    assert "X-ClickHouse-Format" not in csv.headers
    values = httpx.post(server.url, content=f"INSERT INTO {table} VALUES (3, 'c'), (4, 'd')")
    assert values.status_code == 200, values.text

    def chunks() -> Iterator[bytes]:  # sent with Transfer-Encoding: chunked
        yield f"INSERT INTO {table} FORMAT TSV\n".encode()
        for i in range(5, 1005):
            yield f"{i}\tn{i}\n".encode()

    assert httpx.post(server.url, content=chunks()).status_code == 200
    body = gzip.compress(b"1005,x\n1006,y\n")
    zipped = httpx.post(
        server.url,
        params={"query": f"INSERT INTO {table} FORMAT CSV"},
        headers={"Content-Encoding": "gzip"},
        content=body,
    )
    assert zipped.status_code == 200, zipped.text
    count = httpx.get(server.url, params={"query": f"SELECT count(), max(id) FROM {table}"})
    assert count.text == "1006\t1006\n"
    bad = httpx.post(
        server.url, params={"query": f"INSERT INTO {table} FORMAT CSV"}, content=b"x,y\n"
    )
    assert bad.status_code == 400 and bad.headers["X-ClickHouse-Exception-Code"] == "27"


def test_param_binding(server: ServerProcess, client: Client) -> None:
    resp = httpx.get(
        server.url,
        params={
            "query": "SELECT {x:UInt32} + 1 AS n, {s:String} AS s, {a:Array(UInt8)} AS a "
            "FORMAT JSONEachRow",
            "param_x": "41",
            "param_s": "it's",
            "param_a": "[1,2]",
        },
    )
    assert resp.json() == {"n": 42, "s": "it's", "a": [1, 2]}
    rows = client.query(
        "SELECT {n:UInt32} * 2, {name:String}", parameters={"n": 21, "name": "x'y"}
    ).result_rows
    assert rows == [(42, "x'y")]
    # Many parameters go as a multipart/form-data body, as clickhouse-connect does past 4 KiB.
    ids = list(range(2000))
    assert client.query(
        "SELECT length({ids:Array(UInt32)})", parameters={"ids": ids}
    ).result_rows == [(2000,)]


def test_settings_in_the_url_apply_to_that_query_only(server: ServerProcess) -> None:
    url, session = server.url, {"session_id": f"s-{uuid.uuid4()}"}

    def get(sql: str, **params: str) -> httpx.Response:
        return httpx.post(url, params={**session, **params}, content=sql.encode())

    assert get("SELECT getSetting('max_threads')", max_threads="1").text == "1\n"
    default = get("SELECT getSetting('max_threads')").text
    assert default != "1\n"
    limited = get(
        "SELECT number FROM numbers(10)", max_result_rows="2", result_overflow_mode="throw"
    )
    assert limited.status_code == 500 and "TOO_MANY_ROWS" in limited.text
    assert get("SELECT count() FROM numbers(10)").text == "10\n"
    # What the session itself sets and creates stays with the session.
    assert get("SET max_threads = 3").status_code == 200
    assert get("SELECT getSetting('max_threads')", max_threads="1").text == "1\n"
    assert get("SELECT getSetting('max_threads')").text == "3\n"
    assert get("CREATE TEMPORARY TABLE tmp (a UInt8)").status_code == 200
    assert get("INSERT INTO tmp VALUES (1), (2)").status_code == 200
    assert get("SELECT sum(a) FROM tmp").text == "3\n"
    other = httpx.post(
        url, params={"session_id": "other", "database": "system"}, content=b"SELECT sum(a) FROM tmp"
    )
    assert other.status_code == 404
    without = httpx.post(url, content=b"SELECT getSetting('max_threads')")
    assert without.text == default
    assert get("SELECT currentDatabase()", database="system").text == "system\n"
    assert get("SELECT currentDatabase()").text == "default\n"
    check = httpx.post(
        url, params={"session_id": "nope", "session_check": "1"}, content=b"SELECT 1"
    )
    assert check.headers["X-ClickHouse-Exception-Code"] == "372"


def test_busy_session_is_locked(server: ServerProcess) -> None:
    params = {"session_id": f"busy-{uuid.uuid4()}"}
    slow = threading.Thread(
        target=httpx.post,
        args=(server.url,),
        kwargs={"params": params, "content": b"SELECT sleep(1.5)"},
    )
    slow.start()
    try:
        time.sleep(0.5)
        resp = httpx.post(server.url, params=params, content=b"SELECT 1")
        assert resp.status_code == 500
        assert resp.headers["X-ClickHouse-Exception-Code"] == "373"
    finally:
        slow.join()


def test_streamed_result_and_error_after_data(server: ServerProcess, client: Client) -> None:
    with httpx.stream(
        "GET", server.url, params={"query": "SELECT number FROM numbers(300000)"}
    ) as resp:
        assert resp.headers.get("Transfer-Encoding") == "chunked"
        lines = b"".join(resp.iter_bytes()).splitlines()
    assert len(lines) == 300000 and lines[-1] == b"299999"
    # One thread, small blocks: the failing row comes well after the first block went out.
    failing = (
        "SELECT throwIf(number = 3000000, 'boom') FROM numbers(5000000) "
        "SETTINGS max_threads = 1, max_block_size = 8192"
    )
    resp = httpx.get(server.url, params={"query": failing})
    assert resp.status_code == 200  # headers were sent with the first block
    tag = resp.headers["X-ClickHouse-Exception-Tag"]
    assert f"__exception__\r\n{tag}\r\n" in resp.text and "Code: 395" in resp.text
    waited = httpx.get(server.url, params={"query": failing, "wait_end_of_query": "1"})
    assert waited.status_code == 500
    with pytest.raises(StreamFailureError), client.query_row_block_stream(failing) as stream:
        for _ in stream:
            pass
    with client.query_row_block_stream("SELECT number FROM numbers(250000)") as stream:
        assert sum(len(block) for block in stream) == 250000


# --- clickhouse-connect ------------------------------------------------------------------


def _detections(n: int) -> list[tuple[str, datetime, str, float, int | None]]:
    start = datetime(2024, 5, 1, tzinfo=UTC)
    return [
        (
            f"cam-{i % 7}",
            start + timedelta(seconds=13 * i),
            ("person", "car")[i % 2],
            i / n,
            None if i % 3 else i,
        )
        for i in range(n)
    ]


def test_clickhouse_connect_ddl_insert_query(client: Client) -> None:
    table = _table("detections")
    client.command(
        f"CREATE TABLE {table} (camera_id String, ts DateTime64(6, 'UTC'), "
        "label LowCardinality(String), score Float32, track Nullable(Int64)) "
        "ENGINE = MergeTree ORDER BY (camera_id, ts)"
    )
    rows = _detections(4000)
    summary = client.insert(
        table, rows, column_names=["camera_id", "ts", "label", "score", "track"]
    )
    assert summary.written_rows == 4000
    assert client.command(f"SELECT count() FROM {table}") == 4000
    result = client.query(f"SELECT camera_id, ts, label, track FROM {table} ORDER BY ts LIMIT 2")
    assert result.result_rows[0][0] == "cam-0"
    assert result.result_rows[1][1] == datetime(
        2024, 5, 1, 0, 0, 13
    )  # naive UTC, as from ClickHouse
    df = client.query_df(f"SELECT label, count() AS n FROM {table} GROUP BY label ORDER BY label")
    assert df.to_dict("list") == {"label": ["car", "person"], "n": [2000, 2000]}
    arrow = client.query_arrow(f"SELECT score FROM {table} ORDER BY ts LIMIT 3")
    assert arrow.num_rows == 3
    assert client.command(f"EXISTS TABLE {table}") == 1
    assert client.command(f"SELECT count() FROM {table} WHERE track IS NULL") == 4000 - 1334


def test_clickhouse_connect_columnar_insert_into_replacing_merge_tree(client: Client) -> None:
    table = _table("alerts")
    client.command(
        f"CREATE TABLE {table} (alert_id String, lifecycle String, version UInt32) "
        "ENGINE = ReplacingMergeTree(version) ORDER BY alert_id"
    )
    ids = [f"a{i}" for i in range(1000)]
    client.insert(
        table,
        [ids, ["new"] * 1000, [1] * 1000],
        column_names=["alert_id", "lifecycle", "version"],
        column_oriented=True,
    )
    client.insert(
        table,
        [ids[:10], ["end"] * 10, [2] * 10],
        column_names=["alert_id", "lifecycle", "version"],
        column_oriented=True,
    )
    final = client.query(
        f"SELECT lifecycle, count() FROM {table} FINAL GROUP BY lifecycle ORDER BY lifecycle"
    )
    assert final.result_rows == [("end", 10), ("new", 990)]


def test_materialized_view_counts_per_hour(client: Client) -> None:
    source, hourly = _table("events"), _table("hourly")
    client.command(
        f"CREATE TABLE {source} (camera_id String, ts DateTime('UTC')) "
        "ENGINE = MergeTree ORDER BY ts"
    )
    client.command(
        f"CREATE TABLE {hourly} (hour DateTime('UTC'), camera_id String, n UInt64) "
        "ENGINE = SummingMergeTree ORDER BY (hour, camera_id)"
    )
    client.command(
        f"CREATE MATERIALIZED VIEW {hourly}_mv TO {hourly} AS SELECT toStartOfHour(ts) AS hour, "
        f"camera_id, count() AS n FROM {source} GROUP BY hour, camera_id"
    )
    start = datetime(2024, 5, 1)
    rows = [(f"cam-{i % 3}", start + timedelta(minutes=7 * i)) for i in range(2000)]
    client.insert(source, rows[:1000], column_names=["camera_id", "ts"])
    client.insert(source, rows[1000:], column_names=["camera_id", "ts"])
    expected = Counter((ts.replace(minute=0), cam) for cam, ts in rows)
    got = client.query(
        f"SELECT hour, camera_id, sum(n) FROM {hourly} GROUP BY hour, camera_id "
        "ORDER BY hour, camera_id"
    ).result_rows
    assert {(hour, cam): n for hour, cam, n in got} == dict(expected)


def test_clickhouse_connect_sessions_settings_and_errors(server: ServerProcess) -> None:
    ch = clickhouse_connect.get_client(**server.client_args())
    try:
        ch.command("SET max_threads = 2")
        assert ch.command("SELECT getSetting('max_threads')") == 2
        assert ch.query(
            "SELECT getSetting('max_threads')", settings={"max_threads": 1}
        ).result_rows == [(1,)]
        assert ch.command("SELECT getSetting('max_threads')") == 2
        ch.command("CREATE TEMPORARY TABLE scratch (a UInt8)")
        ch.insert("scratch", [[1], [2], [3]], column_names=["a"])
        assert ch.command("SELECT sum(a) FROM scratch") == 6
        with pytest.raises(DatabaseError) as err:
            ch.query("SELECT * FROM vidsight.no_such_table")
        assert "UNKNOWN_TABLE" in str(err.value)
    finally:
        ch.close()


@pytest.mark.parametrize("compress", ["lz4", "zstd", "gzip", False])
def test_clickhouse_connect_compression(
    server: ServerProcess, client: Client, compress: str | bool
) -> None:
    table = _table("comp")
    client.command(f"CREATE TABLE {table} (id UInt64, s String) ENGINE = MergeTree ORDER BY id")
    ch = clickhouse_connect.get_client(**server.client_args(), compress=compress)
    try:
        ch.insert(table, [(i, f"value-{i}") for i in range(20000)], column_names=["id", "s"])
        result = ch.query(f"SELECT id, s FROM {table} ORDER BY id")
        assert len(result.result_rows) == 20000 and result.result_rows[-1] == (19999, "value-19999")
    finally:
        ch.close()


def test_concurrent_requests_from_eight_threads(server: ServerProcess, client: Client) -> None:
    table = _table("concurrent")
    client.command(
        f"CREATE TABLE {table} (worker UInt8, i UInt32) ENGINE = MergeTree ORDER BY (worker, i)"
    )

    def work(worker: int) -> tuple[int, int]:
        ch = clickhouse_connect.get_client(**server.client_args())
        try:
            for batch in range(5):
                ch.insert(
                    table,
                    [(worker, batch * 200 + i) for i in range(200)],
                    column_names=["worker", "i"],
                )
                n = httpx.get(
                    server.url, params={"query": f"SELECT {worker} * 1000 + {batch}"}
                ).text
                assert n == f"{worker * 1000 + batch}\n"
            rows = ch.command(f"SELECT count() FROM {table} WHERE worker = {worker}")
            assert isinstance(rows, int)
            total = ch.query(f"SELECT sum(number) FROM numbers({worker + 1} * 100000)").result_rows[
                0
            ][0]
            assert total == sum(range((worker + 1) * 100000))
            return worker, rows
        finally:
            ch.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = sorted(pool.map(work, range(8)))
    assert results == [(w, 1000) for w in range(8)]
    assert client.command(f"SELECT count() FROM {table}") == 8000


# --- lifecycle -------------------------------------------------------------------------


def test_second_server_on_the_same_path_is_refused(server: ServerProcess) -> None:
    out = subprocess.run(
        server.command(port=free_port()), capture_output=True, timeout=60, check=False
    )
    assert out.returncode == 2
    assert b"Only one process may open a chDB directory" in out.stdout + out.stderr


def test_clean_shutdown_then_restart_keeps_rows(server: ServerProcess, client: Client) -> None:
    table = _table("durable")
    client.command(f"CREATE TABLE {table} (id UInt64) ENGINE = MergeTree ORDER BY id")
    client.command(f"CREATE TABLE {table}_log (id UInt64) ENGINE = Log")
    client.insert(table, [(i,) for i in range(5000)], column_names=["id"])
    httpx.post(
        server.url, content=f"INSERT INTO {table}_log SELECT number FROM numbers(777)".encode()
    )
    assert server.stop() == 0
    assert "clickhouse http stopped" in server.log_path.read_text()
    server.start()
    again = clickhouse_connect.get_client(**server.client_args())
    try:
        assert again.command(f"SELECT count(), sum(id) FROM {table}") == [
            "5000",
            str(sum(range(5000))),
        ]
        assert again.command(f"SELECT count() FROM {table}_log") == 777
    finally:
        again.close()
