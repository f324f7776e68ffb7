"""Pixel-level helpers of the motion gate over the small working planes (pure numpy)."""

from __future__ import annotations

import numpy as np

from producers.motion.config import Mask, Plane


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
