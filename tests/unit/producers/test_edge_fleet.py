"""Edge fleet core (issue 17 part 1): which node runs which camera, what a change restarts,
the on-disk last known configuration, ``cameras apply`` plans, the supervisor and the topic
follower over an in-memory log."""

from __future__ import annotations

import copy
import io
import json
import threading
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaTopicPartition
from fastavro import parse_schema, schemaless_writer
from hypothesis import given
from hypothesis import strategies as st

from producers.camera import CameraStatus
from producers.config import Camera, from_record, load_cameras_text, to_record
from producers.errors import ConfigCacheError
from producers.fleet import cache
from producers.fleet.apply import Action, plan_apply
from producers.fleet.assignment import NodeIdentity, assigned, plan, runs_on, site_owner
from producers.fleet.follower import CameraConfigFollower, ConfigSnapshot, read_cameras
from producers.fleet.supervisor import CameraSupervisor
from producers.settings import EdgeSettings
from schemas import catalog
from schemas.records import CameraConfig
from schemas.registry.avro_schema import parse_avro
from schemas.registry.compatibility import Compatibility, compatibility_problems
from schemas.serde import InMemorySchemaResolver, Serde
from tests.support.memory_kafka import MemoryBroker
from tests.support.waiting import wait_for


def cam(cid: str, *, node: str | None = None, site: str | None = None, **kw: Any) -> Camera:
    fields: dict[str, Any] = {
        "camera_id": cid,
        "name": cid,
        "source": "synthetic:crossing",
        "fps": 5.0,
        "detector_kind": "motion",
        "detector_options": MappingProxyType({}),
        "node": node,
        "site": site,
    }
    fields.update(kw)
    return Camera(**fields)


A = NodeIdentity("edge-a", site="hq", site_nodes=frozenset({"edge-a", "edge-b"}))
B = NodeIdentity("edge-b", site="hq", site_nodes=frozenset({"edge-a", "edge-b"}))


# -- assignment -----------------------------------------------------------------------------


def test_a_camera_naming_a_node_runs_there_only() -> None:
    c = cam("gate-1", node="edge-a")
    assert runs_on(c, A) and not runs_on(c, B)
    assert not runs_on(cam("gate-1", node="edge-a", enabled=False), A)


def test_node_and_site_must_agree() -> None:
    assert runs_on(cam("x", node="edge-a", site="hq"), A)
    assert not runs_on(cam("x", node="edge-a", site="branch"), A)


def test_unassigned_cameras_run_only_where_asked() -> None:
    c = cam("loose")
    assert not runs_on(c, A)
    assert runs_on(c, NodeIdentity("solo", run_unassigned=True))


def test_a_lone_node_runs_all_of_its_sites_cameras() -> None:
    solo = NodeIdentity("edge-z", site="hq")
    cams = [cam(f"c{i}", site="hq") for i in range(20)] + [cam("other", site="branch")]
    assert set(assigned(cams, solo)) == {f"c{i}" for i in range(20)}


@given(st.lists(st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True), min_size=1, max_size=60))
def test_a_sites_cameras_are_split_exactly_once_among_its_nodes(ids: list[str]) -> None:
    nodes = [
        NodeIdentity(n, site="hq", site_nodes=frozenset({"n1", "n2", "n3"}))
        for n in ("n1", "n2", "n3")
    ]
    cams = [cam(i, site="hq") for i in set(ids)]
    runs = [set(assigned(cams, n)) for n in nodes]
    assert set().union(*runs) == {c.camera_id for c in cams}
    assert sum(len(r) for r in runs) == len(cams)


def test_a_node_leaving_moves_only_its_own_cameras() -> None:
    ids = [f"cam-{i}" for i in range(200)]
    before = {i: site_owner(i, ["n1", "n2", "n3"]) for i in ids}
    after = {i: site_owner(i, ["n1", "n2"]) for i in ids}
    assert all(after[i] == before[i] for i in ids if before[i] != "n3")
    assert 30 < sum(1 for i in ids if before[i] == "n3") < 110  # roughly a third


# -- plan -----------------------------------------------------------------------------------


