"""Attacks on the registry process as it runs in the stack, each refused; and the project's
clients still working against it with basic auth on.

The registry reads its credentials the way the stack starts it: from
``<VIDSIGHT_DATA_DIR>/secrets/registry_user`` and ``registry_password``, nothing on its command
line. The attacks go over real TCP so the body cap is measured where it matters: the memory of
the server process (psutil) while a client streams 300 MB at it.
"""

from __future__ import annotations

import base64
import json
import select
import signal
import socket
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from click.testing import CliRunner
from confluent_kafka.schema_registry import Schema
from pydantic import SecretStr
from test_registry import READING_V1, Registry, broker  # noqa: F401 (broker: fixture)

from schemas import catalog
from schemas.cli import schemas_group
from schemas.errors import RegistryAuthError
from schemas.registry_access import RegistryResolver, registry_client
from vidsight.settings import Endpoints

pytestmark = pytest.mark.integration

USER = "vidsight-registry"
PASSWORD = uuid.uuid4().hex
MEDIA = "application/vnd.schemaregistry.v1+json"
MB = 1024 * 1024


def write_secrets(data_dir: Path, user: str, password: str) -> None:
    folder = data_dir / "secrets"
    folder.mkdir(mode=0o700, exist_ok=True)
    for name, value in (("registry_user", user), ("registry_password", password)):
        (folder / name).write_text(value)
        (folder / name).chmod(0o600)


