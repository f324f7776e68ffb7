"""Camera credentials: inline secrets refused, references resolved on the edge only, and the
password absent from records, command output, errors and logs."""

from __future__ import annotations

import base64
import http.server
import io
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import fastavro
import numpy as np
import pytest
from click.testing import CliRunner

from producers.cli import cameras
from producers.config import from_record, load_cameras_text, to_record
from producers.credentials import Login, resolve_login
from producers.errors import CameraFileError, SourceError
from producers.imaging import encode_jpeg
from producers.sources.backoff import BackoffPolicy
from producers.sources.base import SourceContext
from producers.sources.factory import open_source, parse_source
from schemas.catalog import schema_dict
from schemas.records import CameraConfig, CameraCredentials
from schemas.records.credentials import inline_secrets
from vidsight.redact import redact_url

PASSWORD = "hunter2-Zq9"
ENV = "GATE_1_PASSWORD"

WITH_ENV = f"""\
cameras:
  - id: gate-1
    source: rtsp://10.0.0.5/stream1
    credentials: {{username: admin, password_env: {ENV}}}
"""


def avro_bytes(record: CameraConfig) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(
        out, fastavro.parse_schema(dict(schema_dict("CameraConfig"))), record.to_avro()
    )
    return out.getvalue()


@pytest.mark.parametrize(
    ("source", "what"),
    [
        (f"rtsp://admin:{PASSWORD}@10.0.0.5/stream1", "before '@'"),
        (f"rtsp://admin:{PASSWORD}@host@10.0.0.5/stream1", "before '@'"),
        (f"rtsp://admin:{PASSWORD}/x@10.0.0.5/stream1", "before '@'"),
        ("rtsp://admin@10.0.0.5/stream1", "before '@'"),
        (f"rtsp://admin:{PASSWORD}/stream1", "where the port goes"),
        (f"http://10.0.0.5/snap.jpg?usr=admin&pwd={PASSWORD}", "query parameter 'pwd'"),
        (f"https://10.0.0.5/snap.jpg?token={PASSWORD}", "query parameter 'token'"),
        (f"http://10.0.0.5/snap.jpg?Password={PASSWORD}", "query parameter 'Password'"),
    ],
)
def test_inline_credentials_are_refused_naming_camera_file_line(source: str, what: str) -> None:
    text = f"cameras:\n  - id: gate-1\n    name: Main gate\n    source: {source}\n"
    with pytest.raises(CameraFileError) as err:
        load_cameras_text(text, "site.yaml")
    message = str(err.value)
    assert "site.yaml" in message and "line 4: cameras.[0].source" in message
    assert "camera 'gate-1'" in message and what in message
    assert "credentials: {username: admin, password_env: GATE_1_PASSWORD}" in message
    assert PASSWORD not in message


def test_plain_sources_and_ports_are_not_taken_for_secrets() -> None:
    for url in (
        "rtsp://10.0.0.5:554/Streaming/Channels/101",
        "rtsp://[::1]/stream",
        "rtsp://[fe80::1]:8554/stream",
        "http://cam/snap.jpg?channel=1&resolution=640x360",
        "file:///videos/gate.mp4?loop=true",
        "synthetic:crossing?seed=3",
    ):
        assert inline_secrets(url) == [], url
        assert redact_url(url) == url


def test_a_password_in_the_credentials_block_is_refused() -> None:
    text = (
        f"cameras:\n  - id: g\n    source: rtsp://h/s\n    credentials: {{password: {PASSWORD}}}\n"
    )
    with pytest.raises(CameraFileError, match=r"password_env .* or password_file") as err:
        load_cameras_text(text, "site.yaml")
    assert PASSWORD not in str(err.value)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("{username: admin}", "exactly one of password_env or password_file"),
        ("{password_env: A, password_file: /x}", "exactly one of password_env or password_file"),
        ("{password_env: '1-X'}", "not an environment variable name"),
        ("{password_file: secrets/gate}", "absolute path"),
        ("{username: 'a:b', password_env: X}", "without ':'"),
    ],
)
def test_bad_references_are_refused(block: str, expected: str) -> None:
    text = f"cameras:\n  - id: g\n    source: rtsp://h/s\n    credentials: {block}\n"
    with pytest.raises(CameraFileError, match=expected):
        load_cameras_text(text, "site.yaml")


def test_credentials_on_a_file_source_are_refused() -> None:
    text = "cameras:\n  - id: g\n    source: file:///v.mp4\n    credentials: {password_env: X}\n"
    with pytest.raises(CameraFileError, match="credentials need an rtsp"):
        load_cameras_text(text)


def test_the_reference_travels_and_round_trips_the_password_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV, PASSWORD)
    (camera,) = load_cameras_text(WITH_ENV)
    assert camera.credentials == CameraCredentials(username="admin", password_env=ENV)
    record = to_record(camera, updated_ts=1)
    data = avro_bytes(record)
    assert ENV.encode() in data and b"admin" in data
    assert PASSWORD.encode() not in data
    assert CameraConfig.from_avro(record.to_avro()) == record
    assert from_record(record) == camera


