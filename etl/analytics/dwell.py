"""Dwell-time percentiles, defined exactly as ClickHouse's ``quantileExactInclusive``.

``sensor_hourly`` computes them in SQL; this is the same definition in Python so tests and
ground-truth comparisons need no server: the sorted values' linear interpolation at
``q * (n - 1)`` (R-7, numpy's default).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from etl.errors import EtlError


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values``, linearly interpolated; None when empty."""
    if not 0.0 <= q <= 1.0 or math.isnan(q):
        raise EtlError(f"quantile {q!r} is outside 0..1")
    xs = sorted(values)
    if not xs:
        return None
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def dwell_summary(dwells_s: Iterable[float]) -> tuple[float | None, float | None]:
    """(p50, p95) of the dwell times of zone exits, None for an hour without exits."""
    xs = sorted(dwells_s)
    return percentile(xs, 0.5), percentile(xs, 0.95)
