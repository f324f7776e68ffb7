"""Launch asset runs on the stack's Dagster instance through its webserver, and wait for them.

Runs go through the webserver's GraphQL API (``launchRun``, ``launchPartitionBackfill``) so
they are the instance's own runs: queued by its run coordinator, listed in the UI, kept in
its PostgreSQL storage. Used by ``vidsight etl materialize`` and by the end of ``make demo``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from dagster_project.errors import LaunchError

ASSET_JOB = "__ASSET_JOB"
TERMINAL_RUN = frozenset({"SUCCESS", "FAILURE", "CANCELED"})
OPEN_BACKFILL = frozenset({"REQUESTED", "CANCELING", "FAILING"})


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """One finished (or given-up-on) run."""

    run_id: str
    status: str
    partition: str | None
    url: str

    @property
    def ok(self) -> bool:
        return self.status == "SUCCESS"


def parse_keys(select: Sequence[str]) -> list[list[str]]:
    """``a/b,c`` (or repeated options) -> ``[["a", "b"], ["c"]]``: asset key paths."""
    keys = [item.strip() for chunk in select for item in chunk.split(",") if item.strip()]
    if not keys:
        raise LaunchError("--select names no asset")
    return [key.split("/") for key in keys]


def parse_time(text: str) -> datetime:
    """An ISO 8601 time; naive means UTC (partitions are UTC hours)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise LaunchError(f"not an ISO 8601 time: {text!r} (e.g. 2026-03-01T14:00)") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def partition_ranges(
    keys: Sequence[Sequence[str]], start: datetime, end: datetime, defs: Any = None
) -> dict[tuple[str, ...], tuple[str, str]]:
    """Per asset: the first and last partition key whose window lies in ``[start, end)``.

    Read from ``defs``, by default the code location's Definitions (the code the webserver
    serves).
    """
    from dagster import AssetKey, TimeWindowPartitionsDefinition
    from dagster._core.definitions.partitions.utils import TimeWindow

    if defs is None:
        from dagster_project.definitions import defs

    graph = defs.resolve_asset_graph()
    ranges: dict[tuple[str, ...], tuple[str, str]] = {}
    for path in keys:
        key = AssetKey(list(path))
        if not graph.has(key):
            raise LaunchError(f"unknown asset {'/'.join(path)}")
        pdef = graph.get(key).partitions_def
        if not isinstance(pdef, TimeWindowPartitionsDefinition):
            raise LaunchError(
                f"{'/'.join(path)} is not time-partitioned: use --partition or neither"
            )
        found = pdef.get_partition_keys_in_time_window(TimeWindow(start, end))
        if not found:
            raise LaunchError(f"{'/'.join(path)}: no partition between {start} and {end}")
        ranges[tuple(path)] = (found[0], found[-1])
    return ranges


_REPOS = """{ repositoriesOrError { __typename
  ... on RepositoryConnection { nodes { name location { name } } }
  ... on PythonError { message } } }"""

