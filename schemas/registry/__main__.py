"""Run the schema registry: ``python -m schemas.registry --host 127.0.0.1 --port 8081
--bootstrap 127.0.0.1:9092 --topic _schemas``.

Options not given on the command line come from ``VIDSIGHT_*`` variables (e.g.
``VIDSIGHT_REGISTRY_PORT``, ``VIDSIGHT_KAFKA_BOOTSTRAP``) or the ``VIDSIGHT_CONFIG`` file.
Basic auth is on when ``registry_user`` is set; user and password are read from
``<data dir>/secrets/registry_user`` and ``registry_password`` (data dir from ``--data-dir`` or
``VIDSIGHT_DATA_DIR``) or ``VIDSIGHT_REGISTRY_USER``/``VIDSIGHT_REGISTRY_PASSWORD``. There is
no password option: a command line is visible to every user of the machine.
SIGTERM or SIGINT stop it cleanly: in-flight requests finish, the producer is flushed.
Exit codes: 0 stopped, 2 bad settings, 3 could not start (broker unreachable, bad topic).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

import uvicorn

from schemas.registry.app import create_app
from schemas.registry.settings import RegistrySettings
from vidsight.errors import ConfigError
from vidsight.settings import load

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m schemas.registry",
        description="Confluent-compatible schema registry backed by a Kafka topic.",
    )
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8081)")
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers host:port[,host:port]")
    parser.add_argument("--topic", help="topic holding the registry's records (default _schemas)")
    parser.add_argument(
        "--default-compatibility", help="level until PUT /config sets one (default BACKWARD)"
    )
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument(
        "--data-dir", type=Path, help="local stack data dir, whose secrets/ holds the credentials"
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        settings = load(
            RegistrySettings,
            config_file=args.config,
            data_dir=args.data_dir,
            registry_host=args.host,
            registry_port=args.port,
            kafka_bootstrap=args.bootstrap,
            registry_topic=args.topic,
            registry_default_compatibility=args.default_compatibility,
        )
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    config = uvicorn.Config(
        create_app(settings),
        host=settings.registry_host,
        port=settings.registry_port,
        lifespan="on",
        log_config=None,  # keep the logging configured above
        access_log=args.access_log,
        server_header=False,
    )
    server = uvicorn.Server(config)
    log.info(
        "starting registry host=%s port=%d bootstrap=%s topic=%s auth=%s max_body_bytes=%d",
        settings.registry_host,
        settings.registry_port,
        settings.kafka_bootstrap,
        settings.registry_topic,
        "basic" if settings.registry_user else "off",
        settings.registry_max_body_bytes,
    )
    # uvicorn handles SIGTERM/SIGINT itself (in-flight requests finish, the lifespan closes the
    # log), then re-raises the signal with the handler that was there before it started. This
    # one turns that into a normal return, so a requested stop exits 0 instead of dying by
    # the signal; it also covers a signal that arrives before uvicorn took over.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop)
    with contextlib.suppress(StopRequestedError):
        server.run()
    if not server.started:
        return 3
    log.info("registry stopped")
    return 0


class StopRequestedError(Exception):
    """A stop signal arrived; raised from the signal handler to unwind ``server.run()``."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise StopRequestedError(signum)


if __name__ == "__main__":
    sys.exit(main())
