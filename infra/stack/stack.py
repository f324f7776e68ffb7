"""``vidsight up | down | status``: start, stop and probe the embedded local stack.

Layout under the data dir: ``run/<part>.pid``, ``logs/<part>.log``, one data folder per part,
and ``stack.json`` with the endpoints every other vidsight command reads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from infra.stack import broker_storage
from infra.stack import dagster_parts as dp
from infra.stack import parts as p
from infra.stack import postgres as pg
from infra.stack import secrets as sec
from infra.stack.errors import PortInUseError, StackError
from infra.stack.process import PidFile, PidRecord, port_is_free, spawn, stop, tail
from infra.stack.settings import StackSettings
from vidsight.redact import redact_text, redact_url
from vidsight.settings import STACK_FILE

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    """What ``vidsight status`` reports of one part."""

    name: str
    url: str
    healthy: bool
    pid: int | None
    managed: bool
    rss_bytes: int
    error: str | None
    extra: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "healthy": self.healthy,
            "pid": self.pid,
            "managed": self.managed,
            "rss_bytes": self.rss_bytes,
            "error": self.error,
            **self.extra,
        }


class Stack:
    """The local stack rooted at ``settings.data_dir``."""

    def __init__(self, settings: StackSettings, parts: Iterable[str] | None = None) -> None:
        self.data = settings.data_dir.resolve()
        # The credentials of an earlier `up` (probes need them); `up` generates missing ones.
        if sec.secrets_dir(self.data).is_dir():
            settings = sec.ensure_secrets(settings, self.data)
        self.settings = settings
        # Without an explicit choice, act on the parts the last `up` started (else all).
        wanted = set(parts if parts is not None else self._state().get("parts", p.PART_ORDER))
        unknown = wanted - set(p.PART_ORDER)
        if unknown:
            raise StackError(f"unknown part(s) {sorted(unknown)}; known: {', '.join(p.PART_ORDER)}")
        self.names = [n for n in p.PART_ORDER if n in wanted]
        self.run_dir = self.data / "run"
        self._carried: broker_storage.Carried = {}
        """Logs read from a retired broker storage, until written to the new broker."""
        self.log_dir = self.data / "logs"

    # ---- endpoints -------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.data / STACK_FILE).read_text())
            return data
        except (OSError, ValueError):
            return {}

    def postgres_mode(self, state: dict[str, Any] | None = None) -> tuple[str, str]:
        """('external'|'embedded', database DSN) as decided by the last ``up``."""
        state = (self._state() if state is None else state).get("postgres", {})
        if state.get("mode") == "external":
            # stack.json holds the DSN without its password; the whole DSN is a secret file.
            secret = sec.secrets_dir(self.data) / "postgres_dsn"
            if secret.is_file():
                return "external", secret.read_text().strip()
            return "external", str(state["dsn"])
        s = self.settings
        password = sec.read_secret(self.data, sec.POSTGRES_PASSWORD)
        user = f"postgres:{quote(password, safe='')}" if password else "postgres"
        database = self.postgres_database()
        return "embedded", f"postgresql://{user}@{s.host}:{s.ports.postgres}/{database}"

    def endpoints(self, state: dict[str, Any] | None = None) -> dict[str, str]:
        """Endpoint settings (field names of ``vidsight.settings.Endpoints``) for clients.

        No secret is among them: clients read the credentials from ``DATA_DIR/secrets``.
        """
        s = self.settings
        return {
            "data_dir": str(self.data),
            "kafka_bootstrap": f"{s.host}:{s.ports.kafka}",
            "registry_url": f"http://{s.host}:{s.ports.schema_registry}",
            "postgres_dsn": redact_url(self.postgres_mode(state)[1]),
            "mongo_uri": f"mongodb://{s.host}:{s.ports.mongo}/",
            "clickhouse_url": f"http://{s.host}:{s.ports.clickhouse}",
            "clickhouse_user": s.clickhouse_user,
            "clickhouse_etl_user": s.clickhouse_etl_user,
            "registry_user": s.registry_user,
            "s3_endpoint": f"http://{s.host}:{s.ports.s3}",
            "s3_bucket": s.s3_bucket,
            "s3_region": s.s3_region,
            "s3_access_key": s.s3_access_key.get_secret_value(),
        }

    def endpoints_env(self) -> dict[str, str]:
        """The endpoints as ``VIDSIGHT_*`` variables, for child processes such as Dagster.

        The PostgreSQL DSN is left out (it may hold a password): the child reads it, like every
        secret, from ``stack.json`` and ``DATA_DIR/secrets`` through its data dir.
        """
        env = {f"VIDSIGHT_{k.upper()}": v for k, v in self.endpoints().items()}
        env.pop("VIDSIGHT_POSTGRES_DSN")
        return env

    def _part(self, name: str) -> p.Part:
        s, d = self.settings, self.data
        if name == "s3":
            return p.s3_part(s, d)
        if name == "kafka":
            return p.kafka_part(s, d)
        if name == "schema-registry":
            return p.registry_part(s, d)
        if name == "mongo":
            return p.mongo_part(s, d)
        if name == "clickhouse":
            return p.clickhouse_part(s, d)
        if name == "console":
            return p.console_part(s, d)
        if name in (dp.WEBSERVER, dp.DAEMON):
            build = dp.webserver_part if name == dp.WEBSERVER else dp.daemon_part
            return build(s, d, self.endpoints_env(), dp.sqlalchemy_url(self.dagster_pg_url()))
        if name == "postgres":
            password = sec.read_secret(d, sec.POSTGRES_PASSWORD)
            return p.embedded_postgres_part(s, d, password, self.postgres_database())
        raise StackError(f"unknown part {name!r}")

    # ---- up ----------------------------------------------------------------------------------

    def up(self) -> list[ComponentStatus]:
        """Start every part not already running; idempotent. Returns the status of each."""
        self.data.mkdir(parents=True, exist_ok=True)
        self.settings = sec.ensure_secrets(self.settings, self.data)
        external_pg = self._decide_postgres() if "postgres" in self.names else None
        to_start = [n for n in self.names if not (n == "postgres" and external_pg)]
        parts = {n: self._part(n) for n in to_start}
        running = {n: PidFile(self.run_dir, n).running() for n in to_start}
        # Check every port before starting anything, so nothing is left half-started.
        for name, part in parts.items():
            if running[name] is None and not port_is_free(self.settings.host, part.port):
                raise PortInUseError(name, self.settings.host, part.port)
        if "kafka" in running and running["kafka"] is None:
            self._fresh_broker_storage(running)
        self._write_state(external_pg)
        started: list[str] = []
        try:
            for name in to_start:
                part = parts[name]
                for dep in p.DEPENDS_ON.get(name, ()):
                    if dep in parts:
                        self._wait_healthy(parts[dep])
                if running[name] is None:
                    self._prepare(part)
                    self._start(part)
                    started.append(name)
            for name in to_start:
                self._wait_healthy(parts[name])
            # Without the registry in this `up`, the carried logs still go back in.
            if "kafka" in parts:
                self._write_carried()
        except BaseException:
            for name in reversed(started):
                record = PidFile(self.run_dir, name).running()
                if record is not None:
                    stop(record)
                PidFile(self.run_dir, name).remove()
            raise
        return self.status()

    def _fresh_broker_storage(self, running: dict[str, PidRecord | None]) -> None:
        """Before the broker starts: move an earlier run's broker storage aside (see
        broker_storage). The S3 server and the schema registry still running are restarted
        with it: the one must not serve a stale view of the moved files, the other holds the
        state of a ``_schemas`` log that no longer exists."""
        bucket = self.data / "s3" / p.TANSU_BUCKET
        if not broker_storage.has_data(bucket):
            return
        for name in ("schema-registry", "s3"):
            record = running.get(name)
            if record is not None:
                self._stop_part(name, record)
                running[name] = None
        # Read before the move: a log that cannot be read stops here, with nothing moved.
        self._carried = broker_storage.carried_logs(bucket, p.SCHEMAS_TOPIC)
        broker_storage.retire(bucket, self.data)

    def _stop_part(self, name: str, record: PidRecord) -> None:
        if not stop(record):
            raise StackError(f"{name}: pid {record.pid} did not stop")
        PidFile(self.run_dir, name).remove()

    def postgres_database(self) -> str:
        """The stack's own database: one per data dir, so two stacks never share one."""
        s = self.settings
        if s.postgres_database:
            return s.postgres_database
        # What the last `up` decided, for commands that do not repeat its settings (status).
        decided = self._state().get("postgres", {}).get("database")
        if decided and not s.external_postgres_dsn.get_secret_value():
            return str(decided)
        if not s.external_postgres_dsn.get_secret_value():
            return "vidsight"  # the embedded server belongs to this data dir alone
        digest = hashlib.sha256(str(self.data).encode()).hexdigest()[:8]
        return f"vidsight_{digest}"

    def dagster_database(self) -> str:
        ext = self.settings.external_postgres_dsn.get_secret_value()
        external = bool(ext) or self.postgres_mode()[0] == "external"
        return dp.dagster_database(self.postgres_database(), external)

    def dagster_pg_url(self, database: str | None = None) -> str:
        """URL of the Dagster instance's database (or of ``database`` on the same server)."""
        ext = self.settings.external_postgres_dsn.get_secret_value()
        return pg.with_database(ext or self.postgres_mode()[1], database or self.dagster_database())

    def _decide_postgres(self) -> str | None:
        """The configured server's database DSN, or None to run embedded-postgres."""
        ext = self.settings.external_postgres_dsn.get_secret_value()
        if not ext:
            return None
        if not pg.reachable(ext):
            raise StackError(
                f"postgres: the configured server {redact_url(ext)} does not answer "
                "(external_postgres_dsn, env VIDSIGHT_STACK_EXTERNAL_POSTGRES_DSN); unset it to "
                "run the embedded PostgreSQL instead"
            )
        database = self.postgres_database()
        pg.ensure_database(ext, database)
        return pg.with_database(ext, database)

    def _write_state(self, external_pg: str | None) -> None:
        state = self._state()
        if external_pg:
            state["postgres"] = {
                "mode": "external",
                "dsn": redact_url(external_pg),
                "database": self.postgres_database(),
            }
        elif "postgres" in self.names:
            state["postgres"] = {"mode": "embedded", "database": self.postgres_database()}
        # Clients find the whole DSN (password included) in the secrets folder, stack.json
        # holds it without the password.
        dsn = external_pg or self.postgres_mode(state)[1]
        secret = sec.secrets_dir(self.data) / "postgres_dsn"
        if redact_url(dsn) != dsn:
            sec.write_secret(secret.parent, secret.name, dsn)
        else:
            secret.unlink(missing_ok=True)
        state["parts"] = self.names
        state["settings"] = {"host": self.settings.host, "ports": self.settings.ports.model_dump()}
        state["endpoints"] = self.endpoints(state)
        # 0600 although it holds no secret: it maps this user's stack for anyone who reads it.
        tmp = self.data / (STACK_FILE + ".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(state, indent=2))
        tmp.replace(self.data / STACK_FILE)

    def _write_carried(self) -> None:
        if self._carried:
            logs, self._carried = self._carried, {}
            conf = {"bootstrap.servers": f"{self.settings.host}:{self.settings.ports.kafka}"}
            broker_storage.write_carried(conf, logs, p.SCHEMAS_TOPIC)

    def _prepare(self, part: p.Part) -> None:
        if part.name == "schema-registry":
            # The broker is up (the registry depends on it) and empty: the carried logs go
            # back in before the registry reads its own.
            self._write_carried()
        if part.name == "postgres":
            password = sec.read_secret(self.data, sec.POSTGRES_PASSWORD)
            pg.init_embedded(self.data / "postgres", password or "")
        elif part.name == "s3":
            for bucket in (self.settings.s3_bucket, p.TANSU_BUCKET):
                (self.data / "s3" / bucket).mkdir(parents=True, exist_ok=True)
        elif part.data_dir is not None:
            part.data_dir.mkdir(parents=True, exist_ok=True)
        if part.name in (dp.WEBSERVER, dp.DAEMON) and part.data_dir is not None:
            # The stack owns the instance file; the instance's database is created like ours.
            dp.write_instance_file(part.data_dir)
            admin = self.settings.external_postgres_dsn.get_secret_value() or (
                self.dagster_pg_url("postgres")
            )
            try:
                pg.ensure_database(admin, self.dagster_database())
            except Exception as exc:
                raise StackError(
                    f"{part.name}: cannot create database {self.dagster_database()} on "
                    f"{redact_url(admin)} ({redact_text(str(exc))}); the Dagster parts need "
                    "the stack's PostgreSQL"
                ) from exc

    def _start(self, part: p.Part) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **part.env}
        log_path = self.log_dir / f"{part.name}.log"
        if part.user is not None:
            # The unprivileged postgres user must be able to write its log.
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.touch()
            import pwd

            entry = pwd.getpwnam(part.user)
            os.chown(log_path, entry.pw_uid, entry.pw_gid)
        record = spawn(
            part.launch_command(),
            log_path=log_path,
            env=env,
            cwd=self.data,
            port=part.port,
            user=part.user,
        )
        PidFile(self.run_dir, part.name).write(record)
        log.info("started part=%s pid=%s port=%s", part.name, record.pid, part.port)

    def _wait_healthy(self, part: p.Part) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            record = PidFile(self.run_dir, part.name).read()
            if record is not None and not record.alive():
                raise StackError(
                    f"{part.name}: process exited during start; last log lines "
                    f"({self.log_dir / (part.name + '.log')}):\n"
                    f"{tail(self.log_dir / (part.name + '.log'), 15)}"
                )
            try:
                part.probe()
                if part.name == "postgres":
                    admin = pg.with_database(part.url, "postgres")
                    pg.ensure_database(admin, self.postgres_database())
                return
            except Exception as exc:  # any probe failure means "not yet"
                last = exc
                time.sleep(0.25)
        raise StackError(
            f"{part.name}: not healthy after {self.settings.start_timeout_s:.0f}s at "
            f"{redact_url(part.url)} "
            f"({last}); log: {self.log_dir / (part.name + '.log')}"
        )

    # ---- down / status -------------------------------------------------------------------------

    def down(self) -> list[str]:
        """Stop the parts this stack started (never an external PostgreSQL). Returns their names."""
        stopped: list[str] = []
        # Reverse order: clients (registry, dagster) before the servers they use.
        for name in reversed(self.names):
            record = PidFile(self.run_dir, name).running()
            if record is None:
                continue
            self._stop_part(name, record)
            stopped.append(name)
        return stopped

    def status(self) -> list[ComponentStatus]:
        """Probe every part; never raises for an unhealthy part."""
        result: list[ComponentStatus] = []
        mode, dsn = self.postgres_mode()
        for name in self.names:
            if name == "postgres" and mode == "external":
                result.append(self._external_pg_status(dsn))
                continue
            part = self._part(name)
            record = PidFile(self.run_dir, name).running()
            healthy, error = self._probe(part) if record is not None else (False, "not running")
            result.append(
                ComponentStatus(
                    name=name,
                    url=redact_url(part.url),
                    healthy=healthy,
                    pid=record.pid if record else None,
                    managed=True,
                    rss_bytes=record.rss_bytes() if record else 0,
                    error=error,
                    extra=dict(part.extra),
                )
            )
        return result

    def _external_pg_status(self, dsn: str) -> ComponentStatus:
        ok = pg.reachable(dsn)
        return ComponentStatus(
            name="postgres",
            url=redact_url(dsn),
            healthy=ok,
            pid=None,
            managed=False,
            rss_bytes=0,
            error=None if ok else "external server not reachable",
            extra={"mode": "external", "database": self.postgres_database()},
        )

    @staticmethod
    def _probe(part: p.Part) -> tuple[bool, str | None]:
        try:
            part.probe()
            return True, None
        except Exception as exc:  # a failed probe is a status, not an error
            return False, redact_text(f"{type(exc).__name__}: {exc}")[:300]

    def log_path(self, name: str) -> Path:
        if name not in p.PART_ORDER:
            raise StackError(f"unknown part {name!r}; known: {', '.join(p.PART_ORDER)}")
        return self.log_dir / f"{name}.log"
