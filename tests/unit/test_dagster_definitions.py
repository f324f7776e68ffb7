"""The Dagster code location loads (the webserver would otherwise show a load error)."""

from dagster import Definitions


def test_definitions_load() -> None:
    from dagster_project.definitions import defs

    Definitions.validate_loadable(defs)
    assert defs.get_repository_def().has_job("__ASSET_JOB")
