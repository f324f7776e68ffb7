"""The one ``Definitions`` of vidsight (``dagster-webserver -m dagster_project.definitions``).

Dagster discovers a module-level ``defs``; everything it holds is built by ``build_definitions``
so importing the assets registers nothing by side effect.
"""

from dagster import (
    AssetExecutionContext,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
)

from dagster_project.resources import PlatformResource, platform_resource


@asset(
    group_name="platform", description="Topics on the broker vs the catalog, with partition counts."
)
def kafka_topics(context: AssetExecutionContext, platform: PlatformResource) -> MaterializeResult:  # type: ignore[type-arg]
    from infra.topics import list_topics
    from schemas.catalog import CATALOG

    on_broker = list_topics(platform.kafka_config())
    missing = [spec.name for spec in CATALOG if spec.name not in on_broker]
    rows = "\n".join(
        f"| {spec.name} | {spec.partitions} | {on_broker.get(spec.name, 'missing')} |"
        for spec in CATALOG
    )
    context.log.info("catalog topics missing on broker: %s", missing)
    return MaterializeResult(
        metadata={
            "topics": MetadataValue.md("| topic | catalog | broker |\n|---|---|---|\n" + rows),
            "missing": MetadataValue.int(len(missing)),
        }
    )


def build_definitions() -> Definitions:
    return Definitions(assets=[kafka_topics], resources={"platform": platform_resource()})


defs = build_definitions()
