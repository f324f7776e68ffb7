"""Record batches as Tansu's S3 engine stores them (bytes taken from a real batch file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.stack.record_batches import BatchFormatError, decode_batch, read_partition

# One record, key b"\x00probe", value b"probe", as produced by librdkafka and stored by Tansu
# 0.6 in records/00000000000000000001.batch (base offset 0 in the header, 1 in the name).
REAL_BATCH = bytes.fromhex(
    "00000000000000000000004300000000027b439b32000000000000000001a241720ab5000001a241720ab5ff"
    "ffffffffffffffffffffffffff00000001220000000c0070726f62650a70726f626500"
)


def test_a_real_batch_decodes_to_its_record_at_the_file_offset() -> None:
    [record] = decode_batch(REAL_BATCH, 1)
    assert (record.offset, record.key, record.value, record.headers) == (
        1,
        b"\x00probe",
        b"probe",
        (),
    )
    assert record.timestamp_ms == 0x1A241720AB5  # 2026-12-04, the produce time


def test_a_partition_reads_in_offset_order_not_name_order(tmp_path: Path) -> None:
    (tmp_path / "00000000000000000010.batch").write_bytes(REAL_BATCH)
    (tmp_path / "00000000000000000009.batch").write_bytes(REAL_BATCH)
    assert [r.offset for r in read_partition(tmp_path)] == [9, 10]


def test_compressed_or_foreign_batches_are_refused_by_name(tmp_path: Path) -> None:
    gzip = bytearray(REAL_BATCH)
    gzip[22] = 1  # attributes, low byte: codec 1 (gzip)
    with pytest.raises(BatchFormatError, match="compressed"):
        decode_batch(bytes(gzip), 0)
    old = bytearray(REAL_BATCH)
    old[16] = 1  # magic 1
    (tmp_path / "00000000000000000000.batch").write_bytes(bytes(old))
    with pytest.raises(BatchFormatError, match=r"00000000000000000000\.batch: message format 1"):
        list(read_partition(tmp_path))
    with pytest.raises(BatchFormatError, match="shorter"):
        decode_batch(REAL_BATCH[:20], 0)
