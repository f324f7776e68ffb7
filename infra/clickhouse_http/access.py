"""What a query may reach: the engine's own grants, and a guard over the engine's own parse.

chDB runs as clickhouse-local, whose ``default`` user may read and write any file of the host
and reach any host of the network (``file()``, ``url()``, ``postgresql()``, ``INTO OUTFILE``...).
The endpoint closes that in two layers, neither of which sniffs the SQL text itself:

1. The engine's access control. The server starts chDB with a users.xml of its own, whose
   ``default`` user holds only the grants a data platform needs: no ``SOURCES`` (file, url,
   s3, remote, postgresql, mysql, mongodb, ...) except those named with
   ``--allow-table-function``, table engines from a short list (MergeTree family, Memory, Log,
   ...), no ``SYSTEM``, ``BACKUP``, dictionaries, named collections or introspection; and
   settings constraints that keep the settings naming host paths or other parsers constant.
   The engine checks all of it wherever a table function or engine hides (subqueries, views,
   ``view()``, ``merge()``, ``CREATE TABLE ... ENGINE = File``, database engines).
2. What the grants cannot see, because clickhouse-local does it outside the access checks:
   the client-side ``INTO OUTFILE`` / ``FROM INFILE``, ``ATTACH ... FROM '<path>'``, the scalar
   ``file()`` function, chDB's ``python()`` table function, multi-statements, and data carried
   inline after an ``INSERT`` (clickhouse-local would run a statement hidden after it). These
   are found in the engine's own rendering of the statement (``formatQuerySingleLine``: one
   statement or a syntax error, keywords canonical, comments and Unicode blanks gone, literals
   quoted), so that whatever the text looked like, the guard sees what the engine will run.

The cold tier (``--etl-user`` with ``--lake-url``): the ETL defines read-only S3 tables over the
Parquet lake. chDB runs every handle as its one configured user (no per-connection user, no
``SET user``), so the engine's user holds ``TABLE ENGINE ON S3``, the ``S3`` source and the
named collection ``lake`` (the lake's URL and key pair, from config: no secret in any DDL),
and the guard refuses ``s3(...)``, ``S3(...)`` engines and every other source as before. One
statement shape passes for the ETL user only: ``CREATE [OR REPLACE] TABLE [IF NOT EXISTS]
db.name ENGINE = S3(lake, url = '<lake url><topic>/dt=*/*.parquet', format = 'Parquet')
[COMMENT '...']`` (``LakeDdl``). The glob keeps the table read-only in the engine itself
(INSERT and TRUNCATE refuse globbed keys), so reading it is all anyone can do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from infra.clickhouse_http.errors import ClickHouseHttpError, ErrorCode
from infra.clickhouse_http.sqltext import Tok, Token, tokens

# Table functions that reach the host or the network -> the source privilege that unlocks them.
SOURCES: dict[str, str] = {
    **dict.fromkeys(("file", "filecluster", "iceberglocal", "deltalakelocal"), "FILE"),
    **dict.fromkeys(("url", "urlcluster"), "URL"),
    **dict.fromkeys(
        (
            "s3", "s3cluster", "gcs", "oss", "cosn", "iceberg", "icebergs3", "icebergs3cluster",
            "deltalake", "deltalakes3", "hudi",
        ),
        "S3",
    ),
    **dict.fromkeys(("hdfs", "hdfscluster", "iceberghdfs"), "HDFS"),
    **dict.fromkeys(("azureblobstorage", "azureblobstoragecluster", "icebergazure"), "AZURE"),
    **dict.fromkeys(("remote", "remotesecure", "cluster", "clusterallreplicas"), "REMOTE"),
    "postgresql": "POSTGRES",
    "mysql": "MYSQL",
    "mongodb": "MONGO",
    "redis": "REDIS",
    "sqlite": "SQLITE",
    "odbc": "ODBC",
    "jdbc": "JDBC",
}  # fmt: skip

# Table functions that only compute or read tables through the usual grants. Every other one
# the engine knows (listed at start from system.table_functions) is refused by the guard too.
SAFE_TABLE_FUNCTIONS = frozenset(
    {
        "sqlstandardvalues", "values", "format", "fuzzjson", "fuzzquery", "generaterandom",
        "generateseries", "generate_series", "input", "loop", "merge", "null", "numbers",
        "numbers_mt", "primes", "view", "viewexplain", "viewifpermitted", "zeros", "zeros_mt",
        "dictionary", "mergetreeindex", "mergetreeprojection", "mergetreetextindex",
        "mergetreeanalyzeindexes", "mergetreeanalyzeindexesuuid", "mergetreecodecblockcounts",
        "timeseriesdata", "timeseriesmetrics", "timeseriestags", "timeseriessamples",
        "timeseriesmetricfamilies", "timeseriesselector", "prometheusquery",
        "prometheusqueryrange",
    }
)  # fmt: skip

# Table engines CREATE TABLE may name (database engines are checked against the same grant).
TABLE_ENGINES = (
    "MergeTree", "ReplacingMergeTree", "SummingMergeTree", "AggregatingMergeTree",
    "CollapsingMergeTree", "VersionedCollapsingMergeTree", "CoalescingMergeTree", "Memory",
    "Log", "TinyLog", "StripeLog", "Null", "Set", "Join", "Buffer", "Merge", "GenerateRandom",
    "View", "MaterializedView", "Atomic",
)  # fmt: skip

# Settings that name host paths or URLs, or switch the parser the guard relies on.
LOCKED_SETTINGS = (
    "format_schema", "format_schema_source", "format_template_resultset", "format_template_row",
    "output_format_schema", "input_format_record_errors_file_path",
    "format_avro_schema_registry_url", "dialect", "implicit_select", "polyglot_dialect",
    "allow_experimental_kusto_dialect", "allow_experimental_prql_dialect",
    "allow_experimental_polyglot_dialect", "enable_json_ast_dialect", "enable_trino_dialect",
    "jemalloc_enable_profiler", "jemalloc_collect_profile_samples_in_trace_log",
)  # fmt: skip

_GRANTS = (
    "SHOW, SELECT, INSERT, ALTER TABLE, ALTER VIEW, CREATE DATABASE, CREATE TABLE, CREATE VIEW, "
    "CREATE TEMPORARY TABLE, CREATE FUNCTION, DROP DATABASE, DROP TABLE, DROP VIEW, "
    "DROP FUNCTION, UNDROP TABLE, TRUNCATE, OPTIMIZE, KILL QUERY, dictGet ON *.*"
)


def check_allowed(names: Iterable[str]) -> frozenset[str]:
    """Lower-case table function names for ``--allow-table-function``; unknown ones refused."""
    allowed = frozenset(n.strip().lower() for n in names)
    unknown = sorted(allowed - SOURCES.keys())
    if unknown:
        raise ValueError(
            f"cannot allow table function(s) {', '.join(unknown)}: allowed are "
            f"{', '.join(sorted(SOURCES))}"
        )
    return allowed


LAKE_COLLECTION = "lake"
"""The named collection (config-defined) holding the lake's URL and S3 key pair."""

