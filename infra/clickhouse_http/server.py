"""The HTTP server: one thread per connection, HTTP/1.1 keep-alive, clean shutdown.

Reading a request and writing its response happen on the connection's own thread, and chDB
runs queries of different handles in parallel, so requests are served concurrently end to end.
Shutdown stops accepting, closes idle keep-alive connections, waits for in-flight requests
(bounded by ``shutdown_grace_s``), then closes sessions and the engine, so every INSERT that
was answered is on disk when the process exits.

Before any of that, a request must name this server: its Host header one of the allowed host
names, and an Origin header, when a browser sends one, one of them too (with this port). So a
web page cannot reach the endpoint, neither by a cross-site POST nor by DNS rebinding. Bodies
larger than ``max_body_bytes`` are answered 413 at once, without reading them.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from infra.clickhouse_http.access import Lake
from infra.clickhouse_http.body import RawBody
from infra.clickhouse_http.engine import ChdbEngine
from infra.clickhouse_http.errors import ClickHouseHttpError, ErrorCode
from infra.clickhouse_http.executor import Executor, ExecutorConfig, Response
from infra.clickhouse_http.protocol import check_header_value, parse_request
from infra.clickhouse_http.sessions import SessionRegistry

log = logging.getLogger(__name__)

_STATIC_OK = {"/", "/ping", "/replicas_status"}  # ClickHouse's exact-URI "Ok." handlers
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Where the endpoint listens, where the data lives, and its limits."""

    path: Path
    host: str = "127.0.0.1"
    port: int = 8123  # 0 picks a free port (see ClickHouseHttpServer.port)
    display_name: str | None = None  # X-ClickHouse-Server-Display-Name; default: host name
    user: str = "vidsight"
    password: str | None = None  # required unless insecure_no_auth
    insecure_no_auth: bool = False  # accept any credentials (refused unless asked for)
    allowed_hosts: tuple[str, ...] = ()  # Host/Origin names besides host and loopback names
    allowed_table_functions: frozenset[str] = frozenset()  # see access.SOURCES
    etl_user: str | None = None  # may define tables over the lake (access.Lake), nothing more
    etl_password: str | None = None
    lake: Lake | None = None  # the Parquet lake the ETL user's tables read
    default_database: str | None = None  # where a query naming no database runs (made at start)
    keep_alive_timeout_s: float = 30.0
    listen_backlog: int = 4096  # ClickHouse's listen_backlog; the kernel caps it at somaxconn
    max_concurrent_queries: int = 100
    max_sessions: int = 256
    max_body_bytes: int = 1 << 30
    default_session_timeout_s: int = 60
    max_session_timeout_s: int = 3600
    shutdown_grace_s: float = 30.0

    def host_names(self) -> frozenset[str]:
        """Lower-case names the Host and Origin headers may carry (IPv6 in brackets)."""
        names = {*_LOOPBACK_NAMES, *self.allowed_hosts, self.host}
        return frozenset(
            f"[{n}]" if ":" in n and not n.startswith("[") else n.lower() for n in names
        )

    def check(self) -> None:
        """Refuse a configuration that would leave the endpoint open."""
        if not self.password and not self.insecure_no_auth:
            raise ValueError(
                "no ClickHouse password configured: give --password-file PATH or "
                "VIDSIGHT_CLICKHOUSE_PASSWORD (or --insecure-no-auth to accept anyone)"
            )
        if not self.user:
            raise ValueError("the user name must not be empty")
        if self.etl_user is not None:
            if self.etl_user == self.user:
                raise ValueError("the ETL user must not be the clients' user")
            if not self.etl_password or self.insecure_no_auth:
                raise ValueError(
                    "the ETL user needs a password (--etl-password-file) and authentication on"
                )
            if self.lake is None:
                raise ValueError("the ETL user needs the lake (--lake-url)")
        elif self.lake is not None:
            raise ValueError("--lake-url needs the ETL user (--etl-user)")
        check_header_value("display name", self.display_name or "")


