"""``vidsight demo``: the whole platform on the local stack, end to end, with known answers.

- ``smoke``: Avro events through the broker and the registry (the first check);
- ``site``: synthetic cameras with ground truth and the sensors watching them;
- ``pipeline``: edge -> processor -> sinks in one process, with progress;
- ``summary``: the run read back from PostgreSQL, ClickHouse, MongoDB and S3;
- ``run``: all of it, as ``vidsight demo`` and the end-to-end test use it.
"""

from vidsight.demo.errors import DemoError
from vidsight.demo.smoke import SmokeResult, smoke_produce_consume

__all__ = ["DemoError", "SmokeResult", "smoke_produce_consume"]
