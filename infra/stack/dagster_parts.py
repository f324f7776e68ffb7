"""The stack's Dagster instance: ``dagster-webserver`` and ``dagster-daemon`` over one instance.

Both processes read ``DATA_DIR/dagster/dagster.yaml``: run, event-log and schedule storage in
the stack's PostgreSQL (database ``dagster``, or ``<stack database>_dagster`` on a configured
server shared with other stacks), a queue of at most two concurrent runs, and the daemon
evaluating sensors, schedules and declarative automation. The storage URL holds a password, so
the file names an environment variable instead (``ps`` shows argv to every local user; the
environment of a process only to its owner).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from infra.stack.errors import MissingBinaryError
from infra.stack.parts import Part, _venv_bin
from infra.stack.settings import StackSettings

CODE_MODULE = "dagster_project.definitions"
PG_URL_ENV = "VIDSIGHT_DAGSTER_PG_URL"
WEBSERVER = "dagster"
DAEMON = "dagster-daemon"
MAX_CONCURRENT_RUNS = 2

INSTANCE_YAML = f"""\
# Written by `vidsight up` at each start of the Dagster parts; edits here are overwritten.
storage:
  postgres:
    postgres_url:
      env: {PG_URL_ENV}
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: {MAX_CONCURRENT_RUNS}
# Declarative automation (AutomationCondition) is evaluated by the daemon's sensors.
auto_materialize:
  enabled: true
  use_sensors: true
run_monitoring:
  enabled: true
# These machines reach nothing but package registries; no first-use pop-up over the UI.
telemetry:
  enabled: false
nux:
  enabled: false
"""


def dagster_database(stack_database: str, external: bool) -> str:
    """The instance's database: ``dagster`` on the stack's own server, else one per data dir."""
    return f"{stack_database}_dagster" if external else "dagster"


def sqlalchemy_url(dsn: str) -> str:
    """A libpq URI as dagster-postgres's SQLAlchemy needs it: with the psycopg2 driver named.

    SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3, whose server-side parameters
    break dagster-postgres's ``NOTIFY run_events, :id``.
    """
    scheme, sep, rest = dsn.partition("://")
    if not sep or scheme not in ("postgresql", "postgres"):
        raise ValueError("expected a postgresql:// URI")
    return f"postgresql+psycopg2://{rest}"


def write_instance_file(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    path.write_text(INSTANCE_YAML)
    return path


def _graphql(url: str, query: str, timeout_s: float = 3.0) -> dict[str, Any]:
    resp = httpx.post(f"{url}/graphql", json={"query": query}, timeout=timeout_s)
    resp.raise_for_status()
    body: dict[str, Any] = resp.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors'][0].get('message')}")
    data: dict[str, Any] = body["data"]
    return data


_LOCATIONS_QUERY = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
  name locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def webserver_probe(url: str) -> None:
    """The webserver answers and vidsight's code location loaded (not a PythonError)."""
    workspace = _graphql(url, _LOCATIONS_QUERY)["workspaceOrError"]
    entries = workspace.get("locationEntries") or []
    if not entries:
        raise RuntimeError("no code location loaded yet")
    for entry in entries:
        loaded = entry.get("locationOrLoadError") or {}
        if loaded.get("__typename") != "RepositoryLocation":
            raise RuntimeError(f"code location {entry['name']} failed: {loaded.get('message')}")


_DAEMONS_QUERY = """{ instance { daemonHealth { allDaemonStatuses {
  daemonType required healthy lastHeartbeatTime } } } }"""


def unhealthy_daemons(statuses: list[dict[str, Any]]) -> list[str]:
    """The required daemons without a recent heartbeat (all of them when none reported)."""
    required = [st for st in statuses if st.get("required")]
    if not required:
        return ["(no daemon heartbeat yet)"]
    return sorted(st["daemonType"] for st in required if not st.get("healthy"))


def daemon_probe(url: str) -> None:
    """Every required daemon's heartbeat is recent, as the instance (PostgreSQL) records it."""
    health = _graphql(url, _DAEMONS_QUERY)["instance"]["daemonHealth"]
    bad = unhealthy_daemons(health["allDaemonStatuses"])
    if bad:
        raise RuntimeError(f"daemon heartbeat missing or stale: {', '.join(bad)}")


def _home_env(data: Path, endpoints_env: dict[str, str], pg_url: str) -> dict[str, str]:
    return {"DAGSTER_HOME": str(data / "dagster"), PG_URL_ENV: pg_url, **endpoints_env}


def webserver_part(
    s: StackSettings, data: Path, endpoints_env: dict[str, str], pg_url: str
) -> Part:
    binary = _venv_bin("dagster-webserver")
    if binary is None:
        raise MissingBinaryError(WEBSERVER, "the dagster-webserver command", "dagster-webserver")
    url = f"http://{s.host}:{s.ports.dagster}"
    return Part(
        name=WEBSERVER,
        port=s.ports.dagster,
        url=url,
        command=[binary, "-h", s.host, "-p", str(s.ports.dagster), "-m", CODE_MODULE],
        env=_home_env(data, endpoints_env, pg_url),
        probe=lambda: webserver_probe(url),
        data_dir=data / "dagster",
    )


def daemon_part(s: StackSettings, data: Path, endpoints_env: dict[str, str], pg_url: str) -> Part:
    binary = _venv_bin("dagster-daemon")
    if binary is None:
        raise MissingBinaryError(DAEMON, "the dagster-daemon command", "dagster")
    webserver = f"http://{s.host}:{s.ports.dagster}"
    return Part(
        name=DAEMON,
        port=0,  # listens on nothing; its health is its heartbeat in the instance
        url=f"{webserver}/health",
        command=[binary, "run", "-m", CODE_MODULE],
        env=_home_env(data, endpoints_env, pg_url),
        probe=lambda: daemon_probe(webserver),
        data_dir=data / "dagster",
    )