class _HttpServer(ThreadingHTTPServer):
    """Tracks connections and in-flight requests so that shutdown can be graceful."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], executor: Executor, config: ServerConfig):
        # Connections the kernel queues before accept(); socketserver's default of 5 drops
        # (and the client retries ~1 s later) when a dozen clients connect at once.
        self.request_queue_size = listen_backlog(config.listen_backlog)
        self.executor = executor
        self.config = config
        self.host_names = config.host_names()
        self.sessions_expire: Callable[[], None] | None = None
        self.state = threading.Condition()
        self.busy: dict[socket.socket, bool] = {}  # connection -> a request is in flight
        self.closing = False
        self._last_expire = time.monotonic()
        super().__init__(address, _Handler)
        self.port = int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.state:
            self.busy[request] = False
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.state:
            self.busy.pop(request, None)
            self.state.notify_all()
        super().shutdown_request(request)

    def service_actions(self) -> None:
        # Runs between accept polls: expire idle sessions about once a second.
        now = time.monotonic()
        if self.sessions_expire is not None and now - self._last_expire > 1.0:
            self._last_expire = now
            self.sessions_expire()

    def drain(self, grace_s: float) -> bool:
        """Close idle connections and wait for in-flight requests; False on timeout."""
        deadline = time.monotonic() + grace_s
        with self.state:
            self.closing = True
            while True:
                for conn, busy in list(self.busy.items()):
                    if not busy:
                        with contextlib.suppress(OSError):
                            conn.shutdown(socket.SHUT_RDWR)
                if not any(self.busy.values()):
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.state.wait(min(left, 0.5))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the second waits for the
    # client's delayed ACK (40 ms per response on Linux).
    disable_nagle_algorithm = True
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        # Idle keep-alive connections (and stalled clients) are dropped after this long.
        self.connection.settimeout(self.server.config.keep_alive_timeout_s)

    def handle_expect_100(self) -> bool:
        # A client that waits for "100 Continue" hears 413 instead, and sends nothing.
        refusal = self._too_large()
        if refusal is not None:
            self.close_connection = True
            self._send(refusal)
            return False
        return super().handle_expect_100()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def version_string(self) -> str:
        return "vidsight-clickhouse-http"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http " + format, *args)

    def _dispatch(self) -> None:
        state = self.server.state
        with state:
            self.server.busy[self.connection] = True
        try:
            self._serve_one()
        finally:
            with state:
                if self.connection in self.server.busy:
                    self.server.busy[self.connection] = False
                if self.server.closing:
                    self.close_connection = True
                state.notify_all()

    def _refusal(self) -> Response | None:
        """403 for a request that does not name this server (Host, Origin), else None."""
        allowed = self.server.host_names
        host = self.headers.get("Host")
        if host is not None and not _names_us(host.strip().lower(), allowed, self.server.port):
            why = f"Host {host[:100]!r} is not a name of this server"
        else:
            origin = self.headers.get("Origin")
            if origin is None or _origin_ok(origin.strip().lower(), allowed, self.server.port):
                return None
            why = f"Origin {origin[:100]!r} may not send requests to this server"
        log.warning("request refused %s client=%s", why, self.client_address[0])
        return self.server.executor.error_response(
            ClickHouseHttpError.of(
                ErrorCode.ACCESS_DENIED,
                f"{why}: it answers to {', '.join(sorted(allowed))} on port "
                f"{self.server.port} (more names with --allowed-host)",
            )
        )

    def _too_large(self) -> Response | None:
        length = self.headers.get("Content-Length", "")
        limit = self.server.config.max_body_bytes
        if not (length.isdigit() and int(length) > limit):
            return None
        return self.server.executor.error_response(
            ClickHouseHttpError.of(
                ErrorCode.QUERY_IS_TOO_LARGE,
                f"Request body of {length} bytes is larger than this server accepts ({limit})",
            )
        )

    def _serve_one(self) -> None:
        method = self.command.upper()
        target = self.path
        refusal = self._refusal() or self._too_large()
        if refusal is not None:
            self.close_connection = True  # the body, if any, stays unread
            self._send(refusal)
            return
        if method in ("GET", "HEAD") and target in _STATIC_OK:
            self._send(Response(200, [("Content-Type", "text/html; charset=UTF-8")], b"Ok.\n"))
            return
        executor = self.server.executor
        headers = {k.lower(): v for k, v in self.headers.items()}
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        if method == "POST" and not chunked and length is None:
            self.close_connection = True  # cannot tell where a body would end
            self._send(
                executor.error_response(
                    ClickHouseHttpError.of(
                        ErrorCode.HTTP_LENGTH_REQUIRED,
                        "The Transfer-Encoding is not chunked and there is no Content-Length "
                        "header for POST request",
                    )
                )
            )
            return
        raw = RawBody(
            self.rfile,
            int(length) if length and length.isdigit() else 0,
            chunked,
            limit=self.server.config.max_body_bytes,
        )
        config = self.server.config
        _, _, query_string = target.partition("?")
        try:
            request = parse_request(
                method,
                query_string,
                headers,
                default_session_timeout=config.default_session_timeout_s,
                max_session_timeout=config.max_session_timeout_s,
            )
        except ClickHouseHttpError as exc:
            response = executor.error_response(exc)
        else:
            response = executor.execute(request, raw)
        try:
            self._finish_body(raw)
            self._send(response)
        finally:
            response.close()

    def _finish_body(self, raw: RawBody) -> None:
        """Read what the query did not, so the next request on the connection starts clean."""
        if raw.too_large:
            self.close_connection = True  # reading the rest would be reading what we refused
            return
        try:
            raw.drain()
        except (ClickHouseHttpError, OSError):
            self.close_connection = True

    def _send(self, response: Response) -> None:
        head_only = self.command.upper() == "HEAD"
        if any(_unsafe(name) or _unsafe(value) for name, value in response.headers):
            # parse_request refuses such values; this is the last line, not the check.
            log.error("response header with a control character refused")
            response.close()
            response = self.server.executor.error_response(
                ClickHouseHttpError.of(
                    ErrorCode.BAD_ARGUMENTS, "A response header would carry a control character"
                )
            )
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header(
                "Keep-Alive", f"timeout={int(self.server.config.keep_alive_timeout_s)}"
            )
            if response.encoder is not None:
                self.send_header("Content-Encoding", response.encoder[0])
            if response.chunks is None:
                self._send_whole(response, head_only)
            else:
                self._send_chunked(response, head_only)
        except (BrokenPipeError, ConnectionResetError, TimeoutError) as exc:
            log.debug("client went away while the response was sent error=%s", exc)
            self.close_connection = True

    def _send_whole(self, response: Response, head_only: bool) -> None:
        body: bytes | memoryview = response.body
        if response.encoder is not None:
            encoder = response.encoder[1]
            body = encoder.encode(body) + encoder.finish()
        size = body.nbytes if isinstance(body, memoryview) else len(body)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if not head_only and size:
            self.wfile.write(body)

    def _send_chunked(self, response: Response, head_only: bool) -> None:
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if head_only or response.chunks is None:
            return
        encoder = response.encoder[1] if response.encoder is not None else None
        try:
            for block in response.chunks:
                # Each block leaves now, decodable on its own: a slow query's rows arrive
                # as they are produced, and rows before a mid-stream error are not held back.
                self._write_chunk(encoder.encode(block) + encoder.flush() if encoder else block)
            if encoder is not None:
                self._write_chunk(encoder.finish())
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            raise
        except Exception:
            # Not a ClickHouse error (those are framed into the body): end the connection
            # without the final chunk, so the client sees a truncated response, not success.
            log.exception("response stream failed")
            self.close_connection = True
            return
        self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data: bytes) -> None:
        if data:  # an empty chunk would end the body
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


def listen_backlog(wanted: int, somaxconn: Path = Path("/proc/sys/net/core/somaxconn")) -> int:
    """The backlog to listen with: wanted, capped by the kernel's somaxconn where it has one."""
    try:
        cap = int(somaxconn.read_text().strip())
    except (OSError, ValueError):
        return wanted
    return max(1, min(wanted, cap))


