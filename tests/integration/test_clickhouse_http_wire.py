"""The ClickHouse endpoint down to the bytes (issue 13): what clients meet on the wire.

Native per client_protocol_version (clickhouse-connect's time zones), compressed results that
arrive block by block, external data, brotli, and a burst of simultaneous connections.
"""

from __future__ import annotations

import base64
import io
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import brotli
import clickhouse_connect
import httpx
import lz4.frame
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from backports import zstd
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.external import ExternalData
from clickhouse_connect.driver.query import QueryResult
from clickhouse_server import ServerProcess

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("clickhouse_wire")
    srv = ServerProcess(root / "data", root / "server.log", ("--default-database", "vidsight"))
    srv.start()
    yield srv
    if srv.proc is not None and srv.proc.poll() is None:
        srv.stop()


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[Client]:
    ch = clickhouse_connect.get_client(**server.client_args())  # default settings: it probes
    yield ch
    ch.close()


# --- 1. client_protocol_version ------------------------------------------------------------


def test_clickhouse_connect_gets_its_protocol_version(
    server: ServerProcess, client: Client
) -> None:
    assert client.protocol_version == 54405
    probe = httpx.post(
        server.url,
        params={"client_protocol_version": "54405"},
        content="SELECT 1 AS check FORMAT Native",
    )
    assert probe.content[:8] == b"\x01\x00\x02\xff\xff\xff\xff\x00"  # BlockInfo
    assert probe.content[8:16] == b"\x01\x01\x05check"
    plain = httpx.post(server.url, content="SELECT 1 AS check FORMAT Native")
    assert plain.content[:8] == b"\x01\x01\x05check"


def test_datetime_time_zones_survive_clickhouse_connect(client: Client) -> None:
    client.command(
        "CREATE TABLE tz_kept (u DateTime('UTC'), p DateTime('Europe/Paris'), "
        "m DateTime64(6, 'UTC')) ENGINE = MergeTree ORDER BY u"
    )
    instant = datetime(2024, 7, 1, 12, 30, 5, tzinfo=UTC)
    micro = datetime(2024, 7, 1, 12, 30, 5, 123456, tzinfo=UTC)
    client.insert("tz_kept", [[instant, instant, micro]], column_names=["u", "p", "m"])
    for query in (client.query, _waited(client)):  # streamed, and whole at the end
        result = query("SELECT u, p, m FROM tz_kept")
        assert [t.name for t in result.column_types] == [
            "DateTime('UTC')",
            "DateTime('Europe/Paris')",
            "DateTime64(6, 'UTC')",
        ]
        u, p, m = result.result_rows[0]
        # UTC columns come back naive-UTC (clickhouse-connect's default tz_mode), others aware.
        assert u.replace(tzinfo=UTC) == instant
        assert p == instant and p.tzinfo == ZoneInfo("Europe/Paris")
        assert m.replace(tzinfo=UTC) == micro


def _waited(client: Client) -> Callable[[str], QueryResult]:
    def run(query: str) -> QueryResult:
        return client.query(query, settings={"wait_end_of_query": 1})

    return run


def test_types_without_a_rewrite_still_read(client: Client) -> None:
    rows = client.query("SELECT 7 AS x, CAST(1 AS Variant(String, UInt8)) AS v").result_rows
    assert rows == [(7, 1)]


# --- 2. compressed results block by block ----------------------------------------------------

_SLOW = "SELECT sleepEachRow(1), number FROM numbers(3) SETTINGS max_block_size = 1 FORMAT TSV"


class _Lz4SoFar:
    """python-lz4's stream decoder holds output back; decode the frame so far instead."""

    def __init__(self) -> None:
        self.seen = b""

    def decode(self, data: bytes) -> bytes:
        self.seen += data
        out: bytes = lz4.frame.decompress(self.seen + b"\0\0\0\0")
        return out


_DECODERS: dict[str, Callable[[], Callable[[bytes], bytes]]] = {
    "zstd": lambda: zstd.ZstdDecompressor().decompress,
    "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS).decompress,
    "deflate": lambda: zlib.decompressobj().decompress,
    "br": lambda: brotli.Decompressor().process,
}


def _arrivals(server: ServerProcess, encoding: str, query: str) -> list[tuple[float, bytes]]:
    """(seconds since the request, everything decoded so far) per chunk received."""
    lz4_so_far = _Lz4SoFar()
    decode = lz4_so_far.decode if encoding == "lz4" else _DECODERS[encoding]()
    start = time.monotonic()
    decoded = b""
    out: list[tuple[float, bytes]] = []
    with httpx.stream(
        "POST",
        server.url,
        params={"enable_http_compression": "1"},
        headers={"Accept-Encoding": encoding},
        content=query,
        timeout=30,
    ) as resp:
        assert resp.headers["Content-Encoding"] == encoding
        for raw in resp.iter_raw():
            piece = decode(raw)
            decoded = piece if encoding == "lz4" else decoded + piece
            out.append((time.monotonic() - start, decoded))
    return out


@pytest.mark.parametrize("encoding", ["zstd", "lz4", "gzip", "deflate", "br"])
def test_compressed_stream_delivers_blocks_as_they_come(
    server: ServerProcess, encoding: str
) -> None:
    arrivals = _arrivals(server, encoding, _SLOW)
    total = arrivals[-1][0]
    assert arrivals[-1][1] == b"0\t0\n0\t1\n0\t2\n"
    first_row_at = next(t for t, decoded in arrivals if decoded.startswith(b"0\t0\n"))
    assert first_row_at < total - 1.0, arrivals


