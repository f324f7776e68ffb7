"""The MongoDB connection, shared by every process that uses the store (top-level key
``mongo_uri``, env ``VIDSIGHT_MONGO_URI``): the sinks, the ETL and the console."""

from __future__ import annotations

from pydantic import Field, SecretStr

from vidsight.settings import SharedSettings


class MongoConnection(SharedSettings):
    """Where the MongoDB server of the documents is."""

    mongo_uri: SecretStr = Field(
        SecretStr("mongodb://127.0.0.1:27017/"), description="MongoDB connection URI"
    )
