"""The registry as a running service: Kafka log + service + REST API, built by a factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from starlette.applications import Starlette

from schemas.registry.api import build_app
from schemas.registry.guard import GuardPolicy
from schemas.registry.kafka_log import KafkaEventLog
from schemas.registry.log import EventLog
from schemas.registry.service import RegistryService
from schemas.registry.settings import RegistrySettings
from schemas.registry.state import RegistryState


def create_service(event_log: EventLog, settings: RegistrySettings) -> RegistryService:
    return RegistryService(
        event_log, RegistryState(default_compatibility=settings.registry_default_compatibility)
    )


def create_policy(settings: RegistrySettings) -> GuardPolicy:
    """The guard's policy: the settings' limits, host names and basic-auth credentials."""
    url_host = urlsplit(settings.registry_url).hostname or ""
    return GuardPolicy.create(
        listen_host=settings.registry_host,
        max_body_bytes=settings.registry_max_body_bytes,
        extra_hosts=(*settings.registry_allowed_hosts, url_host),
        user=settings.registry_user,
        password=settings.registry_password.get_secret_value(),
    )


def create_app(settings: RegistrySettings, event_log: EventLog | None = None) -> Starlette:
    """The ASGI app; the log is replayed in the lifespan, before the server accepts requests."""
    service = create_service(
        event_log
        or KafkaEventLog(
            settings.kafka_client_config(),
            settings.registry_topic,
            write_timeout_s=settings.registry_write_timeout_s,
            read_timeout_s=settings.registry_read_timeout_s,
        ),
        settings,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.close()

    return build_app(service, create_policy(settings), lifespan=lifespan)
