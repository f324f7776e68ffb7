"""Evidence upload to S3 with store-and-forward to the evidence spool.

``put`` uploads directly while S3 answers and nothing is queued; when an upload fails, or
evidence is already queued (to keep the order), the JPEG goes to the evidence spool and
``put`` returns at once: the reference in the event is valid either way, the object appears
when the drainer thread has uploaded it. The drainer retries with backoff until S3 is back.
Objects carry their SHA-256 as ``x-amz-meta-sha256``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from producers.evidence import (
    EvidenceObject,
    EvidenceRef,
    decode_spooled,
    encode_spooled,
    evidence_object,
)
from producers.metrics import EdgeMetrics
from producers.sources.backoff import BackoffPolicy
from producers.spool import Spool
from vidsight.kafka.backoff import Retry

log = logging.getLogger(__name__)


class S3EvidenceStore:
    """The evidence sink of every camera of the process."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        spool: Spool,
        metrics: EdgeMetrics,
        *,
        backoff: BackoffPolicy | None = None,
    ) -> None:
        self._client = client
        self.bucket = bucket
        self.spool = spool
        self._metrics = metrics
        self._backoff = Retry(backoff or BackoffPolicy(initial_s=0.5, max_s=10.0))
        self._up = True
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="edge-evidence", daemon=True)
        self.uploaded = 0
        self.spooled = 0

    def start(self) -> None:
        """Start the drainer thread."""
        self._thread.start()

    def put(self, camera_id: str, frame_ts_us: int, jpeg: bytes) -> EvidenceRef:
        """Upload or queue one JPEG; the reference is returned once it is durable."""
        obj = evidence_object(camera_id, frame_ts_us, jpeg)
        if self._up and self.spool.empty:
            try:
                self._upload(obj)
                self._metrics.evidence_uploaded.labels("direct").inc()
                return obj.ref(self.bucket)
            except Exception as exc:  # any S3/transport failure means "queue it"
                self._up = False
                log.warning("evidence upload failed, spooling: %s", exc)
        self.spool.append(encode_spooled(obj))
        self.spooled += 1
        self._wake.set()
        return obj.ref(self.bucket)

    def put_recording(self, key: str, data: bytes, sha256: str) -> EvidenceRef:
        """Queue a recorded MP4 segment: always through the spool, so a camera never waits."""
        obj = EvidenceObject(key, data, sha256)
        self.spool.append(encode_spooled(obj))
        self.spooled += 1
        self._wake.set()
        return obj.ref(self.bucket)

    def _upload(self, obj: EvidenceObject) -> None:
        self._client.put_object(
            Bucket=self.bucket,
            Key=obj.key,
            Body=obj.data,
            ContentType="video/mp4" if obj.key.endswith(".mp4") else "image/jpeg",
            Metadata={"sha256": obj.sha256},
        )
        self.uploaded += 1

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                self._drain_some()
            except Exception:  # a bug or a disk error: log it, keep the thread alive
                log.exception("evidence drainer failed; retrying in 1s")
                self._stop.wait(1.0)

    def _drain_some(self) -> None:
        while not self._stop.is_set():
            records = self.spool.read(max_records=32)
            if not records:
                self._up = True
                self._report()
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            for rec in records:
                try:
                    obj = decode_spooled(rec.payload)
                except ValueError as exc:
                    log.error("unreadable evidence in the spool seq=%d skipped: %s", rec.seq, exc)
                    self.spool.ack(rec.end)
                    continue
                try:
                    self._upload(obj)
                except Exception as exc:
                    self._up = False
                    self.spool.rewind()
                    delay = self._backoff.next_delay()
                    log.warning("evidence upload failed, retry in %.1fs: %s", delay, exc)
                    self._stop.wait(delay)
                    break
                self._backoff.reset()
                self._metrics.evidence_uploaded.labels("spooled").inc()
                self.spool.ack(rec.end)
            self.spool.commit()
            self._report()

    def idle(self) -> bool:
        """True when no evidence waits for upload."""
        return self.spool.empty

    def stop(self) -> None:
        """Stop the drainer; what is left stays spooled for the next run."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.spool.commit()

    def _report(self) -> None:
        stats = self.spool.stats()
        m = self._metrics
        m.spool_records.labels("evidence").set(stats.pending_records)
        m.spool_bytes.labels("evidence").set(stats.pending_bytes)
        m.spool_evicted.labels("evidence").set(stats.evicted_records)
