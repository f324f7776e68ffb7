"""The registry service: the state kept in step with its log, one change at a time.

Reads are answered from ``state`` directly. A change runs under one lock: decide against the
current state, append the record to the log (in a worker thread, the clients block), and fold
it in only once the log acknowledged it. When an append fails the outcome is unknown (the broker
may have stored the record before the error), so the state is marked stale and the next change
first reads the log from the last applied offset to its end; whatever landed is then applied,
and nothing that did not land is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

from schemas.registry.avro_schema import AvroSchema
from schemas.registry.compatibility import Compatibility
from schemas.registry.errors import CorruptLogError, RegistryError, StoreError
from schemas.registry.events import ConfigSet, Event, ModeSet
from schemas.registry.log import EventLog
from schemas.registry.metrics import RegistryMetrics
from schemas.registry.state import Registration, RegistryState

log = logging.getLogger(__name__)

T = TypeVar("T")


class RegistryService:
    def __init__(
        self,
        event_log: EventLog,
        state: RegistryState | None = None,
        metrics: RegistryMetrics | None = None,
    ) -> None:
        self.state = state or RegistryState()
        self.metrics = metrics or RegistryMetrics()
        self._log = event_log
        self._lock = asyncio.Lock()
        self._applied = -1  # offset of the last record folded into the state
        self._stale = True
        self.metrics.watch(lambda: self.state, lambda: self._applied)

    async def start(self) -> None:
        """Open the log and rebuild the state from it."""
        await asyncio.to_thread(self._log.open)
        async with self._lock:
            await self._catch_up()
        log.info(
            "registry ready subjects=%d max_id=%d offset=%d",
            len(self.state.subjects(deleted=True)),
            self.state.max_schema_id,
            self._applied,
        )

    async def close(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._log.close)

    async def _catch_up(self) -> None:
        records = await asyncio.to_thread(lambda: list(self._log.read_from(self._applied + 1)))
        for offset, event in records:
            try:
                self.state.apply(event)
            except CorruptLogError as exc:
                raise CorruptLogError(f"log offset {offset}: {exc}") from exc
            self._applied = offset
        if records:
            log.info("applied records=%d up_to_offset=%d", len(records), self._applied)
        self._stale = False

    async def _change(self, decide: Callable[[RegistryState], tuple[T, Event | None]]) -> T:
        async with self._lock:
            if self._stale:
                await self._catch_up()
            result, event = decide(self.state)
            if event is not None:
                try:
                    offset = await asyncio.to_thread(self._log.append, event)
                except Exception as exc:
                    self._stale = True
                    self.metrics.write_failures.inc()
                    log.warning("log write failed record=%s error=%s", type(event).__name__, exc)
                    if isinstance(exc, RegistryError):
                        raise
                    raise StoreError(f"write to the registry log failed: {exc}") from exc
                self.metrics.writes.labels(type(event).__name__).inc()
                self.state.apply(event)
                self._applied = offset
                log.info("applied offset=%d record=%s", offset, type(event).__name__)
            return result

    async def register(self, subject: str, schema: AvroSchema) -> Registration:
        def decide(state: RegistryState) -> tuple[Registration, Event | None]:
            registration = state.decide_register(subject, schema)
            return registration, registration.event

        return await self._change(decide)

    async def delete_subject(self, subject: str, *, permanent: bool) -> list[int]:
        return await self._change(
            lambda state: state.decide_delete_subject(subject, permanent=permanent)
        )

    async def delete_version(self, subject: str, version: int, *, permanent: bool) -> int:
        return await self._change(
            lambda state: state.decide_delete_version(subject, version, permanent=permanent)
        )

    async def set_config(self, subject: str | None, level: Compatibility) -> Compatibility:
        return await self._change(lambda state: (level, ConfigSet(subject, level)))

    async def delete_config(self, subject: str | None) -> Compatibility:
        return await self._change(lambda state: state.decide_delete_config(subject))

    async def set_mode(self, subject: str, mode: str) -> str:
        return await self._change(lambda state: (mode, ModeSet(subject, mode)))

    async def delete_mode(self, subject: str) -> str:
        return await self._change(lambda state: state.decide_delete_mode(subject))