def _unsafe(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _split_port(netloc: str) -> tuple[str, str]:
    """("name", "port") of "name[:port]"; IPv6 stays in brackets."""
    if netloc.startswith("["):
        end = netloc.find("]")
        return (netloc, "") if end < 0 else (netloc[: end + 1], netloc[end + 2 :])
    name, sep, port = netloc.rpartition(":")
    return (name, port) if sep else (netloc, "")


def _names_us(host: str, allowed: frozenset[str], port: int) -> bool:
    name, port_text = _split_port(host)
    return name in allowed and port_text in ("", str(port))


def _origin_ok(origin: str, allowed: frozenset[str], port: int) -> bool:
    """Only a page served from this very server (scheme, allowed name, this port) may send."""
    try:
        parts = urlsplit(origin)
        origin_port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return False
    name, _ = _split_port(parts.netloc)
    return parts.scheme in ("http", "https") and name in allowed and origin_port == port


class ClickHouseHttpServer:
    """The endpoint over one chDB directory, for programmatic use (tests, the stack).

    ``start()`` opens the engine and serves on a background thread; ``stop()`` shuts down
    cleanly. Also a context manager.
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._engine: ChdbEngine | None = None
        self._sessions: SessionRegistry | None = None
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    def start(self) -> None:
        """Open the engine, bind the socket, serve in the background."""
        self.config.check()
        engine = ChdbEngine(
            self.config.path,
            self.config.allowed_table_functions,
            self.config.default_database,
            self.config.lake,
        )
        sessions = SessionRegistry(engine.open, max_sessions=self.config.max_sessions)
        executor = Executor(
            engine,
            sessions,
            ExecutorConfig(
                display_name=self.config.display_name or socket.gethostname(),
                user=self.config.user,
                password=None if self.config.insecure_no_auth else self.config.password,
                etl_user=self.config.etl_user,
                etl_password=self.config.etl_password,
                max_concurrent_queries=self.config.max_concurrent_queries,
            ),
        )
        try:
            httpd = _HttpServer((self.config.host, self.config.port), executor, self.config)
        except OSError:
            engine.close()
            raise
        httpd.sessions_expire = sessions.expire
        self._engine, self._sessions, self._httpd = engine, sessions, httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="clickhouse-http"
        )
        self._thread.start()
        log.info(
            "clickhouse http listening host=%s port=%d path=%s version=%s",
            self.config.host,
            self.port,
            self.config.path,
            engine.version,
        )

    def stop(self) -> None:
        """Stop accepting, finish in-flight requests, close sessions and the engine."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        if self._thread is not None:
            self._thread.join()
        if not httpd.drain(self.config.shutdown_grace_s):
            log.warning("requests still running after grace_s=%.0f", self.config.shutdown_grace_s)
        httpd.server_close()
        if self._sessions is not None:
            self._sessions.close_all()
        if self._engine is not None:
            self._engine.close()
        log.info("clickhouse http stopped path=%s", self.config.path)

    def __enter__(self) -> ClickHouseHttpServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    host: str,
    port: int,
    path: str | Path,
    ready_event: threading.Event | None = None,
    stop_event: threading.Event | None = None,
    *,
    password: str,
    user: str = "vidsight",
) -> None:
    """Serve until stop_event is set (forever without one), then shut down cleanly."""
    stop = stop_event or threading.Event()
    config = ServerConfig(path=Path(path), host=host, port=port, user=user, password=password)
    with ClickHouseHttpServer(config):
        if ready_event is not None:
            ready_event.set()
        stop.wait()
