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

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from producers.frames import Image

Mask = npt.NDArray[np.bool_]
Plane = npt.NDArray[np.float32]

_WARMUP_FRAMES = 24
"""Most warm-up frames kept for the median (the latest ones)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MotionConfig:
    """Tuning of the motion gate (see the module docstring)."""

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


def _fit_line(x: Plane, y: Plane) -> tuple[float, float]:
    """Least-squares gain and offset of y ~ gain * x + offset (offset only on a flat x)."""
    mx, my = float(x.mean()), float(y.mean())
    vx = float(np.mean(np.square(x - mx)))
    if vx < 1.0:
        return 1.0, my - mx
    gain = float(np.mean((x - mx) * (y - my))) / vx
    return gain, my - gain * mx


def _clustered(mask: Mask) -> float:
    """Changed area that touches more changed area: half the changed neighbour pairs, across
    and down (a blob of n pixels has about 2n, a lone pixel none). Noise beyond k sigma is
    scattered, things that move are not, so lone pixels do not open the gate. On the flat
    array (contiguous: fast); a pair across a row's end is rare and harmless."""
    m = mask.ravel()
    w = mask.shape[1]
    pairs = np.count_nonzero(m[1:] & m[:-1]) + np.count_nonzero(m[w:] & m[:-w])
    return pairs / 2


def _reach(seeds: Mask, within: Mask) -> Mask:
    """The pixels of ``within`` connected (4-neighbours, through ``within``) to a seed of
    ``within``. For the small boxes callers cut around a few regions: one ufunc call is
    most of the cost here, so the loop stops as soon as nothing grows."""
    r = seeds & within
    grown = r.copy()
    count = int(np.count_nonzero(r))
    while count:
        grown[1:] |= r[:-1]
        grown[:-1] |= r[1:]
        grown[:, 1:] |= r[:, :-1]
        grown[:, :-1] |= r[:, 1:]
        grown &= within
        now = int(np.count_nonzero(grown))
        if now == count:
            break
        count = now
        np.copyto(r, grown)
    return r