def test_plan_starts_restarts_and_stops_only_what_changed() -> None:
    running = {"a": cam("a"), "b": cam("b"), "c": cam("c")}
    desired = {"a": cam("a"), "b": cam("b", fps=2.0), "d": cam("d")}
    p = plan(running, desired)
    assert [c.camera_id for c in p.start] == ["d"]
    assert [c.camera_id for c in p.restart] == ["b"]
    assert p.stop == ("c",)
    assert p.describe() == "start=d restart=b stop=c"
    assert plan(desired, desired).empty


def test_moving_a_camera_from_its_node_to_the_nodes_site_restarts_nothing() -> None:
    assert plan({"a": cam("a", node="edge-a")}, {"a": cam("a", site="hq")}).empty
    assert not plan({"a": cam("a")}, {"a": cam("a", source="synthetic:crossing?seed=2")}).empty


# -- records and YAML -----------------------------------------------------------------------


def test_node_and_site_travel_from_yaml_through_the_record() -> None:
    (c,) = load_cameras_text(
        "cameras:\n  - {id: g, source: 'synthetic:crossing', node: edge-a, site: hq}\n"
    )
    assert (c.node, c.site) == ("edge-a", "hq")
    codec = Serde(InMemorySchemaResolver()).topic(catalog.CONFIG_CAMERAS, CameraConfig)
    assert from_record(codec.decode(codec.encode(to_record(c, 1)))) == c


def test_a_bad_node_id_names_the_key() -> None:
    with pytest.raises(Exception, match=r"line 2: cameras\.\[0\]\.node"):
        load_cameras_text("cameras:\n  - {id: g, source: 'synthetic:crossing', node: 'a b'}\n")


def _schema_before_assignment() -> dict[str, Any]:
    schema = copy.deepcopy(dict(catalog.schema_dict("CameraConfig")))
    schema["fields"] = [f for f in schema["fields"] if f["name"] not in ("node", "site")]
    return schema


@pytest.mark.parametrize("level", [Compatibility.BACKWARD, Compatibility.FULL_TRANSITIVE])
def test_the_registry_accepts_the_assignment_fields(level: Compatibility) -> None:
    new = parse_avro(catalog.schema_text("CameraConfig"))
    old = parse_avro(json.dumps(_schema_before_assignment()))
    assert compatibility_problems(level, new, [(1, old)]) == []


def test_records_written_before_the_assignment_fields_read_as_unassigned() -> None:
    resolver = InMemorySchemaResolver()
    old_id = resolver.add(json.dumps(_schema_before_assignment()))
    datum = to_record(cam("old"), 1).to_avro()
    del datum["node"], datum["site"]
    body = io.BytesIO()
    schemaless_writer(body, parse_schema(_schema_before_assignment()), datum)
    data = b"\x00" + old_id.to_bytes(4, "big") + body.getvalue()
    decoded = Serde(resolver).topic(catalog.CONFIG_CAMERAS, CameraConfig).decode(data)
    assert (decoded.node, decoded.site) == (None, None)


# -- cache ----------------------------------------------------------------------------------


