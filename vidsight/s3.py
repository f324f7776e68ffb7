"""S3 in the core: the connection settings and the one boto3 client factory.

Both the edge (evidence) and the sinks (topic archive) use S3, as do the ETL, the backtest and
the console, so the connection lives here rather than next to one of them. The fields are
shared by every process (top level of the settings file, ``VIDSIGHT_S3_*``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator

from vidsight.settings import SharedSettings, check_http_url


class S3Connection(SharedSettings):
    """Where the S3 bucket of evidence, archive and lake is, and the key to it."""

    s3_endpoint: str = Field("http://127.0.0.1:9000", description="S3 endpoint URL")
    s3_bucket: str = Field("vidsight", min_length=3, description="S3 bucket for evidence/archive")
    s3_region: str = Field("us-east-1", description="S3 region name")
    s3_access_key: SecretStr = Field(SecretStr("vidsight-local"), description="S3 access key id")
    s3_secret_key: SecretStr = Field(
        SecretStr("vidsight-local-secret"), description="S3 secret access key"
    )

    @field_validator("s3_endpoint")
    @classmethod
    def _check_endpoint(cls, value: str) -> str:
        return check_http_url(value)


def s3_client(
    conn: S3Connection,
    *,
    timeout_s: float | None = None,
    read_timeout_s: float | None = None,
    retries: int | None = 1,
    path_style: bool = False,
) -> Any:
    """A boto3 S3 client for ``conn``.

    ``timeout_s`` bounds connecting and (unless ``read_timeout_s`` is given) reading; None keeps
    botocore's defaults. ``retries`` is the SDK's attempts per request (1: fail fast, the caller
    retries; None: botocore's default retries). ``path_style`` forces path-style addressing.
    Checksums are computed and checked only where S3 requires them (S3-compatible servers such
    as the local stack's do not all support the newer default).
    """
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {
        "request_checksum_calculation": "when_required",
        "response_checksum_validation": "when_required",
    }
    if timeout_s is not None:
        options["connect_timeout"] = timeout_s
        options["read_timeout"] = timeout_s
    if read_timeout_s is not None:
        options["read_timeout"] = read_timeout_s
    if retries is not None:
        options["retries"] = {"max_attempts": retries, "mode": "standard"}
    if path_style:
        options["s3"] = {"addressing_style": "path"}
    return boto3.client(
        "s3",
        endpoint_url=conn.s3_endpoint,
        region_name=conn.s3_region,
        aws_access_key_id=conn.s3_access_key.get_secret_value(),
        aws_secret_access_key=conn.s3_secret_key.get_secret_value(),
        config=Config(**options),
    )
