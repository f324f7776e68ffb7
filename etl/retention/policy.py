"""The retention policy: how long each tier keeps what, with per-camera overrides.

Set in the ETL's settings (``VIDSIGHT_RETENTION__EVIDENCE_DAYS=14``, or a ``[retention]``
table of the TOML file; ``[retention.cameras.gate-1]`` overrides one camera). Each store applies
its part with its own mechanism where it has one (ClickHouse TTL on ``detections``, a MongoDB
TTL index on the frame documents); the ``retention`` asset deletes expired evidence objects.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sinks.settings import SinkSettings


class CameraRetention(BaseModel):
    """One camera's overrides; an unset field takes the policy's default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    evidence_days: int | None = Field(None, ge=1, description="days evidence images are kept")
    confirmed_evidence_days: int | None = Field(
        None, ge=1, description="days evidence of an operator-confirmed alert is kept"
    )
    recordings_days: int | None = Field(
        None, ge=1, description="days recorded video segments are kept"
    )


class RetentionPolicy(BaseModel):
    """Days each tier keeps its data (defaults for every camera, then per-camera overrides)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    evidence_days: int = Field(30, ge=1, description="days evidence images (JPEG) are kept")
    confirmed_evidence_days: int = Field(
        365,
        ge=1,
        description="days the evidence of an alert an operator confirmed (true positive) is "
        "kept; at least evidence_days",
    )
    detections_hot_days: int = Field(
        90,
        ge=1,
        description="days ClickHouse keeps detection rows (a TTL; older rows are only in the "
        "Parquet lake)",
    )
    mongo_frames_days: int = Field(
        30, ge=1, description="days MongoDB keeps per-frame detection documents (a TTL index)"
    )
    recordings_days: int = Field(
        14,
        ge=1,
        description="days recorded video segments (MP4) are kept; video covering an alert an "
        "operator confirmed is kept confirmed_evidence_days",
    )
    cameras: dict[str, CameraRetention] = Field(
        default_factory=dict, description="per-camera overrides, by camera id"
    )

    @model_validator(mode="after")
    def _confirmed_outlives_plain(self) -> RetentionPolicy:
        for cam, days in [("", (self.evidence_days, self.confirmed_evidence_days))] + [
            (c, self.days(c)) for c in self.cameras
        ]:
            if days[1] < days[0]:
                where = f" (camera {cam})" if cam else ""
                raise ValueError(
                    f"confirmed_evidence_days{where} = {days[1]} is shorter than evidence_days "
                    f"= {days[0]}: confirmed evidence must be kept at least as long"
                )
        return self

    def days(self, camera_id: str) -> tuple[int, int]:
        """(evidence days, confirmed evidence days) of one camera."""
        o = self.cameras.get(camera_id)
        plain = o.evidence_days if o and o.evidence_days else self.evidence_days
        confirmed = (
            o.confirmed_evidence_days
            if o and o.confirmed_evidence_days
            else max(self.confirmed_evidence_days, plain)
        )
        return plain, confirmed

    def recording_days(self, camera_id: str) -> tuple[int, int]:
        """(recording days, days the video of a confirmed alert is kept) of one camera."""
        o = self.cameras.get(camera_id)
        plain = o.recordings_days if o and o.recordings_days else self.recordings_days
        return plain, max(self.days(camera_id)[1], plain)


class RetentionSettings(SinkSettings):
    """The ETL's settings: the stores (as the sinks see them) plus the retention policy.

    It reads the ``[sinks]`` table (the sinks' database names and archive prefix), then the
    ``[etl]`` table (``VIDSIGHT_ETL_<FIELD>``, e.g. ``VIDSIGHT_ETL_RETENTION__EVIDENCE_DAYS``)."""

    section: ClassVar[str] = "etl"

    retention: RetentionPolicy = Field(
        default_factory=RetentionPolicy, description="retention tiers (see etl/retention)"
    )
    lake_prefix: str = Field(
        "lake", pattern=r"^[A-Za-z0-9_.-]+$", description="S3 key prefix of the Parquet lake"
    )
    evidence_prefix: str = Field(
        "evidence", pattern=r"^[A-Za-z0-9_.-]+$", description="S3 key prefix of evidence"
    )
