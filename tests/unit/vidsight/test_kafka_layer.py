"""The Kafka runtime is the bottom layer: it imports no domain package and no application."""

from __future__ import annotations

import ast
from pathlib import Path

import vidsight.kafka

CORE = Path(vidsight.kafka.__file__).parent
FORBIDDEN = (
    "producers",
    "sinks",
    "stream_processors",
    "schemas",
    "etl",
    "dagster_project",
    "infra",
    "vidsight.cli",
    "vidsight.console",
    "vidsight.demo",
)


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_the_runtime_imports_no_package_above_it() -> None:
    files = sorted(CORE.glob("*.py"))
    assert len(files) >= 6  # the scan sees the package
    offenders = {
        f"{path.name}: {name}"
        for path in files
        for name in imported(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    }
    assert offenders == set()