_LAUNCH_RUN = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId status } }
  ... on Error { message } ... on RunConfigValidationInvalid { errors { message } } } }"""

_LAUNCH_BACKFILL = """mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on Error { message } } }"""

_RUN = """query($id: ID!) { runOrError(runId: $id) { __typename
  ... on Run { runId status tags { key value } } ... on Error { message } } }"""

_BACKFILL = """query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
  ... on PartitionBackfill { status runs { runId status tags { key value } } }
  ... on Error { message } } }"""

_RUNS = """query($limit: Int) { runsOrError(limit: $limit) { __typename
  ... on Runs { results { runId status } } ... on Error { message } } }"""


class DagsterClient:
    """The few GraphQL calls vidsight makes to its Dagster webserver."""

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def query(self, text: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            resp = self._http.post(
                f"{self.url}/graphql", json={"query": text, "variables": variables or {}}
            )
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            raise LaunchError(f"Dagster webserver at {self.url} did not answer: {exc}") from exc
        body: dict[str, Any] = resp.json()
        if body.get("errors"):
            raise LaunchError(f"Dagster GraphQL error: {body['errors'][0].get('message')}")
        data: dict[str, Any] = body["data"]
        return data

    def repository(self) -> tuple[str, str]:
        """(code location, repository) of vidsight's Definitions."""
        result = self.query(_REPOS)["repositoriesOrError"]
        nodes = result.get("nodes") or []
        if not nodes:
            raise LaunchError(f"no code location loaded: {result.get('message', result)}")
        return nodes[0]["location"]["name"], nodes[0]["name"]

    def launch_run(
        self, keys: Sequence[Sequence[str]], partition: str | None, tags: dict[str, str]
    ) -> str:
        location, repo = self.repository()
        all_tags = {**tags, **({"dagster/partition": partition} if partition else {})}
        params = {
            "selector": {
                "repositoryLocationName": location,
                "repositoryName": repo,
                "jobName": ASSET_JOB,
                "assetSelection": [{"path": list(k)} for k in keys],
            },
            "runConfigData": {},
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in all_tags.items()]},
        }
        result = self.query(_LAUNCH_RUN, {"params": params})["launchRun"]
        if result["__typename"] != "LaunchRunSuccess":
            raise LaunchError(f"launchRun refused ({result['__typename']}): {_message(result)}")
        return str(result["run"]["runId"])

    def launch_backfill(
        self, ranges: dict[tuple[str, ...], tuple[str, str]], tags: dict[str, str]
    ) -> str:
        params = {
            "partitionsByAssets": [
                {"assetKey": {"path": list(k)}, "partitions": {"range": {"start": a, "end": b}}}
                for k, (a, b) in ranges.items()
            ],
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        result = self.query(_LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise LaunchError(f"backfill refused ({result['__typename']}): {_message(result)}")
        return str(result["backfillId"])

    def run(self, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.query(_RUN, {"id": run_id})["runOrError"]
        if result["__typename"] != "Run":
            raise LaunchError(f"run {run_id}: {_message(result)}")
        return result

    def backfill(self, backfill_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.query(_BACKFILL, {"id": backfill_id})[
            "partitionBackfillOrError"
        ]
        if result["__typename"] != "PartitionBackfill":
            raise LaunchError(f"backfill {backfill_id}: {_message(result)}")
        return result

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """The instance's newest runs (id and status), as the UI's runs list shows them."""
        result = self.query(_RUNS, {"limit": limit})["runsOrError"]
        if "results" not in result:
            raise LaunchError(f"runs: {_message(result)}")
        return list(result["results"])

    def run_url(self, run_id: str) -> str:
        return f"{self.url}/runs/{run_id}"

    def backfill_url(self, backfill_id: str) -> str:
        return f"{self.url}/runs/b/{backfill_id}"

    def outcome(self, run: dict[str, Any]) -> RunOutcome:
        tags = {t["key"]: t["value"] for t in run.get("tags") or []}
        return RunOutcome(
            run_id=run["runId"],
            status=run["status"],
            partition=tags.get("dagster/partition"),
            url=self.run_url(run["runId"]),
        )


def _message(result: dict[str, Any]) -> str:
    if result.get("message"):
        return str(result["message"])
    errors = result.get("errors") or []
    return "; ".join(str(e.get("message")) for e in errors) or str(result)


def materialize(
    client: DagsterClient,
    select: Sequence[str],
    *,
    partition: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    timeout_s: float = 1800.0,
    poll_s: float = 1.0,
    on_launch: Callable[[str], None] = lambda _: None,
    on_run: Callable[[RunOutcome], None] = lambda _: None,
) -> list[RunOutcome]:
    """Launch the selected assets (one run, or a backfill over ``[start, end)``) and wait.

    ``on_launch`` gets the UI link of what was launched, ``on_run`` each run once it finished.
    """
    keys = parse_keys(select)
    if partition is not None and (start or end):
        raise LaunchError("use --partition or --from/--to, not both")
    if (start is None) != (end is None):
        raise LaunchError("--from and --to go together")
    tags = {"vidsight/launched_by": "vidsight etl materialize"}
    deadline = time.monotonic() + timeout_s
    if start is not None and end is not None:
        if end <= start:
            raise LaunchError("--to must be after --from")
        backfill_id = client.launch_backfill(partition_ranges(keys, start, end), tags)
        on_launch(client.backfill_url(backfill_id))
        return _wait_backfill(client, backfill_id, deadline, poll_s, on_run)
    run_id = client.launch_run(keys, partition, tags)
    on_launch(client.run_url(run_id))
    while True:
        run = client.run(run_id)
        if run["status"] in TERMINAL_RUN or time.monotonic() > deadline:
            outcome = client.outcome(run)
            on_run(outcome)
            return [outcome]
        time.sleep(poll_s)


def _wait_backfill(
    client: DagsterClient,
    backfill_id: str,
    deadline: float,
    poll_s: float,
    on_run: Callable[[RunOutcome], None],
) -> list[RunOutcome]:
    reported: dict[str, RunOutcome] = {}
    while True:
        backfill = client.backfill(backfill_id)
        for run in backfill.get("runs") or []:
            if run["status"] in TERMINAL_RUN and run["runId"] not in reported:
                reported[run["runId"]] = client.outcome(run)
                on_run(reported[run["runId"]])
        runs = backfill.get("runs") or []
        settled = all(r["status"] in TERMINAL_RUN for r in runs)
        if (backfill["status"] not in OPEN_BACKFILL and settled) or time.monotonic() > deadline:
            unfinished = [client.outcome(r) for r in runs if r["runId"] not in reported]
            for outcome in unfinished:
                on_run(outcome)
            result = [*reported.values(), *unfinished]
            if backfill["status"] not in ("COMPLETED", "COMPLETED_SUCCESS") and all(
                r.ok for r in result
            ):
                # A backfill can fail before it launches a run (a bad partition, an error).
                result.append(
                    RunOutcome(
                        backfill_id, backfill["status"], None, client.backfill_url(backfill_id)
                    )
                )
            return result
        time.sleep(poll_s)