def subsample_step(width: int, work_width: int) -> int:
    """Integer stride that brings ``width`` down to about ``work_width`` (at least 1)."""
    return max(1, width // work_width)


class MotionGate:
    """Stateful gate of one camera; feed it every sampled frame's luma plane in order."""

    __slots__ = (
        "_absorbing",
        "_bg",
        "_check_every",
        "_checked_at",
        "_cur",
        "_d",
        "_d2",
        "_fg_rate",
        "_floor2",
        "_k2",
        "_last",
        "_last_box",
        "_last_ts",
        "_learned_at",
        "_lighting",
        "_onset",
        "_prev",
        "_prior",
        "_prior_end",
        "_prior_until",
        "_quiet",
        "_rate",
        "_snap",
        "_steady",
        "_still",
        "_still_any",
        "_thr2",
        "_tracking",
        "_warm",
        "_warm_from",
        "_young_until",
        "config",
        "counts",
    )

    def __init__(self, config: MotionConfig | None = None) -> None:
        self.config = cfg = config or MotionConfig()
        self.counts = GateCounts()
        self._k2 = float(cfg.noise_k * cfg.noise_k)
        self._fg_rate = cfg.alpha * cfg.fg_alpha_ratio
        # Stillness is checked a few times per absorption time, not on every frame: a pixel
        # that an object moves through changes between checks too, and it costs less.
        self._check_every = cfg.absorb_s / 4
        self._bg: Plane | None = None
        # Work-resolution buffers, allocated when a warm-up ends (the frame size is known).
        none = np.empty((0, 0), dtype=np.float32)
        self._thr2 = self._cur = self._snap = self._d = self._d2 = self._rate = none
        self._still = self._floor2 = none
        self._prior = self._prev = none
        times = np.empty((0, 0), dtype=np.float64)
        self._prior_until = self._learned_at = self._onset = times
        self._last = self._steady = np.empty((0, 0), dtype=np.bool_)
        self._warm: list[Plane] = []
        self.reset()

    def reset(self) -> None:
        """Forget the background (after a reconnect or a scene cut): warm up again."""
        self._bg = None
        self._warm = []
        self._warm_from = 0.0
        self._last_ts: float | None = None
        self._checked_at = 0.0
        self._quiet = self.config.hold_frames + 1
        self._lighting = False
        self._absorbing = False
        self._still_any = False
        self._prior_end = -np.inf
        self._young_until = -np.inf
        self._tracking = False
        self._last_box: tuple[int, int, int, int] | None = None

    def update(self, luma: Image, ts_s: float) -> MotionResult:
        """Score one frame (luma plane, time in seconds) and learn it into the background."""
        cfg = self.config
        step = subsample_step(luma.shape[1], cfg.work_width)
        view = luma[::step, ::step]
        last = self._last_ts
        if last is not None and ts_s < last:
            self.reset()  # time went back: a restarted source
        bg = self._bg
        if bg is not None and bg.shape != view.shape:
            self.reset()
            bg = None
        if bg is None:
            if not self._warm or ts_s - self._warm_from < cfg.warmup_s:
                return self._learn(view, ts_s)
            bg = self._start(ts_s)
        self._last_ts = ts_s
        cur, d, d2, thr2 = self._cur, self._d, self._d2, self._thr2
        np.copyto(cur, view, casting="unsafe")
        np.subtract(cur, bg, out=d)
        np.multiply(d, d, out=d2)
        mask = np.greater(d2, thr2)
        changed = int(np.count_nonzero(mask))
        if changed > cfg.lighting_share * mask.size:
            return self._relight(cur, bg, ts_s)
        self._lighting = False
        if changed and ts_s <= self._prior_end:
            changed = self._heal(mask, changed, ts_s)
        if ts_s < self._young_until:
            changed = self._track_steps(mask, changed, ts_s)
        elif self._tracking:
            self._tracking = False
        a = cfg.alpha
        if changed == 0:
            # The common case, a quiet scene: every pixel teaches the mean and the noise.
            d *= a
            bg += d
            d2 *= a * self._k2
            thr2 *= 1 - a
            thr2 += d2
            np.maximum(thr2, self._floor2, out=thr2)
            if self._still_any:
                self._still.fill(0)
                self._still_any = False
            self._absorbing = False
        else:
            # Background pixels adapt at alpha; foreground ones not at all by default (still
            # ones are absorbed, see _track_still), else alpha * fg_alpha_ratio. While
            # something moves the noise learns at the stillness checks only (it is the costly
            # part; quiet frames teach it every time), from background pixels only: objects
            # must not blunt the gate. (Mixed bool/float and scalar-maximum ufuncs are slow:
            # float32 ops.)
            fg_rate = self._fg_rate
            check = ts_s - self._checked_at >= self._check_every
            u = self._rate
            np.copyto(u, np.logical_not(mask))
            u *= a - fg_rate
            if check:
                d2 *= self._k2
                d2 -= thr2
                d2 *= u
                thr2 += d2
                np.maximum(thr2, self._floor2, out=thr2)
            if fg_rate:
                u += fg_rate
            d *= u
            bg += d
            if check:
                self._track_still(mask, ts_s)
        score = min(changed, _clustered(mask)) / mask.size if changed else 0.0
        if score >= cfg.min_area and score > 0.0:
            self._quiet = 0
        else:
            self._quiet += 1
        return MotionResult(score, self._quiet <= cfg.hold_frames, mask)

    def _learn(self, view: Image, ts_s: float) -> MotionResult:
        """Warm-up: collect frames; their median becomes the background."""
        if not self._warm:
            self.counts.warmups += 1
            self._warm_from = ts_s
        self._last_ts = ts_s
        warm = self._warm
        if len(warm) >= _WARMUP_FRAMES:
            del warm[0]
        warm.append(view.astype(np.float32))
        return MotionResult(0.0, False, np.zeros(view.shape, dtype=np.bool_))

    def _start(self, ts_s: float) -> Plane:
        """End the warm-up: background, noise and buffers from the frames collected."""
        cfg = self.config
        warm = self._warm
        last = warm[-1]
        if len(warm) == 1:
            bg = last.copy()
            var = np.zeros_like(bg)
        else:
            stack = np.stack(warm)
            bg = np.median(stack, axis=0).astype(np.float32)
            mad = np.median(np.abs(stack - bg), axis=0)
            var = (mad * np.float32(1.4826)) ** 2
            # The spread of a handful of frames is rough per pixel: no pixel starts below the
            # frame's noise, or the first live frames would open the gate on grain. That comes
            # from frame-to-frame differences (robust to objects moving through: a median over
            # every pixel), plus the error of a median background of n frames (pi / 2n).
            step = np.abs(stack[1:] - stack[:-1])
            noise = (float(np.median(step)) * 1.4826) ** 2 / 2
            np.maximum(var, np.float32(noise * (1 + np.pi / (2 * len(warm)))), out=var)
        self._bg = bg
        self._floor2 = np.full_like(bg, float(cfg.threshold * cfg.threshold))
        self._thr2 = np.maximum(var * np.float32(self._k2), self._floor2).astype(np.float32)
        self._cur = np.empty_like(bg)
        self._snap = last.copy()
        self._checked_at = self._last_ts or 0.0
        self._d = np.empty_like(bg)
        self._d2 = np.empty_like(bg)
        self._rate = np.empty_like(bg)
        self._still = np.zeros_like(bg)
        self._prior = np.zeros_like(bg)
        # Times in float64: a source's times may be large (float32 steps would be seconds).
        self._prior_until = np.full(bg.shape, -np.inf)
        self._learned_at = np.full(bg.shape, ts_s)
        self._onset = np.zeros(bg.shape)
        self._prev = np.zeros_like(bg)
        self._last = np.zeros(bg.shape, dtype=np.bool_)
        self._steady = np.zeros(bg.shape, dtype=np.bool_)
        self._young(ts_s)
        self._warm = []
        self._quiet = cfg.hold_frames + 1
        return bg

    def _relight(self, cur: Plane, bg: Plane, ts_s: float) -> MotionResult:
        """Most of the frame changed at once: re-learn the background from this frame."""
        if not self._lighting:
            self.counts.lighting_events += 1
            self._lighting = True
        # Map the old background through the change (a global gain and offset, fitted on
        # the pixels that follow it) so that ghosts of objects in view now can be healed.
        x, y = bg.ravel(), cur.ravel()
        gain, offset = _fit_line(x, y)
        resid = np.abs(y - (gain * x + offset))
        keep = resid <= max(float(np.median(resid)) * 3.0, 1.0)
        if np.count_nonzero(keep) > 16:
            gain, offset = _fit_line(x[keep], y[keep])
        np.multiply(bg, np.float32(gain), out=self._prior)
        self._prior += np.float32(offset)
        self._prior_end = ts_s + self.config.absorb_s
        self._prior_until.fill(self._prior_end)
        np.copyto(bg, cur)
        self._learned_at.fill(ts_s)
        self._young(ts_s)
        np.copyto(self._snap, cur)
        self._checked_at = ts_s
        self._still.fill(0)
        self._still_any = False
        self._quiet = self.config.hold_frames + 1
        return MotionResult(0.0, False, np.zeros(cur.shape, dtype=np.bool_))

    def _young(self, ts_s: float) -> None:
        """The whole background was just learned (warm-up, lighting change): track steps,
        foreground that appears on it from now on counts as new."""
        self._young_until = ts_s + self.config.absorb_s
        self._tracking = True
        self._last.fill(False)
        self._last_box = None
        self._steady.fill(False)

    def _heal(self, mask: Mask, changed: int, ts_s: float) -> int:
        """Foreground pixels that match what the background was before it was last replaced
        (a lighting change, an absorption; for ``absorb_s`` after it) become background
        again: where an object stood at a lighting switch, a flash that ended."""
        prior, bg = self._prior, self._bg
        assert bg is not None
        cur = self._cur
        near = np.square(cur - prior) <= self._thr2
        near &= mask
        near &= self._prior_until >= ts_s
        healed = int(np.count_nonzero(near))
        if healed:
            bg[near] = cur[near]
            mask &= ~near
            self._d[near] = 0.0
            self._d2[near] = 0.0
        return changed - healed

    def _track_steps(self, mask: Mask, changed: int, ts_s: float) -> int:
        """While some background is young (learned less than ``absorb_s`` ago): absorb the
        regions that appeared at once and stayed, ``step_absorb_s`` after they appeared.

        A region whose pixels all turned foreground on the same frame and have not changed
        since (beyond their noise) appeared in place, with no leading or trailing edge like
        an object that comes in: a local lighting change (a lamp switched). On a background
        just learned it corrects it (a lamp that went dark as the warm-up ended), and what
        it replaces stays the prior for ``absorb_s`` (the lamp lit again is not news).
        On an established background nothing is tracked: a lamp that lights up is
        reported for as long as it is lit, up to ``absorb_s``.
        """
        cfg = self.config
        if not self._tracking:
            # Young pixels appeared (an absorption) while something may be in view: what is
            # foreground now has an unknown onset, so it is not taken for a step.
            self._tracking = True
            np.copyto(self._last, mask)
            self._steady.fill(False)
            np.copyto(self._prev, self._cur)
            self._last_box = (0, mask.shape[0], 0, mask.shape[1])
            return changed
        lb = self._last_box
        if not changed:
            if lb is not None:
                self._last[lb[0] : lb[1], lb[2] : lb[3]] = False
                self._last_box = None
            return 0
        # Only the box around this frame's and the last frame's foreground is looked at:
        # the cost follows what is in view, not the frame.
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        fb = (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
        if lb is not None:
            lb = (min(fb[0], lb[0]), max(fb[1], lb[1]), min(fb[2], lb[2]), max(fb[3], lb[3]))
        else:
            lb = fb
        self._last_box = fb
        box = np.s_[lb[0] : lb[1], lb[2] : lb[3]]
        m, last, steady, onset = mask[box], self._last[box], self._steady[box], self._onset[box]
        prev, cur = self._prev[box], self._cur[box]
        new = np.greater(m, last)
        e = cur - prev
        e *= e
        steady &= np.less_equal(e, self._thr2[box])
        steady |= new
        np.copyto(onset, ts_s, where=new)
        np.copyto(last, m)
        np.copyto(prev, cur)
        ripe = np.less_equal(onset, ts_s - cfg.step_absorb_s + 1e-6)
        ripe &= steady
        ripe &= m
        if not ripe.any():
            return changed
        young = np.greater(self._learned_at[box], ts_s - cfg.absorb_s)
        ripe &= young
        if not ripe.any():
            return changed
        # Foreground that cannot belong to a step: moved since it appeared, on an old
        # background, or next to foreground that appeared on another frame. A region
        # that holds none of it is a step.
        seeds = np.logical_and(steady, young)
        np.logical_not(seeds, out=seeds)
        seeds &= m
        across = onset[:, 1:] != onset[:, :-1]
        across &= m[:, 1:]
        across &= m[:, :-1]
        seeds[:, 1:] |= across
        seeds[:, :-1] |= across
        down = onset[1:] != onset[:-1]
        down &= m[1:]
        down &= m[:-1]
        seeds[1:] |= down
        seeds[:-1] |= down
        ripe &= np.logical_not(seeds)
        if not ripe.any():
            return changed
        # A step region is a whole region of such pixels: drop those connected to one that
        # touches other foreground (a seed), looking only around them.
        rows = np.flatnonzero(ripe.any(axis=1))
        cols = np.flatnonzero(ripe.any(axis=0))
        h, w = ripe.shape
        near = np.s_[
            max(0, int(rows[0]) - 1) : min(h, int(rows[-1]) + 2),
            max(0, int(cols[0]) - 1) : min(w, int(cols[-1]) + 2),
        ]
        cand, other = ripe[near], seeds[near]
        leak = np.zeros_like(cand)
        leak[1:] |= other[:-1]
        leak[:-1] |= other[1:]
        leak[:, 1:] |= other[:, :-1]
        leak[:, :-1] |= other[:, 1:]
        leak &= cand
        if leak.any():
            cand &= np.logical_not(_reach(leak, cand))
        steps = int(np.count_nonzero(ripe))
        if steps:
            where = np.zeros_like(mask)
            where[box] = ripe
            self._replace(where, ts_s)
            m &= ~ripe
            self._d[where] = 0.0
            self._d2[where] = 0.0
            self.counts.ghosts_absorbed += 1
        return changed - steps

    def _replace(self, where: Mask, ts_s: float) -> None:
        """Learn the current frame into the background at ``where``; what was there is
        kept as the prior for ``absorb_s``, and those pixels are young."""
        bg = self._bg
        assert bg is not None
        until = ts_s + self.config.absorb_s
        np.copyto(self._prior, bg, where=where)
        np.copyto(self._prior_until, until, where=where)
        self._prior_end = until
        np.copyto(bg, self._cur, where=where)
        np.copyto(self._learned_at, ts_s, where=where)
        self._young_until = until

    def _track_still(self, mask: Mask, ts_s: float) -> None:
        """Add up how long each foreground pixel has stayed unchanged; absorb ghosts."""
        cur, snap, still, e, keep = self._cur, self._snap, self._still, self._d, self._rate
        # (The bg update is done: _d and _rate are free. Float ops: bool indexing is slow.)
        np.subtract(cur, snap, out=e)
        e *= e
        unchanged = np.less_equal(e, self._thr2)
        unchanged &= mask
        np.copyto(keep, unchanged)
        still += np.float32(ts_s - self._checked_at)
        still *= keep
        np.copyto(snap, cur)
        self._checked_at = ts_s
        self._still_any = True
        if float(still.max()) >= self.config.absorb_s:
            ghost = still >= self.config.absorb_s
            self._replace(ghost, ts_s)
            still[ghost] = 0
            if not self._absorbing:
                self.counts.ghosts_absorbed += 1
            self._absorbing = True
        else:
            self._absorbing = False
