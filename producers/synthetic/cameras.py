"""The synthetic cameras ``vidsight edge simulate`` runs: N deterministic scenes, one a camera."""

from __future__ import annotations

from types import MappingProxyType

from producers.config import Camera
from producers.errors import SimulationError


def parse_size(size: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` (e.g. ``640x360``) as two positive integers."""
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise SimulationError(f"expected WIDTHxHEIGHT, got {size!r}", option="size") from None
    if width <= 0 or height <= 0:
        raise SimulationError(f"width and height must be positive, got {size!r}", option="size")
    return width, height


def simulated_cameras(
    count: int,
    *,
    fps: float = 5.0,
    scene_duration: float | None = None,
    realtime: bool = True,
    detector: str = "ground_truth",
    seed: int = 0,
    prefix: str = "sim",
    size: str = "640x360",
) -> list[Camera]:
    """``count`` cameras ``<prefix>-<i>`` showing the crossing scene with seeds seed..seed+N-1."""
    width, height = parse_size(size)
    extra = f"&duration={scene_duration}" if scene_duration is not None else ""
    return [
        Camera(
            camera_id=f"{prefix}-{i}",
            name=f"Synthetic camera {i}",
            source=(
                f"synthetic:crossing?seed={seed + i}&width={width}&height={height}"
                f"&realtime={str(realtime).lower()}{extra}"
            ),
            fps=fps,
            detector_kind=detector,
            detector_options=MappingProxyType({}),
        )
        for i in range(count)
    ]
