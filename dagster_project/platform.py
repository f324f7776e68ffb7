"""Platform assets: the broker's topics against the catalog."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from dagster_project.domain import Domain
from dagster_project.resources import PlatformResource


@asset(
    group_name="platform", description="Topics on the broker vs the catalog, with partition counts."
)
def kafka_topics(context: AssetExecutionContext, platform: PlatformResource) -> MaterializeResult:  # type: ignore[type-arg]
    from schemas.catalog import CATALOG
    from schemas.topics import list_topics

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


DOMAIN = Domain(assets=[kafka_topics])
