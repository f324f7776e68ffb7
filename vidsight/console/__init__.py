"""The operator console: live alerts, alert detail with verdicts, cameras, sensor editor.

An application at the top of the layers (nothing imports it). It reads topics and stores and
writes only events (Feedback, sensor definitions). Build it with :func:`create_app`.
"""

from vidsight.console.app import create_app
from vidsight.console.settings import ConsoleSettings

__all__ = ["ConsoleSettings", "create_app"]
