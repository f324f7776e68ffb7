"""The settings models every process kind builds on, the registries of process kinds and
shared stores, which key belongs to whom, and the ``VIDSIGHT_*`` env translation (see the package
docstring for the layout of the file and the env)."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

# The package's logger, as before the split (deprecation warnings are logged under it).
log = logging.getLogger("vidsight.settings")

ENV_PREFIX = "VIDSIGHT_"
DEFAULT_DATA_DIR = Path(".vidsight")
STACK_FILE = "stack.json"
SECRETS_DIR = "secrets"
"""Folder (0700) under the data dir with one 0600 file per generated secret, named by field."""
ROOT_TABLE = "vidsight"
"""A ``[vidsight]`` table, when the file has one, holds the settings (a larger file may hold
other things beside it)."""

PROCESS_KINDS = (
    "edge",
    "processor",
    "sinks",
    "readmodels",
    "registry",
    "stack",
    "console",
    "backtest",
    "etl",
)
"""The sections of the settings file, one per process kind: a table of another kind is skipped
even where that kind's settings class is not loaded."""

# Filled as classes are defined (no import of any domain package here): the models whose fields
# every process shares, and the process settings classes by section.
_SHARED_MODELS: list[type[BaseModel]] = []
_PROCESS_CLASSES: dict[str, list[type[Endpoints]]] = {}
_warned: set[str] = set()


def _nested_env_config() -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
        case_sensitive=False,
    )


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def check_http_url(value: str) -> str:
    """``value`` without a trailing slash; ValueError unless it is an http(s) URL."""
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
    return value.rstrip("/")


class SharedSettings(BaseModel):
    """Base of the models whose fields every process shares (each store's connection): read
    from the top level of the file and from ``VIDSIGHT_<FIELD>``, whichever process reads them.

    A subclass registers itself when it is defined, so processes that do not use a store still
    know its keys (and ignore them) instead of refusing them as unknown.
    """

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if not issubclass(cls, BaseSettings):  # a process's class composing stores is not one
            _SHARED_MODELS[:] = [m for m in _SHARED_MODELS if _name(m) != _name(cls)]
            _SHARED_MODELS.append(cls)


class MetricsSettings(BaseModel):
    """The Prometheus endpoint of a long-running process; each process kind reads its own
    (``[edge]``/``[processor]``/``[sinks]`` ``metrics_port``, ``VIDSIGHT_<SECTION>_METRICS_PORT``)
    so processes on one host can each have a port."""

    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="serve Prometheus /metrics on this port (unset: off)"
    )
    metrics_host: str = Field("127.0.0.1", description="address the metrics endpoint binds")


