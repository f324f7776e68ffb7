"""Every Kafka client of the project gets the deployment's security settings.

``Endpoints.kafka_client_config()`` is the one place that adds ``kafka_config`` (SASL, TLS) to
a librdkafka config; a client built from a hand-written ``{"bootstrap.servers": ...}`` would
connect without them and fail (or, against a misconfigured broker, connect in plaintext).
The faust read models translate the same keys (``readmodels.kafka_auth``); aiokafka is used
nowhere else.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = (
    "vidsight",
    "producers",
    "stream_processors",
    "schemas",
    "sinks",
    "etl",
    "dagster_project",
    "infra",
    "bench",
)
BUILDS_CONFIG = "vidsight/settings/base.py"
LOCAL_STACK = "infra/stack/"
"""The local stack's own probes of the loopback Tansu broker, which has no authentication; the
production deployment never runs this code (see SECURITY.md)."""


STANDALONE = "schemas/examples/"
"""Examples for downstream developers, deliberately free of vidsight's settings: they must
still honour VIDSIGHT_KAFKA_CONFIG, or they cannot reach a secured cluster."""


def _sources() -> dict[str, str]:
    return {
        str(p.relative_to(ROOT)): p.read_text()
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*.py")
    }


def test_no_client_config_is_written_by_hand() -> None:
    offenders = [
        path
        for path, text in _sources().items()
        if "bootstrap.servers" in text
        and path != BUILDS_CONFIG
        and not path.startswith((LOCAL_STACK, STANDALONE))
    ]
    assert offenders == [], f"build these clients from Endpoints.kafka_client_config(): {offenders}"


def test_standalone_examples_take_the_security_settings() -> None:
    examples = {p: t for p, t in _sources().items() if p.startswith(STANDALONE)}
    for path, text in examples.items():
        if "bootstrap.servers" in text:
            assert "VIDSIGHT_KAFKA_CONFIG" in text, path


def test_the_scan_sees_the_clients() -> None:
    # guards the test above against scanning nothing (a moved package, a wrong root)
    sources = _sources()
    assert "bootstrap.servers" in sources[BUILDS_CONFIG]
    clients = [p for p, t in sources.items() if re.search(r"\b(Producer|Consumer)\(", t)]
    assert len(clients) >= 8


def test_aiokafka_clients_are_built_only_by_faust() -> None:
    direct = [
        path
        for path, text in _sources().items()
        if re.search(r"\bAIOKafka(Consumer|Producer|AdminClient|Client)\b", text)
    ]
    assert direct == []
