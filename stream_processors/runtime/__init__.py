"""The detections-path runtime: a lean confluent-kafka loop around the pure rules engine.

``Processor`` (worker.py) is the loop; ``ProcessorSettings`` its settings. The rest are its
parts: the frames/detections alignment, camera ownership, the changelog, the global topics,
dead letters and metrics.
"""

from stream_processors.runtime.settings import ProcessorSettings, ProcessorTopics
from stream_processors.runtime.worker import Processor, RunStats

__all__ = ["Processor", "ProcessorSettings", "ProcessorTopics", "RunStats"]
