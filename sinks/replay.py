"""``vidsight replay --sink X``: drop a store's projection and rebuild it from the topics.

Steps: refuse while the store's consumer group is active (its sink must be stopped, or the two
would share the partitions), drop the projection, then run the store's ordinary sink from the
first offset of every partition until nothing arrived for ``idle_s`` seconds. The run commits
to the store's own group, so a ``sink run`` started afterwards carries on where the rebuild
stopped. "Caught up" is decided by idleness, not by end offsets, because brokers do not all
report end offsets correctly (the local one does not).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from confluent_kafka.admin import AdminClient

from sinks.errors import ReplayError, StoreUnavailableError
from sinks.runner import RunOptions, RunStats, group_id
from sinks.service import run_sinks
from sinks.settings import SinkSettings
from sinks.stores import build

log = logging.getLogger(__name__)

_ACTIVE_STATES = ("STABLE", "PREPARING_REBALANCE", "COMPLETING_REBALANCE", "ASSIGNING")


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What one store's rebuild did."""

    store: str
    stats: RunStats
    seconds: float

    def summary(self) -> str:
        """One line for the terminal."""
        s = self.stats
        return (
            f"{self.store}: rebuilt from {s.consumed} records ({s.rows} rows, "
            f"{s.dead_letters} dead letters) in {self.seconds:.1f}s"
        )


def group_is_active(settings: SinkSettings, store: str) -> str | None:
    """The group's state when members are (or may still be) in it, else None."""
    admin = AdminClient(settings.kafka_client_config())
    gid = group_id(settings, store)
    try:
        description = admin.describe_consumer_groups([gid])[gid].result(timeout=15)
    except Exception as exc:  # brokers without the API: say so and go on
        log.warning("cannot describe consumer group %s, not checked: %s", gid, exc)
        return None
    state = str(description.state).rsplit(".", 1)[-1]
    if description.members or state in _ACTIVE_STATES:
        return state
    return None


def replay(
    names: list[str], settings: SinkSettings, *, idle_s: float = 10.0, check_group: bool = True
) -> list[ReplayReport]:
    """Rebuild the projections of some stores (in parallel) from the topics."""
    if check_group:
        for name in names:
            state = group_is_active(settings, name)
            if state is not None:
                raise ReplayError(
                    f"the {name} sink's consumer group {group_id(settings, name)} is active "
                    f"(state {state}): stop `vidsight sink run {name}` first (a killed sink "
                    f"leaves the group after {settings.session_timeout_ms} ms)"
                )
    for name in names:
        sink = build(name, settings)
        try:
            sink.drop()
        except StoreUnavailableError as exc:
            raise ReplayError(f"cannot drop the {name} projection: {exc}") from exc
        finally:
            sink.close()
        log.info("dropped projection store=%s", name)
    started = time.monotonic()
    result = run_sinks(
        names, settings, options=RunOptions(exit_when_idle_s=idle_s, from_beginning=True)
    )
    if result.errors:
        failed = ", ".join(f"{n}: {e}" for n, e in result.errors.items())
        raise ReplayError(f"rebuild failed: {failed}")
    seconds = time.monotonic() - started
    return [ReplayReport(n, result.stats[n], seconds) for n in names if n in result.stats]
