"""The demo's smoke stage: Avro events through broker + registry, every one read back."""

from __future__ import annotations

import pytest

from schemas.registration import register_all
from vidsight.demo import smoke_produce_consume

pytestmark = pytest.mark.integration


def test_smoke_produce_consume_round_trips_every_event(catalog_topics) -> None:
    register_all(catalog_topics.endpoints)
    result = smoke_produce_consume(catalog_topics.endpoints, count=30)
    assert result.produced == result.consumed == 30
    assert result.schema_id > 0
