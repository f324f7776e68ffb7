"""Worker start-up checks: source topics must exist co-partitioned; changelog specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import catalog
from schemas.serde import InMemorySchemaResolver, Serde
from stream_processors.readmodels.app import SOURCE_TOPICS, create_app
from stream_processors.readmodels.errors import ReadModelError
from stream_processors.readmodels.runner import changelog_specs, check_sources
from stream_processors.readmodels.settings import ReadModelSettings


def test_changelog_specs_match_faust_names_and_source_partitions(tmp_path: Path) -> None:
    settings = ReadModelSettings(data_dir=tmp_path, app_id="rm-a")
    models = create_app(settings, serde=Serde(InMemorySchemaResolver()))
    specs = changelog_specs(models)
    assert [s.name for s in specs] == [
        "rm-a-occupancy-changelog",
        "rm-a-crossings-changelog",
        "rm-a-open_alerts-changelog",
        "rm-a-fp_verdicts-changelog",
    ]
    assert {s.partitions for s in specs} == {catalog.topic(catalog.SENSOR_EVENTS).partitions}
    assert all(s.compacted and s.value_schema is None for s in specs)


def test_check_sources_accepts_matching_topics() -> None:
    check_sources(dict.fromkeys(SOURCE_TOPICS, 12) | {"other": 4}, 12, SOURCE_TOPICS)


def test_a_missing_source_topic_says_how_to_create_it() -> None:
    existing = dict.fromkeys(SOURCE_TOPICS[:2], 12)
    with pytest.raises(ReadModelError, match=f"{SOURCE_TOPICS[2]} does not exist.*topics create"):
        check_sources(existing, 12, SOURCE_TOPICS)


def test_an_auto_created_source_topic_is_refused() -> None:
    existing = dict.fromkeys(SOURCE_TOPICS, 12) | {catalog.ALERTS: 4}
    with pytest.raises(ReadModelError, match=f"{catalog.ALERTS} has 4 partitions.*12"):
        check_sources(existing, 12, SOURCE_TOPICS)
