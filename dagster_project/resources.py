"""Dagster resources: the platform's endpoints, configured from ``VIDSIGHT_*`` variables."""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource, EnvVar

from vidsight.settings import Endpoints, load


class PlatformResource(ConfigurableResource):  # type: ignore[type-arg]
    """The endpoints every asset talks to; empty fields fall back to vidsight's settings."""

    data_dir: str = ""

    def endpoints(self) -> Endpoints:
        return load(Endpoints, data_dir=self.data_dir or None)

    def kafka_config(self) -> dict[str, Any]:
        return self.endpoints().kafka_client_config()


def platform_resource() -> PlatformResource:
    return PlatformResource(data_dir=EnvVar("VIDSIGHT_DATA_DIR").get_value() or "")
