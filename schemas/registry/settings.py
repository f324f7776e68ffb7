"""Settings of the registry process (``python -m schemas.registry``).

The shared endpoints (``kafka_bootstrap``, ``kafka_config`` for SASL/TLS) plus the registry's
own options (the ``[registry]`` table of the config file; ``VIDSIGHT_REGISTRY_<...>``: the
fields already carry the prefix), from the environment, the config file and the command line,
built once in ``main()`` with :func:`vidsight.settings.load`. Basic auth is on when
``registry_user`` is set; the user and password come from the stack's secrets folder
(``<data_dir>/secrets/registry_user``, ``registry_password``) or ``VIDSIGHT_REGISTRY_*``
variables, never from the command line.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from schemas.registry.compatibility import Compatibility
from vidsight.settings import Endpoints


class RegistrySettings(Endpoints):
    """How the schema registry listens, where it keeps its records and whom it lets in."""

    section: ClassVar[str] = "registry"

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
    registry_max_body_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        le=256 * 1024 * 1024,
        description="largest request body accepted (413 beyond); schemas are rarely over 1 MB",
    )
    registry_allowed_hosts: tuple[str, ...] = Field(
        (),
        description=(
            "host names the Host header may carry besides the listen address, localhost, "
            "127.0.0.1, ::1 and the host of registry_url (DNS-rebinding protection)"
        ),
    )

    @model_validator(mode="after")
    def _check_auth(self) -> RegistrySettings:
        if self.registry_user and not self.registry_password.get_secret_value():
            raise ValueError(
                "registry_user is set but registry_password is empty: set both for basic "
                "auth, or neither"
            )
        return self
