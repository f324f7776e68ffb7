"""The synthetic source: a rendered ``Scene`` with its ground truth attached to each frame.

URL: ``synthetic:crossing?seed=7&fps=5&width=640&height=360&duration=60&realtime=true``.
Options: ``seed``, ``lanes``, ``spawn`` (seconds between objects), ``labels``
(comma-separated), ``speed`` (speed scale), ``fps`` (render rate; default the camera's
analysis fps), ``width``/``height``, ``duration`` (scene seconds; default endless),
``realtime`` (pace to the wall clock; default false), ``noise`` (sensor noise sigma) and
``start`` (UTC micros of scene time 0; default when the source starts) and ``flicker``
(a nuisance light: ``x1,y1,x2,y2[,period[,on[,offset]]]``, seconds; see ``Flicker``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from producers.frames import Frame
from producers.sources.base import SourceContext
from producers.synthetic.render import background, render
from producers.synthetic.scene import Scene, SceneSpec
from schemas.records import now_micros

SCENES = ("crossing",)
"""Scene names a synthetic URL may use."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SyntheticOptions:
    """Parsed options of a synthetic source URL."""

    scene: SceneSpec = field(default_factory=SceneSpec)
    fps: float | None = None
    width: int = 640
    height: int = 360
    duration_s: float | None = None
    realtime: bool = False
    noise: float = 0.0
    start_us: int | None = None


class SyntheticSource:
    """Frames of a synthetic scene at ``fps``, each carrying ``Frame.truth``."""

    def __init__(self, options: SyntheticOptions, ctx: SourceContext) -> None:
        self.options = options
        self.ctx = ctx
        self.scene = Scene(options.scene)
        self.fps = options.fps or ctx.fps
        self.finite = options.duration_s is not None
        self.description = f"synthetic crossing seed={options.scene.seed}"

    def frames(self) -> Iterator[Frame]:
        """Rendered frames from scene time 0."""
        opts, ctx = self.options, self.ctx
        origin_us = opts.start_us if opts.start_us is not None else now_micros()
        bg = background(opts.width, opts.height, opts.scene.seed)
        wall_origin = time.monotonic()
        n = 0
        while not ctx.stop.is_set():
            t = n / self.fps
            if opts.duration_s is not None and t >= opts.duration_s:
                return
            if opts.realtime:
                delay = wall_origin + t - time.monotonic()
                if delay > 0 and ctx.stop.wait(delay):
                    return
            truth = self.scene.truth_at(t)
            image = render(bg, truth, frame_no=n, noise=opts.noise, lights=self.scene.lights_at(t))
            yield Frame(
                ts_us=origin_us + round(t * 1_000_000),
                pts_s=t,
                width=opts.width,
                height=opts.height,
                keyframe=True,
                bgr=image,
                truth=truth,
            )
            n += 1