def test_a_record_with_an_inline_password_from_an_older_tool_is_redacted_on_decode() -> None:
    (camera,) = load_cameras_text(WITH_ENV)
    datum = to_record(camera, updated_ts=1).to_avro()
    datum["source"] = f"rtsp://admin:{PASSWORD}@10.0.0.5/stream1?pwd={PASSWORD}"
    del datum["credentials"]  # written with the schema before credential references
    record = CameraConfig.from_avro(datum)
    assert record.source == "rtsp://admin:***@10.0.0.5/stream1?pwd=***"
    assert PASSWORD not in repr(record) and PASSWORD.encode() not in avro_bytes(record)


def test_resolved_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = CameraCredentials(username="admin", password_env=ENV)
    monkeypatch.setenv(ENV, PASSWORD)
    login = resolve_login("gate-1", ref)
    assert login == Login("admin", PASSWORD)
    assert PASSWORD not in repr(login)
    monkeypatch.delenv(ENV)
    with pytest.raises(SourceError, match=f"camera gate-1: the environment variable {ENV}"):
        resolve_login("gate-1", ref)
    assert resolve_login("gate-1", None) is None


def test_resolved_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "gate-1"
    secret.write_text(PASSWORD + "\n")
    ref = CameraCredentials(username="admin", password_file=str(secret))
    assert resolve_login("gate-1", ref) == Login("admin", PASSWORD)
    missing = CameraCredentials(password_file=str(tmp_path / "absent"))
    with pytest.raises(SourceError, match=r"cannot read its credentials\.password_file"):
        resolve_login("gate-1", missing)
    secret.write_bytes(b"x" * 5000)
    with pytest.raises(SourceError, match="over 4096 bytes"):
        resolve_login("gate-1", ref)


def test_cameras_apply_shows_the_reference_never_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, PASSWORD)
    path = tmp_path / "cams.yaml"
    path.write_text(WITH_ENV)
    result = CliRunner().invoke(cameras, ["apply", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert (
        "admin (env GATE_1_PASSWORD)" in result.output
        and "rtsp://10.0.0.5/stream1" in result.output
    )
    assert PASSWORD not in result.output
    path.write_text(f"cameras:\n  - id: gate-1\n    source: rtsp://admin:{PASSWORD}@10.0.0.5/s\n")
    result = CliRunner().invoke(cameras, ["apply", str(path), "--dry-run"])
    assert result.exit_code != 0
    assert PASSWORD not in result.output and PASSWORD not in str(result.exception)


class _BasicAuthSnapshots(http.server.BaseHTTPRequestHandler):
    jpeg = encode_jpeg(np.full((24, 32, 3), 90, dtype=np.uint8))
    expected = "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != self.expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="cam"')
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(self.jpeg)))
        self.end_headers()
        self.wfile.write(self.jpeg)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def camera_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BasicAuthSnapshots)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/snap.jpg"
    server.shutdown()
    server.server_close()


def test_http_snapshot_login_resolved_on_the_edge(
    camera_server: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(ENV, PASSWORD)
    login = resolve_login("gate-1", CameraCredentials(username="admin", password_env=ENV))
    stop = threading.Event()
    ctx = SourceContext(camera_id="gate-1", fps=20, stop=stop)
    source = open_source(parse_source(camera_server), ctx, login)
    for frame in source.frames():
        assert frame.bgr().shape == (24, 32, 3)
        stop.set()
    # Without the login the camera answers 401; the error names the camera URL, nothing else.
    ctx = SourceContext(
        camera_id="gate-1", fps=20, backoff=BackoffPolicy(initial_s=0.01, max_attempts=1)
    )
    with pytest.raises(SourceError, match="HTTP 401"):
        list(open_source(parse_source(camera_server), ctx).frames())
    assert PASSWORD not in caplog.text


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_rtsp_login_never_shows_in_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    password = "p@ss/w:rd?" + PASSWORD  # characters that must be percent-encoded in userinfo
    reconnects: list[str] = []
    ctx = SourceContext(
        camera_id="gate-1",
        fps=5,
        open_timeout_s=2,
        read_timeout_s=2,
        backoff=BackoffPolicy(initial_s=0.01, max_s=0.01, max_attempts=2),
        on_reconnect=reconnects.append,
    )
    url = f"rtsp://127.0.0.1:{dead_port()}/stream1"
    source = open_source(parse_source(url), ctx, Login("admin", password))
    with pytest.raises(SourceError) as err:
        list(source.frames())
    texts = [str(err.value), caplog.text, *reconnects]
    assert url in str(err.value)
    for text in texts:
        assert PASSWORD not in text and "p%40ss" not in text


def test_a_camera_record_with_an_inline_password_cannot_be_encoded() -> None:
    """No vidsight tool can put a password on the cameras topic, whatever path it takes."""
    import dataclasses

    from schemas.errors import SchemaError
    from schemas.records import CameraConfig, DetectorKind, DetectorSpec

    record = CameraConfig(
        camera_id="gate-1",
        name="Gate",
        source="rtsp://10.0.0.5/stream1",
        fps=5.0,
        detector=DetectorSpec(kind=DetectorKind.MOTION),
        updated_ts=1,
    )
    assert record.to_avro()["source"] == "rtsp://10.0.0.5/stream1"
    leaky = dataclasses.replace(record, source="rtsp://admin:hunter2@10.0.0.5/stream1")
    with pytest.raises(SchemaError) as info:
        leaky.to_avro()
    assert "hunter2" not in str(info.value) and "gate-1" in str(info.value)
