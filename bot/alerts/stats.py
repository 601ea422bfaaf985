"""Vectorized, causal rolling statistics (numpy only).

Every statistic at row ``t`` uses only rows ``< t``. Long windows are evaluated on
blocks: the statistic is computed at every ``stride``-th row (over the ``w`` rows
before it) and held for the rest of the block, which keeps a year of 5-minute data
(~105k rows, week-long windows) to a few million element operations. Blocks are
aligned on row 0, so appending rows never changes earlier values.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

_CHUNK_ELEMENTS = 2_000_000


def epoch_seconds(ts: Sequence[datetime]) -> np.ndarray:
    return np.fromiter((t.timestamp() for t in ts), dtype=float, count=len(ts))


def estimate_interval(ep: np.ndarray, first: int = 20) -> float:
    """Median positive gap (seconds) over the first ``first`` intervals only, so the
    estimate (and everything derived from it) no longer changes once the series has
    ``first + 1`` points (the anomaly rule's default ``min_points`` is larger)."""
    d = np.diff(ep[: first + 1])
    d = d[d > 0]
    return float(np.median(d)) if len(d) else 86400.0


def rolling_stats(
    x: np.ndarray,
    w: int,
    *,
    min_points: int,
    stride: int = 1,
    quantile: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Trailing median, MAD and (optionally) the ``quantile`` of absolute deviations
    from the median, over the ``w`` rows before each row, ignoring NaN. NaN where
    fewer than ``min_points`` finite rows are available."""
    n = len(x)
    w = max(1, int(w))
    stride = max(1, int(stride))
    med = np.full(n, np.nan)
    mad = np.full(n, np.nan)
    qv = np.full(n, np.nan) if quantile is not None else None
    if n == 0:
        return med, mad, qv
    pad = np.concatenate([np.full(w, np.nan), np.asarray(x, dtype=float)])
    view = np.lib.stride_tricks.sliding_window_view(pad, w)  # row t: x[t-w:t]
    rows = np.arange(0, n, stride)
    chunk = max(1, _CHUNK_ELEMENTS // w)
    for c0 in range(0, len(rows), chunk):
        ii = rows[c0 : c0 + chunk]
        win = view[ii]
        finite = ~np.isnan(win)
        cnt = finite.sum(axis=1)
        good = cnt >= min_points
        if not good.any():
            continue
        win = win[good]
        sel = ii[good]
        if finite[good].all():
            m = np.median(win, axis=1)
            dev = np.abs(win - m[:, None])
            d = np.median(dev, axis=1)
            q = np.quantile(dev, quantile, axis=1) if quantile is not None else None
        else:
            m, d, q = _sorted_stats(win, cnt[good], quantile)
        med[sel] = m
        mad[sel] = d
        if qv is not None and q is not None:
            qv[sel] = q
    if stride > 1:
        held = (np.arange(n) // stride) * stride
        med, mad = med[held], mad[held]
        if qv is not None:
            qv = qv[held]
    return med, mad, qv


def _order_stat(srt: np.ndarray, cnt: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Linear interpolation at fractional position ``pos`` of rows sorted NaN-last."""
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, cnt - 1)
    frac = pos - lo
    r = np.arange(len(srt))
    return srt[r, lo] * (1 - frac) + srt[r, hi] * frac


def _sorted_stats(
    win: np.ndarray, cnt: np.ndarray, quantile: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """median, MAD, quantile of |dev| for rows containing NaN (np.sort puts NaN last;
    much faster than np.nanmedian, which loops over rows)."""
    half = (cnt - 1) / 2.0
    m = _order_stat(np.sort(win, axis=1), cnt, half)
    dev = np.sort(np.abs(win - m[:, None]), axis=1)
    d = _order_stat(dev, cnt, half)
    q = _order_stat(dev, cnt, quantile * (cnt - 1)) if quantile is not None else None
    return m, d, q


def rolling_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Mean of rows t-k+1..t (inclusive of t); NaN unless all k are finite."""
    n = len(x)
    k = max(1, int(k))
    finite = ~np.isnan(x)
    c = np.concatenate([[0.0], np.cumsum(np.where(finite, x, 0.0))])
    cn = np.concatenate([[0], np.cumsum(finite)])
    i = np.arange(1, n + 1)
    j = np.maximum(0, i - k)
    cnt = cn[i] - cn[j]
    out = np.full(n, np.nan)
    ok = cnt >= k
    out[ok] = (c[i] - c[j])[ok] / k
    return out


def lagged_values(ep: np.ndarray, x: np.ndarray, lag: float, tolerance: float) -> np.ndarray:
    """x at the row nearest to ``t - lag`` seconds (within ``tolerance``), else NaN."""
    n = len(x)
    target = ep - lag
    i = np.searchsorted(ep, target)
    lo = np.clip(i - 1, 0, n - 1)
    hi = np.clip(i, 0, n - 1)
    pick = np.where(np.abs(ep[hi] - target) <= np.abs(ep[lo] - target), hi, lo)
    ok = (np.abs(ep[pick] - target) <= tolerance) & (pick < np.arange(n))
    return np.where(ok, x[pick], np.nan)


def seasonal_baseline(
    ep: np.ndarray,
    x: np.ndarray,
    period: float,
    interval: float,
    cycles: int = 3,
    min_cycles: int = 2,
) -> np.ndarray:
    """Median of the values one, two, ... ``cycles`` periods earlier (same hour of day
    for a daily period, same weekday for a weekly one); NaN with fewer than
    ``min_cycles`` of them."""
    lagged = np.vstack(
        [lagged_values(ep, x, j * period, 0.5 * interval) for j in range(1, cycles + 1)]
    )
    cnt = (~np.isnan(lagged)).sum(axis=0)
    out = np.full(len(x), np.nan)
    ok = cnt >= min_cycles
    if ok.any():
        sub = lagged[:, ok].T
        out[ok] = _sorted_stats(sub, cnt[ok], None)[0]
    return out


def asof_values(ep: np.ndarray, src_ep: np.ndarray, src_x: np.ndarray) -> np.ndarray:
    """src value at the last source row at or before each time in ``ep`` (NaN if none)."""
    i = np.searchsorted(src_ep, ep, side="right") - 1
    out = np.full(len(ep), np.nan)
    ok = i >= 0
    out[ok] = src_x[i[ok]]
    return out
