"""Settings per process kind: each reads the shared keys and its own table / env prefix.

One config file serves every process: keys of other kinds are skipped, unknown keys refused
with their name, old flat files and env names still work (with a deprecation warning).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import dagster_project.analytics_settings
import etl.retention.policy
import schemas.registry.settings
import stream_processors.backtest.settings
import stream_processors.readmodels.settings
import vidsight.console.settings
from infra.stack.settings import StackEndpoints, StackSettings
from producers.settings import EdgeSettings
from sinks.settings import SinkSettings
from stream_processors.runtime.settings import ProcessorSettings
from vidsight import settings as cfg
from vidsight.errors import ConfigError
from vidsight.settings import PROCESS_KINDS, load

# Every process kind's class is imported above, so each one's keys are known (as in `vidsight`).
KINDS = {
    "edge": EdgeSettings,
    "processor": ProcessorSettings,
    "sinks": SinkSettings,
    "readmodels": stream_processors.readmodels.settings.ReadModelSettings,
    "registry": schemas.registry.settings.RegistrySettings,
    "stack": StackSettings,
    "console": vidsight.console.settings.ConsoleSettings,
    "backtest": stream_processors.backtest.settings.BacktestSettings,
    "etl": etl.retention.policy.RetentionSettings,
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("VIDSIGHT_"):
            monkeypatch.delenv(key)
    cfg._warned.clear()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vidsight.toml"
    path.write_text(text)
    return path


def test_every_process_kind_has_a_registered_section() -> None:
    sections = cfg.process_sections()
    assert set(sections) == set(PROCESS_KINDS)
    for name, cls in KINDS.items():
        assert cls in sections[name]
    assert dagster_project.analytics_settings.AnalyticsSettings in sections["etl"]


def test_a_processor_key_in_the_shared_file_does_not_break_the_sinks(tmp_path: Path) -> None:
    path = write(tmp_path, "[processor]\nbatch_max_messages = 7\n[sinks]\nbatch_max_records = 9\n")
    assert load(SinkSettings, config_file=path, data_dir=tmp_path).batch_max_records == 9
    assert load(ProcessorSettings, config_file=path, data_dir=tmp_path).batch_max_messages == 7


def test_one_file_gives_each_process_its_own_metrics_port(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'kafka_bootstrap = "k1:9092"\n'
        "[sinks]\nmetrics_port = 9101\n[edge]\nmetrics_port = 9102\n"
        "[processor]\nmetrics_port = 9103\n",
    )
    sinks = load(SinkSettings, config_file=path, data_dir=tmp_path)
    edge = load(EdgeSettings, config_file=path, data_dir=tmp_path)
    processor = load(ProcessorSettings, config_file=path, data_dir=tmp_path)
    assert (sinks.metrics_port, edge.metrics_port, processor.metrics_port) == (9101, 9102, 9103)
    assert sinks.kafka_bootstrap == edge.kafka_bootstrap == "k1:9092"


def test_every_kind_loads_a_file_with_every_table(tmp_path: Path) -> None:
    tables = "".join(f"[{name}]\n" for name in PROCESS_KINDS)
    path = write(tmp_path, 'registry_url = "http://reg:8081"\n' + tables)
    for cls in KINDS.values():
        assert load(cls, config_file=path, data_dir=tmp_path).registry_url == "http://reg:8081"


def test_the_vidsight_table_may_hold_everything(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[vidsight]\nkafka_bootstrap = "k9:9092"\n[vidsight.sinks]\nmetrics_port = 9\n'
    )
    s = load(SinkSettings, config_file=path, data_dir=tmp_path)
    assert (s.kafka_bootstrap, s.metrics_port) == ("k9:9092", 9)


def test_unknown_key_in_own_table_is_refused_with_its_name(tmp_path: Path) -> None:
    path = write(tmp_path, "[sinks]\nbatch_max_recods = 9\n")
    with pytest.raises(ConfigError, match=r"'batch_max_recods' in \[sinks\].*batch_max_records"):
        load(SinkSettings, config_file=path, data_dir=tmp_path)


def test_another_kinds_table_is_not_checked_by_this_kind(tmp_path: Path) -> None:
    path = write(tmp_path, "[sinks]\nbatch_max_recods = 9\n")
    assert load(EdgeSettings, config_file=path, data_dir=tmp_path).metrics_port is None


def test_a_shared_key_inside_a_table_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[edge]\nkafka_bootstrap = "k:1"\n')
    with pytest.raises(ConfigError, match=r"'kafka_bootstrap' in \[edge\]"):
        load(EdgeSettings, config_file=path, data_dir=tmp_path)


def test_unknown_top_level_key_is_refused_with_its_name(tmp_path: Path) -> None:
    path = write(tmp_path, 'kafka_bootstrapp = "x:1"\n')
    for cls in (SinkSettings, EdgeSettings, StackEndpoints):
        with pytest.raises(ConfigError) as info:
            load(cls, config_file=path, data_dir=tmp_path)
        text = str(info.value)
        assert "'kafka_bootstrapp' at the top level" in text
        assert "kafka_bootstrap," in text and "[sinks]" in text


def test_a_table_that_must_be_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, "sinks = 3\n")
    with pytest.raises(ConfigError, match=r"\[sinks\] must be a table"):
        load(EdgeSettings, config_file=path, data_dir=tmp_path)


def test_old_flat_file_is_read_by_the_owner_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, "batch_max_messages = 7\nbatch_max_records = 9\n")
    with caplog.at_level(logging.WARNING, logger="vidsight.settings"):
        processor = load(ProcessorSettings, config_file=path, data_dir=tmp_path)
        sinks = load(SinkSettings, config_file=path, data_dir=tmp_path)
        edge = load(EdgeSettings, config_file=path, data_dir=tmp_path)
    assert processor.batch_max_messages == 7 and sinks.batch_max_records == 9
    assert edge.metrics_port is None
    text = caplog.text
    assert "'batch_max_messages'" in text and "[processor]" in text
    assert "'batch_max_records'" in text and "[sinks]" in text


def test_own_table_beats_the_old_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, "metrics_port = 1\n[edge]\nmetrics_port = 2\n")
    assert load(EdgeSettings, config_file=path, data_dir=tmp_path).metrics_port == 2
    assert load(SinkSettings, config_file=path, data_dir=tmp_path).metrics_port == 1


def test_etl_reads_the_sinks_table_then_its_own(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[sinks]\nclickhouse_database = "facts"\narchive_prefix = "arch"\n'
        '[etl]\narchive_prefix = "arch2"\nlake_prefix = "lk"\n[etl.retention]\nevidence_days = 3\n',
    )
    retention = load(etl.retention.policy.RetentionSettings, config_file=path, data_dir=tmp_path)
    assert retention.clickhouse_database == "facts"
    assert (retention.archive_prefix, retention.lake_prefix) == ("arch2", "lk")
    assert retention.retention.evidence_days == 3
    analytics = load(
        dagster_project.analytics_settings.AnalyticsSettings, config_file=path, data_dir=tmp_path
    )
    assert (analytics.clickhouse_database, analytics.archive_prefix) == ("facts", "arch2")
    assert load(SinkSettings, config_file=path, data_dir=tmp_path).archive_prefix == "arch"


def test_backtest_tunes_the_rules_as_the_processor_does(tmp_path: Path) -> None:
    path = write(tmp_path, "[processor.engine]\nfp_iou = 0.5\n[backtest]\narchive_slack_s = 60\n")
    bt = load(KINDS["backtest"], config_file=path, data_dir=tmp_path)
    assert bt.engine_options().fp_iou == 0.5 and bt.archive_slack_s == 60


def test_env_prefix_per_process_kind(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VIDSIGHT_SINKS_METRICS_PORT", "9101")
    monkeypatch.setenv("VIDSIGHT_EDGE_METRICS_PORT", "9102")
    monkeypatch.setenv("VIDSIGHT_EDGE_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("VIDSIGHT_PROCESSOR_TOPICS__ALERTS", "shadow.alerts")
    monkeypatch.setenv("VIDSIGHT_S3_BUCKET", "shared-bucket")
    sinks = load(SinkSettings, data_dir=tmp_path)
    edge = load(EdgeSettings, data_dir=tmp_path)
    processor = load(ProcessorSettings, data_dir=tmp_path)
    assert (sinks.metrics_port, edge.metrics_port, processor.metrics_port) == (9101, 9102, None)
    assert edge.spool_path == tmp_path / "spool"
    assert processor.topics.alerts == "shadow.alerts"
    assert sinks.s3_bucket == edge.s3_bucket == "shared-bucket"


def test_fields_named_after_their_section_keep_their_env_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("VIDSIGHT_REGISTRY_PORT", "18081")
    monkeypatch.setenv("VIDSIGHT_CONSOLE_PASSWORD", "pw")
    with caplog.at_level(logging.WARNING, logger="vidsight.settings"):
        assert load(KINDS["registry"], data_dir=tmp_path).registry_port == 18081
        console = load(KINDS["console"], data_dir=tmp_path)
    assert console.console_password.get_secret_value() == "pw"
    assert "deprecated" not in caplog.text


def test_old_env_name_works_with_a_deprecation_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("VIDSIGHT_BATCH_MAX_RECORDS", "77")
    monkeypatch.setenv("VIDSIGHT_TOPICS__DLQ", "old.dlq")
    with caplog.at_level(logging.WARNING, logger="vidsight.settings"):
        assert load(SinkSettings, data_dir=tmp_path).batch_max_records == 77
        assert load(SinkSettings, data_dir=tmp_path).batch_max_records == 77
        assert load(ProcessorSettings, data_dir=tmp_path).topics.dlq == "old.dlq"
    warnings = [r.getMessage() for r in caplog.records]
    sinks = [w for w in warnings if "VIDSIGHT_BATCH_MAX_RECORDS" in w]
    assert len(sinks) == 1, "warned once"
    assert "VIDSIGHT_SINKS_BATCH_MAX_RECORDS" in sinks[0]
    assert any("VIDSIGHT_PROCESSOR_TOPICS__DLQ" in w for w in warnings)


def test_new_env_name_wins_over_the_old(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VIDSIGHT_METRICS_PORT", "1")
    monkeypatch.setenv("VIDSIGHT_SINKS_METRICS_PORT", "2")
    monkeypatch.setenv("VIDSIGHT_STACK_HOST", "127.0.0.2")
    monkeypatch.setenv("VIDSIGHT_HOST", "127.0.0.3")
    assert load(SinkSettings, data_dir=tmp_path).metrics_port == 2
    assert load(EdgeSettings, data_dir=tmp_path).metrics_port == 1, "the old name still works"
    assert load(StackSettings, data_dir=tmp_path).host == "127.0.0.2"


def test_env_beats_the_file_and_backtest_beats_processor(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = write(tmp_path, "[processor]\ngroup_id = 'from-file'\n")
    monkeypatch.setenv("VIDSIGHT_PROCESSOR_GROUP_ID", "from-processor-env")
    assert load(ProcessorSettings, config_file=path, data_dir=tmp_path).group_id == (
        "from-processor-env"
    )
    monkeypatch.setenv("VIDSIGHT_BACKTEST_GROUP_ID", "from-backtest-env")
    assert load(KINDS["backtest"], config_file=path, data_dir=tmp_path).group_id == (
        "from-backtest-env"
    )
    assert load(ProcessorSettings, data_dir=tmp_path).group_id == "from-processor-env"


def test_bad_value_names_the_new_env_and_the_table(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VIDSIGHT_SINKS_METRICS_PORT", "70000")
    with pytest.raises(ConfigError) as info:
        load(SinkSettings, data_dir=tmp_path)
    assert "metrics_port (env VIDSIGHT_SINKS_METRICS_PORT, [sinks] in the file)" in str(info.value)


def test_each_process_composes_only_the_stores_it_uses() -> None:
    def has(cls: type, field: str) -> bool:
        return field in cls.model_fields

    assert has(EdgeSettings, "s3_bucket") and not has(EdgeSettings, "postgres_dsn")
    assert not any(has(ProcessorSettings, f) for f in ("s3_bucket", "postgres_dsn", "mongo_uri"))
    for field in ("postgres_dsn", "mongo_uri", "clickhouse_url", "s3_bucket"):
        assert has(SinkSettings, field) and has(KINDS["console"], field)
    assert has(KINDS["backtest"], "s3_bucket") and not has(KINDS["backtest"], "postgres_dsn")
    # One metrics_port, declared once, used by each long-running kind.
    for cls in (EdgeSettings, ProcessorSettings, SinkSettings):
        assert issubclass(cls, cfg.MetricsSettings)


def test_a_shared_key_of_a_store_the_process_does_not_use_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, 'postgres_dsn = "postgresql://u@h/d"\ns3_bucket = "b-1"\n')
    edge = load(EdgeSettings, config_file=path, data_dir=tmp_path)
    assert edge.s3_bucket == "b-1"
    every = StackEndpoints(data_dir=tmp_path).model_dump()
    assert EdgeSettings(**every).s3_bucket == "vidsight", "a client's endpoints fit any kind"
    with pytest.raises(ValueError, match="nope"):
        EdgeSettings(nope=1)  # type: ignore[call-arg]


def test_secrets_and_stack_file_still_layer_under_each_kind(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "stack.json").write_text(
        json.dumps(
            {
                "endpoints": {"kafka_bootstrap": "127.0.0.1:19092", "s3_bucket": "stackbucket"},
                "settings": {"ports": {"dagster": 13000}},
            }
        )
    )
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "clickhouse_password").write_text("ch-secret\n")
    (secrets / "console_password").write_text("op-secret\n")
    sinks = load(SinkSettings, data_dir=tmp_path)
    assert sinks.kafka_bootstrap == "127.0.0.1:19092" and sinks.s3_bucket == "stackbucket"
    assert sinks.clickhouse_password.get_secret_value() == "ch-secret"
    console = load(KINDS["console"], data_dir=tmp_path)
    assert console.console_password.get_secret_value() == "op-secret"
    assert load(StackSettings, data_dir=tmp_path).ports.dagster == 13000
    edge = load(EdgeSettings, data_dir=tmp_path)
    assert edge.s3_bucket == "stackbucket"
    assert "clickhouse_password" not in EdgeSettings.model_fields
    path = write(tmp_path, '[sinks]\nmetrics_port = 5\ns3_bucket = "x"\n')
    with pytest.raises(ConfigError, match=r"'s3_bucket' in \[sinks\]"):
        load(SinkSettings, config_file=path, data_dir=tmp_path)
    monkeypatch.setenv("VIDSIGHT_CLICKHOUSE_PASSWORD", "from-env")
    assert load(SinkSettings, data_dir=tmp_path).clickhouse_password.get_secret_value() == (
        "from-env"
    )


def test_stack_settings_from_their_new_home(tmp_path: Path) -> None:
    import infra.stack.settings as home

    s = load(home.StackSettings, data_dir=tmp_path)
    assert s.section == "stack" and s.ports == home.Ports()
    assert not hasattr(cfg, "StackSettings") and not hasattr(cfg, "Ports")
    assert home.StackSettings not in cfg.process_sections().get("sinks", [])


def test_a_process_started_alone_skips_top_level_keys_it_cannot_judge(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # `python -m schemas.registry` loads no sinks: their store keys and a typo look alike to it.
    alone = {"registry": cfg._PROCESS_CLASSES["registry"]}
    monkeypatch.setattr("vidsight.settings.base._PROCESS_CLASSES", alone)  # where it lives
    path = write(
        tmp_path, 'mongo_urii = "x"\nregistry_url = "http://r:1"\n[registry]\nregistry_port = 1\n'
    )
    with caplog.at_level(logging.WARNING, logger="vidsight.settings"):
        s = load(KINDS["registry"], config_file=path, data_dir=tmp_path)
    assert (s.registry_url, s.registry_port) == ("http://r:1", 1)
    assert "'mongo_urii'" in caplog.text and "skipped" in caplog.text
    caplog.clear()
    shared = write(tmp_path, 's3_bucket = "b-2"\n')  # S3 is core: known to every process
    with caplog.at_level(logging.WARNING, logger="vidsight.settings"):
        load(KINDS["registry"], config_file=shared, data_dir=tmp_path)
    assert "skipped" not in caplog.text
    bad = write(tmp_path, "[registry]\nregistry_prot = 1\n")
    with pytest.raises(ConfigError, match="'registry_prot' in \\[registry\\]"):
        load(KINDS["registry"], config_file=bad, data_dir=tmp_path)


def test_the_readme_example_file_loads_for_every_kind(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    section = readme[readme.index("### Settings") :]
    example = section[section.index("```toml\n") + 8 : section.index("```\n", 8)]
    path = write(tmp_path, example)
    for cls in KINDS.values():
        load(cls, config_file=path, data_dir=tmp_path)
    kinds = (EdgeSettings, ProcessorSettings, SinkSettings)
    ports = [load(c, config_file=path, data_dir=tmp_path).metrics_port for c in kinds]
    assert ports == [9102, 9103, 9101]
    assert load(StackSettings, config_file=path, data_dir=tmp_path).ports.kafka == 19092
