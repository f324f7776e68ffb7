"""The stateful motion gate of one camera (see the package docstring for what it copes with)."""

from __future__ import annotations

import numpy as np

from producers.frames import Image
from producers.motion.config import (
    GateCounts,
    Mask,
    MotionConfig,
    MotionResult,
    Plane,
    subsample_step,
)
from producers.motion.pixels import _clustered, _fit_line, _reach

_WARMUP_FRAMES = 24
"""Most warm-up frames kept for the median (the latest ones)."""


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
