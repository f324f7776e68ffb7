"""Shared helpers of the sink integration tests (no tests here).

``isolated(stack, tag)`` gives settings whose every namespace is the test's own: consumer
groups, a PostgreSQL schema, a ClickHouse database, a MongoDB database and an S3 archive
prefix. The topics are shared by the whole session, so everything a test checks is filtered
by the camera-id prefix of the scene it published (``tag`` + "-").
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import psycopg
import pymongo
from botocore.config import Config

from sinks.s3archive import decode
from sinks.settings import SinkSettings
from tests.support import samples
from vidsight.settings import load


@dataclass
class Projection:
    """One test's namespaces in the four stores, and the settings/env that point at them."""

    tag: str
    settings: SinkSettings
    env: dict[str, str] = field(default_factory=dict)

    @property
    def cameras(self) -> str:
        """The LIKE pattern of the test's camera ids."""
        return f"{self.tag}-%"

    @contextmanager
    def pg(self) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(self.settings.postgres_dsn.get_secret_value()) as conn:
            yield conn

    def ch(self, query: str) -> list[tuple[Any, ...]]:
        from sinks.clickhouse.sink import client_for

        client = client_for(self.settings, database=self.settings.clickhouse_database)
        try:
            return list(client.query(query).result_rows)
        finally:
            client.close()

    @contextmanager
    def mongo(self) -> Iterator[Any]:
        with pymongo.MongoClient(self.settings.mongo_uri.get_secret_value()) as client:
            yield client[self.settings.mongo_database]

    def s3(self) -> Any:
        s = self.settings
        return boto3.client(
            "s3",
            endpoint_url=s.s3_endpoint,
            region_name=s.s3_region,
            aws_access_key_id=s.s3_access_key.get_secret_value(),
            aws_secret_access_key=s.s3_secret_key.get_secret_value(),
            config=Config(
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def archive(self) -> dict[str, bytes]:
        """Every archive object of this projection: key -> bytes."""
        s3 = self.s3()
        out: dict[str, bytes] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.settings.s3_bucket, Prefix=self.settings.archive_prefix + "/"
        ):
            for obj in page.get("Contents", []):
                body = s3.get_object(Bucket=self.settings.s3_bucket, Key=obj["Key"])["Body"]
                out[obj["Key"]] = body.read()
        return out

    def archived_offsets(self, topic: str) -> Counter[tuple[int, int]]:
        """(partition, offset) of this test's archived messages of a topic, with counts."""
        found: Counter[tuple[int, int]] = Counter()
        for key, data in self.archive().items():
            if f"/{topic}/" not in key:
                continue
            for m in decode(topic, data):
                if (m.key or b"").decode(errors="replace").startswith(self.tag + "-"):
                    found[(m.partition, m.offset)] += 1
        return found


def isolated(stack: Any, tag: str, **overrides: Any) -> Projection:
    """Settings (and a subprocess env) for namespaces of this test only."""
    name = tag.replace("-", "_")
    base = load(SinkSettings, data_dir=stack.data_dir)
    dsn = base.postgres_dsn.get_secret_value()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        conn.execute(f"CREATE SCHEMA {name}")
    options = urllib.parse.quote(f"-csearch_path={name}")
    scoped_dsn = f"{dsn}{'&' if '?' in dsn else '?'}options={options}"
    values: dict[str, Any] = {
        "group_prefix": f"it-{tag}",
        "postgres_dsn": scoped_dsn,
        "clickhouse_database": name,
        "mongo_database": name,
        "archive_prefix": f"it-{tag}",
        "batch_max_age_s": 0.3,
        "backoff_initial_s": 0.2,
        "backoff_max_s": 2.0,
        "session_timeout_ms": 6000,
        **overrides,
    }
    settings = base.model_copy(update={k: v for k, v in values.items() if k != "postgres_dsn"})
    settings = settings.model_copy(update={"postgres_dsn": type(base.postgres_dsn)(scoped_dsn)})
    env = {
        **os.environ,
        "VIDSIGHT_DATA_DIR": str(stack.data_dir),
        **{f"VIDSIGHT_{k.upper()}": str(v) for k, v in values.items()},
    }
    return Projection(tag, settings, env)


def publish_scene(stack: Any, tag: str, **kwargs: Any) -> samples.Scene:
    """Publish a scene whose camera ids start with ``tag-``."""
    scene = samples.scene(prefix=f"{tag}-", **kwargs)
    for topic, records in scene.by_topic():
        samples.publish(stack.endpoints, topic, records)
    return scene


def snapshot(p: Projection) -> dict[str, Any]:
    """What analysts and tools read from every store, for this test's cameras."""
    like = p.cameras
    with p.pg() as conn:
        pg = {
            "cameras": conn.execute(
                "SELECT camera_id, name, updated_ts FROM cameras WHERE camera_id LIKE %s "
                "ORDER BY 1",
                (like,),
            ).fetchall(),
            "sensors": conn.execute(
                "SELECT sensor_id, kind, points FROM sensors WHERE camera_id LIKE %s ORDER BY 1",
                (like,),
            ).fetchall(),
            "alerts": conn.execute(
                "SELECT alert_id, lifecycle, revision, top_score, end_ts FROM alerts "
                "WHERE camera_id LIKE %s ORDER BY 1",
                (like,),
            ).fetchall(),
            "feedback": conn.execute(
                "SELECT feedback_id, verdict FROM feedback WHERE camera_id LIKE %s ORDER BY 1",
                (like,),
            ).fetchall(),
        }
    where = f"camera_id LIKE '{like}'"
    ch = {
        "detections": p.ch(
            f"SELECT count(), uniqExact(event_id, object_index) FROM detections WHERE {where}"
        ),
        "hourly": p.ch(
            f"SELECT camera_id, label, hour, sum(objects), uniqMerge(tracks) "
            f"FROM detections_hourly WHERE {where} GROUP BY ALL ORDER BY ALL"
        ),
        "sensor_events": p.ch(f"SELECT count() FROM sensor_events WHERE {where}"),
        "crossings": p.ch(
            f"SELECT sensor_id, direction, sum(events) FROM sensor_events_hourly "
            f"WHERE {where} GROUP BY ALL ORDER BY ALL"
        ),
        "alerts": p.ch(f"SELECT alert_id, lifecycle FROM alerts FINAL WHERE {where} ORDER BY 1"),
        "alerts_hourly": p.ch(
            f"SELECT camera_id, sum(alerts) FROM alerts_hourly WHERE {where} GROUP BY 1 ORDER BY 1"
        ),
    }
    with p.mongo() as db:
        mongo = {
            "detections": sorted(
                (d["_id"], d["object_count"])
                for d in db.detections.find({"camera_id": {"$regex": f"^{p.tag}-"}})
            ),
            "configs": sorted(
                (d["_id"], d["deleted"]) for d in db.configs.find({"id": {"$regex": f"^{p.tag}-"}})
            ),
        }
    return {"postgres": pg, "clickhouse": ch, "mongo": mongo}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sink_process(p: Projection, store: str, *args: str) -> subprocess.Popen[bytes]:
    """``python -m sinks sink run STORE ...`` as a child process with the projection's env."""
    return subprocess.Popen(
        [sys.executable, "-m", "sinks", "-v", "sink", "run", store, *args],
        env=p.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
