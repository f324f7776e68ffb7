"""Settings of the registry process (``python -m schemas.registry``).

The shared endpoints (``kafka_bootstrap``, ``kafka_config`` for SASL/TLS) plus the registry's
own options, from ``VIDSIGHT_*`` environment variables, the config file and the command line,
built once in ``main()`` with :func:`vidsight.settings.load`.
"""

from __future__ import annotations

from pydantic import Field

from schemas.registry.compatibility import Compatibility
from vidsight.settings import Endpoints


class RegistrySettings(Endpoints):
    registry_host: str = Field("127.0.0.1", description="address the REST API listens on")
    registry_port: int = Field(8081, ge=1, le=65535, description="port the REST API listens on")
    registry_topic: str = Field(
        "_schemas",
        min_length=1,
        max_length=249,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Kafka topic holding the registry's records (one partition)",
    )
    registry_default_compatibility: Compatibility = Field(
        Compatibility.BACKWARD,
        description="compatibility level in force until PUT /config sets one",
    )
    registry_write_timeout_s: float = Field(
        10.0, gt=0, description="seconds a write to the topic may take to be acknowledged"
    )
    registry_read_timeout_s: float = Field(
        120.0, gt=0, description="seconds reading the topic to its end (on start) may take"
    )
