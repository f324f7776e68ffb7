"""The embedded broker's storage is moved aside, never deleted, when the broker starts over it."""

from __future__ import annotations

from pathlib import Path

from infra.stack import broker_storage


def _bucket_with_data(root: Path) -> Path:
    bucket = root / "s3" / "tansu"
    batch = bucket / "clusters" / "vidsight" / "topics" / "t" / "partitions" / "0000000000"
    (batch / "records").mkdir(parents=True)
    (batch / "records" / "00000000000000000000.batch").write_bytes(b"batch")
    (bucket / "clusters" / "vidsight" / "meta.json").write_text("{}")
    return bucket


def test_an_empty_or_missing_bucket_is_left_alone(tmp_path: Path) -> None:
    assert broker_storage.retire(tmp_path / "s3" / "tansu", tmp_path) is None
    (tmp_path / "s3" / "tansu").mkdir(parents=True)
    assert broker_storage.retire(tmp_path / "s3" / "tansu", tmp_path) is None
    assert not (tmp_path / broker_storage.ATTIC).exists()


def test_old_storage_moves_to_the_attic_byte_for_byte(tmp_path: Path) -> None:
    bucket = _bucket_with_data(tmp_path)
    moved = broker_storage.retire(bucket, tmp_path, now=0.0)
    assert moved == tmp_path / broker_storage.ATTIC / "19700101T000000Z"
    assert bucket.is_dir() and not any(bucket.iterdir())
    batch = next(moved.rglob("*.batch"))
    assert batch.read_bytes() == b"batch"
    assert (moved / "clusters" / "vidsight" / "meta.json").read_text() == "{}"
    readme = (moved / broker_storage.ATTIC_README).read_text()
    assert "7 bytes" in readme and "delete it" in readme  # b"batch" + "{}"


def test_two_moves_in_one_second_keep_both(tmp_path: Path) -> None:
    bucket = _bucket_with_data(tmp_path)
    first = broker_storage.retire(bucket, tmp_path, now=0.0)
    _bucket_with_data(tmp_path)
    second = broker_storage.retire(bucket, tmp_path, now=0.0)
    assert first is not None and second is not None and first != second
    assert second.name == "19700101T000000Z-2"
    assert len(list((tmp_path / broker_storage.ATTIC).rglob("*.batch"))) == 2
