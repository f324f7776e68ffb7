"""`vidsight topics create` creates the whole catalog explicitly and is idempotent."""

from __future__ import annotations

import subprocess
import sys

import pytest

from schemas.catalog import CATALOG
from schemas.topics import create_topics, list_topics

pytestmark = pytest.mark.integration


def test_catalog_created_with_partitions_and_rerun_is_noop(stack) -> None:
    conf = stack.endpoints.kafka_client_config()
    create_topics(conf)
    on_broker = list_topics(conf)
    for spec in CATALOG:
        assert on_broker[spec.name] == spec.partitions, spec.name
    again = create_topics(conf)
    assert {r.outcome for r in again} == {"exists"}


def test_cli_reports_each_topic(stack) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vidsight", "topics", "create"],
        capture_output=True,
        text=True,
        env=stack.env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for spec in CATALOG:
        assert spec.name in result.stdout
