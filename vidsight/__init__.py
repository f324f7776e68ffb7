"""vidsight: event-sourced video-analytics data platform (shared CLI and settings)."""

__version__ = "0.1.0"
