"""Archive keys, the hourly manifest and the holes archive_complete reports."""

from __future__ import annotations

from datetime import UTC, datetime

from etl.lake.archive import (
    ManifestRow,
    keep_recorded,
    lost_since_recorded,
    manifest_rows,
    parse_key,
    shortfalls,
)

H10 = datetime(2024, 5, 1, 10, tzinfo=UTC)
H11 = datetime(2024, 5, 1, 11, tzinfo=UTC)
H12 = datetime(2024, 5, 1, 12, tzinfo=UTC)
TID = "0123456789abcdef0123456789abcdef"


def key(hour: datetime, partition: int, first: int, topic_id: str = TID) -> str:
    tail = f".{topic_id}" if topic_id else ""
    return (
        f"archive/vidsight.detections/dt={hour:%Y-%m-%d}/hour={hour:%H}/partition={partition:03d}/"
        f"{first:020d}-{first + 9999:020d}{tail}.avro"
    )


def row(
    hour: datetime, first: int, last: int, records: int | None = None, p: int = 0
) -> ManifestRow:
    n = last - first + 1 if records is None else records
    return ManifestRow(hour, "vidsight.detections", p, TID, 1, n, first, last)


def test_parse_key_reads_every_part_and_ignores_other_keys() -> None:
    k = parse_key("archive", key(H11, 7, 20000))
    assert k is not None
    assert (k.topic, k.hour, k.partition, k.block_first, k.block_last, k.topic_id) == (
        "vidsight.detections",
        H11,
        7,
        20000,
        29999,
        TID,
    )
    assert parse_key("archive", key(H11, 7, 0, topic_id="")).topic_id == ""  # type: ignore[union-attr]
    assert parse_key("archive", "archive.writers/vidsight.detections/partition=007.json") is None
    assert parse_key("archive", "lake/vidsight.detections/dt=2024-05-01/0.parquet") is None
    assert parse_key("other", key(H11, 7, 0)) is None


def test_manifest_rows_group_objects_by_hour_partition_and_incarnation() -> None:
    a, b, c = (
        parse_key("archive", key(h, 0, f)) for h, f in ((H10, 0), (H10, 10000), (H11, 10000))
    )
    assert a and b and c
    rows = manifest_rows([(a, range(0, 10000)), (b, [10000, 10001]), (c, [10002, 10005])])
    assert rows == [
        ManifestRow(H10, "vidsight.detections", 0, TID, 2, 10002, 0, 10001),
        ManifestRow(H11, "vidsight.detections", 0, TID, 1, 2, 10002, 10005),
    ]


def test_a_complete_partition_has_no_shortfall() -> None:
    rows = [row(H10, 0, 99), row(H11, 100, 149), row(H12, 150, 160)]
    assert shortfalls(rows, {("vidsight.detections", 0): 161}, {"vidsight.detections": TID}) == []


def test_a_removed_hour_is_named_by_the_hours_around_it() -> None:
    rows = [row(H10, 0, 99), row(H12, 150, 160)]
    [s] = shortfalls(rows, {("vidsight.detections", 0): 161})
    assert (s.first_missing, s.last_missing, s.missing, s.hours) == (100, 149, 50, (H10, H12))
    assert s.describe().startswith("vidsight.detections partition 0 hour 2024-05-01 10:00 or ")


def test_a_hole_inside_an_hour_names_that_hour() -> None:
    [s] = shortfalls([row(H10, 0, 99), row(H11, 100, 199, records=60)], {})
    assert (s.first_missing, s.last_missing, s.hours) == (100, 199, (H11,))
    assert "hold 60 of 100" in s.reason


def test_overlapping_hours_count_together() -> None:
    # One block's records straddle two hours: the union is whole.
    rows = [row(H10, 0, 99, records=70), row(H11, 50, 149, records=80)]
    assert shortfalls(rows, {("vidsight.detections", 0): 150}) == []


def test_a_committed_tail_missing_from_the_archive() -> None:
    [s] = shortfalls([row(H10, 0, 99)], {("vidsight.detections", 0): 130})
    assert (s.first_missing, s.last_missing, s.hours) == (100, 129, (H10,))
    [s] = shortfalls([], {("vidsight.detections", 3): 5})
    assert (s.partition, s.first_missing, s.last_missing, s.hours) == (3, 0, 4, ())


def test_other_incarnations_do_not_count_for_the_committed_tail() -> None:
    old = ManifestRow(H10, "vidsight.detections", 0, "f" * 32, 1, 500, 0, 499)
    [s] = shortfalls(
        [old, row(H11, 0, 9)], {("vidsight.detections", 0): 20}, {"vidsight.detections": TID}
    )
    assert (s.topic_id, s.first_missing, s.last_missing) == (TID, 10, 19)


def test_lost_since_recorded_names_the_hour_and_partition() -> None:
    recorded = [row(H10, 0, 99), row(H10, 0, 9, p=2)]
    live = [row(H10, 0, 99)]
    [s] = lost_since_recorded(recorded, live)
    assert (s.partition, s.hours, s.reason) == (
        2,
        (H10,),
        "hold 0 records where the manifest recorded 10",
    )


def test_a_rerun_never_records_a_shrunk_partition_as_truth() -> None:
    recorded = [row(H11, 0, 99), row(H11, 0, 49, p=1), row(H11, 0, 9, p=2)]
    # partition 0 lost 40 records, partition 1 grew (late data), partition 2 lost everything,
    # partition 3 is new
    live = [row(H11, 0, 99, records=60), row(H11, 0, 59, p=1), row(H11, 0, 4, p=3)]
    rows, shrunk = keep_recorded(recorded, live)
    assert rows == [row(H11, 0, 99), row(H11, 0, 59, p=1), row(H11, 0, 9, p=2), row(H11, 0, 4, p=3)]
    assert [s.describe() for s in shrunk] == [
        "vidsight.detections partition 0 hour 2024-05-01 11:00: offsets 0..99 (100) "
        "hold 60 records where the manifest recorded 100",
        "vidsight.detections partition 2 hour 2024-05-01 11:00: offsets 0..9 (10) "
        "hold 0 records where the manifest recorded 10",
    ]


def test_keep_recorded_of_a_first_run_is_the_live_listing() -> None:
    live = [row(H11, 0, 9, p=1), row(H11, 0, 99)]
    assert keep_recorded([], live) == (sorted(live, key=lambda r: r.partition), [])