_IDENT = r"(?:[A-Za-z_][A-Za-z0-9_]*|`[A-Za-z0-9_.-]+`)"
_TOPIC = r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*"  # no "..": the S3 server maps keys to paths


@dataclass(frozen=True, slots=True)
class Lake:
    """Where the Parquet lake is, as the engine reaches it."""

    url: str  # <endpoint>/<bucket>/<prefix>/ (path-style, trailing slash)
    access_key_id: str
    secret_access_key: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"https?://[A-Za-z0-9.:\[\]-]+/[A-Za-z0-9._/-]+/", self.url):
            raise ValueError(
                f"lake URL {self.url!r} must be http(s)://host[:port]/<bucket>/<prefix>/"
            )
        if ".." in self.url.split("://", 1)[1]:
            raise ValueError(f"lake URL {self.url!r} must not hold '..'")

    def ddl(self) -> re.Pattern[str]:
        """The one CREATE TABLE the ETL user may run, in the engine's one-line rendering."""
        url = re.escape(self.url) + _TOPIC + r"/dt=\*/\*\.parquet"
        return re.compile(
            rf"CREATE (?:OR REPLACE )?TABLE (?:IF NOT EXISTS )?{_IDENT}\.{_IDENT} "
            rf"ENGINE = S3\({LAKE_COLLECTION}, url = '{url}', format = 'Parquet'\)"
            r"(?: COMMENT '(?:[^'\\]|\\.)*')?"
        )

    def collection_xml(self) -> str:
        return (
            f"<named_collections><{LAKE_COLLECTION}>"
            f"<url>{escape(self.url)}</url>"
            f"<access_key_id>{escape(self.access_key_id)}</access_key_id>"
            f"<secret_access_key>{escape(self.secret_access_key)}</secret_access_key>"
            f"</{LAKE_COLLECTION}></named_collections>"
        )


# What the engine's user needs to create and read tables over the lake (see the docstring).
_LAKE_GRANTS = ("TABLE ENGINE ON S3", "S3 ON *.*", f"NAMED COLLECTION ON {LAKE_COLLECTION}")


def users_xml(allowed: frozenset[str], lake: Lake | None = None) -> str:
    """users.xml of the engine: the one ``default`` user, its grants and constraints."""
    grants = [_GRANTS] + [f"TABLE ENGINE ON {name}" for name in TABLE_ENGINES]
    grants += [f"{source} ON *.*" for source in sorted({SOURCES[n] for n in allowed})]
    grants += list(_LAKE_GRANTS) if lake is not None else []
    queries = "".join(f"<query>GRANT {escape(g)}</query>" for g in grants)
    constraints = "".join(f"<{name}><const/></{name}>" for name in LOCKED_SETTINGS)
    # rclone's listing and GET disagree on the ETag's quotes; the lake's files are replaced
    # only by lake_parquet, whole, so the check would only ever refuse good reads.
    etag = "<s3_validate_etag_on_read>0</s3_validate_etag_on_read>" if lake else ""
    return (
        "<clickhouse>"
        f"<profiles><default>{etag}<constraints>{constraints}</constraints></default></profiles>"
        "<users><default><password></password>"
        # chDB's handles log in from no address at all; nothing outside the process can.
        "<networks><ip>::/0</ip></networks>"
        f"<profile>default</profile><quota>default</quota><grants>{queries}</grants>"
        "</default></users><quotas><default></default></quotas></clickhouse>\n"
    )


