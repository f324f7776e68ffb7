"""A durable, bounded, append-only spool: the edge's store-and-forward log.

Layout of a spool directory::

    LOCK                          flock'ed by the one process using the spool
    00000000000000000000.seg      segments, named by the sequence number of their first record
    00000000000000051234.seg
    checkpoint                    JSON {"seq", "segment", "offset"}: the first undelivered record

Each record is framed with its length, a CRC-32 and its sequence number (``spool_format``).
Appends go to the newest segment with one ``write(2)``; a segment is rolled once it reaches
``segment_bytes``. A reader cursor walks the records in order; the consumer
``ack``s a prefix once it is delivered, ``commit`` persists that checkpoint (write to a temp
file, rename) and deletes segments that are fully delivered.

Durability and fsync policy: a record is in the kernel's page cache when ``append`` returns,
so killing the process (``kill -9``, OOM, crash) loses nothing that was appended, whatever
the fsync policy. fsync only matters if the machine itself loses power or the kernel dies:
``always`` fsyncs every append (slow, loses nothing), ``interval`` (the default) fsyncs the
active segment and the checkpoint at most every ``fsync_interval_s`` (loses at most that
much), ``never`` leaves it to the OS. On open, the newest segment is scanned and a torn
record at its end (a write cut short by a power loss) is truncated away. A checkpoint that
lags behind what was delivered (killed between delivery and commit) only re-sends records:
delivery is at-least-once and every event id is deterministic, so consumers deduplicate.

Bound: when the segments exceed ``max_bytes``, whole segments are evicted oldest first,
delivered or not; evicted undelivered records are counted (``SpoolStats.evicted_records``)
and logged, never dropped silently.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from producers.errors import SpoolError
from producers.spool_format import (
    HEADER,
    Position,
    SpoolRecord,
    SpoolStats,
    frame_record,
    parse_records,
)

log = logging.getLogger(__name__)

FsyncPolicy = Literal["always", "interval", "never"]
SUFFIX = ".seg"
_CHUNK = 256 * 1024


def _seg_name(first_seq: int) -> str:
    return f"{first_seq:020d}{SUFFIX}"


class Spool:
    """One spool directory, used by one process (enforced with a lock file)."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = 1 << 30,
        segment_bytes: int = 16 << 20,
        fsync: FsyncPolicy = "interval",
        fsync_interval_s: float = 1.0,
        name: str = "spool",
    ) -> None:
        self.dir = directory
        self.name = name
        self.max_bytes = max_bytes
        # At least four segments fit under the cap, so eviction stays fine-grained.
        self.segment_bytes = max(4096, min(segment_bytes, max_bytes // 4))
        self.fsync = fsync
        self.fsync_interval_s = fsync_interval_s
        self._lock = threading.RLock()
        self._appended = self._evicted = self._evicted_bytes = self._corrupt = 0
        self._last_fsync = time.monotonic()
        self._dirty = False
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(directory / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SpoolError(f"{name} spool {directory}: cannot open: {exc}") from exc
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._lock_fd)
            raise SpoolError(f"{name} spool {directory} is in use by another process") from exc
        self._segments: list[int] = sorted(
            int(p.name.removesuffix(SUFFIX)) for p in directory.glob("*" + SUFFIX)
        )
        self._sizes: dict[int, int] = {
            s: (directory / _seg_name(s)).stat().st_size for s in self._segments
        }
        self._next_seq = self._recover_tail()
        self._checkpoint = self._load_checkpoint()
        self._cursor = self._checkpoint
        self._committed: Position | None = None
        self._fd = self._open_active()

    # ---- opening ---------------------------------------------------------------------------

    def _path(self, segment: int) -> Path:
        return self.dir / _seg_name(segment)

    def _recover_tail(self) -> int:
        """Truncate a torn record at the end of the newest segment; returns the next seq."""
        if not self._segments:
            return 0
        last = self._segments[-1]
        data = self._path(last).read_bytes()
        records, end, corrupt = parse_records(data)
        if end < len(data):
            log.warning(
                "spool=%s segment=%s truncated torn tail bytes=%d corrupt=%s",
                self.name,
                last,
                len(data) - end,
                corrupt,
            )
            with open(self._path(last), "r+b") as fh:
                fh.truncate(end)
                os.fsync(fh.fileno())
            self._sizes[last] = end
        return records[-1][1] + 1 if records else last

    def _load_checkpoint(self) -> Position:
        oldest = self._segments[0] if self._segments else self._next_seq
        start = Position(oldest, oldest, 0)
        try:
            data = json.loads((self.dir / "checkpoint").read_text())
            pos = Position(int(data["seq"]), int(data["segment"]), int(data["offset"]))
        except FileNotFoundError:
            return start
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("spool=%s unreadable checkpoint, starting at oldest: %s", self.name, exc)
            return start
        if (
            pos.seq < oldest
            or pos.segment not in self._sizes
            or pos.offset > self._sizes[pos.segment]
        ):
            # Its segment was evicted, or the data it points at was lost: re-deliver what is
            # left (at-least-once) rather than skip anything.
            return start
        return pos

    def _open_active(self) -> int:
        if not self._segments:
            self._segments.append(self._next_seq)
            self._sizes[self._next_seq] = 0
        try:
            return os.open(
                self._path(self._segments[-1]), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644
            )
        except OSError as exc:
            raise SpoolError(f"{self.name} spool {self.dir}: {exc}") from exc

    # ---- writing ---------------------------------------------------------------------------

    def append(self, payload: bytes) -> int:
        """Append one record; returns its sequence number."""
        return self.append_many((payload,))

    def append_many(self, payloads: Sequence[bytes]) -> int:
        """Append records with one write (kept together in one segment); returns the last seq."""
        if not payloads:
            return self._next_seq - 1
        with self._lock:
            seq = self._next_seq
            data = b"".join(frame_record(seq + i, p) for i, p in enumerate(payloads))
            active = self._segments[-1]
            if self._sizes[active] and self._sizes[active] + len(data) > self.segment_bytes:
                self._roll()
                active = self._segments[-1]
            try:
                written = os.write(self._fd, data)
                if written != len(data):
                    raise OSError(f"short write of {written} of {len(data)} bytes")
            except OSError as exc:
                # Cut a partial record off (disk full...), so the segment stays well formed.
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._sizes[active])
                raise SpoolError(f"{self.name} spool {self.dir}: write failed: {exc}") from exc
            self._sizes[active] += len(data)
            self._next_seq = seq + len(payloads)
            self._appended += len(payloads)
            self._dirty = True
            if self.fsync == "always":
                os.fsync(self._fd)
            self._enforce_cap()
            return self._next_seq - 1

    def _roll(self) -> None:
        self._sync(force=self.fsync != "never")
        os.close(self._fd)
        self._segments.append(self._next_seq)
        self._sizes[self._next_seq] = 0
        self._fd = self._open_active()

    def _enforce_cap(self) -> None:
        while sum(self._sizes.values()) > self.max_bytes and len(self._segments) > 1:
            oldest = self._segments.pop(0)
            size = self._sizes.pop(oldest)
            following = self._segments[0]
            if self._checkpoint.seq < following:
                lost = following - max(self._checkpoint.seq, oldest)
                self._evicted += lost
                self._evicted_bytes += size - (
                    self._checkpoint.offset if self._checkpoint.segment == oldest else 0
                )
                log.error(
                    "spool=%s full (max_bytes=%d): evicted segment=%d undelivered_records=%d "
                    "total_evicted=%d",
                    self.name,
                    self.max_bytes,
                    oldest,
                    lost,
                    self._evicted,
                )
                self._checkpoint = Position(following, following, 0)
                if self._cursor.seq < following:
                    self._cursor = self._checkpoint
            with contextlib.suppress(FileNotFoundError):
                self._path(oldest).unlink()

    # ---- reading ---------------------------------------------------------------------------

    def read(self, max_records: int = 1000, max_bytes: int = 8 << 20) -> list[SpoolRecord]:
        """The next records after the reader cursor (may be fewer, or none), advancing it."""
        out: list[SpoolRecord] = []
        size = 0
        with self._lock:
            if self._cursor.seq < self._checkpoint.seq:
                self._cursor = self._checkpoint
            while len(out) < max_records and size < max_bytes:
                cur = self._cursor
                if cur.seq >= self._next_seq:
                    break
                seg_size = self._sizes.get(cur.segment)
                if seg_size is None or cur.offset >= seg_size:
                    nxt = [s for s in self._segments if s > cur.segment]
                    if not nxt:
                        break
                    self._cursor = Position(nxt[0], nxt[0], 0)
                    continue
                remaining = seg_size - cur.offset
                buf = self._pread(cur.segment, min(remaining, _CHUNK), cur.offset)
                if len(buf) >= HEADER.size:
                    need = HEADER.size + HEADER.unpack_from(buf)[0]
                    if len(buf) < need <= remaining:  # one record larger than the chunk
                        buf = self._pread(cur.segment, need, cur.offset)
                records, end, corrupt = parse_records(buf, limit=max_records - len(out))
                # A partial record before the end of a segment cannot come from a live
                # append (appends hold the lock): it is damage, like a bad checksum.
                corrupt = corrupt or (not records and len(buf) == remaining and end < remaining)
                for off, seq, payload in records:
                    rec_end = cur.offset + off + HEADER.size + len(payload)
                    out.append(SpoolRecord(seq, payload, Position(seq + 1, cur.segment, rec_end)))
                    self._cursor = out[-1].end
                    size += len(payload)
                    if len(out) >= max_records or size >= max_bytes:
                        break
                if corrupt and self._cursor.offset == cur.offset + end:
                    self._skip_corrupt(cur.segment)
                elif not records:
                    break
        return out

    def _pread(self, segment: int, size: int, offset: int) -> bytes:
        try:
            with open(self._path(segment), "rb") as fh:
                return os.pread(fh.fileno(), size, offset)
        except OSError as exc:
            raise SpoolError(f"{self.name} spool {self.dir}: read failed: {exc}") from exc

    def _skip_corrupt(self, segment: int) -> None:
        nxt = [s for s in self._segments if s > segment]
        following = nxt[0] if nxt else self._next_seq
        lost = following - self._cursor.seq
        self._corrupt += lost
        log.error(
            "spool=%s corrupt record in segment=%d at offset=%d: skipped %d records",
            self.name,
            segment,
            self._cursor.offset,
            lost,
        )
        self._cursor = Position(following, following, 0)

    def rewind(self) -> None:
        """Move the reader back to the checkpoint (to re-send what was not acknowledged)."""
        with self._lock:
            self._cursor = self._checkpoint

    # ---- acknowledging ---------------------------------------------------------------------

    def ack(self, end: Position) -> None:
        """Everything before ``end`` (a record's ``end``) is delivered."""
        with self._lock:
            if end.seq > self._checkpoint.seq and end.segment in self._sizes:
                self._checkpoint = end

    def commit(self) -> None:
        """Persist the checkpoint, delete delivered segments, fsync per policy."""
        with self._lock:
            cp = self._checkpoint
            while len(self._segments) > 1 and self._segments[1] <= cp.seq:
                done = self._segments.pop(0)
                self._sizes.pop(done, None)
                with contextlib.suppress(FileNotFoundError):
                    self._path(done).unlink()
            if cp.segment not in self._sizes:
                cp = self._checkpoint = Position(cp.seq, self._segments[0], 0)
            if cp == self._committed:
                self._sync()
                return
            self._committed = cp
            tmp = self.dir / "checkpoint.tmp"
            tmp.write_text(json.dumps({"seq": cp.seq, "segment": cp.segment, "offset": cp.offset}))
            tmp.replace(self.dir / "checkpoint")
            self._sync(force=self.fsync == "always")

    def _sync(self, *, force: bool = False) -> None:
        now = time.monotonic()
        due = self.fsync == "interval" and now - self._last_fsync >= self.fsync_interval_s
        if self._dirty and (force or due):
            os.fsync(self._fd)
            self._dirty = False
            self._last_fsync = now

    # ---- state -----------------------------------------------------------------------------

    @property
    def empty(self) -> bool:
        """True when every appended record is delivered."""
        with self._lock:
            return self._checkpoint.seq >= self._next_seq

    def stats(self) -> SpoolStats:
        """Current depth and counters."""
        with self._lock:
            cp = self._checkpoint
            pending_bytes = sum(size for seg, size in self._sizes.items() if seg >= cp.segment)
            return SpoolStats(
                pending_records=max(0, self._next_seq - cp.seq),
                pending_bytes=max(0, pending_bytes - cp.offset),
                segments=len(self._segments),
                appended_records=self._appended,
                evicted_records=self._evicted,
                evicted_bytes=self._evicted_bytes,
                corrupt_records=self._corrupt,
            )

    def close(self) -> None:
        """Commit, fsync and release the directory lock."""
        with self._lock:
            if self._fd < 0:
                return
            self.commit()
            self._sync(force=self.fsync != "never")
            os.close(self._fd)
            self._fd = -1
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
