"""Event contracts of vidsight: the ``*.avsc`` schemas (source of truth), the topic catalog,
typed records and the Confluent-framed Avro serde.

Import what you need from the submodules (``schemas.catalog``, ``schemas.records``,
``schemas.serde``); this package does nothing on import.
"""