@pytest.fixture(scope="module")
def registry(broker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:  # noqa: F811
    data_dir = tmp_path_factory.mktemp("secured")
    write_secrets(data_dir, USER, PASSWORD)
    handle = Registry(broker, data_dir, topic="_schemas_secured")
    # What `vidsight up` writes: the CLI finds this registry through it.
    (data_dir / "stack.json").write_text(
        json.dumps({"endpoints": {"registry_url": handle.url, "kafka_bootstrap": broker}})
    )
    handle.start()
    try:
        yield handle
    finally:
        if handle.proc is not None:
            handle.stop(signal.SIGKILL)


@pytest.fixture
def subject() -> str:
    return f"sec-{uuid.uuid4().hex[:8]}-value"


def endpoints(registry: Registry, password: str = PASSWORD) -> Endpoints:
    return Endpoints(
        registry_url=registry.url, registry_user=USER, registry_password=SecretStr(password)
    )


def client(registry: Registry, auth: tuple[str, str] | None = (USER, PASSWORD)) -> httpx.Client:
    return httpx.Client(
        base_url=registry.url, headers={"Content-Type": MEDIA}, auth=auth, timeout=30
    )


def auth_header() -> str:
    return "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def rss(registry: Registry) -> int:
    assert registry.proc is not None
    return int(psutil.Process(registry.proc.pid).memory_info().rss)


# -------------------------------------------------------------------------------- credentials


def test_the_password_is_not_on_the_command_line(registry: Registry) -> None:
    assert registry.proc is not None
    cmdline = " ".join(psutil.Process(registry.proc.pid).cmdline())
    assert PASSWORD not in cmdline
    assert PASSWORD not in registry.log.read_text()


def test_unauthenticated_and_wrong_password_changes_are_refused(
    registry: Registry, subject: str
) -> None:
    with client(registry) as admin:
        assert (
            admin.post(
                f"/subjects/{subject}/versions", json={"schema": json.dumps(READING_V1)}
            ).status_code
            == 200
        )
        assert admin.delete(f"/subjects/{subject}").status_code == 200  # soft-deleted
    for auth in (None, (USER, "wrong"), ("admin", PASSWORD)):
        with client(registry, auth) as attacker:
            attempts = [
                attacker.put(f"/config/{subject}", json={"compatibility": "NONE"}),
                attacker.put("/config", json={"compatibility": "NONE"}),
                attacker.delete(f"/subjects/{subject}?permanent=true"),
                attacker.get("/subjects?deleted=true"),
            ]
        for response in attempts:
            assert response.status_code == 401, response.text
            assert response.json()["error_code"] == 40101
            assert response.headers["www-authenticate"].startswith("Basic realm=")
    with client(registry) as admin:
        assert admin.get("/config").json() == {"compatibilityLevel": "BACKWARD"}
        assert admin.get(f"/config/{subject}").json()["error_code"] == 40408
        assert subject in admin.get("/subjects?deleted=true").json()  # not permanently deleted


def test_confluent_client_and_serde_resolver_work_with_auth(
    registry: Registry, subject: str
) -> None:
    settings = endpoints(registry)
    confluent = registry_client(settings)
    schema_id = confluent.register_schema(subject, Schema(json.dumps(READING_V1), "AVRO"))
    assert confluent.get_latest_version(subject).schema_id == schema_id
    with RegistryResolver(settings, auto_register=False) as resolver:
        assert resolver.id_for(subject, json.dumps(READING_V1)) == schema_id
        assert json.loads(resolver.schema_by_id(schema_id))["name"] == "Reading"
    # Without the credentials the serde fails with a configuration error, not an outage to
    # wait out forever.
    for anonymous in (RegistryResolver(registry.url), RegistryResolver(endpoints(registry, "x"))):
        with anonymous, pytest.raises(RegistryAuthError, match="registry_password"):
            anonymous.schema_by_id(schema_id)


def test_cli_uses_the_data_dir_s_registry_and_credentials(registry: Registry) -> None:
    runner = CliRunner()
    env = {"VIDSIGHT_REGISTRY_URL": None, "VIDSIGHT_DATA_DIR": None}
    args = ["--data-dir", str(registry.workdir)]
    registered = runner.invoke(schemas_group, ["register", *args], env=env)
    assert registered.exit_code == 0, registered.output
    checked = runner.invoke(schemas_group, ["check", *args], env=env)
    assert checked.exit_code == 0, checked.output
    assert "unchanged" in checked.output
    with client(registry) as admin:
        assert set(admin.get("/subjects").json()) >= {s for s, _ in catalog.subjects()}
    # The same stack without its secrets: refused, and the message says what to fix.
    wrong = registry.workdir / "wrong-secrets"
    wrong.mkdir(exist_ok=True)
    (wrong / "stack.json").write_text((registry.workdir / "stack.json").read_text())
    write_secrets(wrong, USER, "not-the-password")
    refused = runner.invoke(schemas_group, ["check", "--data-dir", str(wrong)], env=env)
    assert refused.exit_code == 1
    assert "HTTP 401" in refused.output and "registry_password" in refused.output


# ------------------------------------------------------------------------- requests themselves


def raw_request(port: int, head: str, body: Iterable[bytes] = ()) -> tuple[bytes, int]:
    """Send a request over a plain socket, streaming ``body`` until the server answers or cuts
    the connection; (what the server answered, body bytes sent)."""
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        try:
            for chunk in body:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break  # the server answered before the body ended
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            sock.settimeout(10)
            while chunk := sock.recv(65536):
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return answer, sent


def request_head(registry: Registry, extra: str) -> str:
    return (
        f"POST /subjects/big-value/versions HTTP/1.1\r\nHost: 127.0.0.1:{registry.port}\r\n"
        f"Authorization: {auth_header()}\r\nContent-Type: {MEDIA}\r\n{extra}\r\n"
    )


def test_a_300_mb_body_is_cut_off_without_the_memory_growing(registry: Registry) -> None:
    total = 300 * MB
    chunk = b"x" * MB
    before = rss(registry)

    # Declared: refused on the header, before a byte of the body is read.
    answer, _ = raw_request(registry.port, request_head(registry, f"Content-Length: {total}\r\n"))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"error_code":413' in answer

    # Streamed in chunks with no length: counted as it arrives and cut off at the cap.
    head = request_head(registry, "Transfer-Encoding: chunked\r\n")
    framed = (b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(total // MB))
    answer, sent = raw_request(registry.port, head, framed)
    assert sent < 64 * MB, f"the server kept reading: {sent // MB} MB sent"
    if answer:  # the answer may be lost when the server resets the connection first
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    grown = rss(registry) - before
    assert grown < 48 * MB, f"registry RSS grew by {grown // MB} MB"
    with client(registry) as admin:
        assert admin.get("/subjects/big-value/versions").status_code == 404


def test_deep_nesting_is_a_422_not_a_crash(registry: Registry, subject: str) -> None:
    deep_schema = '{"type": "array", "items": ' * 3_000 + '"string"' + "}" * 3_000
    with client(registry) as admin:
        deep_body = admin.post(f"/subjects/{subject}/versions", content="[" * 10_000 + "]" * 10_000)
        assert (deep_body.status_code, deep_body.json()["error_code"]) == (422, 42201)
        assert "limit is 100" in deep_body.json()["message"]
        deep = admin.post(f"/subjects/{subject}/versions", json={"schema": deep_schema})
        assert (deep.status_code, deep.json()["error_code"]) == (422, 42201)
        assert "Invalid schema" in deep.json()["message"]
        assert admin.get("/subjects").status_code == 200  # still serving
    assert "RecursionError" not in registry.log.read_text()


def test_no_content_type_foreign_host_and_origin_are_refused(
    registry: Registry, subject: str
) -> None:
    body = json.dumps({"compatibility": "NONE"})
    with httpx.Client(base_url=registry.url, auth=(USER, PASSWORD), timeout=10) as raw:
        # A browser's form or text/plain POST needs no CORS preflight: both refused.
        for headers in ({}, {"Content-Type": "text/plain"}):
            response = raw.put(f"/config/{subject}", content=body, headers=headers)
            assert (response.status_code, response.json()["error_code"]) == (415, 415)
        rebinding = raw.put(
            f"/config/{subject}",
            content=body,
            headers={"Content-Type": MEDIA, "Host": f"rebind.attacker.example:{registry.port}"},
        )
        assert rebinding.status_code == 400
        assert "registry_allowed_hosts" in rebinding.json()["message"]
        cross_site = raw.put(
            f"/config/{subject}",
            content=body,
            headers={"Content-Type": MEDIA, "Origin": "https://attacker.example"},
        )
        assert (cross_site.status_code, cross_site.json()["error_code"]) == (403, 40301)
        assert raw.get(f"/config/{subject}").json()["error_code"] == 40408  # nothing set


def test_health_needs_no_credentials_and_tells_nothing(registry: Registry) -> None:
    response = httpx.get(f"{registry.url}/_health", timeout=5)
    assert response.json() == {"status": "UP"}
