"""The motion gate: cheap background subtraction on a downscaled luma plane.

Pure numpy. The gate decides whether the detector runs at all, so it must cost a small
fraction of decoding: it subsamples the luma plane to about ``work_width`` pixels wide by
striding (no filtering, no copy of the full frame) and works on that small image with
preallocated buffers. What real cameras show it, and how it copes (times are the frames'
own, in seconds, so the settings mean the same at 5 fps and at 25 fps):

- Noise (sensor grain, compression, rain): each pixel keeps a running variance of its
  difference to the background, and changes by more than ``noise_k`` standard deviations
  (never less than ``threshold`` grey levels) count. Pixels seen as foreground do not
  teach the variance, so objects passing through do not blunt the gate. What noise still
  gets past is scattered: only changed pixels next to other changed ones make the score.
- Start and reconnect (warm-up): for ``warmup_s`` the gate only collects frames and reports
  no motion; then the background is their per-pixel median (objects moving through are not
  in it) and the noise their per-pixel spread, never below the frame's noise measured on
  frame-to-frame differences. Counted in ``counts.warmups``.
- Ghosts: a foreground pixel whose value does not change (beyond its noise; checked four
  times per ``absorb_s``) is not moving, it only differs from the
  background: a parked car that left, a lamp that went dark. After ``absorb_s`` seconds of
  that it is copied into the background. An object moving through changes its pixels, so it
  is not absorbed. Counted in ``counts.ghosts_absorbed`` (one per episode of absorption).
- Steps (a lamp switched, a local lighting change): while some of the background is young
  (learned by a warm-up, a lighting change or an absorption less than ``absorb_s`` ago), a
  foreground region whose pixels all turned foreground on the same frame and have stayed
  unchanged since appeared in place, with no edge coming in like an object's: it is
  absorbed after ``step_absorb_s``. A lamp lit during the warm-up that goes dark just after
  is reported until then only, and its later flashes, on the now known dark background, on
  every lit frame. Counted as absorbed ghosts. On a background older than that a lamp that
  lights up is reported while lit (up to ``absorb_s``): a flash, not a correction.
- Returns: what an absorption or a lighting change replaced is kept (the prior) for
  ``absorb_s``; a foreground pixel that matches it again is background at once (the place
  of a person who stood and walked on, a lamp switched back).
- Global lighting changes (lights switched, clouds, auto exposure, IR day/night): a frame
  where more than ``lighting_share`` of the image changed at once re-learns the background
  from that frame and reports no motion. The old background, mapped by the global gain and
  offset of the change, is the prior (see returns): where an object that was in view at the
  switch has since left is healed at once instead of staying a ghost.
  Counted in ``counts.lighting_events`` (one per run of such frames).

Otherwise the background is a selective running average: background pixels adapt at
``alpha`` per frame, foreground ones ``fg_alpha_ratio`` times slower (by default not at all:
what stays is absorbed after ``absorb_s``, what moves on must not smear into it).
"""

from producers.motion.config import (
    GATE_DEFAULTS,
    GateCounts,
    GateOptions,
    Mask,
    MotionConfig,
    MotionResult,
    Plane,
    subsample_step,
)
from producers.motion.gate import MotionGate

__all__ = [
    "GATE_DEFAULTS",
    "GateCounts",
    "GateOptions",
    "Mask",
    "MotionConfig",
    "MotionGate",
    "MotionResult",
    "Plane",
    "subsample_step",
]
