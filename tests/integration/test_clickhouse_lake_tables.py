"""The cold tier: the ETL user defines read-only S3 tables over the lake; nobody else reaches S3.

The endpoint runs with ``--etl-user`` and the stack's S3 as its lake; a small Parquet file is
put under ``lake/`` there. Every attack is performed and must be refused.
"""

from __future__ import annotations

import io
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from clickhouse_server import ServerProcess

from sinks.errors import SqlError
from sinks.settings import SinkSettings
from sinks.sql import run_query

ETL_USER = "vidsight_etl"
TOPIC = f"test.lake{uuid.uuid4().hex[:6]}"
ACCESS_DENIED = 497
AUTHENTICATION_FAILED = 516


class Lake:
    def __init__(self, stack: Any, server: ServerProcess, etl_password: str) -> None:
        self.stack = stack
        self.server = server
        self.etl_password = etl_password
        self.root = f"{stack.s3_endpoint}/{stack.s3_bucket}"
        self.url = f"{self.root}/lake/{TOPIC}/dt=*/*.parquet"

    def ddl(self, table: str, url: str | None = None) -> str:
        return (
            f"CREATE OR REPLACE TABLE vidsight.{table} "
            f"ENGINE = S3(lake, url = '{url or self.url}', format = 'Parquet') "
            "COMMENT 'the cold tier'"
        )

    def etl(self, sql: str, password: str | None = None) -> httpx.Response:
        auth = (ETL_USER, password or self.etl_password)
        return httpx.post(self.server.bare_url, auth=auth, content=sql.encode(), timeout=60)

    def user(self, sql: str, **params: str) -> httpx.Response:
        return httpx.post(self.server.url, params=params, content=sql.encode(), timeout=60)


def _code(resp: httpx.Response) -> int:
    return int(resp.headers.get("X-ClickHouse-Exception-Code", "0"))


