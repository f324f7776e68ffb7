"""The spool keeps order, survives kill -9, truncates torn tails and counts what it evicts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from producers.errors import SpoolError
from producers.spool import Spool
from producers.spool_format import HEADER, frame_record, parse_records


def drain(spool: Spool, batch: int = 1000) -> list[bytes]:
    out: list[bytes] = []
    while records := spool.read(max_records=batch):
        out += [r.payload for r in records]
        spool.ack(records[-1].end)
    spool.commit()
    return out


def test_records_come_back_in_order_across_segments(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=4096, max_bytes=1 << 20)
    payloads = [f"event-{i}".encode() * (i % 7 + 1) for i in range(500)]
    for p in payloads:
        spool.append(p)
    assert spool.stats().segments > 3
    assert drain(spool, batch=37) == payloads
    assert spool.empty and spool.stats().pending_records == 0
    assert spool.stats().segments == 1  # delivered segments are deleted
    spool.close()


def test_unacknowledged_records_are_read_again_after_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=4096)
    for i in range(100):
        spool.append(b"%d" % i)
    first = spool.read(max_records=30)
    spool.ack(first[-1].end)
    spool.commit()
    spool.read(max_records=30)  # read, never acknowledged
    spool.close()
    again = Spool(tmp_path, segment_bytes=4096)
    assert again.stats().pending_records == 70
    assert drain(again) == [b"%d" % i for i in range(30, 100)]
    again.close()


def test_rewind_re_reads_from_the_checkpoint(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(10):
        spool.append(b"%d" % i)
    a = spool.read(max_records=4)
    spool.ack(a[1].end)
    spool.read(max_records=4)
    spool.rewind()
    assert [r.payload for r in spool.read()] == [b"%d" % i for i in range(2, 10)]
    spool.close()


def test_a_torn_tail_is_truncated_on_open(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(5):
        spool.append(b"record %d" % i)
    spool.close()
    seg = next(tmp_path.glob("*.seg"))
    with seg.open("ab") as fh:
        fh.write(frame_record(5, b"half written")[:-4])
    again = Spool(tmp_path)
    assert drain(again) == [b"record %d" % i for i in range(5)]
    assert again.append(b"next") == 5
    assert drain(again) == [b"next"]
    again.close()


def test_a_corrupt_record_skips_its_segment_and_is_counted(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=4096)
    for i in range(300):
        spool.append(b"x" * 40 + b"%03d" % i)
    spool.close()
    first = sorted(tmp_path.glob("*.seg"))[0]
    data = bytearray(first.read_bytes())
    data[HEADER.size + 50 + HEADER.size + 5] ^= 0xFF  # flip a byte of the second record
    first.write_bytes(bytes(data))
    again = Spool(tmp_path, segment_bytes=4096)
    got = drain(again)
    stats = again.stats()
    assert got[0] == b"x" * 40 + b"000"
    assert stats.corrupt_records > 0
    assert len(got) + stats.corrupt_records == 300
    assert got[1:] == [b"x" * 40 + b"%03d" % i for i in range(300 - len(got) + 1, 300)]
    again.close()


def test_the_cap_evicts_oldest_segments_and_counts_them(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=64 * 1024, segment_bytes=8 * 1024)
    for i in range(2000):
        spool.append(b"%05d" % i + b"." * 100)
    stats = spool.stats()
    assert stats.evicted_records > 0
    assert sum(f.stat().st_size for f in tmp_path.glob("*.seg")) <= 64 * 1024
    got = drain(spool)
    assert len(got) + stats.evicted_records == 2000
    # What is left is the newest, contiguous, in order.
    assert got == [b"%05d" % i + b"." * 100 for i in range(2000 - len(got), 2000)]
    spool.close()


def test_eviction_while_reading_moves_the_reader_forward(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=32 * 1024, segment_bytes=4096)
    spool.append(b"a" * 100)
    assert spool.read(max_records=1)
    for _ in range(1000):
        spool.append(b"b" * 100)
    rest = drain(spool)
    assert rest and set(rest) == {b"b" * 100}
    # "a" was read but never acknowledged: it counts as evicted too.
    assert spool.stats().evicted_records + len(rest) == 1001
    spool.close()


def test_one_process_per_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    with pytest.raises(SpoolError, match="in use"):
        Spool(tmp_path)
    spool.close()
    Spool(tmp_path).close()


def test_records_larger_than_a_read_chunk(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=1 << 20, max_bytes=64 << 20)
    big = os.urandom(3 << 20)
    spool.append(b"small")
    spool.append(big)
    assert [len(r.payload) for r in spool.read(max_records=1)] == [5]
    # max_bytes is a soft limit: a record larger than it (and than a read chunk) still comes.
    assert [r.payload for r in spool.read(max_bytes=1024)] == [big]
    spool.close()


def test_checkpoint_pointing_at_a_lost_segment_redelivers(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(3):
        spool.append(b"%d" % i)
    spool.close()
    (tmp_path / "checkpoint").write_text(json.dumps({"seq": 2, "segment": 999, "offset": 5}))
    assert drain(Spool(tmp_path)) == [b"0", b"1", b"2"]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=60), st.integers(1, 9))
def test_framing_round_trips(payloads: list[bytes], cut: int) -> None:
    buf = b"".join(frame_record(i, p) for i, p in enumerate(payloads))
    records, end, corrupt = parse_records(buf)
    assert [p for _, _, p in records] == payloads and end == len(buf) and not corrupt
    if buf:
        records, end, corrupt = parse_records(buf[:-cut])
        assert len(records) < len(payloads) or not payloads
        assert not corrupt


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from producers.spool import Spool
    spool = Spool(Path(sys.argv[1]), segment_bytes=64 * 1024, fsync="never")
    i = 0
    while True:
        spool.append(b"%08d" % i + b"-" * (i % 200))
        i += 1
        if i == 2000:
            print("ready", flush=True)
    """
)


def test_kill_9_loses_nothing_that_was_appended(tmp_path: Path) -> None:
    """A writer killed with SIGKILL mid-stream: every record it appended is there, in order."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    spool = Spool(tmp_path, segment_bytes=64 * 1024)
    got = drain(spool)
    assert len(got) >= 2000
    assert got == [b"%08d" % i + b"-" * (i % 200) for i in range(len(got))]
    # And the spool carries on where the killed process stopped.
    assert spool.append(b"after") == len(got)
    spool.close()
