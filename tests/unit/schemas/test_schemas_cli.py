"""``vidsight schemas``: the field diff it prints, its options, and failure without a registry."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from schemas import catalog
from schemas.cli import DEFAULT_REGISTRY_URL, schemas_group
from schemas.registration import schema_diff


def _alert() -> dict[str, Any]:
    return copy.deepcopy(dict(catalog.schema_dict("Alert")))


def _field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def test_diff_of_identical_schemas_is_empty() -> None:
    text = catalog.schema_text("Alert")
    assert schema_diff(text, text) == []


def test_diff_names_added_removed_and_changed_fields() -> None:
    new = _alert()
    new["fields"] = [f for f in new["fields"] if f["name"] != "label"]
    new["fields"].append({"name": "priority", "type": "int", "doc": "d"})
    tags = {"type": "array", "items": "string"}
    new["fields"].append({"name": "tags", "type": tags, "doc": "d", "default": []})
    _field(new, "top_score")["type"] = "string"
    _field(new, "end_ts")["type"] = ["null", "string"]
    assert schema_diff(catalog.schema_text("Alert"), json.dumps(new)) == [
        "+ added   priority: int (NO default)",
        "+ added   tags: array<string> (with default)",
        "- removed label: string",
        "~ changed top_score: double -> string",
        "~ changed end_ts: null|long(timestamp-micros) -> null|string",
    ]


def test_diff_descends_into_nested_records_and_enums() -> None:
    old = dict(catalog.schema_dict("Detections"))
    new = copy.deepcopy(old)
    bbox = new["fields"][5]["type"]["items"]["fields"][3]["type"]
    bbox["fields"][0]["type"] = "float"
    new["fields"][5]["type"]["items"]["fields"].append(
        {"name": "area", "type": "double", "doc": "d"}
    )
    assert schema_diff(json.dumps(old), json.dumps(new)) == [
        "+ added   objects[].area: double (NO default)",
        "~ changed objects[].bbox.x1: double -> float",
    ]
    alert = _alert()
    _field(alert, "severity")["type"]["symbols"].remove("critical")
    _field(alert, "severity")["type"]["symbols"].insert(0, "info")
    assert schema_diff(catalog.schema_text("Alert"), json.dumps(alert)) == [
        "- removed symbol severity: critical",
        "+ added   symbol severity: info",
    ]


def test_diff_reports_a_dropped_default() -> None:
    new = _alert()
    del _field(new, "revision")["default"]
    assert schema_diff(catalog.schema_text("Alert"), json.dumps(new)) == [
        "~ changed revision: default removed"
    ]


def test_registry_url_option_and_env() -> None:
    for command in ("check", "register"):
        result = CliRunner().invoke(schemas_group, [command, "--help"])
        assert result.exit_code == 0
        assert "VIDSIGHT_REGISTRY_URL" in result.output
        assert "--data-dir" in result.output
    assert DEFAULT_REGISTRY_URL == "http://127.0.0.1:8081"


def test_the_registry_comes_from_the_data_dir_s_stack(tmp_path: Path) -> None:
    """Another stack's registry (stack.json of --data-dir) is the one asked, not :8081."""
    (tmp_path / "stack.json").write_text(
        json.dumps({"endpoints": {"registry_url": "http://127.0.0.1:9"}})
    )
    runner = CliRunner()
    for command in ("check", "register"):
        result = runner.invoke(
            schemas_group,
            [command, "--data-dir", str(tmp_path)],
            env={"VIDSIGHT_REGISTRY_URL": None},
        )
        assert result.exit_code == 1
        assert "schema registry http://127.0.0.1:9 unreachable" in result.output
        override = runner.invoke(
            schemas_group,
            [command, "--data-dir", str(tmp_path), "--registry-url", "http://127.0.0.1:7"],
        )
        assert "schema registry http://127.0.0.1:7 unreachable" in override.output


def test_unreachable_registry_fails_readably() -> None:
    runner = CliRunner()
    for command in ("check", "register"):
        result = runner.invoke(
            schemas_group, [command], env={"VIDSIGHT_REGISTRY_URL": "http://127.0.0.1:9"}
        )
        assert result.exit_code == 1
        assert "schema registry http://127.0.0.1:9 unreachable" in result.output
