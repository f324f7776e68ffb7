"""vidsight's schema registry: the Confluent Schema Registry REST API, state in a Kafka topic.

No Confluent-compatible registry installs from pip, so the local stack runs this one; in
production the same client code points at Confluent Schema Registry, Karapace or Apicurio.

Modules, pure first:
- ``avro_schema``: parse, validate and canonicalise Avro schemas (ids follow the canonical text);
- ``compatibility``: the levels and the reader/writer checks (the ``avro`` package's checker);
- ``events``: the records that express every state change, and their JSON encoding;
- ``state``: the fold over those records, the queries and the decisions (no I/O);
- ``log`` / ``kafka_log``: where the records live (a list, or a one-partition topic);
- ``service``: keeps the state in step with the log, one change at a time;
- ``limits``: how deep JSON may nest (bodies and schemas), measured in O(n) without recursion;
- ``guard``: the middleware in front of every route: Host/Origin checks, optional basic auth,
  JSON content type on writes, body size cap;
- ``api`` / ``app``: the REST API (starlette) and its factory; ``__main__`` runs it.

Endpoints: ``GET /``; ``GET /_health`` (the one route open without credentials);
``GET /subjects``; ``GET|POST /subjects/{s}/versions``;
``GET|DELETE /subjects/{s}/versions/{v}`` (+ ``/schema``, ``/referencedby``);
``POST|DELETE /subjects/{s}``; ``GET /schemas/ids/{id}`` (+ ``/schema``, ``/versions``,
``/subjects``); ``GET /schemas/types``; ``POST /compatibility/subjects/{s}/versions[/{v}]``;
``GET|PUT|DELETE /config[/{s}]``; ``GET|PUT /mode[/{s}]`` (READWRITE only).
Not supported: schema types other than AVRO, schema references, contexts, IMPORT/READONLY
modes, metadata and rule sets (ignored), multiple writers on one topic.
"""
