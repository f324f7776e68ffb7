"""Settings of the feedback commands (``vidsight feedback ...``): the processor's settings (the
feedback topic, the broker, ``[processor]``) plus the PostgreSQL connection they look alerts up
in. The worker itself uses no store, so its ``ProcessorSettings`` does not carry it."""

from __future__ import annotations

from sinks.postgres_settings import PostgresConnection
from stream_processors.runtime.settings import ProcessorSettings


class FeedbackSettings(ProcessorSettings, PostgresConnection):
    """The processor's settings and where the alerts' PostgreSQL projection is."""
