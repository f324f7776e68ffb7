"""The Kafka runtime every consume loop builds on (the bottom layer: imports no domain package).

- ``clients``: the client surface (protocols the real clients and in-memory fakes satisfy),
  the client factory and the librdkafka configs, local-broker workarounds in one place;
- ``backoff``: the one retry schedule (stateless ``Backoff``, stateful ``Retry``);
- ``producer``: ``AckingProducer``, a producer that knows what the broker acknowledged;
- ``dlq``: dead-letter headers and the ``DeadLetterWriter``;
- ``reading``: assign-all readers and reading partitions to their end;
- ``shutdown``: ``stop_on_signals``, SIGTERM/SIGINT as a graceful stop;
- ``loop``: ``ConsumeLoop``, the consume-loop skeleton (assignment, revocation, loss, pause,
  rewind and back-off, idle exit, graceful shutdown, metrics hooks).
"""
