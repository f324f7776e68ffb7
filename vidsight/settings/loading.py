"""``load``: one frozen settings object from the layered sources, and the config error that
names each bad key."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ValidationError,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
)

from vidsight.errors import ConfigError
from vidsight.settings.base import (
    DEFAULT_DATA_DIR,
    ENV_PREFIX,
    Endpoints,
    _section_owning,
    _SectionEnvSource,
    env_names,
    own_fields,
)
from vidsight.settings.sources import (
    _read_toml,
    _stack_file_values,
    _TomlSource,
    file_values,
    read_secrets,
)

_S = TypeVar("_S", bound=BaseSettings)


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
