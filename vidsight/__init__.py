"""vidsight: event-sourced video-analytics data platform.

This package is the core every other package builds on (errors, settings, the root command
group, redaction, the Kafka runtime, the S3 client) and, in ``cli``, ``demo`` and ``console``,
the applications on top; the core never imports an application (tests/unit/test_layers.py).
"""

__version__ = "0.1.0"
