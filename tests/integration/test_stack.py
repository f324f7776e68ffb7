"""The local stack's parts are real servers: each proven with its own protocol's client."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.stack import PortInUseError, Stack
from infra.stack.parts import PART_ORDER
from infra.stack.settings import StackEndpoints
from vidsight.settings import load

pytestmark = pytest.mark.integration


def _vidsight(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vidsight", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_status_json_reports_every_part_healthy(stack) -> None:
    result = _vidsight("status", "--json", env=stack.env())
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert set(status) == set(PART_ORDER)
    for name, part in status.items():
        assert part["healthy"] is True, (name, part)
        assert {"url", "healthy", "pid"} <= set(part)
        if part["managed"]:
            assert isinstance(part["pid"], int)
    assert status["s3"]["access_key"] == stack.s3_access_key


def test_up_twice_is_idempotent(stack) -> None:
    if stack.settings is None:
        pytest.skip("reused stack")
    before = {s.name: s.pid for s in Stack(stack.settings).status()}
    after = {s.name: s.pid for s in Stack(stack.settings).up()}
    assert before == after


def test_kafka_consumer_group_commits_and_resumes(stack) -> None:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"it-group-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap, "acks": "all"})
    for i in range(20):
        producer.produce(topic, key=f"cam-{i % 4}".encode(), value=str(i).encode())
    assert producer.flush(30) == 0

    def consumer() -> Consumer:
        c = Consumer(
            {
                "bootstrap.servers": stack.kafka_bootstrap,
                "group.id": f"{topic}-g",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                # The local broker's JoinGroup waits about half the session timeout.
                "session.timeout.ms": 6000,
            }
        )
        c.subscribe([topic])
        return c

    def drain(c: Consumer, want: int, deadline_s: float = 60) -> list[int]:
        got: list[int] = []
        end = time.monotonic() + deadline_s
        while len(got) < want and time.monotonic() < end:
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            got.append(int(msg.value()))
            c.commit(msg, asynchronous=False)
        return got

    first = consumer()
    seen = drain(first, 8)
    first.close()
    assert len(seen) == 8
    second = consumer()
    rest = drain(second, 12)
    extra = drain(second, 1, deadline_s=3)
    second.close()
    assert sorted(seen + rest) == list(range(20)), "resumed from the committed offsets"
    assert extra == []


def test_postgres_round_trip(stack) -> None:
    import psycopg

    with psycopg.connect(stack.postgres_dsn) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS it_round (id text PRIMARY KEY, n int)")
        conn.execute("INSERT INTO it_round VALUES ('a', 1) ON CONFLICT (id) DO UPDATE SET n = 1")
        with conn.cursor().copy("COPY it_round (id, n) FROM STDIN") as copy:
            copy.write_row(("b", 2))
        rows = conn.execute("SELECT id, n FROM it_round ORDER BY id").fetchall()
    assert rows == [("a", 1), ("b", 2)]


def test_mongo_round_trip_with_index(stack) -> None:
    import pymongo

    with pymongo.MongoClient(stack.mongo_uri) as client:
        coll = client["vidsight_it"]["round"]
        coll.drop()
        coll.create_index([("camera_id", 1), ("ts", -1)], name="camera_ts")
        coll.insert_many([{"_id": i, "camera_id": f"cam-{i % 2}", "ts": i} for i in range(10)])
        found = list(coll.find({"camera_id": "cam-1"}).sort("ts", -1).limit(2))
        names = {ix["name"] for ix in coll.list_indexes()}
    assert [d["_id"] for d in found] == [9, 7]
    assert "camera_ts" in names


def test_clickhouse_connect_ddl_insert_query_df_and_view(stack) -> None:
    import clickhouse_connect

    url = stack.clickhouse_url.removeprefix("http://")
    host, port = url.split(":")
    client = clickhouse_connect.get_client(
        host=host,
        port=int(port),
        username=stack.clickhouse_user,
        password=stack.clickhouse_password,
    )
    client.command("CREATE DATABASE IF NOT EXISTS it")
    client.command("DROP TABLE IF EXISTS it.hits")
    client.command("DROP TABLE IF EXISTS it.hits_hourly")
    client.command(
        "CREATE TABLE it.hits (camera String, ts DateTime, n UInt32) ENGINE = MergeTree ORDER BY ts"
    )
    client.command(
        "CREATE MATERIALIZED VIEW it.hits_hourly ENGINE = SummingMergeTree ORDER BY (camera, hour)"
        " AS SELECT camera, toStartOfHour(ts) AS hour, sum(n) AS n"
        " FROM it.hits GROUP BY camera, hour"
    )
    rows = [[f"cam-{i % 3}", 1_700_000_000 + i * 60, 1] for i in range(300)]
    client.insert("it.hits", rows, column_names=["camera", "ts", "n"])
    df = client.query_df(
        "SELECT camera, sum(n) AS n FROM it.hits_hourly GROUP BY camera ORDER BY camera"
    )
    assert df["camera"].tolist() == ["cam-0", "cam-1", "cam-2"]
    assert df["n"].tolist() == [100, 100, 100]


def test_s3_put_get_list_multipart(stack) -> None:
    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3",
        endpoint_url=stack.s3_endpoint,
        aws_access_key_id=stack.s3_access_key,
        aws_secret_access_key=stack.s3_secret_key,
        region_name="us-east-1",
        config=Config(
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
    prefix = f"it/{uuid.uuid4().hex[:8]}/"
    s3.put_object(Bucket=stack.s3_bucket, Key=prefix + "small.txt", Body=b"hello")
    assert (
        s3.get_object(Bucket=stack.s3_bucket, Key=prefix + "small.txt")["Body"].read() == b"hello"
    )
    part = b"x" * (5 * 2**20)
    mpu = s3.create_multipart_upload(Bucket=stack.s3_bucket, Key=prefix + "big.bin")
    etags = []
    for n, body in enumerate([part, b"tail"], start=1):
        r = s3.upload_part(
            Bucket=stack.s3_bucket,
            Key=prefix + "big.bin",
            PartNumber=n,
            UploadId=mpu["UploadId"],
            Body=body,
        )
        etags.append({"PartNumber": n, "ETag": r["ETag"]})
    s3.complete_multipart_upload(
        Bucket=stack.s3_bucket,
        Key=prefix + "big.bin",
        UploadId=mpu["UploadId"],
        MultipartUpload={"Parts": etags},
    )
    listed = s3.list_objects_v2(Bucket=stack.s3_bucket, Prefix=prefix)
    sizes = {o["Key"].removeprefix(prefix): o["Size"] for o in listed["Contents"]}
    assert sizes == {"small.txt": 5, "big.bin": len(part) + 4}
    ranged = s3.get_object(Bucket=stack.s3_bucket, Key=prefix + "big.bin", Range="bytes=-4")
    assert ranged["Body"].read() == b"tail"


def test_registry_and_dagster_answer(stack) -> None:
    import httpx

    auth = stack.endpoints.registry_auth()
    assert auth is not None, "the stack's registry requires credentials"
    assert httpx.get(f"{stack.registry_url}/subjects", timeout=5).status_code == 401
    assert httpx.get(f"{stack.registry_url}/subjects", auth=auth, timeout=5).status_code == 200
    status = json.loads(_vidsight("status", "--json", env=stack.env()).stdout)
    info = httpx.get(f"{status['dagster']['url']}/server_info", timeout=5)
    assert info.status_code == 200
    assert "dagster_webserver_version" in info.json()


def test_port_in_use_names_part_and_starts_nothing(
    tmp_path: Path, stack_settings_factory: Callable[..., object]
) -> None:
    import socket

    settings = stack_settings_factory(tmp_path / "busy")
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", settings.ports.mongo))  # type: ignore[attr-defined]
    blocker.listen()
    try:
        with pytest.raises(PortInUseError) as info:
            Stack(settings, ["s3", "mongo"]).up()  # type: ignore[arg-type]
    finally:
        blocker.close()
    assert "mongo" in str(info.value)
    assert str(settings.ports.mongo) in str(info.value)  # type: ignore[attr-defined]
    assert not list((tmp_path / "busy").glob("run/*.pid")), "nothing half-started"


def test_down_with_nothing_running_says_so(tmp_path: Path) -> None:
    result = _vidsight(
        "down", "--data-dir", str(tmp_path / "empty"), env={**__import__("os").environ}
    )
    assert result.returncode == 0
    assert "nothing is running" in result.stdout


def test_data_survives_down_up_with_embedded_postgres(
    enterable_tmp_path: Path, stack_settings_factory: Callable[..., object]
) -> None:
    """Every store keeps its data across down/up; PostgreSQL here is the embedded fallback.

    The broker cannot resume its topics (Tansu numbers partitions from 0 again after a
    restart), so it starts empty and consistent, its old storage kept aside.
    """
    import boto3
    import clickhouse_connect
    import httpx
    import psycopg
    import pymongo
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    tmp_path = enterable_tmp_path
    settings = stack_settings_factory(tmp_path / "persist")
    names = ["s3", "kafka", "schema-registry", "postgres", "mongo", "clickhouse"]
    stack = Stack(settings, names)  # type: ignore[arg-type]
    stack.up()
    try:
        endpoints = load(StackEndpoints, data_dir=tmp_path / "persist")
        ep = {
            **stack.endpoints(),
            "postgres_dsn": endpoints.postgres_dsn.get_secret_value(),
            "s3_secret_key": endpoints.s3_secret_key.get_secret_value(),
        }
        assert stack.postgres_mode()[0] == "embedded"
        assert "***" in stack.endpoints()["postgres_dsn"], "the password stays out of stack.json"
        admin = AdminClient({"bootstrap.servers": ep["kafka_bootstrap"]})
        topic = NewTopic("persist", num_partitions=1, replication_factor=1)
        admin.create_topics([topic])["persist"].result(30)
        prod = Producer({"bootstrap.servers": ep["kafka_bootstrap"]})
        for i in range(3):
            prod.produce("persist", key=b"cam", value=f"m{i}".encode())
        assert prod.flush(30) == 0
        with psycopg.connect(ep["postgres_dsn"]) as conn:
            conn.execute("CREATE TABLE kept (v text)")
            conn.execute("INSERT INTO kept VALUES ('pg')")
        with pymongo.MongoClient(ep["mongo_uri"]) as mc:
            mc["vidsight"]["kept"].insert_one({"_id": "mongo"})
        host, port = ep["clickhouse_url"].removeprefix("http://").split(":")
        ch = clickhouse_connect.get_client(
            host=host,
            port=int(port),
            username=endpoints.clickhouse_user,
            password=endpoints.clickhouse_password.get_secret_value(),
        )
        # chDB's `default` database also shows host files as tables; data goes in its own.
        ch.command("CREATE DATABASE IF NOT EXISTS persist")
        ch.command("CREATE TABLE persist.kept (v String) ENGINE = MergeTree ORDER BY v")
        ch.insert("persist.kept", [["ch"]], column_names=["v"])
        s3 = boto3.client(
            "s3",
            endpoint_url=ep["s3_endpoint"],
            region_name="us-east-1",
            aws_access_key_id=ep["s3_access_key"],
            aws_secret_access_key=ep["s3_secret_key"],
        )
        s3.put_object(Bucket=ep["s3_bucket"], Key="kept.txt", Body=b"s3")
        # A declared-configuration topic: carried over record by record (key, value, time,
        # headers), unlike the event topics.
        from schemas import catalog
        from schemas.topics import create_topics

        kafka_conf = {"bootstrap.servers": ep["kafka_bootstrap"]}
        create_topics(kafka_conf, [catalog.topic(catalog.CONFIG_SENSORS)])
        prod.produce(
            catalog.CONFIG_SENSORS,
            key=b"gate-line",
            value=b"config-bytes",
            timestamp=1_700_000_000_000,
            headers=[("origin", b"test")],
        )
        prod.produce(catalog.CONFIG_SENSORS, key=b"gone", value=None, timestamp=1_700_000_000_001)
        assert prod.flush(30) == 0
        registry = ep["registry_url"]
        schemas = ['"string"', '{"type": "record", "name": "R", "fields": []}']
        ids = [
            httpx.post(
                f"{registry}/subjects/kept-{i}-value/versions",
                json={"schema": text},
                auth=endpoints.registry_auth(),
            )
            .raise_for_status()
            .json()["id"]
            for i, text in enumerate(schemas)
        ]

        # Drop the producer first: its metadata refresh would ask the restarted broker for
        # `persist`, which the local broker then auto-creates (4 partitions).
        del prod
        assert sorted(stack.down()) == sorted(names)
        stack.up()

        attic = list((tmp_path / "persist" / "broker-attic").rglob("*.batch"))
        assert attic, "the earlier broker storage is kept aside, not deleted"
        admin = AdminClient({"bootstrap.servers": ep["kafka_bootstrap"]})
        assert "persist" not in admin.list_topics(timeout=30).topics
        admin.create_topics([topic])["persist"].result(30)
        prod = Producer({"bootstrap.servers": ep["kafka_bootstrap"]})
        offsets: list[int] = []
        for i in range(2):
            prod.produce(
                "persist",
                key=b"cam",
                value=f"n{i}".encode(),
                on_delivery=lambda err, m: offsets.append(-1 if err else m.offset()),
            )
            prod.flush(30)
        assert offsets == [0, 1]
        cons = Consumer(
            {
                "bootstrap.servers": ep["kafka_bootstrap"],
                "group.id": "p",
                "enable.auto.commit": False,
            }
        )
        cons.assign([TopicPartition("persist", 0, 0)])
        got: list[bytes] = []
        end = time.monotonic() + 30
        while time.monotonic() < end and len(got) < 3:
            msg = cons.poll(0.5)
            if msg is not None and not msg.error():
                got.append(msg.value())
            elif got:
                break
        cons.close()
        assert got == [b"n0", b"n1"], "only the new broker's records, none of the old"
        with psycopg.connect(ep["postgres_dsn"]) as conn:
            assert conn.execute("SELECT v FROM kept").fetchall() == [("pg",)]
        with pymongo.MongoClient(ep["mongo_uri"]) as mc:
            assert mc["vidsight"]["kept"].find_one() == {"_id": "mongo"}
        ch = clickhouse_connect.get_client(
            host=host,
            port=int(port),
            username=endpoints.clickhouse_user,
            password=endpoints.clickhouse_password.get_secret_value(),
        )
        assert ch.query("SELECT v FROM persist.kept").result_rows == [("ch",)]
        assert s3.get_object(Bucket=ep["s3_bucket"], Key="kept.txt")["Body"].read() == b"s3"
        cons = Consumer({**kafka_conf, "group.id": "c", "enable.auto.commit": False})
        cons.assign([TopicPartition(catalog.CONFIG_SENSORS, 0, 0)])
        carried: list[tuple[object, ...]] = []
        end = time.monotonic() + 30
        while len(carried) < 2 and time.monotonic() < end:
            msg = cons.poll(0.5)
            if msg is not None and not msg.error():
                carried.append((msg.key(), msg.value(), msg.timestamp()[1], msg.headers()))
        cons.close()
        assert carried == [
            (b"gate-line", b"config-bytes", 1_700_000_000_000, [("origin", b"test")]),
            (b"gone", None, 1_700_000_000_001, None),
        ]
        # The registry's log was carried into the new broker: same subjects, same ids.
        subjects = (
            httpx.get(f"{registry}/subjects", auth=endpoints.registry_auth())
            .raise_for_status()
            .json()
        )
        assert sorted(subjects) == ["kept-0-value", "kept-1-value"]
        for i, schema_id in enumerate(ids):
            got = httpx.get(
                f"{registry}/subjects/kept-{i}-value/versions/latest",
                auth=endpoints.registry_auth(),
            ).json()
            assert (got["id"], got["version"]) == (schema_id, 1)
    finally:
        stack.down()


def test_logs_show_each_parts_log(stack) -> None:
    one = _vidsight("logs", "kafka", "-n", "200", env=stack.env())
    assert one.returncode == 0
    assert "starting:" in one.stdout and "tansu" in one.stdout
    every = _vidsight("logs", "-n", "3", env=stack.env())
    assert "==> s3 <==" in every.stdout and "==> clickhouse <==" in every.stdout
    bad = _vidsight("logs", "nope", env=stack.env())
    assert bad.returncode == 2 and "unknown part 'nope'" in bad.stderr


def test_no_secret_in_status_command_lines_pid_files_logs_or_stack_json(stack) -> None:
    """The attack: read what any local user can read (`ps`, status output, the data dir)."""
    import psutil

    if stack.settings is None:
        pytest.skip("reused stack")
    folder = stack.data_dir / "secrets"
    secrets = {
        p.name: p.read_text().strip() for p in folder.iterdir() if p.name not in ("registry_user",)
    }
    assert {"clickhouse_password", "registry_password", "s3_secret_key"} <= set(secrets)
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    for path in folder.iterdir():
        assert oct(path.stat().st_mode & 0o777) == "0o600", path
    stack_json = stack.data_dir / "stack.json"
    assert oct(stack_json.stat().st_mode & 0o777) == "0o600"

    def leaks(text: str) -> list[str]:
        return [name for name, value in secrets.items() if value and value in text]

    for args in (("status", "--json"), ("status",)):
        shown = _vidsight(*args, env=stack.env())
        assert not leaks(shown.stdout + shown.stderr), args
    assert not leaks(stack_json.read_text())
    seen = 0
    for pid_file in (stack.data_dir / "run").glob("*.pid"):
        assert not leaks(pid_file.read_text()), pid_file
        pid = json.loads(pid_file.read_text())["pid"]
        try:
            proc = psutil.Process(pid)
            procs = [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for child in procs:
            try:
                cmdline = " ".join(child.cmdline())
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
            seen += 1
            assert not leaks(cmdline), (pid_file.name, cmdline)
    assert seen >= 5, "the parts' processes were inspected"
    for log_file in (stack.data_dir / "logs").glob("*.log"):
        assert not leaks(log_file.read_text(errors="replace")), log_file


def test_clickhouse_queries_without_a_database_run_in_vidsight(stack) -> None:
    """`curl 'http://127.0.0.1:8123/' --data-binary 'SELECT count() FROM detections'` works."""
    import httpx

    auth = (stack.endpoints.clickhouse_user, stack.endpoints.clickhouse_password.get_secret_value())
    url = stack.clickhouse_url
    assert httpx.post(url, content=b"SELECT currentDatabase()", auth=auth).text == "vidsight\n"
    table = f"t_default_db_{uuid.uuid4().hex[:8]}"
    httpx.post(url, content=f"CREATE TABLE {table} (v UInt8) ENGINE = Memory", auth=auth)
    httpx.post(url, content=f"INSERT INTO {table} VALUES (7)", auth=auth).raise_for_status()
    got = httpx.get(url, params={"query": f"SELECT v FROM vidsight.{table}"}, auth=auth)
    assert got.text == "7\n"


def test_two_data_dirs_on_one_configured_postgres_get_a_database_each(
    stack, tmp_path: Path, stack_settings_factory: Callable[..., object]
) -> None:
    """A configured server is shared; the stacks' databases are not (named in status)."""
    from pydantic import SecretStr

    from infra.stack import postgres as pg

    server = pg.with_database(stack.postgres_dsn, "postgres")
    stacks = [
        Stack(
            stack_settings_factory(  # type: ignore[arg-type]
                tmp_path / name,
                postgres_database="",
                external_postgres_dsn=SecretStr(server),
            ),
            ["postgres"],
        )
        for name in ("site-a", "site-b")
    ]
    databases = []
    try:
        for own in stacks:
            (status,) = own.up()
            assert status.healthy and not status.managed
            databases.append(status.extra["database"])
            state = json.loads((own.data / "stack.json").read_text())
            assert state["postgres"]["database"] == status.extra["database"]
            assert "***" in state["postgres"]["dsn"] or "@" not in state["postgres"]["dsn"]
        assert databases[0] != databases[1]
        assert all(d.startswith("vidsight_") for d in databases)
        dsn_a = load(StackEndpoints, data_dir=tmp_path / "site-a").postgres_dsn.get_secret_value()
        import psycopg

        with psycopg.connect(dsn_a) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (databases[0],)
        shown = _vidsight(
            "status", "--json", "--data-dir", str(tmp_path / "site-b"), env=stack.env()
        )
        assert json.loads(shown.stdout)["postgres"]["database"] == databases[1]
    finally:
        for name in databases:
            pg.drop_database(server, name)
