"""The demo site: synthetic cameras whose ground truth is known, and the sensors watching them.

Every camera runs the ``crossing`` scene (producers/synthetic) with the ``ground_truth``
detector, so what the platform should count is known in advance: the crossings of the centre
line per direction follow from the scene alone (``expected_crossings``), independently of the
edge, the processor and the sinks that the demo and the end-to-end test put in between.

A finite scene stops at an arbitrary time, and a crossing in its last frame interval would be
seen by the scene but not by the rules (they need a frame on each side of the line). The
duration is therefore moved to the first "quiet" time after the one asked for, where no
object crosses the line within ``QUIET_MARGIN_S``: the expectation is exact, not approximate.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import yaml

from producers.config import Camera
from producers.synthetic.scene import CENTRE_LINE, Crossing, Scene, SceneSpec, crossing_of
from schemas.records import CrossingDirection

FPS = 5.0
"""Analysis frames per second of the demo cameras."""

QUIET_MARGIN_S = 1.0
"""No crossing of the centre line may happen this close to the end of a scene."""

UPPER_ZONE = ((0.3, 0.0), (0.7, 0.0), (0.7, 0.6), (0.3, 0.6))
"""The zone sensor: the middle of the upper lanes."""

LEFT_STRIP = ((0.0, 0.0), (0.35, 0.0), (0.35, 1.0), (0.0, 1.0))
"""The loitering sensor: slow objects stay in the left strip for a few seconds."""


@dataclass(frozen=True, slots=True)
class DemoCamera:
    """One synthetic camera of the site."""

    camera_id: str
    name: str
    seed: int
    duration_s: float
    """Scene seconds the camera runs (a quiet end, see the module docstring)."""

    @property
    def scene(self) -> Scene:
        """The scene the camera renders."""
        return Scene(SceneSpec(seed=self.seed))

    @property
    def frames(self) -> int:
        """FrameRef events the camera publishes (one per analysed frame)."""
        return math.ceil(self.duration_s * FPS - 1e-9)

    def source(self, start_us: int | None = None, realtime: bool = False) -> str:
        """The synthetic source URL."""
        url = (
            f"synthetic:crossing?seed={self.seed}&duration={self.duration_s:g}"
            f"&realtime={str(realtime).lower()}"
        )
        return url if start_us is None else f"{url}&start={start_us}"


@dataclass(frozen=True, slots=True)
class DemoSite:
    """The cameras and the sensors file of one demo run."""

    cameras: tuple[DemoCamera, ...]
    group_gap_s: float = 3.0
    loiter_s: float = 3.0

    @property
    def camera_ids(self) -> tuple[str, ...]:
        """Camera ids in site order."""
        return tuple(c.camera_id for c in self.cameras)

    def edge_cameras(self, start_us: int | None = None, realtime: bool = False) -> list[Camera]:
        """The cameras as the edge runs them."""
        return [
            Camera(
                c.camera_id,
                c.name,
                c.source(start_us, realtime),
                FPS,
                "ground_truth",
                MappingProxyType({}),
            )
            for c in self.cameras
        ]

    def document(self, start_us: int | None = None, realtime: bool = False) -> dict[str, Any]:
        """The site as the cameras + sensors YAML document users write (DESIGN.md)."""
        cameras = [
            {
                "id": c.camera_id,
                "name": c.name,
                "source": c.source(start_us, realtime),
                "fps": FPS,
                "detector": {"kind": "ground_truth"},
            }
            for c in self.cameras
        ]
        sensors: list[dict[str, Any]] = []
        for c in self.cameras:
            common = {"camera": c.camera_id, "group_gap_s": self.group_gap_s}
            sensors += [
                {
                    "id": f"{c.camera_id}-line",
                    "name": f"{c.name}: centre line",
                    "kind": "tripwire",
                    "points": [[p.x, p.y] for p in (CENTRE_LINE.p0, CENTRE_LINE.p1)],
                    "direction": "both",
                    "severity": "medium",
                    **common,
                },
                {
                    "id": f"{c.camera_id}-upper",
                    "name": f"{c.name}: upper lanes",
                    "kind": "zone",
                    "points": [list(p) for p in UPPER_ZONE],
                    "labels": ["person", "bicycle"],
                    "severity": "low",
                    **common,
                },
                {
                    "id": f"{c.camera_id}-loiter",
                    "name": f"{c.name}: left strip loitering",
                    "kind": "loitering",
                    "points": [list(p) for p in LEFT_STRIP],
                    "seconds": self.loiter_s,
                    "severity": "high",
                    **common,
                },
            ]
        return {"cameras": cameras, "sensors": sensors}

    def yaml(self, start_us: int | None = None, realtime: bool = False) -> str:
        """``document`` as YAML text, with a header saying where it came from."""
        header = (
            "# The vidsight demo site, written by `vidsight demo`: synthetic cameras with the\n"
            "# ground_truth detector and the sensors watching them. Edit and re-apply with\n"
            "#   vidsight cameras apply FILE && vidsight sensors apply FILE\n"
        )
        body = yaml.safe_dump(
            self.document(start_us, realtime), sort_keys=False, default_flow_style=None
        )
        return header + body


def demo_site(
    seconds: float = 60.0, *, cameras: int = 3, prefix: str = "demo", first_seed: int = 11
) -> DemoSite:
    """A site of ``cameras`` synthetic cameras running about ``seconds`` of scene each."""
    if seconds <= 0 or cameras < 1:
        raise ValueError("seconds must be positive and cameras at least 1")
    names = ("Main gate", "Street", "Yard", "Car park", "Loading bay", "Back door")
    out = []
    for i in range(cameras):
        seed = first_seed + i
        name = names[i] if i < len(names) else f"Camera {i + 1}"
        slug = name.lower().replace(" ", "-")
        cid = f"{prefix}-{slug}" if i < len(names) else f"{prefix}-{i + 1}"
        duration = quiet_end(Scene(SceneSpec(seed=seed)), seconds)
        out.append(DemoCamera(cid, name, seed, duration))
    return DemoSite(tuple(out))


# ---- ground truth --------------------------------------------------------------------------


def crossings(scene: Scene, until_s: float) -> list[Crossing]:
    """Centre-line crossings of the scene before ``until_s``, in time order."""
    out = [
        hit
        for obj in scene.objects_between(0.0, until_s)
        if (hit := crossing_of(obj, CENTRE_LINE)) is not None and 0.0 < hit.t_s < until_s
    ]
    return sorted(out, key=lambda c: c.t_s)


def quiet_end(scene: Scene, near_s: float, margin_s: float = QUIET_MARGIN_S) -> float:
    """The first frame time >= ``near_s`` with no crossing within ``margin_s`` either side."""
    step = 1.0 / FPS
    t = math.ceil(near_s * FPS - 1e-9) * step
    for _ in range(100_000):
        near = [c for c in crossings(scene, t + margin_s) if c.t_s > t - margin_s]
        if not near:
            return round(t, 6)
        t = round(t + step, 6)
    raise ValueError(f"no quiet end found after {near_s}s")  # pragma: no cover


def expected_crossings(camera: DemoCamera) -> Counter[CrossingDirection]:
    """Crossings of the centre line per direction the platform must count for ``camera``."""
    return Counter(c.direction for c in crossings(camera.scene, camera.duration_s))


def expected_by_camera(site: DemoSite) -> dict[str, Counter[CrossingDirection]]:
    """``expected_crossings`` of every camera."""
    return {c.camera_id: expected_crossings(c) for c in site.cameras}
