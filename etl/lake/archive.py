"""The archive's shape as the ETL sees it: per-hour manifests and what is short.

The S3 archive is written by sinks/s3archive.py and read back through sinks/archive.py, which
also owns its key layout (``ArchiveKey``, ``parse_key``, the hour and day prefixes; imported
here for the ETL's modules).

Completeness is judged per (topic, partition, incarnation) over offsets, because an offset is
the one thing a partition never skips (no transactions write these topics, so no control
records leave holes): the archived offsets must run without a hole up to what the archive
sink committed (offsets before the first known one are not judged). A hole is named by the
hour it falls in: the hour of the records on both sides when they agree, else both hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sinks.archive import ArchiveKey, day_prefix, hour_prefix, parse_key

__all__ = [
    "ArchiveKey",
    "ManifestRow",
    "Shortfall",
    "day_prefix",
    "hour_prefix",
    "hour_window",
    "keep_recorded",
    "lost_since_recorded",
    "manifest_rows",
    "parse_key",
    "shortfalls",
]


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """What the archive holds of one topic partition (one incarnation) in one hour."""

    hour: datetime
    topic: str
    partition: int
    topic_id: str
    objects: int
    records: int
    first_offset: int
    last_offset: int

    @property
    def span(self) -> int:
        """Offsets from the first to the last, both included."""
        return self.last_offset - self.first_offset + 1


def manifest_rows(objects: Iterable[tuple[ArchiveKey, Sequence[int]]]) -> list[ManifestRow]:
    """One row per (hour, topic, partition, incarnation) from objects and their offsets."""
    groups: dict[tuple[datetime, str, int, str], list[tuple[ArchiveKey, Sequence[int]]]] = {}
    for key, offsets in objects:
        groups.setdefault((key.hour, key.topic, key.partition, key.topic_id), []).append(
            (key, offsets)
        )
    rows = []
    for (hour, topic, partition, topic_id), members in sorted(groups.items()):
        offsets = [o for _, offs in members for o in offs]
        if not offsets:
            continue
        rows.append(
            ManifestRow(
                hour,
                topic,
                partition,
                topic_id,
                len(members),
                len(offsets),
                min(offsets),
                max(offsets),
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class Shortfall:
    """Offsets of a partition the archive should hold and does not."""

    topic: str
    partition: int
    topic_id: str
    first_missing: int
    last_missing: int
    hours: tuple[datetime, ...]
    reason: str

    @property
    def missing(self) -> int:
        return self.last_missing - self.first_missing + 1

    def describe(self) -> str:
        """One line naming the topic, partition, hour(s) and the offsets."""
        hours = " or ".join(f"{h:%Y-%m-%d %H}:00" for h in self.hours) or "unknown hour"
        return (
            f"{self.topic} partition {self.partition} hour {hours}: offsets "
            f"{self.first_missing}..{self.last_missing} ({self.missing}) {self.reason}"
        )


def shortfalls(
    rows: Iterable[ManifestRow],
    committed: Mapping[tuple[str, int], int],
    current_ids: Mapping[str, str] | None = None,
) -> list[Shortfall]:
    """Holes in each partition's archived offsets, and a tail the sink committed but lacks.

    ``rows`` are manifest rows of every hour of interest (recorded rows for most hours, a
    fresh listing for the hours being checked); ``committed`` is the archive sink's committed
    offset (the next offset it would read) per (topic, partition) of the current incarnation
    ``current_ids[topic]`` (a topic absent there: the incarnation with the highest offsets).
    Rows of hours that overlap (records of one block in two hours) are merged first, so only
    offsets no hour holds count as missing.
    """
    by_tp: dict[tuple[str, int, str], list[ManifestRow]] = {}
    for r in rows:
        by_tp.setdefault((r.topic, r.partition, r.topic_id), []).append(r)
    out: list[Shortfall] = []
    for (topic, partition, tid), members in sorted(by_tp.items()):
        out += _holes(topic, partition, tid, members)
    for (topic, partition), next_offset in sorted(committed.items()):
        topic_id = (current_ids or {}).get(topic)
        members = [
            r
            for (t, p, tid), rs in by_tp.items()
            if t == topic and p == partition and (topic_id is None or tid == topic_id)
            for r in rs
        ]
        if topic_id is None and members:
            newest = max(members, key=lambda r: r.last_offset).topic_id
            members = [r for r in members if r.topic_id == newest]
            topic_id = newest
        last = max((r.last_offset for r in members), default=-1)
        if next_offset - 1 > last:
            tail_hour = max((r.hour for r in members if r.last_offset == last), default=None)
            out.append(
                Shortfall(
                    topic,
                    partition,
                    topic_id or "",
                    last + 1,
                    next_offset - 1,
                    (tail_hour,) if tail_hour else (),
                    "consumed by the archive sink but not in the archive",
                )
            )
    return out


def _holes(topic: str, partition: int, topic_id: str, rows: list[ManifestRow]) -> list[Shortfall]:
    rows = sorted(rows, key=lambda r: (r.first_offset, r.last_offset))
    out: list[Shortfall] = []
    # Clusters of rows whose offset ranges overlap: within one, count against the span.
    clusters: list[list[ManifestRow]] = []
    for r in rows:
        if clusters and r.first_offset <= max(x.last_offset for x in clusters[-1]):
            clusters[-1].append(r)
        else:
            clusters.append([r])
    previous: list[ManifestRow] | None = None
    for cluster in clusters:
        first = min(r.first_offset for r in cluster)
        last = max(r.last_offset for r in cluster)
        held = sum(r.records for r in cluster)
        if held < last - first + 1:
            short = [r for r in cluster if r.records < r.span] or cluster
            out.append(
                Shortfall(
                    topic,
                    partition,
                    topic_id,
                    first,
                    last,
                    _hours(short),
                    f"hold {held} of {last - first + 1} records between them",
                )
            )
        # Offsets before the first known row are not judged: the archive may have started
        # after topic retention dropped them, and older hours may not be in the rows given.
        before_last = first - 1 if previous is None else max(r.last_offset for r in previous)
        if first > before_last + 1:
            edge = [r for r in (previous or []) if r.last_offset == before_last]
            after = [r for r in cluster if r.first_offset == first]
            out.append(
                Shortfall(
                    topic,
                    partition,
                    topic_id,
                    before_last + 1,
                    first - 1,
                    _hours([*edge, *after]),
                    "missing from the archive",
                )
            )
        previous = cluster
    return out


def _hours(rows: Iterable[ManifestRow]) -> tuple[datetime, ...]:
    return tuple(sorted({r.hour for r in rows}))


def lost_since_recorded(
    recorded: Iterable[ManifestRow], live: Iterable[ManifestRow]
) -> list[Shortfall]:
    """Partitions of an hour that hold fewer records now than the manifest recorded."""
    now = {(r.hour, r.topic, r.partition, r.topic_id): r for r in live}
    out = []
    for r in recorded:
        cur = now.get((r.hour, r.topic, r.partition, r.topic_id))
        held = 0 if cur is None else cur.records
        if held < r.records:
            out.append(
                Shortfall(
                    r.topic,
                    r.partition,
                    r.topic_id,
                    r.first_offset,
                    r.last_offset,
                    (r.hour,),
                    f"hold {held} records where the manifest recorded {r.records}",
                )
            )
    return out


def hour_window(hour: datetime, before: int = 0, after: int = 0) -> list[datetime]:
    """The hour and its neighbours, oldest first."""
    return [hour + timedelta(hours=i) for i in range(-before, after + 1)]


def keep_recorded(
    recorded: Iterable[ManifestRow], live: Iterable[ManifestRow]
) -> tuple[list[ManifestRow], list[Shortfall]]:
    """The rows to record for an hour, and the partitions that shrank since last recorded.

    A rerun lists the archive again; a partition that holds fewer records than the manifest
    recorded lost objects, and recording the smaller count would make the loss the new truth
    (``archive_complete`` compares against the manifest). Such a partition keeps its recorded
    row and is flagged; every other partition takes its live row.
    """
    live_rows = list(live)
    old = {(r.hour, r.topic, r.partition, r.topic_id): r for r in recorded}
    shrunk = lost_since_recorded(old.values(), live_rows)
    rows = {(r.hour, r.topic, r.partition, r.topic_id): r for r in live_rows}
    for key, r in old.items():
        if key not in rows or rows[key].records < r.records:
            rows[key] = r
    return [rows[k] for k in sorted(rows)], shrunk
