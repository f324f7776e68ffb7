"""The demo prints commands a person can paste as they are."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from vidsight.demo.cli import command_name


def _script(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_vidsight_on_path_is_called_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _script(tmp_path / "bin" / "vidsight")
    monkeypatch.setenv("PATH", str(script.parent))
    monkeypatch.setattr(sys, "argv", [str(script), "demo"])
    assert command_name() == "vidsight"


def test_a_venv_not_activated_is_called_by_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _script(tmp_path / ".venv" / "bin" / "vidsight")
    monkeypatch.setenv("PATH", str(tmp_path / "elsewhere"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [".venv/bin/vidsight", "demo"])
    assert command_name() == ".venv/bin/vidsight"
    monkeypatch.setattr(sys, "argv", [str(script), "demo"])
    assert command_name() == ".venv/bin/vidsight", "an absolute path below here is made relative"


def test_python_dash_m_keeps_the_plain_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["/usr/lib/python3/vidsight/__main__.py", "demo"])
    assert command_name() == "vidsight"