@pytest.fixture(scope="module")
def lake(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    s3 = boto3.client(
        "s3",
        endpoint_url=stack.s3_endpoint,
        aws_access_key_id=stack.s3_access_key,
        aws_secret_access_key=stack.s3_secret_key,
        region_name="us-east-1",
    )
    for day, rows in (("2024-05-01", [1, 2, 3]), ("2024-05-02", [4])):
        buf = io.BytesIO()
        pq.write_table(pa.table({"n": rows, "camera_id": [f"cam{n}" for n in rows]}), buf)
        s3.put_object(
            Bucket=stack.s3_bucket, Key=f"lake/{TOPIC}/dt={day}/0.parquet", Body=buf.getvalue()
        )
    root = tmp_path_factory.mktemp("clickhouse_lake")
    etl_password = secrets.token_urlsafe(24)
    etl_file = root / "etl.password"
    etl_file.write_text(etl_password + "\n")
    key_file = root / "s3.secret"
    key_file.write_text(stack.s3_secret_key + "\n")
    server = ServerProcess(
        root / "data",
        root / "server.log",
        (
            "--etl-user",
            ETL_USER,
            "--etl-password-file",
            str(etl_file),
            "--lake-url",
            f"{stack.s3_endpoint}/{stack.s3_bucket}/lake/",
            "--lake-secret-key-file",
            str(key_file),
            "--default-database",
            "vidsight",
        ),
        env={"VIDSIGHT_LAKE_ACCESS_KEY_ID": stack.s3_access_key},
    )
    server.start()
    yield Lake(stack, server, etl_password)
    if server.proc is not None and server.proc.poll() is None:
        server.stop()


@pytest.fixture(scope="module")
def table(lake: Lake) -> str:
    resp = lake.etl(lake.ddl("lake_test"))
    assert resp.status_code == 200, resp.text
    return "vidsight.lake_test"


def _sql_settings(lake: Lake) -> SinkSettings:
    return SinkSettings(
        clickhouse_url=lake.server.bare_url,
        clickhouse_user="vidsight",
        clickhouse_password=lake.server.password,
        store_timeout_s=30,
    )


def test_the_user_reads_the_lake_table_readonly(lake: Lake, table: str) -> None:
    resp = lake.user(f"SELECT count(), sum(n) FROM {table}", readonly="1")
    assert resp.text == "4\t10\n", resp.text
    result = run_query(
        _sql_settings(lake), f"SELECT dt, count() FROM {table} GROUP BY dt ORDER BY dt"
    )
    assert [(str(d), c) for d, c in result.rows] == [("2024-05-01", 3), ("2024-05-02", 1)]


def test_the_etl_user_refreshes_and_drops_its_tables(lake: Lake, table: str) -> None:
    assert lake.etl(lake.ddl("lake_again")).status_code == 200
    assert lake.etl(lake.ddl("lake_again")).status_code == 200  # CREATE OR REPLACE
    ddl = lake.ddl("lake_new").replace("CREATE OR REPLACE TABLE", "CREATE TABLE IF NOT EXISTS")
    assert lake.etl(ddl).status_code == 200
    assert lake.etl("DROP TABLE vidsight.lake_again").status_code == 200
    assert lake.user(f"SELECT count() FROM {table}").text == "4\n"


def test_the_secret_is_nowhere_to_be_seen(lake: Lake, table: str) -> None:
    secret = lake.stack.s3_secret_key
    for sql in (
        f"SHOW CREATE TABLE {table}",
        "SELECT create_table_query, engine_full FROM system.tables WHERE database = 'vidsight'",
        "SELECT * FROM system.named_collections",
    ):
        for resp in (lake.user(sql), lake.etl(sql)):
            assert secret not in resp.text
    assert "ENGINE = S3(lake" in lake.user(f"SHOW CREATE TABLE {table}").text


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM s3('{root}/lake/{topic}/dt=*/*.parquet', '{key}', '{secret}', 'Parquet')",
        "SELECT * FROM s3(lake, url = '{root}/lake/{topic}/dt=*/*.parquet')",
        "SELECT * FROM s3(lake, url = '{root}/archive/x.avro', format = 'Avro')",
        "SELECT * FROM url('{root}/lake/{topic}/dt=2024-05-01/0.parquet', 'Parquet')",
        "SELECT * FROM file('/etc/passwd', 'LineAsString')",
        "INSERT INTO FUNCTION s3(lake, url = '{root}/lake/x/dt=1/0.parquet') SELECT 1 AS n",
        "CREATE TABLE vidsight.mine ENGINE = S3(lake, url = '{root}/lake/{topic}/dt=*/*.parquet', "
        "format = 'Parquet')",
        "CREATE TABLE vidsight.mine ENGINE = S3('{root}/lake/{topic}/dt=*/*.parquet', '{key}', "
        "'{secret}', 'Parquet')",
        "CREATE TABLE vidsight.mine (n Int64) ENGINE = URL('{root}/lake/x', 'Parquet')",
        # An S3 database takes no arguments: its tables are URLs, anywhere.
        "CREATE DATABASE mine ENGINE = S3",
        "CREATE DATABASE mine ENGINE = `S3`",
        # Engines the S3 grant lets through: a queue that moves/deletes files, a catalog.
        "CREATE TABLE vidsight.mine (n Int64) ENGINE = S3Queue(lake, url = "
        "'{root}/lake/{topic}/dt=*/*.parquet', format = 'Parquet', mode = 'unordered', "
        "after_processing = 'delete')",
        "CREATE DATABASE mine ENGINE = DataLakeCatalog('{root}/') SETTINGS warehouse = 'w'",
    ],
)
def test_the_user_reaches_no_source(lake: Lake, table: str, sql: str) -> None:
    query = sql.format(
        root=lake.root, topic=TOPIC, key=lake.stack.s3_access_key, secret=lake.stack.s3_secret_key
    )
    resp = lake.user(query)
    assert resp.status_code != 200 and _code(resp) == ACCESS_DENIED, resp.text
    with pytest.raises(SqlError):
        run_query(_sql_settings(lake), query)
    assert lake.user("EXISTS TABLE vidsight.mine").text == "0\n"
    assert lake.user("EXISTS DATABASE mine").text == "0\n"


