"""The file sources of the settings: the TOML file (checked against the process kinds' tables),
the endpoints file and the secrets a local stack wrote."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
)

from vidsight.errors import ConfigError
from vidsight.settings import base
from vidsight.settings.base import (
    PROCESS_KINDS,
    ROOT_TABLE,
    SECRETS_DIR,
    STACK_FILE,
    Endpoints,
    _all_field_names,
    _all_shared_keys,
    _section_keys,
    _section_owning,
    _warn_once,
    sections_of,
)


class _TomlSource(PydanticBaseSettingsSource):
    """Values already sorted out of the TOML file (and the stack's files) for one class."""

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
        missing = [k for k in PROCESS_KINDS if k not in base._PROCESS_CLASSES]
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
