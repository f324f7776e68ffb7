"""The production deployment files are not insecure by default.

No container engine runs here, so these parse the files and check the invariants an attacker
would look for: a secret committed, a plaintext or unauthenticated Kafka listener, a store
without auth, a root container, secrets in the image's build context.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from infra.stack.settings import StackEndpoints
from stream_processors.readmodels.kafka_auth import parse_security
from vidsight.settings import load

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "infra" / "deploy"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|DSN|MONGO_URI|KAFKA_CONFIG", re.I)
CREDENTIALS_IN_URL = re.compile(r"://[^/\s:@]+:[^@\s/]+@")
ROOT_USERS = {"root", "0", "0:0"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


@pytest.fixture(scope="module")
def template() -> dict[str, str]:
    lines = (DEPLOY / "vidsight.prod.env.example").read_text().splitlines()
    pairs = [ln.split("=", 1) for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    return {k.strip(): v.strip() for k, v in pairs}


def _entrypoint() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vidsight_entrypoint", DEPLOY / "entrypoint.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    return {str(k): str(v) for k, v in env.items()}


def _secret_targets(service: dict[str, Any]) -> set[str]:
    out = set()
    for s in service.get("secrets", []):
        out.add(s if isinstance(s, str) else s.get("target", s["source"]))
    return {t if t.startswith("/") else f"/run/secrets/{t}" for t in out}


# -- no secret committed -----------------------------------------------------------------------


def test_the_committed_env_file_is_a_template_only() -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "infra/deploy"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert [p for p in tracked if p.endswith(".env")] == []
    assert "infra/deploy/vidsight.prod.env.example" in tracked
    assert not [p for p in tracked if "/secrets/" in p]


def test_the_template_names_secrets_but_holds_none(template: dict[str, str]) -> None:
    for key, value in template.items():
        assert key.startswith("VIDSIGHT_"), key
        if SECRET_NAME.search(key):
            assert key.endswith("_FILE"), f"{key} must come from a secret file"
            assert value.startswith("/run/secrets/"), key
        assert not CREDENTIALS_IN_URL.search(value), key
    for needed in ("CLICKHOUSE_PASSWORD", "REGISTRY_PASSWORD", "KAFKA_CONFIG", "S3_SECRET_KEY"):
        assert f"VIDSIGHT_{needed}_FILE" in template
    assert template["VIDSIGHT_CLICKHOUSE_USER"] not in ("", "default")
    assert template["VIDSIGHT_REGISTRY_USER"] != ""


def test_compose_holds_no_secret_value(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for key, value in _env(service).items():
            assert not CREDENTIALS_IN_URL.search(value), f"{name}.{key}"
            if SECRET_NAME.search(key) and "JAAS" not in key:
                # a file path or an image's *_CREDENTIALS file name, never the value
                assert key.endswith(("_FILE", "_CREDENTIALS")), f"{name}.{key} = {value!r}"
            assert "change-me" not in value.lower(), f"{name}.{key}"
        if "JAAS" in "".join(_env(service)):
            jaas = " ".join(v for k, v in _env(service).items() if "JAAS" in k)
            assert "password=" not in jaas.lower(), name


def test_every_secret_is_an_operator_file_and_every_reference_is_mounted(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    for name, spec in compose["secrets"].items():
        assert spec["file"].startswith("./secrets/"), name
    for name, service in services.items():
        mounted = _secret_targets(service)
        for key, value in _env(service).items():
            for path in re.findall(r"/run/secrets/[\w.-]+", value):
                assert path in mounted, f"{name}.{key} reads {path}, which is not mounted"


def test_every_template_secret_file_is_mounted_in_every_vidsight_service(
    services: dict[str, dict[str, Any]], template: dict[str, str]
) -> None:
    vidsight = {n: s for n, s in services.items() if s.get("image") == "vidsight:latest"}
    assert set(vidsight) >= {"vidsight-topics", "dagster", "dagster-daemon"}
    files = {v for k, v in template.items() if k.endswith("_FILE")}
    for name, service in vidsight.items():
        assert files <= _secret_targets(service), name
        assert service["env_file"] == "vidsight.prod.env"


# -- no root, no published ports ---------------------------------------------------------------


def test_every_service_runs_unprivileged_or_says_why(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        user = str(service.get("user", "")).strip()
        if user:
            assert user not in ROOT_USERS and not user.startswith("0:"), name
        else:
            reason = service.get("x-runs-as-root", "")
            assert len(reason) > 20, f"{name} runs as the image's default user without a reason"
        assert "ports" not in service, f"{name} publishes a port"
        assert not service.get("privileged"), name


def test_the_image_runs_as_a_named_unprivileged_user() -> None:
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ROOT_USERS
    assert any("vidsight-entrypoint" in ln for ln in lines if ln.startswith("ENTRYPOINT"))


def test_dockerignore_keeps_secrets_and_state_out_of_the_build_context() -> None:
    entries = {
        ln.strip()
        for ln in (ROOT / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    }
    for needed in (".vidsight/", ".venv/", ".git/", "secrets/", "*.env", "**/*.env"):
        assert needed in entries, needed
    assert "!**/*.env.example" in entries
    assert ".pytest_cache/" in entries and "**/__pycache__/" in entries


# -- Kafka: SASL_SSL/SCRAM for clients, mTLS between nodes, ACLs ---------------------------------


def test_kafka_listeners_are_authenticated_and_encrypted(
    services: dict[str, dict[str, Any]],
) -> None:
    brokers = {n: s for n, s in services.items() if n.startswith("kafka-") and n[-1].isdigit()}
    assert len(brokers) == 3
    for name, broker in brokers.items():
        env = _env(broker)
        protocols = dict(
            p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
        )
        listeners = [ln.split("://")[0] for ln in env["KAFKA_LISTENERS"].split(",")]
        advertised = [ln.split("://")[0] for ln in env["KAFKA_ADVERTISED_LISTENERS"].split(",")]
        assert set(listeners) == set(protocols), name
        assert set(protocols.values()) <= {"SASL_SSL", "SSL"}, name
        assert protocols["CLIENT"] == "SASL_SSL", name
        assert "PLAINTEXT" not in " ".join(env.values()).replace("SASL_PLAINTEXT", "!"), name
        assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512", name
        # SSL listeners (controller, inter-broker) authenticate their peers by certificate
        assert env["KAFKA_SSL_CLIENT_AUTH"] == "required", name
        assert set(advertised) <= set(listeners) and "CONTROLLER" not in advertised, name
        assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false", name
        assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer"), name
        assert "User:kafka-admin" in env["KAFKA_SUPER_USERS"].split(";"), name
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false", name
        assert any(v.endswith("/etc/kafka/secrets:ro") for v in broker["volumes"]), name


def test_kafka_init_keeps_passwords_off_command_lines() -> None:
    script = DEPLOY / "kafka" / "init-security.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "--add-config-file" in text and "--add-config " not in text
    assert "umask 077" in text and "/dev/shm" in text


def test_schema_registry_requires_basic_auth_and_reaches_kafka_over_sasl_ssl(
    services: dict[str, dict[str, Any]],
) -> None:
    env = _env(services["schema-registry"])
    assert env["SCHEMA_REGISTRY_AUTHENTICATION_METHOD"] == "BASIC"
    assert env["SCHEMA_REGISTRY_AUTHENTICATION_REALM"]
    assert "java.security.auth.login.config=/run/secrets/" in env["SCHEMA_REGISTRY_OPTS"]
    assert env["SCHEMA_REGISTRY_KAFKASTORE_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["SCHEMA_REGISTRY_KAFKASTORE_SASL_MECHANISM"] == "SCRAM-SHA-512"
    servers = env["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"].split(",")
    assert all(s.startswith("SASL_SSL://") for s in servers)


# -- stores --------------------------------------------------------------------------------------


def test_mongodb_has_auth_a_keyfile_and_an_initiated_replica_set(
    services: dict[str, dict[str, Any]],
) -> None:
    mongo = services["mongo"]
    command = mongo["command"]
    assert "--auth" in command and "--replSet" in command
    assert command[command.index("--keyFile") + 1] in _secret_targets(mongo)
    assert _env(mongo)["MONGO_INITDB_ROOT_PASSWORD_FILE"] in _secret_targets(mongo)
    check = mongo["healthcheck"]["test"]
    script = next(c for c in check if c.endswith("rs-init.js"))
    assert any(v.endswith(f":{script}:ro") for v in mongo["volumes"])
    js = (DEPLOY / "mongo" / "rs-init.js").read_text()
    # idempotent: initiates only when the set is not yet initiated (code 94)
    assert "replSetInitiate" in js and "!== 94" in js and "isWritablePrimary" in js
    for service in services.values():
        if "mongo" in service.get("depends_on", {}):
            assert service["depends_on"]["mongo"]["condition"] == "service_healthy"


def test_clickhouse_has_a_named_user_with_a_password(services: dict[str, dict[str, Any]]) -> None:
    ch = services["clickhouse"]
    env = _env(ch)
    assert env["CLICKHOUSE_USER"] not in ("", "default")
    assert env["CLICKHOUSE_PASSWORD_FILE"] in _secret_targets(ch)
    assert "CLICKHOUSE_PASSWORD" not in env
    assert env["CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT"] == "0"


def test_postgres_and_minio_take_their_credentials_from_secrets(
    services: dict[str, dict[str, Any]],
) -> None:
    pg = _env(services["postgres"])
    assert "POSTGRES_PASSWORD" not in pg and "scram-sha-256" in pg["POSTGRES_INITDB_ARGS"]
    minio = _env(services["minio"])
    assert set(minio) >= {"MINIO_ROOT_USER_FILE", "MINIO_ROOT_PASSWORD_FILE"}
    assert not {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"} & set(minio)


# -- the template + entrypoint produce working settings --------------------------------------------


def test_template_and_secret_files_give_every_client_its_credentials(
    template: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kafka_config = {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "vidsight",
        "sasl.password": "pw-kafka",
        "ssl.ca.location": "/run/secrets/kafka_ca.pem",
        "acks": "all",
    }
    files = {
        "/run/secrets/vidsight_kafka_config": json.dumps(kafka_config) + "\n",
        "/run/secrets/registry_vidsight_password": "pw-registry\n",
        "/run/secrets/vidsight_postgres_dsn": "postgresql://vidsight:pw@postgres/vidsight\n",
        "/run/secrets/vidsight_mongo_uri": "mongodb://vidsight:pw@mongo:27017/?replicaSet=rs0\n",
        "/run/secrets/clickhouse_vidsight_password": "pw-clickhouse\n",
        "/run/secrets/vidsight_s3_access_key": "access\n",
        "/run/secrets/vidsight_s3_secret_key": "pw-s3\n",
    }
    env = _entrypoint().resolve_file_vars(template, files.__getitem__)
    assert not [k for k in env if k.endswith("_FILE")]
    for key in list(os.environ):
        if key.startswith("VIDSIGHT_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("VIDSIGHT_DATA_DIR", str(tmp_path))
    settings = load(StackEndpoints)
    assert settings.kafka_client_config()["sasl.password"] == "pw-kafka"
    assert parse_security(settings.kafka_config).protocol == "SASL_SSL"
    assert settings.clickhouse_user == "vidsight"
    assert settings.clickhouse_password.get_secret_value() == "pw-clickhouse"
    assert settings.registry_auth() == ("vidsight", "pw-registry")
    assert settings.s3_secret_key.get_secret_value() == "pw-s3"


# -- the entrypoint ------------------------------------------------------------------------------


def test_entrypoint_resolves_file_vars_and_strips_one_newline() -> None:
    ep = _entrypoint()
    env = ep.resolve_file_vars(
        {"VIDSIGHT_X_FILE": "/s/x", "OTHER_FILE": "/s/o", "PATH": "/bin"},
        {"/s/x": "value\n\n"}.__getitem__,
    )
    assert env == {"VIDSIGHT_X": "value\n", "OTHER_FILE": "/s/o", "PATH": "/bin"}


def test_entrypoint_refuses_a_variable_set_both_ways() -> None:
    ep = _entrypoint()
    with pytest.raises(ep.EntrypointError, match="both VIDSIGHT_X and VIDSIGHT_X_FILE"):
        ep.resolve_file_vars({"VIDSIGHT_X": "", "VIDSIGHT_X_FILE": "/s/x"}, lambda p: "v")


def test_entrypoint_runs_the_command_with_the_secret_and_without_the_file_var(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret-value\n")
    code = "import os; print(os.environ['VIDSIGHT_PW'], 'VIDSIGHT_PW_FILE' in os.environ)"
    out = subprocess.run(
        [sys.executable, str(DEPLOY / "entrypoint.py"), sys.executable, "-c", code],
        env={"VIDSIGHT_PW_FILE": str(secret), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["s3cret-value", "False"]


def test_entrypoint_fails_closed_on_an_unreadable_secret(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(DEPLOY / "entrypoint.py"), "true"],
        env={"VIDSIGHT_PW_FILE": str(tmp_path / "missing"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 78 and "VIDSIGHT_PW_FILE" in out.stderr
