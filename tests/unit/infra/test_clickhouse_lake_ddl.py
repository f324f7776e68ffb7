"""The ETL user's one extra statement: the lake table DDL, as the guard matches it."""

from __future__ import annotations

import chdb
import pytest

from dagster_project.lake import lake_table_ddl
from dagster_project.lake_io import Stores
from etl.retention.policy import RetentionSettings
from infra.clickhouse_http.access import (
    Lake,
    check_statement,
    denied_engines,
    denied_functions,
    users_xml,
)
from infra.clickhouse_http.errors import ClickHouseHttpError, ErrorCode

LAKE = Lake("http://127.0.0.1:9000/vidsight/lake/", "key-id", "s3cr3t<&>")
DENIED = denied_functions(["s3", "url", "file", "numbers"], frozenset())
GOOD = "CREATE TABLE v.t ENGINE = S3(lake, url = '{u}x.y/dt=*/*.parquet', format = 'Parquet')"
U = LAKE.url


def _canonical(sql: str) -> str:
    quoted = sql.replace("\\", "\\\\").replace("'", "\\'")
    return str(chdb.query(f"SELECT formatQuerySingleLine('{quoted}')", "TSVRaw")).rstrip("\n")


def test_the_etl_ddl_as_the_engine_renders_it_passes_for_the_etl_user_only() -> None:
    settings = RetentionSettings(s3_endpoint="http://127.0.0.1:9000", s3_bucket="vidsight")
    ddl = _canonical(lake_table_ddl(Stores(settings), "vidsight.detections", "lake_detections"))
    check_statement(ddl, DENIED, inline_data=True, lake_ddl=LAKE.ddl())
    with pytest.raises(ClickHouseHttpError) as err:
        check_statement(ddl, DENIED, inline_data=True)
    assert err.value.code == ErrorCode.ACCESS_DENIED


@pytest.mark.parametrize(
    "sql",
    [
        GOOD.replace("{u}", "http://127.0.0.1:9000/vidsight/archive/"),
        GOOD.replace("{u}", f"{U}../"),
        GOOD.replace("{u}", "http://127.0.0.2:9000/vidsight/lake/"),
        GOOD.replace("x.y/dt=*/*.parquet", "x.y/dt=2024-01-01/0.parquet"),  # writable
        GOOD.replace("x.y", "x..y"),
        GOOD.replace("'Parquet'", "'CSV'"),
        GOOD.replace("format = 'Parquet'", "format = 'Parquet', access_key_id = 'a'"),
        GOOD.replace("S3(lake", "S3(other"),
        GOOD + " AS SELECT * FROM s3(lake)",
        GOOD + " COMMENT 'a' SETTINGS x = 1",
        GOOD.replace("CREATE TABLE", "ATTACH TABLE"),
        "SELECT * FROM s3(lake, url = '{u}x/dt=*/*.parquet')",
    ],
)
def test_anything_else_is_refused_to_the_etl_user(sql: str) -> None:
    with pytest.raises(ClickHouseHttpError) as err:
        check_statement(
            _canonical(sql.replace("{u}", U)), DENIED, inline_data=True, lake_ddl=LAKE.ddl()
        )
    assert err.value.code == ErrorCode.ACCESS_DENIED


def test_a_comment_cannot_smuggle_a_second_clause() -> None:
    ddl = _canonical(GOOD.replace("{u}", U) + " COMMENT 'it''s the cold tier'")
    check_statement(ddl, DENIED, inline_data=True, lake_ddl=LAKE.ddl())


@pytest.mark.parametrize(
    "url",
    ["http://h/", "ftp://h/b/l/", "http://h/b/l", "http://h/b/../l/", "http://h/b/l/?x=1/"],
)
def test_a_lake_url_that_is_not_a_plain_prefix_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        Lake(url, "k", "s")


def test_the_engine_user_gets_the_s3_grants_only_with_a_lake() -> None:
    assert "S3" not in users_xml(frozenset())
    with_lake = users_xml(frozenset(), LAKE)
    for grant in ("TABLE ENGINE ON S3", "S3 ON *.*", "NAMED COLLECTION ON lake"):
        assert f"<query>GRANT {grant}</query>" in with_lake
    assert "s3cr3t" not in with_lake  # the key pair is in config.xml's named collection
    assert "s3cr3t&lt;&amp;&gt;" in LAKE.collection_xml()


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE DATABASE d ENGINE = S3",
        "ATTACH DATABASE d ENGINE = S3",
        "CREATE DATABASE d ENGINE = `S3`",
        "CREATE DATABASE IF NOT EXISTS d ENGINE = URL COMMENT 'x'",
    ],
)
def test_a_source_engine_without_arguments_is_refused_to_everyone(sql: str) -> None:
    for lake_ddl in (None, LAKE.ddl()):
        with pytest.raises(ClickHouseHttpError) as err:
            check_statement(_canonical(sql), DENIED, inline_data=True, lake_ddl=lake_ddl)
        assert err.value.code == ErrorCode.ACCESS_DENIED


def test_engines_off_the_granted_list_are_denied_by_name() -> None:
    denied = denied_engines(
        ["S3", "S3Queue", "DataLakeCatalog", "MergeTree", "Log", "Merge"], frozenset()
    )
    assert denied == {"s3", "s3queue", "datalakecatalog"}
    assert denied_engines(["S3", "S3Queue"], frozenset({"s3"})) == {"s3queue"}
    sql = "CREATE TABLE t (n Int64) ENGINE = S3Queue(lake, url = 'x', mode = 'unordered')"
    with pytest.raises(ClickHouseHttpError):
        check_statement(_canonical(sql), DENIED | denied, inline_data=True, lake_ddl=LAKE.ddl())
    check_statement(_canonical("SELECT log(2), merge"), DENIED | denied, inline_data=True)