@pytest.mark.parametrize("encoding", ["zstd", "lz4", "gzip"])
def test_compressed_stream_error_keeps_the_rows_before_it(
    server: ServerProcess, encoding: str
) -> None:
    failing = (
        "SELECT sleepEachRow(0.5), number, throwIf(number = 2, 'boom') FROM numbers(5) "
        "SETTINGS max_threads = 1, max_block_size = 1 FORMAT TSV"
    )
    decoded = _arrivals(server, encoding, failing)[-1][1]
    assert decoded.startswith(b"0\t0\t0\n0\t1\t0\n")
    assert b"__exception__" in decoded and b"boom" in decoded


# --- 3. external data --------------------------------------------------------------------------

_TABLE = pa.table({"id": pa.array([1, 2, 3], pa.uint32()), "name": ["a", "b", "c"]})


def _parquet() -> bytes:
    sink = io.BytesIO()
    pq.write_table(_TABLE, sink)
    return sink.getvalue()


def _arrow() -> bytes:
    sink = io.BytesIO()
    feather.write_feather(_TABLE, sink, compression="uncompressed")
    return sink.getvalue()


def _native() -> bytes:
    ids = b"".join(i.to_bytes(4, "little") for i in (1, 2, 3))
    names = b"".join(b"\x01" + n for n in (b"a", b"b", b"c"))
    return b"\x02\x03\x02id\x06UInt32" + ids + b"\x04name\x06String" + names


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("TabSeparated", b"1\ta\n2\tb\n3\tc\n"),
        ("Native", _native()),
        ("Parquet", _parquet()),
        ("Arrow", _arrow()),
    ],
)
def test_external_data_is_a_temporary_table(client: Client, fmt: str, data: bytes) -> None:
    external = ExternalData(
        file_name=f"ext_{fmt.lower()}", data=data, fmt=fmt, structure="id UInt32, name String"
    )
    rows = client.query(
        f"SELECT name, id * 10 FROM ext_{fmt.lower()} ORDER BY id", external_data=external
    ).result_rows
    assert rows == [("a", 10), ("b", 20), ("c", 30)]


def test_external_data_like_curl(server: ServerProcess) -> None:
    resp = httpx.post(
        server.url,
        params={
            "query": "SELECT sum(_1), groupArray(_2) FROM nums",
            "nums_types": "UInt8,String",
        },
        files={"nums": ("nums.tsv", b"1\tx\n2\ty\n")},
    )
    assert resp.status_code == 200, resp.text
    assert resp.text == "3\t['x','y']\n"
    csv = httpx.post(
        server.url,
        params={
            "query": "SELECT b FROM t WHERE a = 2",
            "t_structure": "a UInt8, b String",
            "t_format": "CSV",
        },
        files={"t": ("t.csv", b"1,x\n2,y\n")},
    )
    assert csv.text == "y\n"


def test_external_structure_cannot_smuggle_a_statement(server: ServerProcess) -> None:
    resp = httpx.post(
        server.url,
        params={
            "query": "SELECT * FROM t",
            "t_structure": "a String DEFAULT file('/etc/passwd')",
        },
        files={"t": ("t.tsv", b"x\n")},
    )
    assert resp.status_code == 403 and "root:" not in resp.text
    engine = httpx.post(
        server.url,
        params={"query": "SELECT * FROM t", "t_structure": "a UInt8) ENGINE = Log AS SELECT (1"},
        files={"t": ("t.tsv", b"1\n")},
    )
    assert engine.status_code == 400 and "Code:" in engine.text


# --- 4. brotli ----------------------------------------------------------------------------------


def test_brotli_request_body(server: ServerProcess, client: Client) -> None:
    client.command("CREATE TABLE br_in (n UInt32) ENGINE = MergeTree ORDER BY n")
    body = brotli.compress(
        b"INSERT INTO br_in FORMAT TSV\n" + b"".join(b"%d\n" % i for i in range(100))
    )
    resp = httpx.post(server.url, content=body, headers={"Content-Encoding": "br"})
    assert resp.status_code == 200, resp.text
    assert client.command("SELECT sum(n) FROM br_in") == sum(range(100))


def test_brotli_response(server: ServerProcess) -> None:
    resp = httpx.post(
        server.url,
        params={"enable_http_compression": "1"},
        headers={"Accept-Encoding": "br"},
        content="SELECT number FROM numbers(1000) FORMAT TSV",
    )
    assert resp.headers["Content-Encoding"] == "br"
    assert resp.text.splitlines()[-1] == "999"  # httpx decodes br itself (brotli installed)
    off = httpx.post(
        server.url,
        params={"enable_http_compression": "0"},
        headers={"Accept-Encoding": "br"},
        content="SELECT 1 FORMAT TSV",
    )
    assert "Content-Encoding" not in off.headers


# --- 5. listen backlog -------------------------------------------------------------------------


def test_fifty_simultaneous_connections_all_answered(server: ServerProcess) -> None:
    count = 50
    barrier = threading.Barrier(count)
    answers: list[bytes] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    header = "Basic " + base64.b64encode(":".join(server.auth).encode()).decode()
    connect_s: list[float] = []

    def one() -> None:
        try:
            barrier.wait(timeout=30)
            began = time.monotonic()
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
                with lock:
                    connect_s.append(time.monotonic() - began)
                sock.sendall(
                    b"GET /?query=SELECT%201 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Authorization: " + header.encode() + b"\r\nConnection: close\r\n\r\n"
                )
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
            with lock:
                answers.append(data)
        except BaseException as exc:  # counted, not raised: every failure is the finding
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(answers) == count
    assert all(a.startswith(b"HTTP/1.1 200") and b"\r\n1\n" in a for a in answers), answers[0]
    # A connection the backlog dropped is retried by the kernel after 1 s: none was.
    assert max(connect_s) < 0.9, sorted(connect_s)[-5:]