@pytest.mark.parametrize(
    "sql",
    [
        # Not the lake: another prefix, a traversal, a single file (writable), another host.
        "CREATE TABLE vidsight.mine ENGINE = S3(lake, url = '{root}/archive/x/dt=*/*.parquet', "
        "format = 'Parquet')",
        "CREATE TABLE vidsight.mine ENGINE = S3(lake, url = '{root}/lake/../archive/dt=*/*.parquet'"
        ", format = 'Parquet')",
        "CREATE TABLE vidsight.mine ENGINE = S3(lake, url = '{root}/lake/{topic}/dt=2024-05-01/"
        "0.parquet', format = 'Parquet')",
        "CREATE TABLE vidsight.mine ENGINE = S3(lake, url = 'http://127.0.0.2:1/vidsight/lake/"
        "{topic}/dt=*/*.parquet', format = 'Parquet')",
        # Extra arguments (credentials of its own, another format), or more than the DDL.
        "CREATE TABLE vidsight.mine ENGINE = S3(lake, url = '{root}/lake/{topic}/dt=*/*.parquet', "
        "format = 'Parquet', access_key_id = 'x', secret_access_key = 'y')",
        "CREATE TABLE vidsight.mine ENGINE = S3(lake, url = '{root}/lake/{topic}/dt=*/*.parquet', "
        "format = 'CSV')",
        "CREATE TABLE vidsight.mine ENGINE = S3(lake, url = '{root}/lake/{topic}/dt=*/*.parquet', "
        "format = 'Parquet') AS SELECT * FROM s3(lake)",
        "SELECT * FROM s3(lake, url = '{root}/lake/{topic}/dt=*/*.parquet')",
        "SELECT * FROM url('{root}/lake/{topic}/dt=2024-05-01/0.parquet', 'Parquet')",
        "SELECT * FROM file('/etc/passwd', 'LineAsString')",
        "CREATE DATABASE mine ENGINE = S3",
        "CREATE TABLE vidsight.mine (n Int64) ENGINE = S3Queue(lake, url = "
        "'{root}/lake/{topic}/dt=*/*.parquet', format = 'Parquet', mode = 'unordered')",
    ],
)
def test_the_etl_user_gets_the_lake_ddl_and_nothing_more(lake: Lake, sql: str) -> None:
    resp = lake.etl(sql.format(root=lake.root, topic=TOPIC))
    assert resp.status_code != 200, resp.text
    assert _code(resp) in (ACCESS_DENIED, 62), resp.text  # 62: a syntax error
    assert lake.user("EXISTS TABLE vidsight.mine").text == "0\n"
    assert lake.user("EXISTS DATABASE mine").text == "0\n"


def test_the_lake_table_cannot_be_written(lake: Lake, table: str) -> None:
    for sql in (f"INSERT INTO {table} VALUES (9, 'x')", f"TRUNCATE TABLE {table}"):
        for resp in (lake.user(sql), lake.etl(sql)):
            assert resp.status_code != 200, resp.text
    assert lake.user(f"SELECT count() FROM {table}").text == "4\n"


def test_a_wrong_etl_password_is_refused(lake: Lake) -> None:
    resp = lake.etl("SELECT 1", password="wrong")
    assert resp.status_code == 516 or _code(resp) == AUTHENTICATION_FAILED
    assert _code(resp) == AUTHENTICATION_FAILED
    resp = httpx.post(
        lake.server.bare_url, auth=("vidsight", lake.etl_password), content=b"SELECT 1"
    )
    assert _code(resp) == AUTHENTICATION_FAILED