def test_the_cache_round_trips_atomically(tmp_path: Path) -> None:
    path = tmp_path / "edge-a" / "cameras.json"
    assert cache.load(path) is None
    records = {c.camera_id: to_record(c, 7) for c in (cam("a", node="edge-a"), cam("b"))}
    cache.save(path, records, 123)
    loaded = cache.load(path)
    assert loaded is not None and loaded.saved_us == 123 and dict(loaded.cameras) == records
    assert [p.name for p in path.parent.iterdir()] == ["cameras.json"]  # no temporary left


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not readable JSON"),
        ('{"version": 9, "saved_us": 1, "cameras": []}', "version 1"),
        ('{"version": 1, "saved_us": "x", "cameras": []}', "saved_us"),
        ('{"version": 1, "saved_us": 1, "cameras": [{"camera_id": "a"}]}', r"cameras\[0\]"),
    ],
)
def test_a_broken_cache_is_named(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "cameras.json"
    path.write_text(text)
    with pytest.raises(ConfigCacheError, match=problem) as err:
        cache.load(path)
    assert str(path) in str(err.value)


# -- cameras apply --------------------------------------------------------------------------


def test_apply_plan_deletes_cameras_missing_from_the_file_only_with_prune() -> None:
    current = {c.camera_id: to_record(c, 1) for c in (cam("a"), cam("b"), cam("gone"))}
    file = [to_record(cam("a"), 2), to_record(cam("b", fps=1.0), 2), to_record(cam("new"), 2)]
    actions = {c.camera_id: c.action for c in plan_apply(current, file, prune=False)}
    assert actions == {
        "a": Action.UNCHANGED,
        "b": Action.UPDATE,
        "new": Action.CREATE,
        "gone": Action.KEEP,
    }
    pruned = plan_apply(current, file, prune=True)
    assert [(c.camera_id, c.action, c.config) for c in pruned][-1] == ("gone", Action.DELETE, None)


# -- supervisor -----------------------------------------------------------------------------


class ThreadWorker:
    """A real thread that runs until its camera's stop event is set."""

    def __init__(self, camera: Camera, stop: threading.Event) -> None:
        self.camera, self.stop = camera, stop
        self.status = CameraStatus(camera.camera_id, camera.source)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        self.status.state = "running"
        self.stop.wait()
        self.status.state = "stopped"


def test_the_supervisor_touches_only_the_changed_cameras() -> None:
    sup = CameraSupervisor(ThreadWorker)
    sup.apply({"a": cam("a"), "b": cam("b")})
    first = {w.camera.camera_id: w for w in sup.workers}
    sup.apply({"a": cam("a"), "b": cam("b", fps=1.0), "c": cam("c")})
    now = {w.camera.camera_id: w for w in sup.workers}
    assert now["a"] is first["a"] and first["a"].thread.is_alive()
    assert now["b"] is not first["b"] and not first["b"].thread.is_alive()
    assert first["b"].status.state == "stopped" and now["b"].camera.fps == 1.0
    sup.apply({"b": now["b"].camera, "c": now["c"].camera})
    assert not now["a"].thread.is_alive() and set(sup.cameras) == {"b", "c"}
    assert [s.camera_id for s in sup.statuses()] == ["a", "b", "c"]
    sup.stop_all()
    assert sup.workers == [] and all(s.state == "stopped" for s in sup.statuses())


# -- follower over an in-memory log ---------------------------------------------------------


def settings(tmp_path: Path, **kw: Any) -> EdgeSettings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "node_id": "edge-a",
        "config_timeout_s": 2.0,
        "config_retry_s": 0.1,
    }
    values.update(kw)
    return EdgeSettings(**values)


class Follow:
    def __init__(self, s: EdgeSettings, broker: MemoryBroker, serde: Serde, **kw: Any) -> None:
        self.snapshots: list[ConfigSnapshot] = []
        self.follower = CameraConfigFollower(
            s, self.snapshots.append, clients=broker.clients(**kw), serde=serde
        )

    def __enter__(self) -> Follow:
        self.follower.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.follower.stop()

    def latest(self) -> dict[str, CameraConfig]:
        return dict(self.snapshots[-1].cameras) if self.snapshots else {}


def put(broker: MemoryBroker, serde: Serde, c: Camera | str) -> None:
    if isinstance(c, str):
        broker.append(catalog.CONFIG_CAMERAS, None, c.encode())
    else:
        value = serde.encode(catalog.CONFIG_CAMERAS, to_record(c, 1))
        broker.append(catalog.CONFIG_CAMERAS, value, c.camera_id.encode())


def test_the_follower_delivers_the_whole_topic_then_each_change(tmp_path: Path) -> None:
    broker, serde = MemoryBroker(), Serde(InMemorySchemaResolver())
    broker.create(catalog.CONFIG_CAMERAS, 1)
    put(broker, serde, cam("a"))
    put(broker, serde, cam("b"))
    put(broker, serde, "a")
    s = settings(tmp_path)
    with Follow(s, broker, serde) as f:
        wait_for(lambda: f.snapshots, 5, "the follower")
        assert set(f.latest()) == {"b"} and len(f.snapshots) == 1  # whole, not record by record
        assert f.snapshots[0].origin == "topic"
        put(broker, serde, cam("c", node="edge-a"))
        wait_for(lambda: set(f.latest()) == {"b", "c"}, 5, "the follower")
        put(broker, serde, "b")
        wait_for(lambda: set(f.latest()) == {"c"}, 5, "the follower")
    loaded = cache.load(s.config_cache_path)
    assert loaded is not None and set(loaded.cameras) == {"c"}
    assert s.config_cache_path == tmp_path / "edge-edge-a" / "cameras.json"


