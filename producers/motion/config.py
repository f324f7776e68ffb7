"""The motion gate's settings (per camera options over the defaults), its result and counts."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

Mask = npt.NDArray[np.bool_]
Plane = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True, kw_only=True)
class MotionConfig:
    """Tuning of the motion gate (see the package docstring)."""

    work_width: int = 160
    threshold: int = 20
    noise_k: float = 4.0
    alpha: float = 0.05
    fg_alpha_ratio: float = 0.0
    min_area: float = 0.0005
    hold_frames: int = 2
    warmup_s: float = 1.0
    absorb_s: float = 3.0
    step_absorb_s: float = 0.2
    lighting_share: float = 0.5

    def __post_init__(self) -> None:
        checks = (
            ("work_width", self.work_width >= 16, ">= 16"),
            ("threshold", 1 <= self.threshold <= 255, "in [1, 255]"),
            ("noise_k", 0 <= self.noise_k <= 20, "in [0, 20]"),
            ("alpha", 0 < self.alpha <= 1, "in (0, 1]"),
            ("fg_alpha_ratio", 0 <= self.fg_alpha_ratio <= 1, "in [0, 1]"),
            ("min_area", 0 <= self.min_area <= 1, "in [0, 1]"),
            ("hold_frames", self.hold_frames >= 0, ">= 0"),
            ("warmup_s", 0 <= self.warmup_s <= 600, "in [0, 600]"),
            ("absorb_s", 0 < self.absorb_s <= 86_400, "in (0, 86400]"),
            ("step_absorb_s", 0 < self.step_absorb_s <= 86_400, "in (0, 86400]"),
            ("lighting_share", 0 < self.lighting_share <= 1, "in (0, 1]"),
        )
        for name, ok, allowed in checks:
            if not ok:
                raise ValueError(f"motion gate {name} must be {allowed}, got {getattr(self, name)}")


GATE_DEFAULTS = MotionConfig()
"""The gate's defaults; the edge settings' ``motion_*`` fields start from these."""


class GateOptions(BaseModel):
    """Per-camera gate options, given in the camera's ``detector`` block next to ``kind``.

    Unset ones take the edge process's ``motion_*`` settings.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    gate_min_area: float | None = Field(
        None, ge=0, le=1, description="changed fraction of the frame that opens the gate"
    )
    gate_threshold: int | None = Field(
        None, ge=1, le=255, description="least grey-level change that counts (noise floor)"
    )
    gate_noise_k: float | None = Field(
        None, ge=0, le=20, description="a change counts beyond this many noise deviations"
    )
    gate_warmup_s: float | None = Field(
        None, ge=0, le=600, description="seconds learned without motion after start/reconnect"
    )
    gate_absorb_s: float | None = Field(
        None, gt=0, le=86_400, description="seconds before a still foreground (ghost) is absorbed"
    )
    gate_step_absorb_s: float | None = Field(
        None,
        gt=0,
        le=86_400,
        description="seconds before a region that appeared at once and stayed (a local "
        "lighting change) is absorbed, while the background is young",
    )
    gate_lighting_share: float | None = Field(
        None, gt=0, le=1, description="changed share of the frame taken as a lighting change"
    )

    def apply(self, base: MotionConfig) -> MotionConfig:
        """``base`` with this camera's options set over it."""
        fields: dict[str, float | int | None] = {
            "min_area": self.gate_min_area,
            "threshold": self.gate_threshold,
            "noise_k": self.gate_noise_k,
            "warmup_s": self.gate_warmup_s,
            "absorb_s": self.gate_absorb_s,
            "step_absorb_s": self.gate_step_absorb_s,
            "lighting_share": self.gate_lighting_share,
        }
        given = {k: v for k, v in fields.items() if v is not None}
        return replace(base, **given) if given else base  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class MotionResult:
    """What the gate saw on one frame.

    ``score`` is the changed fraction of the frame (0..1; lone changed pixels, noise, do not
    count; 0 while learning: warm-up and lighting changes); ``moving`` whether the detector
    should run (score >= min_area, or within ``hold_frames`` after such a frame); ``mask``
    the foreground mask at work resolution (True = changed), which the motion detector turns
    into boxes.
    """

    score: float
    moving: bool
    mask: Mask


@dataclass(slots=True)
class GateCounts:
    """What the gate has dealt with since it was built (reported per camera)."""

    warmups: int = 0
    lighting_events: int = 0
    ghosts_absorbed: int = 0


def subsample_step(width: int, work_width: int) -> int:
    """Integer stride that brings ``width`` down to about ``work_width`` (at least 1)."""
    return max(1, width // work_width)
