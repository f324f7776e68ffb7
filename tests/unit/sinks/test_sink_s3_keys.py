"""Archive keys, container encoding and convergence of objects under any batching (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import catalog
from sinks.batching import SourceMessage
from sinks.s3archive import (
    ArchiveObject,
    S3ArchiveSink,
    block_of,
    contents,
    decode,
    encode,
    hour_of,
    merge,
    object_key,
    plan_objects,
)
from sinks.s3fence import Claim, claim_key, takeover_wait

TOPIC = catalog.DETECTIONS
HOUR_MS = 3_600_000
T0_MS = 1_767_225_600_000  # 2026-01-01T00:00Z


def m(offset: int, ts_ms: int = T0_MS, value: bytes | None = b"v") -> SourceMessage:
    return SourceMessage(TOPIC, 2, offset, b"cam", value, ts_ms, (("h", b"1"),))


def test_key_names_topic_hour_partition_and_block_range() -> None:
    hour = datetime(2026, 3, 4, 5, tzinfo=UTC)
    key = object_key("archive", TOPIC, 7, hour=hour, block_start=20_000, block=10_000)
    assert key == (
        "archive/vidsight.detections/dt=2026-03-04/hour=05/partition=007/"
        "00000000000000020000-00000000000000029999.avro"
    )


def test_each_incarnation_of_a_topic_has_its_own_objects() -> None:
    hour = datetime(2026, 3, 4, 5, tzinfo=UTC)
    old, new = "01" * 16, "02" * 16
    keys = {
        object_key("archive", TOPIC, 7, hour=hour, block_start=0, block=10, topic_id=t)
        for t in (old, new)
    }
    assert len(keys) == 2
    assert f"00000000000000000000-00000000000000000009.{new}.avro" in "".join(sorted(keys))
    planned = plan_objects("a", TOPIC, 2, [m(0), m(1)], block=10, topic_id=new)
    assert [o.key.endswith(f".{new}.avro") for o in planned] == [True]


def test_blocks_and_hours() -> None:
    assert [block_of(o, 10) for o in (0, 9, 10, 25)] == [0, 0, 10, 20]
    assert hour_of(T0_MS + HOUR_MS + 59 * 60_000) == datetime(2026, 1, 1, 1, tzinfo=UTC)
    assert hour_of(-1) == datetime(1970, 1, 1, tzinfo=UTC)


def test_plan_splits_a_batch_by_block_and_hour() -> None:
    msgs = [m(8), m(9, T0_MS + HOUR_MS), m(10, T0_MS + HOUR_MS)]
    objs = plan_objects("a", TOPIC, 2, msgs, block=10)
    assert [(o.block_start, o.hour.hour, [x.offset for x in o.messages]) for o in objs] == [
        (0, 0, [8]),
        (0, 1, [9]),
        (10, 1, [10]),
    ]


def test_container_round_trips_byte_exact_and_is_deterministic() -> None:
    msgs = [m(0), m(1, value=None), SourceMessage(TOPIC, 2, 2, None, b"\x00\x01", T0_MS)]
    args = {"topic": TOPIC, "partition": 2, "block_start": 0, "block": 10, "codec": "deflate"}
    first = encode("k", msgs, **args)  # type: ignore[arg-type]
    assert encode("k", msgs, **args) == first  # type: ignore[arg-type]
    assert decode(TOPIC, first) == msgs


def test_merge_is_a_union_by_offset() -> None:
    assert [x.offset for x in merge([m(1), m(3)], [m(2), m(3)])] == [1, 2, 3]


def test_merge_keeps_what_is_archived_for_an_offset() -> None:
    archived = m(3, value=b"archived")
    assert merge([archived], [m(3, value=b"other")]) == [archived]


def test_a_replay_of_some_offsets_of_a_block_keeps_the_rest_of_the_object() -> None:
    held = [m(o) for o in range(5)]
    # A compacted topic replayed: only offsets 0 and 4 of the block are left on it.
    replay = ArchiveObject("k", 0, hour_of(T0_MS), [m(0), m(4)])
    assert [x.offset for x in contents(replay, lambda: held)] == [0, 1, 2, 3, 4]
    later = ArchiveObject("k", 0, hour_of(T0_MS), [m(5)])
    assert [x.offset for x in contents(later, lambda: held)] == [0, 1, 2, 3, 4, 5]


def test_claims_name_the_incarnation_and_only_an_unreleased_one_makes_the_next_wait() -> None:
    assert claim_key("archive", TOPIC, 3, "ab" * 16) == (
        f"archive.writers/{TOPIC}/partition=003.{'ab' * 16}.json"
    )
    assert not claim_key("archive", TOPIC, 3).startswith("archive/"), "outside the archive"
    claim = Claim("w1", 4)
    assert Claim.from_json(claim.to_json()) == claim
    assert takeover_wait(None, 30) == 0
    assert takeover_wait(Claim("w1", 4, released=True), 30) == 0
    assert takeover_wait(claim, 30) == 30


def test_the_archive_skips_internal_state_topics_only() -> None:
    archived = set(S3ArchiveSink.topics)
    assert catalog.DLQ in archived and catalog.DETECTIONS in archived
    assert "vidsight.processor-changelog" not in archived


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[SourceMessage], int, list[tuple[int, list[int]]]]:
    n = draw(st.integers(1, 50))
    steps = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n))
    ts, msgs = T0_MS, []
    for i, step in enumerate(steps):
        ts += step * 60_000
        msgs.append(m(i, ts, f"v{i}".encode()))
    block = draw(st.integers(2, 12))
    # Runs of the sink: each starts at most where the previous one got to (its last commit;
    # a rebuild starts at 0) and reads up to some point in batches cut at random; the last
    # run reads to the end.
    runs = []
    reached = 0
    for last in [*draw(st.lists(st.booleans(), max_size=4)), True]:
        start = draw(st.integers(0, reached))
        end = n if last else draw(st.integers(start, n))
        cuts = sorted(draw(st.sets(st.integers(start + 1, max(start + 1, end - 1)), max_size=6)))
        runs.append((start, [c for c in cuts if start < c < end] + [end]))
        reached = end
    return msgs, block, runs


@settings(max_examples=300, deadline=None)
@given(histories())
def test_objects_converge_to_the_blocks_records_whatever_the_batching(
    history: tuple[list[SourceMessage], int, list[tuple[int, list[int]]]],
) -> None:
    msgs, block, runs = history
    store: dict[str, list[SourceMessage]] = {}
    for start, cuts in runs:
        lo = start
        for hi in cuts:
            # The sink also cuts every batch at block boundaries.
            while lo < hi:
                stop = min(hi, block_of(lo, block) + block)
                for obj in plan_objects("a", TOPIC, 2, msgs[lo:stop], block=block):
                    store[obj.key] = list(contents(obj, lambda k=obj.key: store.get(k, [])))
                lo = stop
    expected = {o.key: list(o.messages) for o in plan_objects("a", TOPIC, 2, msgs, block=block)}
    assert store == expected
