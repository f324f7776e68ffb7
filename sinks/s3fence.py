"""Fencing of archive writers: one writer per archived partition at a time.

An archive object is read, merged with a batch and written again (sinks/s3archive.py). On an
S3 server with conditional writes that would be a compare-and-swap (If-Match on the ETag
read); the local server (``rclone serve s3``) accepts If-Match and If-None-Match and ignores
them (checked: a PUT with a wrong If-Match succeeds), so two writers of one partition could
lose each other's records: a consumer whose session expired (a zombie) still finishing a
batch while the partition's new owner writes. The sink fences writers instead, the way Kafka
fences producers by epoch:

- before its first write to a partition (of one topic incarnation) a writer *claims* it: the
  claim object ``<prefix>.writers/<topic>/partition=PPP[.<topic id>].json`` names the writer
  and counts the claims (epoch);
- right before each PUT the writer reads the claim again; one that is not its own means the
  partition was taken over, and it stops with ``ArchiveFencedError`` instead of writing
  (the runner backs off; the records are the new owner's to write);
- a writer that takes over a claim that was not released waits ``handoff_s`` before it reads
  any object (``ArchiveHandoffError``, a back-off with retry_after), so a PUT the old writer
  began after its last check has landed by then and is merged, not overwritten;
- a revoke or a clean stop releases the claim: the next owner then starts at once.

The limit: this trusts that a PUT lands within ``handoff_s`` of the check before it (the
client gets no retries and timeouts within the hand-off). A writer frozen longer than that
between its check and its PUT could still overwrite a newer owner's object; only a condition
the server enforces (If-Match on real S3) closes that window.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sinks.errors import StoreUnavailableError

log = logging.getLogger(__name__)


class ArchiveFencedError(StoreUnavailableError):
    """Another writer claimed the partition: this one must not write it."""


class ArchiveHandoffError(StoreUnavailableError):
    """The partition was taken over from a writer that did not release it: wait first."""


def claim_key(prefix: str, topic: str, partition: int, topic_id: str = "") -> str:
    """The claim object of one partition of one incarnation of a topic."""
    incarnation = f".{topic_id}" if topic_id else ""
    return f"{prefix}.writers/{topic}/partition={partition:03d}{incarnation}.json"


@dataclass(frozen=True, slots=True)
class Claim:
    """What a claim object says."""

    writer: str
    epoch: int
    released: bool = False

    def to_json(self) -> bytes:
        return json.dumps(
            {"writer": self.writer, "epoch": self.epoch, "released": self.released}
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Claim:
        d = json.loads(data)
        return cls(str(d["writer"]), int(d["epoch"]), bool(d.get("released", False)))


def takeover_wait(previous: Claim | None, handoff_s: float) -> float:
    """Seconds a new claim waits before its first read: none after a release (or none)."""
    return 0.0 if previous is None or previous.released else handoff_s


@dataclass(slots=True)
class _Held:
    key: str
    claim: Claim
    ready_at: float


class WriterFence:
    """The claims of one sink instance; ``s3`` returns its boto3 client."""

    def __init__(
        self,
        s3: Callable[[], Any],
        bucket: str,
        prefix: str,
        *,
        handoff_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._s3 = s3
        self.bucket = bucket
        self.prefix = prefix
        self.handoff_s = handoff_s
        self._clock = clock
        self.writer = uuid.uuid4().hex
        self._held: dict[tuple[str, int], _Held] = {}

    def before_read(self, topic: str, partition: int, topic_id: str) -> None:
        """Claim the partition if not held; ArchiveHandoffError while a take-over waits."""
        held = self._held.get((topic, partition))
        key = claim_key(self.prefix, topic, partition, topic_id)
        if held is None or held.key != key:
            previous = self._read(key)
            claim = Claim(self.writer, (previous.epoch if previous else 0) + 1)
            self._put(key, claim)
            wait = takeover_wait(previous, self.handoff_s)
            held = self._held[(topic, partition)] = _Held(key, claim, self._clock() + wait)
            if wait:
                log.warning(
                    "archive partition taken over without release topic=%s partition=%d "
                    "previous=%s epoch=%d: waiting %.0fs for its last write",
                    topic,
                    partition,
                    previous.writer if previous else "-",
                    claim.epoch,
                    wait,
                )
        left = held.ready_at - self._clock()
        if left > 0:
            raise ArchiveHandoffError(
                "s3", f"waiting {left:.1f}s for the previous writer of {key}", retry_after=left
            )

    def before_write(self, topic: str, partition: int) -> Claim:
        """Check the claim is still ours (ArchiveFencedError otherwise); returns it."""
        held = self._held.get((topic, partition))
        if held is None:
            raise ArchiveFencedError("s3", f"no claim on {topic}/{partition}")
        current = self._read(held.key)
        if current != held.claim:
            del self._held[(topic, partition)]
            raise ArchiveFencedError(
                "s3",
                f"{held.key} is claimed by writer {current.writer if current else '-'} "
                f"epoch {current.epoch if current else 0}, not by this one (epoch "
                f"{held.claim.epoch}): another consumer owns the partition now",
            )
        return held.claim

    def release(self, topic: str, partition: int) -> None:
        """Release a held claim (if still ours), so the next owner need not wait."""
        held = self._held.pop((topic, partition), None)
        if held is None:
            return
        try:
            if self._read(held.key) == held.claim:
                self._put(held.key, Claim(held.claim.writer, held.claim.epoch, released=True))
        except (BotoCoreError, ClientError) as exc:
            log.warning("archive claim %s not released (the next owner waits): %s", held.key, exc)

    def release_all(self) -> None:
        """Release every held claim (a clean stop)."""
        for topic, partition in list(self._held):
            self.release(topic, partition)

    def _read(self, key: str) -> Claim | None:
        try:
            body = self._s3().get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        try:
            return Claim.from_json(body)
        except (ValueError, KeyError, TypeError):
            log.error("unreadable archive claim %s: taken over", key)
            return Claim("unreadable", 0)

    def _put(self, key: str, claim: Claim) -> None:
        self._s3().put_object(
            Bucket=self.bucket, Key=key, Body=claim.to_json(), ContentType="application/json"
        )