def write_engine_config(directory: Path, allowed: frozenset[str], lake: Lake | None = None) -> Path:
    """Write config.xml + users.xml (0600) into directory; returns the config.xml path."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    scripts = directory / "user_scripts"  # empty: executable() finds nothing to run
    scripts.mkdir(exist_ok=True, mode=0o700)
    users = directory / "users.xml"
    config = directory / "config.xml"
    _write_private(users, users_xml(allowed, lake))
    _write_private(
        config,
        "<clickhouse>"
        f"<users_config>{escape(str(users))}</users_config>"
        f"<user_scripts_path>{escape(str(scripts))}/</user_scripts_path>"
        f"{lake.collection_xml() if lake else ''}"
        "</clickhouse>\n",
    )
    return config


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


def denied_functions(table_functions: Iterable[str], allowed: frozenset[str]) -> frozenset[str]:
    """Lower-case names the guard refuses as calls: host-reaching table functions, ``file``."""
    names = {n.lower() for n in table_functions} | set(SOURCES) | {"file"}
    return frozenset(names - SAFE_TABLE_FUNCTIONS - allowed)


def denied_engines(engines: Iterable[str], allowed: frozenset[str]) -> frozenset[str]:
    """Lower-case table and database engine names the guard refuses after ``ENGINE =``.

    Every engine off the granted list: the grants refuse most, but not all (with the lake's
    S3 grant, ``S3Queue`` -- which moves and deletes files -- and the ``S3``,
    ``DataLakeCatalog`` database engines pass them). Names of safe table functions stay
    callable; the grants still refuse those engines.
    """
    granted = {name.lower() for name in TABLE_ENGINES}
    return frozenset({n.lower() for n in engines} - granted - SAFE_TABLE_FUNCTIONS - allowed)


def _refuse(what: str) -> ClickHouseHttpError:
    return ClickHouseHttpError.of(
        ErrorCode.ACCESS_DENIED,
        f"{what} reaches the files of the server's host or the network, which this server "
        "does not allow",
    )


def check_statement(
    canonical: str,
    denied: frozenset[str],
    *,
    inline_data: bool,
    lake_ddl: re.Pattern[str] | None = None,
) -> None:
    """Refuse what the grants cannot see, in the engine's rendering of one statement.

    ``inline_data``: the statement is run as text, so an INSERT must not carry data after it
    (clickhouse-local would run whatever statement follows that data). ``lake_ddl``: the ETL
    user's one extra statement (``Lake.ddl``), let through when it is the whole statement.
    """
    if lake_ddl is not None and lake_ddl.fullmatch(canonical):
        return
    text = canonical.encode()
    toks = list(tokens(text))
    words = [text[t.start : t.end].decode().lower() if t.kind is Tok.WORD else "" for t in toks]
    first = next((w for w in words if w), "")
    depth = 0
    for i, tok in enumerate(toks):
        word = words[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if tok.kind is Tok.OPEN:
            depth += 1
        elif tok.kind is Tok.CLOSE:
            depth -= 1
        if nxt is not None and nxt.kind is Tok.OPEN and nxt.start == tok.end:
            name = word or _quoted_name(text, tok)
            if name in denied:
                raise _refuse(f"Function {name}()")
            if name == "disk":
                raise _refuse("A custom disk (disk(...))")
        follower = words[i + 1] if i + 1 < len(toks) else ""
        if word == "engine" and nxt is not None and nxt.kind is Tok.EQ and i + 2 < len(toks):
            engine = words[i + 2] or _quoted_name(text, toks[i + 2])
        else:
            engine = ""
        if engine in denied:
            # ``ENGINE = S3`` with no arguments makes an S3 *database*, whose tables are URLs.
            raise _refuse(f"ENGINE = {engine}")
        if word == "into" and follower == "outfile":
            raise _refuse("INTO OUTFILE")
        if word == "from" and follower == "infile":
            raise _refuse("FROM INFILE")
        if first == "attach" and word == "from" and nxt is not None and nxt.kind is Tok.STRING:
            raise _refuse("ATTACH ... FROM '<path>'")
        opens = nxt is not None and nxt.kind is Tok.OPEN
        if inline_data and first == "insert" and word == "format" and depth == 0 and not opens:
            raise ClickHouseHttpError.of(
                ErrorCode.NOT_IMPLEMENTED,
                "INSERT data in this form is not supported by this server: send the data after "
                "INSERT ... FORMAT <format> or VALUES, with no query parameters in it",
            )
    if first in ("backup", "restore"):
        raise _refuse(first.upper())


def _quoted_name(text: bytes, tok: Token) -> str:
    if tok.kind is not Tok.QUOTED:
        return ""
    return text[tok.start + 1 : tok.end - 1].decode("utf-8", "replace").lower()
