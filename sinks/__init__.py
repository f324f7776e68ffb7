"""Sinks: Kafka -> PostgreSQL | MongoDB | ClickHouse | S3, one consumer group per store.

Layout: ``base`` (the add/flush contract), ``batching`` and ``backoff`` (pure policies),
``runner`` (the consume loop: commits, outages, dead letters), ``dlq``, ``metrics``,
``service`` (threads and signals of ``sink run``), one module or package per store
(``postgres``, ``mongo``, ``clickhouse``, ``s3archive``), ``replay`` (rebuild a projection),
``sql`` (analysts' queries), ``cli`` (the commands). Deterministic test scenes live in
``tests/support/samples.py``.
"""
