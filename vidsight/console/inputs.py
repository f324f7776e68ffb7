"""Validation of every input the console takes (pure): caps, patterns, field paths.

Errors are collected as ``{"loc": [...], "msg": ...}`` items (the shape FastAPI/pydantic use),
so a 422 answer names each bad field by its path.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.records import SensorKind
from vidsight.console.stores import AlertQuery

ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
ENUMS = {
    "rule": tuple(k.value for k in SensorKind if k is not SensorKind.UNKNOWN),
    "severity": ("low", "medium", "high", "critical"),
    "lifecycle": ("new", "update", "end"),
    "review": ("unreviewed", "true_positive", "false_positive"),
}
ACTIONS = {"confirm": "true_positive", "false_positive": "false_positive", "reopen": "unknown"}
MAX_LIMIT = 200
MAX_NOTE_CHARS = 2000
MAX_REASON_CHARS = 200
EVIDENCE_PREFIX = "evidence/"
MAX_KEY_CHARS = 512


class InputError(Exception):
    """Bad input; ``errors`` lists each bad field with its path."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        self.errors = errors


def _err(loc: tuple[str | int, ...], msg: str) -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg}


def alert_id(value: str) -> str:
    """A UUID path parameter, canonical form."""
    if len(value) > 64:
        raise InputError([_err(("path", "alert_id"), "too long")])
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InputError([_err(("path", "alert_id"), "not a UUID")]) from None


def ident(value: str, loc: tuple[str | int, ...]) -> str:
    if not ID.fullmatch(value):
        raise InputError(
            [_err(loc, "1-128 characters: letters, digits, . _ : - (first: letter or digit)")]
        )
    return value


def parse_alert_query(params: Mapping[str, str]) -> AlertQuery:
    """The filters and page of ``GET /api/alerts``."""
    errors: list[dict[str, Any]] = []
    allowed = {"camera", "sensor", "rule", "severity", "lifecycle", "review", "limit", "cursor"}
    values: dict[str, Any] = {}
    for key, value in params.items():
        loc = ("query", key)
        if key not in allowed:
            errors.append(_err(loc, f"unknown parameter; allowed: {', '.join(sorted(allowed))}"))
        elif value == "":
            continue
        elif key in ("camera", "sensor"):
            if ID.fullmatch(value):
                values[key] = value
            else:
                errors.append(_err(loc, "not a valid id"))
        elif key in ENUMS:
            if value in ENUMS[key]:
                values[key] = value
            else:
                errors.append(_err(loc, f"one of {', '.join(ENUMS[key])}"))
        elif key == "limit":
            if value.isdigit() and 1 <= int(value) <= MAX_LIMIT:
                values["limit"] = int(value)
            else:
                errors.append(_err(loc, f"an integer 1..{MAX_LIMIT}"))
        else:
            before = parse_cursor(value)
            if before is None:
                errors.append(_err(loc, "not a cursor this API gave"))
            values["before"] = before
    if errors:
        raise InputError(errors)
    return AlertQuery(**values)


def make_cursor(row: Mapping[str, Any]) -> str:
    return f"{int(row['start_ts'])}_{row['alert_id']}"


def parse_cursor(text: str) -> tuple[int, str] | None:
    start, _, aid = text.partition("_")
    if not start.isdigit() or len(start) > 19 or len(aid) != 36:
        return None
    try:
        return int(start), str(uuid.UUID(aid))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class FeedbackInput:
    alert_id: str
    verdict: str
    note: str | None


def parse_feedback(body: object) -> FeedbackInput:
    """``{"alert_id", "action": confirm|false_positive|reopen, "reason"?, "note"?}``."""
    if not isinstance(body, Mapping):
        raise InputError([_err(("body",), "a JSON object")])
    errors: list[dict[str, Any]] = []
    unknown = sorted(set(body) - {"alert_id", "action", "reason", "note"})
    errors += [_err(("body", k), "unknown field") for k in unknown]
    aid = body.get("alert_id")
    try:
        canonical = alert_id(aid) if isinstance(aid, str) else None
        if canonical is None:
            errors.append(_err(("body", "alert_id"), "required: the alert's UUID"))
    except InputError:
        canonical = None
        errors.append(_err(("body", "alert_id"), "not a UUID"))
    action = body.get("action")
    if action not in ACTIONS:
        errors.append(_err(("body", "action"), f"one of {', '.join(ACTIONS)}"))
    texts = {}
    for key, cap in (("reason", MAX_REASON_CHARS), ("note", MAX_NOTE_CHARS)):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > cap:
            errors.append(_err(("body", key), f"a string of at most {cap} characters"))
        elif any(ord(c) < 32 and c not in "\n\t" for c in value):
            errors.append(_err(("body", key), "control characters are not allowed"))
        elif value.strip():
            texts[key] = value.strip()
    if errors:
        raise InputError(errors)
    assert canonical is not None and isinstance(action, str)
    note = "; ".join(f"{k}: {v}" for k, v in texts.items()) or None
    if action == "reopen":
        note = "reopened" + (f"; {note}" if note else "")
    return FeedbackInput(canonical, ACTIONS[action], note)


def evidence_key(uri: str, bucket: str) -> str:
    """The S3 key of an ``s3://<bucket>/evidence/...`` URI; InputError for anything else."""
    loc = ("query", "uri")
    prefix = f"s3://{bucket}/"
    if len(uri) > MAX_KEY_CHARS or not uri.startswith(prefix):
        raise InputError([_err(loc, f"must be an s3://{bucket}/{EVIDENCE_PREFIX}... URI")])
    key = uri[len(prefix) :]
    parts = key.split("/")
    if (
        not key.startswith(EVIDENCE_PREFIX)
        or any(p in ("", ".", "..") for p in parts)
        or any(ord(c) < 33 or c in "\\%?#" for c in key)
        or not key.endswith((".jpg", ".jpeg", ".png", ".webp"))
    ):
        raise InputError([_err(loc, f"must name an image under {EVIDENCE_PREFIX}")])
    return key
