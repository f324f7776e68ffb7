"""vidsight's schema registry: the Confluent Schema Registry REST API, state in a Kafka topic.

No Confluent-compatible registry installs from pip, so the local stack runs this one; in
production the same client code points at Confluent Schema Registry, Karapace or Apicurio.

Modules, pure first:
- ``avro_schema``: parse, validate and canonicalise Avro schemas (ids follow the canonical text
  and the references);
- ``references``: schema references (named types defined under other subjects) and the order
  their schemas are parsed in;
- ``compatibility``: the levels and the reader/writer checks (the ``avro`` package's checker);
- ``events``: the records that express every state change, and their JSON encoding;
- ``state`` / ``views``: the fold over those records, the queries and the decisions (no I/O),
  and the records it answers with;
- ``log`` / ``kafka_log``: where the records live (a list, or a one-partition topic);
- ``service``: keeps the state in step with the log, one change at a time;
- ``limits``: how deep JSON may nest (bodies and schemas), measured in O(n) without recursion;
- ``guard``: the middleware in front of every route: Host/Origin checks, optional basic auth,
  JSON content type on writes, body size cap;
- ``negotiation``: the response media type from the ``Accept`` header (406 when none fits);
- ``api`` (routes on the raw path, so subjects may contain ``/`` sent as ``%2F``),
  ``api_subjects``, ``api_schemas``, ``api_common`` / ``app``: the REST API (starlette) and its
  factory; ``__main__`` runs it.

Endpoints: ``GET /``; ``GET /_health`` (the one route open without credentials);
``GET /subjects``; ``GET|POST /subjects/{s}/versions``;
``GET|DELETE /subjects/{s}/versions/{v}`` (+ ``/schema``, ``/referencedby``);
``POST|DELETE /subjects/{s}``; ``GET /schemas`` (``subjectPrefix``, ``deleted``,
``latestOnly``, ``offset``, ``limit``); ``GET /schemas/ids/{id}`` (+ ``/schema``, ``/versions``,
``/subjects``); ``GET /schemas/types``; ``POST /compatibility/subjects/{s}/versions[/{v}]``;
``GET|PUT|DELETE /config[/{s}]``; ``GET|PUT /mode[/{s}]``, ``DELETE /mode/{s}`` (READWRITE
only). Avro schema references are supported (``references`` on register, lookup and
compatibility; deleting a referenced version is refused with 42206).
Not supported: schema types other than AVRO (so references are Avro named types only),
contexts, IMPORT/READONLY modes, metadata and rule sets (ignored), ``normalize`` beyond the
canonical text every schema gets, multiple writers on one topic.
"""
