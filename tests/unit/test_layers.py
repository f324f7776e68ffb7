"""The layer picture of README "Architecture", checked: every import of every module of ours
(top level, inside functions, under TYPE_CHECKING) against the table of allowed imports.

    applications   vidsight.cli (the top: only ``python -m vidsight`` imports it)
                   vidsight.demo, vidsight.console, dagster_project
    domain         producers, stream_processors, sinks, etl, infra
    contracts      schemas
    core           vidsight (errors, settings, commands, options, redact, kafka, s3)

A package may import its own modules, the layers its row of ``ALLOWED`` names and the single
modules its row of ``ALSO`` names; nothing imports upward.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "vidsight",
    "schemas",
    "producers",
    "stream_processors",
    "sinks",
    "etl",
    "infra",
    "dagster_project",
)

# Module prefix -> layer; the longest matching prefix wins.
LAYER_OF: dict[str, str] = {
    "vidsight": "core",
    "vidsight.cli": "cli",
    "vidsight.clip_cli": "cli",
    "vidsight.__main__": "entry point",
    "vidsight.console": "console",
    "vidsight.demo": "demo",
    "schemas": "schemas",
    "producers": "producers",
    "stream_processors": "stream_processors",
    "sinks": "sinks",
    "etl": "etl",
    "infra": "infra",
    "dagster_project": "dagster_project",
}

DOMAIN = ("producers", "stream_processors", "sinks", "etl", "infra")

# Layer -> the other layers it may import.
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "schemas": frozenset({"core"}),
    "producers": frozenset({"core", "schemas"}),
    "sinks": frozenset({"core", "schemas"}),
    "stream_processors": frozenset({"core", "schemas"}),
    "infra": frozenset({"core", "schemas"}),
    # The ETL's transforms read what the sinks wrote (the archive, the store settings).
    "etl": frozenset({"core", "schemas", "sinks"}),
    "dagster_project": frozenset({"core", "schemas", "sinks", "etl", "infra"}),
    "console": frozenset({"core", "schemas", "producers", "sinks", "stream_processors"}),
    "demo": frozenset({"core", "schemas", *DOMAIN, "dagster_project"}),
    "cli": frozenset({"core", "schemas", *DOMAIN, "dagster_project", "console", "demo"}),
    "entry point": frozenset({"cli"}),
}

# Layer -> single modules of another layer it may import besides (fnmatch patterns), each
# for a reason: a store's connection settings are owned next to its sink and read by every
# process that talks to that store; the backtest reads the S3 archive with the one reader.
ALSO: dict[str, tuple[str, ...]] = {
    "stream_processors": (
        "sinks.*_settings",
        "sinks.archive",
        "sinks.s3archive",
    ),
    "infra": ("sinks.*_settings",),
    # ``vidsight edge status`` reads camera_status where the PostgreSQL sink projects it.
    "producers": ("sinks.*_settings",),
}


def layer(module: str) -> str | None:
    """The layer of one of our modules; None for anything else (stdlib, libraries, tests)."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        found = LAYER_OF.get(".".join(parts[:n]))
        if found is not None:
            return found
    return None


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def our_modules() -> dict[str, Path]:
    """Every module of the packages, by dotted name."""
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def imports_of(module: str, source: str, is_package: bool, known: set[str]) -> Iterator[str]:
    """Every module of ours that ``source`` imports, wherever the import statement is."""
    base = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                target = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                # ``from vidsight import cli`` imports the module vidsight.cli
                sub = f"{target}.{alias.name}"
                yield sub if sub in known else target


def violations(module: str, source: str, *, is_package: bool, known: set[str]) -> list[str]:
    """One line per import of ``module`` that the table does not allow."""
    mine = layer(module)
    if mine is None:
        return []
    out = []
    for imported in imports_of(module, source, is_package, known):
        theirs = layer(imported)
        if theirs is None or theirs == mine or theirs in ALLOWED[mine]:
            continue
        if any(fnmatchcase(imported, pattern) for pattern in ALSO.get(mine, ())):
            continue
        allowed = ", ".join(sorted(ALLOWED[mine])) or "nothing of ours"
        extra = ALSO.get(mine, ())
        rule = f"{mine} may import {allowed}" + (f" and {', '.join(extra)}" if extra else "")
        out.append(f"{module} imports {imported} (layer {theirs}): {rule}")
    return out


def test_every_import_follows_the_layer_table() -> None:
    modules = our_modules()
    known = set(modules)
    found = [
        line
        for name, path in modules.items()
        for line in violations(
            name, path.read_text(), is_package=path.name == "__init__.py", known=known
        )
    ]
    assert not found, "imports against the layers:\n" + "\n".join(sorted(set(found)))


def test_every_module_has_a_layer_and_every_layer_a_row() -> None:
    assert {layer(name) for name in our_modules()} == set(ALLOWED)
    assert set(ALSO) <= set(ALLOWED)


def test_nothing_but_the_entry_point_imports_the_cli() -> None:
    assert [name for name, allowed in ALLOWED.items() if "cli" in allowed] == ["entry point"]


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        (
            "sinks.runner",
            "def f():\n    from stream_processors.rules import Engine\n",
            "sinks.runner imports stream_processors.rules (layer stream_processors): "
            "sinks may import core, schemas",
        ),
        (
            "vidsight.settings",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import producers.config\n",
            "vidsight.settings imports producers.config (layer producers): "
            "core may import nothing of ours",
        ),
        (
            "producers.cli",
            "from vidsight import cli\n",
            "producers.cli imports vidsight.cli (layer cli): producers may import core, schemas "
            "and sinks.*_settings",
        ),
        (
            "stream_processors.backtest.source",
            "from etl.lake.archive import parse_key\n",
            "stream_processors.backtest.source imports etl.lake.archive (layer etl): "
            "stream_processors may import core, schemas and sinks.*_settings, sinks.archive, "
            "sinks.s3archive",
        ),
        (
            "infra.stack.stack",
            "from ..demo import run\n",
            None,  # its own package (a relative import): allowed
        ),
    ],
)
def test_a_violation_names_both_modules_and_the_rule(
    module: str, source: str, expected: str | None
) -> None:
    known = {"vidsight.cli", "vidsight.settings"}
    found = violations(module, source, is_package=False, known=known)
    assert found == ([] if expected is None else [expected])


def test_allowed_imports_pass() -> None:
    source = "from schemas import catalog\nfrom vidsight.errors import VidsightError\n"
    assert violations("sinks.base", source, is_package=False, known=set()) == []
    assert violations("infra.stack.settings", "import sinks.postgres_settings\n",
                      is_package=False, known=set()) == []  # fmt: skip
