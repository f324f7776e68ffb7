"""Settings of ``vidsight console``: where it listens, who may log in, its caps.

Its own fields are set in the ``[console]`` table of the TOML settings file or as
``VIDSIGHT_CONSOLE_<FIELD>`` (``console_password`` stays ``VIDSIGHT_CONSOLE_PASSWORD``); the
shared endpoints and the four stores' connections at the top level / ``VIDSIGHT_<FIELD>``.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, field_validator

from sinks.clickhouse_settings import ClickHouseConnection
from sinks.mongo_settings import MongoConnection
from sinks.postgres_settings import PostgresConnection
from vidsight.s3 import S3Connection
from vidsight.settings import Endpoints, check_http_url

LOCAL_OPERATOR = "operator"
"""The account the local stack generates (its password: ``DATA_DIR/secrets/console_password``)."""


class ConsoleSettings(
    Endpoints, PostgresConnection, MongoConnection, ClickHouseConnection, S3Connection
):
    """The operator console: a web app over the topics and stores (writes events only)."""

    section: ClassVar[str] = "console"

    host: str = Field("127.0.0.1", description="address the console binds (loopback by default)")
    port: int = Field(8088, ge=1, le=65535, description="port the console listens on")
    allowed_hosts: tuple[str, ...] = Field(
        (),
        max_length=32,
        description="host names the console answers besides its bind address and loopback "
        "names (a Host header naming anything else is refused: DNS rebinding)",
    )
    users: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="operator accounts: user name -> password hash made by "
        "`python -m vidsight.console hash-password` (scrypt$n$r$p$salt$hash)",
    )
    console_password: SecretStr = Field(
        SecretStr(""),
        description=f"password of the local account {LOCAL_OPERATOR!r} ('' = no such account); "
        "the local stack generates it into DATA_DIR/secrets/console_password",
    )
    console_session_secret: SecretStr = Field(
        SecretStr(""),
        description="key signing session cookies and CSRF tokens (the local stack generates "
        "one; '' = a random key per process, so sessions end with the process)",
    )
    session_max_age_s: int = Field(
        12 * 3600, ge=60, le=30 * 86400, description="seconds a login stays valid"
    )
    secure_cookies: bool = Field(
        False, description="mark cookies Secure (set it when the console is served over https)"
    )
    readmodels_url: str = Field(
        "http://127.0.0.1:6066", description="base URL of the live read models (faust web)"
    )
    evidence_max_bytes: int = Field(
        8 * 2**20, ge=1024, le=64 * 2**20, description="largest evidence object served"
    )
    max_body_bytes: int = Field(
        256 * 1024, ge=1024, le=4 * 2**20, description="largest request body accepted"
    )
    revisions_kept: int = Field(
        5000, ge=10, le=1_000_000, description="alerts whose revisions the live feed remembers"
    )
    store_timeout_s: float = Field(
        5.0, gt=0, le=60, description="seconds a store query may take before the page says so"
    )

    @field_validator("readmodels_url")
    @classmethod
    def _check_rm_url(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("users")
    @classmethod
    def _check_users(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for user, hashed in value.items():
            if not user or len(user) > 64 or not user.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"user name {user!r}: 1-64 letters, digits, - or _")
            if not hashed.get_secret_value().startswith("scrypt$"):
                raise ValueError(
                    f"user {user!r}: expected a hash from `python -m vidsight.console "
                    "hash-password` (scrypt$...), not a plain password"
                )
        return value
