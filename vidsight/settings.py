"""Settings: one frozen model per process kind, from ``VIDSIGHT_*`` env vars and a TOML file.

Every process kind (edge, processor, sinks, ...) has a settings class that names its section
(``section: ClassVar[str] = "sinks"``). What all processes share (the endpoints, each store's
connection) sits at the top level of the TOML file (or inside a ``[vidsight]`` table) and in
``VIDSIGHT_<FIELD>``; a process's own keys sit in its table (``[sinks]``) and in
``VIDSIGHT_<SECTION>_<FIELD>`` (``VIDSIGHT_SINKS_METRICS_PORT``; a field already named after its
section keeps its name: ``VIDSIGHT_REGISTRY_PORT``). A process reads the shared keys and its own
tables; the tables of other processes are not its business. A class that extends another process
kind's class reads that kind's table first (the ETL reads ``[sinks]``, then ``[etl]``).

Before sections existed the file was flat: a process's own key at the top level (or its
unprefixed env name) is still taken by the process that declares it, with a deprecation warning
naming where it belongs now, and ignored by the others. A key that no process kind declares, or
an unknown key in a process's own table, is refused with its name and what is allowed.

Precedence (highest first): explicit keyword arguments, environment variables, the TOML file
named by ``VIDSIGHT_CONFIG`` (or passed as ``config_file``), the secrets a local stack
generated (``<data_dir>/secrets/<field>``, 0600 files), the endpoints file it wrote
(``<data_dir>/stack.json``, which holds no secret), then the built-in loopback defaults.
Nothing is read at import time: callers build settings in ``main()`` with :func:`load`.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from vidsight.errors import ConfigError

log = logging.getLogger(__name__)

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


# ---- sources -----------------------------------------------------------------------------------


_S = TypeVar("_S", bound=BaseSettings)


class _TomlSource(PydanticBaseSettingsSource):
    """Values already sorted out of the TOML file (and the stack's files) for one class."""

    def __init__(self, settings_cls: type[BaseSettings], data: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = dict(data)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


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


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    # A [vidsight] table is accepted so the settings can live inside a larger file.
    root = data.get(ROOT_TABLE, data)
    if not isinstance(root, dict):
        raise ConfigError(f"config file {path}: [{ROOT_TABLE}] must be a table")
    return root


def file_values(cls: type[Endpoints], data: Mapping[str, Any], *, path: str) -> dict[str, Any]:
    """What the (parsed) TOML file says to ``cls``: the shared keys it has, its own tables, and
    its own keys left at the top level by a pre-section file (with a deprecation warning).

    Raises ConfigError for an unknown key in one of ``cls``'s tables, and for a top-level key
    that no process kind declares once every kind's settings class is loaded (as in the
    ``vidsight`` command); a process that has not loaded them all logs and skips such a key.
    """
    sections = set(PROCESS_KINDS)
    mine = sections_of(cls)
    fields = set(cls.model_fields)
    shared = _all_shared_keys()
    owned_elsewhere = _all_field_names()
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in sections:
            if not isinstance(value, dict):
                raise ConfigError(f"config file {path}: [{key}] must be a table, got {value!r}")
            continue
        if key in shared:
            if key in fields:
                values[key] = value
            continue
        if key in fields:
            section = _section_owning(cls, key)
            _warn_once(
                f"toml:{path}:{key}",
                f"deprecated setting: config file {path}: top-level key {key!r} is read by the "
                f"{section} process only; move it into the [{section}] table",
            )
            values[key] = value
            continue
        if key in owned_elsewhere:
            continue  # another process kind's key, in a pre-section file
        missing = [k for k in PROCESS_KINDS if k not in _PROCESS_CLASSES]
        if missing:
            # A process started on its own (``python -m ...``) has not loaded every kind's
            # settings, so it cannot tell another kind's key (or a store it does not use) from a
            # typo: it skips the key, says so, and leaves refusing it to the kinds that know.
            _warn_once(
                f"toml:{path}:{key}:unknown",
                f"config file {path}: top-level key {key!r} is not a setting of {cls.__name__} "
                f"nor of the process kinds loaded here; skipped (settings of "
                f"{', '.join(missing)} not loaded)",
            )
            continue
        raise ConfigError(
            f"config file {path}: unknown key {key!r} at the top level (no process kind "
            f"declares it); allowed there: the shared keys {', '.join(sorted(shared))}; the "
            f"tables {', '.join(f'[{s}]' for s in PROCESS_KINDS)}, which hold each process "
            "kind's own keys"
        )
    for section in mine:
        table = data.get(section, {})
        allowed_keys = _section_keys(section)
        for key, value in table.items():
            if key not in allowed_keys:
                raise ConfigError(
                    f"config file {path}: unknown key {key!r} in [{section}]; allowed: "
                    f"{', '.join(sorted(allowed_keys))}"
                )
            if key in fields:
                values[key] = value
    return values


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


def format_validation_error(
    exc: ValidationError, *, source: str, settings_cls: type[BaseModel] | None = None
) -> str:
    """One line per bad key: the key, where it is set, the value given, and what is allowed."""
    lines = [f"invalid settings ({source}):"]
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        key = ".".join(loc) or "<root>"
        field = loc[0] if loc else ""
        if settings_cls is not None and field in settings_cls.model_fields:
            env = env_names(settings_cls, field)[-1] + "".join(f"__{p.upper()}" for p in loc[1:])
        else:
            env = ENV_PREFIX + "__".join(loc).upper()
        where = f"env {env}"
        if (
            settings_cls is not None
            and issubclass(settings_cls, Endpoints)
            and field in own_fields(settings_cls)
        ):
            where += f", [{_section_owning(settings_cls, field)}] in the file"
        value = err.get("input")
        # kafka_config may hold sasl.password / ssl.key.password: never echoed either.
        secret = any(word in key for word in ("key", "dsn", "uri", "password", "kafka_config"))
        shown = "<secret>" if secret else repr(value)
        lines.append(f"  {key} ({where}) = {shown}: {err['msg']}")
    return "\n".join(lines)


def _config_path(config_file: Path | None, env: Mapping[str, str]) -> Path | None:
    if config_file:
        return config_file
    return Path(env[ENV_PREFIX + "CONFIG"]) if ENV_PREFIX + "CONFIG" in env else None


def load(
    cls: type[_S],
    *,
    config_file: Path | None = None,
    **overrides: Any,
) -> _S:
    """Build a frozen settings object; a bad value raises ConfigError naming the key.

    ``overrides`` whose value is None are ignored so CLI options can be passed straight through.
    """
    if not issubclass(cls, Endpoints):
        raise TypeError(f"{cls.__name__} is not a vidsight settings class (an Endpoints)")
    # S3's connection is core too: registered here, its keys are known to every process.
    import vidsight.s3  # noqa: F401

    env = os.environ
    explicit = {k: v for k, v in overrides.items() if v is not None}
    file_path = _config_path(config_file, env)
    from_file = file_values(cls, _read_toml(file_path), path=str(file_path)) if file_path else {}
    data_dir = Path(
        explicit.get("data_dir")
        or env.get(ENV_PREFIX + "DATA_DIR")
        or from_file.get("data_dir")
        or DEFAULT_DATA_DIR
    )
    stack_values = _stack_file_values(data_dir, cls.model_fields)
    secrets = read_secrets(data_dir, cls.model_fields)
    layered = {**stack_values, **secrets, **from_file}

    base = cls
    public: type[BaseSettings] = cls

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
            return (
                init_settings,
                _SectionEnvSource(settings_cls, public),
                _TomlSource(settings_cls, layered),
            )

    try:
        built = _Configured(**explicit)
        # Re-validate as the public class so callers see `SinkSettings`, not the local subclass;
        # model_validate does not consult the sources again.
        return cls.model_validate(built.model_dump())
    except ValidationError as exc:
        source = str(file_path) if file_path else "environment"
        raise ConfigError(format_validation_error(exc, source=source, settings_cls=cls)) from exc
