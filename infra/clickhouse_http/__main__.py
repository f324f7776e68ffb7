"""``python -m infra.clickhouse_http``: serve a chDB directory over the ClickHouse HTTP interface.

Runs until SIGTERM or SIGINT, then shuts down cleanly (in-flight requests finish, the engine
is closed), so a restart on the same path finds every row that was inserted.

The password comes from ``--password-file`` or ``VIDSIGHT_CLICKHOUSE_PASSWORD``, never from the
command line (which every local user can read in the process list); so do the ETL user's
(``--etl-password-file``) and the lake's S3 secret key (``--lake-secret-key-file``; its key id
from ``VIDSIGHT_LAKE_ACCESS_KEY_ID``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from infra.clickhouse_http.access import Lake, check_allowed
from infra.clickhouse_http.errors import EngineStartError
from infra.clickhouse_http.server import ClickHouseHttpServer, ServerConfig

log = logging.getLogger("infra.clickhouse_http")

PASSWORD_ENV = "VIDSIGHT_CLICKHOUSE_PASSWORD"
LAKE_KEY_ID_ENV = "VIDSIGHT_LAKE_ACCESS_KEY_ID"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m infra.clickhouse_http",
        description=__doc__.splitlines()[0],
        allow_abbrev=False,  # "--password VALUE" must not pass for --password-file
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8123, help="port to listen on (0: any)")
    parser.add_argument("--path", type=Path, required=True, help="chDB data directory")
    parser.add_argument("--display-name", help="X-ClickHouse-Server-Display-Name (host name)")
    parser.add_argument("--user", default="vidsight", help="the user clients must name")
    parser.add_argument(
        "--password-file",
        type=Path,
        help=f"file holding the password clients must give (else ${PASSWORD_ENV})",
    )
    parser.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="accept any credentials (refused without this flag when no password is set)",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a Host/Origin name to answer besides --host, localhost, 127.0.0.1, [::1]",
    )
    parser.add_argument(
        "--allow-table-function",
        action="append",
        default=[],
        metavar="NAME",
        help="let queries use this host- or network-reaching table function (file, url, s3, "
        "postgresql, ...); default: none",
    )
    parser.add_argument(
        "--etl-user",
        metavar="NAME",
        help="a second user, for the ETL: the clients' rights plus defining read-only tables "
        "over the lake (needs --etl-password-file and --lake-url)",
    )
    parser.add_argument("--etl-password-file", type=Path, help="file holding its password")
    parser.add_argument(
        "--lake-url",
        metavar="URL",
        help="the Parquet lake, path-style: http://HOST:PORT/<bucket>/<prefix>/",
    )
    parser.add_argument(
        "--lake-secret-key-file",
        type=Path,
        help=f"file holding the lake's S3 secret key (key id: ${LAKE_KEY_ID_ENV})",
    )
    parser.add_argument(
        "--default-database",
        metavar="NAME",
        help="database of queries that name none (created at start; default: chDB's `default`)",
    )
    parser.add_argument("--keep-alive-timeout", type=float, default=30.0, help="idle seconds")
    parser.add_argument(
        "--listen-backlog",
        type=int,
        default=4096,
        help="connections queued before accept (capped by net.core.somaxconn)",
    )
    parser.add_argument("--max-concurrent-queries", type=int, default=100)
    parser.add_argument("--max-sessions", type=int, default=256, help="live sessions at most")
    parser.add_argument(
        "--max-body-bytes", type=int, default=1 << 30, help="larger request bodies get 413"
    )
    parser.add_argument("--shutdown-grace", type=float, default=30.0, help="seconds to wait")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    return parser


def _password(path: Path | None) -> str | None:
    if path is not None:
        return path.read_text().rstrip("\r\n") or None
    return os.environ.get(PASSWORD_ENV) or None


def _lake(url: str | None, secret_file: Path | None) -> Lake | None:
    if url is None:
        return None
    if secret_file is None or not os.environ.get(LAKE_KEY_ID_ENV):
        raise ValueError(f"--lake-url needs --lake-secret-key-file and ${LAKE_KEY_ID_ENV}")
    secret = secret_file.read_text().rstrip("\r\n")
    return Lake(url=url, access_key_id=os.environ[LAKE_KEY_ID_ENV], secret_access_key=secret)


def main(argv: list[str] | None = None) -> int:
    """Run the server until a signal; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        config = ServerConfig(
            path=args.path,
            host=args.host,
            port=args.port,
            display_name=args.display_name,
            default_database=args.default_database,
            user=args.user,
            password=_password(args.password_file),
            insecure_no_auth=args.insecure_no_auth,
            allowed_hosts=tuple(args.allowed_host),
            allowed_table_functions=check_allowed(args.allow_table_function),
            etl_user=args.etl_user,
            etl_password=(
                args.etl_password_file.read_text().rstrip("\r\n") or None
                if args.etl_password_file
                else None
            ),
            lake=_lake(args.lake_url, args.lake_secret_key_file),
            keep_alive_timeout_s=args.keep_alive_timeout,
            listen_backlog=args.listen_backlog,
            max_concurrent_queries=args.max_concurrent_queries,
            max_sessions=args.max_sessions,
            max_body_bytes=args.max_body_bytes,
            shutdown_grace_s=args.shutdown_grace,
        )
        config.check()
    except (OSError, ValueError) as exc:
        log.error("cannot start error=%s", exc)
        return 2
    if config.insecure_no_auth:
        log.warning("authentication is off (--insecure-no-auth): anyone who can connect may query")
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal received signal=%s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        with ClickHouseHttpServer(config):
            # Event.wait() without a timeout blocks signal delivery on some platforms; a
            # short poll keeps the handlers responsive.
            while not stop.wait(0.5):
                pass
    except EngineStartError as exc:
        log.error("cannot start error=%s", exc)
        return 2
    except OSError as exc:
        log.error("cannot listen host=%s port=%d error=%s", args.host, args.port, exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