def test_an_unreachable_broker_at_start_runs_the_cached_configuration(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = settings(tmp_path)
    cache.save(
        s.config_cache_path, {"a": to_record(cam("a", node="edge-a"), 1)}, 1_700_000_000_000_000
    )
    broker, serde = MemoryBroker(), Serde(InMemorySchemaResolver())
    broker.create(catalog.CONFIG_CAMERAS, 1)
    down = threading.Event()
    down.set()

    class Unreachable:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def list_topics(self, *a: Any, **kw: Any) -> Any:
            if down.is_set():
                raise KafkaException(KafkaError(KafkaError._TRANSPORT, "no broker"))
            return self.inner.list_topics(*a, **kw)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    with caplog.at_level("WARNING"), Follow(s, broker, serde, consumer_wrap=Unreachable) as f:
        wait_for(lambda: f.snapshots, 5, "the follower")
        snap = f.snapshots[0]
        assert snap.origin == "cache" and set(snap.cameras) == {"a"}
        assert snap.describe() == "the last known configuration from 2023-11-14T22:13:20+00:00"
        assert "running the last known configuration from 2023-11-14T22:13:20" in caplog.text
        put(broker, serde, cam("b", node="edge-a"))
        down.clear()  # the broker comes back: its configuration replaces the cached one
        wait_for(lambda: f.snapshots[-1].origin == "topic", 5, "the follower")
        assert set(f.latest()) == {"b"}


def test_a_log_that_went_back_is_read_whole_again(tmp_path: Path) -> None:
    """A restarted local broker numbers from 0 again with only what was carried over: a camera
    it no longer holds (no tombstone) must not linger."""
    broker, serde = MemoryBroker(), Serde(InMemorySchemaResolver())
    broker.create(catalog.CONFIG_CAMERAS, 1)
    put(broker, serde, cam("a"))
    put(broker, serde, cam("b"))
    consumers: list[Any] = []

    def keep(consumer: Any) -> Any:
        consumers.append(consumer)
        return consumer

    s = settings(tmp_path)
    with Follow(s, broker, serde, consumer_wrap=keep) as f:
        wait_for(lambda: set(f.latest()) == {"a", "b"}, 5, "the first read")
        with broker._cond:  # the restart: a new log holding a (changed) only
            broker.topics[catalog.CONFIG_CAMERAS] = [[]]
        put(broker, serde, cam("a", fps=2.0))
        consumers[-1].seek(KafkaTopicPartition(catalog.CONFIG_CAMERAS, 0, 0))  # offset reset
        wait_for(lambda: set(f.latest()) == {"a"}, 5, "the topic read again")
        assert f.latest()["a"].fps == 2.0 and len(consumers) == 2
    loaded = cache.load(s.config_cache_path)
    assert loaded is not None and set(loaded.cameras) == {"a"}


def test_read_cameras_reads_the_topic_whole(tmp_path: Path) -> None:
    broker, serde = MemoryBroker(), Serde(InMemorySchemaResolver())
    broker.create(catalog.CONFIG_CAMERAS, 1)
    for c in (cam("a"), cam("b"), "a"):
        put(broker, serde, c)
    started = time.monotonic()
    got = read_cameras(settings(tmp_path), clients=broker.clients(), serde=serde)
    assert set(got) == {"b"} and time.monotonic() - started < 2


def test_edge_run_needs_a_file_or_a_node(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from producers.cli import edge

    monkeypatch.delenv("VIDSIGHT_EDGE_NODE_ID", raising=False)
    monkeypatch.delenv("VIDSIGHT_CONFIG", raising=False)
    result = CliRunner().invoke(edge, ["run", "--data-dir", str(tmp_path)])
    assert (
        result.exit_code == 2 and "--config FILE" in result.output and "--node ID" in result.output
    )
    result = CliRunner().invoke(edge, ["run", "--node", "a b", "--data-dir", str(tmp_path)])
    assert result.exit_code != 0 and "node_id" in str(result.exception)