class Endpoints(BaseSettings):
    """Where the broker and the registry are; shared by every process kind.

    A subclass that sets ``section`` is a process kind's settings: it is registered under that
    section (several classes may share one, e.g. the ETL's). Each store's connection is a
    :class:`SharedSettings` model next to the store's code, composed by the processes that use it.
    """

    model_config = _nested_env_config()

    section: ClassVar[str] = ""
    """TOML table and env prefix of this process kind's own keys ('' = shared keys only)."""

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
    registry_user: str = Field(
        "", max_length=64, description="schema registry HTTP basic-auth user ('' = no auth)"
    )
    registry_password: SecretStr = Field(
        SecretStr(""), description="schema registry HTTP basic-auth password"
    )

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        section = vars(cls).get("section", "")
        if not section:
            return
        if section not in PROCESS_KINDS:
            raise TypeError(f"section {section!r} of {cls.__name__} is not one of {PROCESS_KINDS}")
        if section in _all_field_names():
            raise TypeError(f"section name {section!r} of {cls.__name__} is also a field name")
        classes = _PROCESS_CLASSES.setdefault(section, [])
        # A class defined again (a module reloaded) replaces the earlier one.
        classes[:] = [c for c in classes if _name(c) != _name(cls)] + [cls]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Built directly (tests, tools), a process's settings read the same variables as load().
        return (init_settings, _SectionEnvSource(settings_cls, settings_cls))

    @model_validator(mode="before")
    @classmethod
    def _skip_other_stores(cls, data: Any) -> Any:
        """Another store's connection (a shared key this process kind does not use) is not its
        business: a client may hand every endpoint to any process's settings."""
        if isinstance(data, dict):
            skip = _all_shared_keys() - set(cls.model_fields)
            if skip.intersection(data):
                return {k: v for k, v in data.items() if k not in skip}
        return data

    @field_validator("kafka_bootstrap")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        for part in value.split(","):
            host, sep, port = part.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port], got {part.strip()!r}")
        return value

    @field_validator("registry_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return check_http_url(value)

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


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and any address of 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# ---- which key belongs to whom -----------------------------------------------------------------


def shared_fields(cls: type[BaseModel]) -> set[str]:
    """Fields of ``cls`` that every process shares (top-level keys, ``VIDSIGHT_<FIELD>``)."""
    names: set[str] = set()
    for base in cls.__mro__:
        if base is Endpoints or base in _SHARED_MODELS:
            names.update(base.model_fields)
    return names


def own_fields(cls: type[BaseModel]) -> set[str]:
    """Fields of ``cls`` that are its process kind's own (its table, its env prefix)."""
    return set(cls.model_fields) - shared_fields(cls)


def sections_of(cls: type[Endpoints]) -> list[str]:
    """The tables ``cls`` reads, most general first (a class extending another process kind's
    class reads that kind's table, then its own)."""
    chain: list[str] = []
    for base in reversed(cls.__mro__):
        section = vars(base).get("section", "")
        if section and section not in chain:
            chain.append(section)
    return chain


def process_sections() -> dict[str, list[type[Endpoints]]]:
    """Every registered process kind: section -> the settings classes that own it."""
    return {k: list(v) for k, v in _PROCESS_CLASSES.items()}


def _all_shared_keys() -> set[str]:
    names = set(Endpoints.model_fields)
    for model in _SHARED_MODELS:
        names.update(model.model_fields)
    return names


def _all_field_names() -> set[str]:
    names = _all_shared_keys()
    for classes in _PROCESS_CLASSES.values():
        for c in classes:
            names.update(c.model_fields)
    return names


def _section_keys(section: str) -> set[str]:
    keys: set[str] = set()
    for c in _PROCESS_CLASSES.get(section, ()):
        keys.update(own_fields(c))
    return keys


def _section_owning(cls: type[Endpoints], key: str) -> str:
    """The most general of ``cls``'s sections whose table may hold ``key``."""
    for section in sections_of(cls):
        if key in _section_keys(section):
            return section
    return sections_of(cls)[-1]


def env_names(cls: type[BaseModel], field: str) -> list[str]:
    """The env variables of one field, in rising precedence: the deprecated flat name of a
    process field first, then one per section of ``cls`` (the most specific last)."""
    if field in shared_fields(cls) or not isinstance(cls, type) or not issubclass(cls, Endpoints):
        return [ENV_PREFIX + field.upper()]
    names: list[str] = []
    for section in sections_of(cls):
        if field.startswith(section + "_"):
            name = ENV_PREFIX + field.upper()
        else:
            name = f"{ENV_PREFIX}{section.upper()}_{field.upper()}"
        if name not in names:
            names.append(name)
    legacy = ENV_PREFIX + field.upper()
    return names if not names or legacy in names else [legacy, *names]


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning("%s", message)


class _SectionEnvSource(EnvSettingsSource):
    """``VIDSIGHT_*`` variables, with each process field's section name rewritten to the flat
    name pydantic looks for; a flat name of a process field still works, with a warning."""

    def __init__(self, settings_cls: type[BaseSettings], public: type[BaseSettings]) -> None:
        self._public = public
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        env = super()._load_env_vars()
        return _translate_env(self._public, env)


def _translate_env(cls: type[BaseSettings], env: Mapping[str, str | None]) -> dict[str, str | None]:
    """The variables as pydantic should see them: ``vidsight_<field>[__...]`` for ``cls``."""
    prefix = ENV_PREFIX.lower()
    shared = shared_fields(cls)
    out: dict[str, str | None] = {k: v for k, v in env.items() if not k.startswith(prefix)}
    legacy_used: dict[str, str] = {}
    for field in cls.model_fields:
        names = [n.lower() for n in env_names(cls, field)]
        flat = (ENV_PREFIX + field.upper()).lower()
        for name in names:  # rising precedence: later names overwrite
            for key, value in env.items():
                if key != name and not key.startswith(name + "__"):
                    continue
                target = flat + key[len(name) :]
                out[target] = value
                if field not in shared and name == flat and len(names) > 1:
                    legacy_used[target] = names[-1].upper() + key[len(name) :].upper()
                else:
                    legacy_used.pop(target, None)
    kind = sections_of(cls)[-1] if issubclass(cls, Endpoints) and sections_of(cls) else ""
    for target, new in legacy_used.items():
        _warn_once(
            f"env:{cls.__name__}:{target}",
            f"deprecated setting: {target.upper()} is the old name of {new} (the {kind} "
            f"process's own setting; each process kind has its own prefix now): set {new} "
            "instead",
        )
    return out
