"""Every client of the schema registry gets the deployment's credentials.

``schemas.registry_access`` is the one place that turns settings into a registry client
(``Endpoints.registry_client_config()`` for confluent-kafka, ``registry_auth()`` for httpx). A
client built from ``settings.registry_url`` alone would send no credentials and fail with 401
once the registry has basic auth on (the local stack turns it on at the first ``up``).
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
)
BUILDS_CLIENTS = "schemas/registry_access.py"
EXAMPLES = "schemas/examples/"
"""Code for downstream developers to copy: it imports nothing of the project and builds its
client with the stack's credentials itself."""
BARE_URL = re.compile(
    r"(for_registry|RegistryResolver|RegistryRest|register_all|check_all)\(\s*\w+\.registry_url\b"
)


def _sources() -> dict[str, str]:
    return {
        str(p.relative_to(ROOT)): p.read_text()
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*.py")
    }


def test_registry_clients_are_built_in_one_place() -> None:
    direct = [
        path
        for path, text in _sources().items()
        if re.search(r"\bSchemaRegistryClient\(", text)
        and path != BUILDS_CLIENTS
        and not path.startswith(EXAMPLES)
    ]
    assert direct == [], f"build these with schemas.registry_access.registry_client(): {direct}"


def test_no_client_is_given_a_bare_url_from_the_settings() -> None:
    offenders = [path for path, text in _sources().items() if BARE_URL.search(text)]
    assert offenders == [], f"pass the settings (Endpoints), not .registry_url: {offenders}"


def test_the_scan_sees_the_clients() -> None:
    sources = _sources()
    assert "registry_client_config()" in sources[BUILDS_CLIENTS]
    assert "registry_auth()" in sources[BUILDS_CLIENTS]
    users = [p for p, t in sources.items() if re.search(r"\b(for_registry|register_all)\(", t)]
    assert len(users) >= 8
