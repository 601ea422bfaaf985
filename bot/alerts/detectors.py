"""Detectors: one pure function per rule kind, series in, episodes out.

A series is a sequence of ``(timestamp, value)``; timestamps should be aware UTC
datetimes (naive ones are taken as UTC). Series are sorted by time and a repeated
timestamp keeps its last value. Every detector is causal (row t depends on rows
<= t only) and deterministic, so recomputing over a longer history never moves an
episode's start: see :mod:`bot.alerts.episodes`.

Anomaly score (``AnomalyRule``), per row t, all statistics over rows before t:

1. Candidate models of "normal": the *level* (median of the last ``window``) and,
   with ``period = "auto"``, *seasonal* baselines: median of the values 1, 2 and 3
   days earlier (same time of day; when sampled at least every 6 h) and 1, 2 and 3
   weeks earlier (same weekday and time; when sampled at least daily).
2. Each model's residual is scored twice: the point residual and its mean over the
   last ``smooth`` (level shifts and spike bursts), each as
   ``(r - median) / max(1.4826 * MAD, q99(|r - median|) / 2.576)`` over the last
   ``scale_window``. The q99 term makes the score heavy-tail aware: spikes that
   happen every few days raise the scale, so they do not page anyone.
3. Seasonality is detected per row: when the best seasonal model's residual scale
   is below 0.7 × the level model's, the row uses that model's score; otherwise
   the smallest absolute score over all models (a row is anomalous only if no
   model explains it).
4. An episode opens when |score| > ``sensitivity`` (in ``direction``), stays open
   while |score| > sensitivity / 2, and closes after ``clear`` below that. No
   firing before ``min_history`` and ``min_points``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from .episodes import Episode, build_episodes, hysteresis
from .rules import (
    AnomalyRule,
    CounterGuardRule,
    MilestoneRule,
    Rule,
    RuleError,
    ThresholdRule,
    parse_duration,
)
from .stats import (
    asof_values,
    epoch_seconds,
    estimate_interval,
    rolling_mean,
    rolling_stats,
    seasonal_baseline,
)

Series = Sequence[tuple[datetime, float]]

_Q = 0.99
_Q_Z = 2.576  # standard normal quantile of 0.99 (two-sided |z|)
_SEASONAL_GAIN = 0.7
_HOLD_RATIO = 0.5
_REL_FLOOR = 1e-3


class Prepared:
    """A series as sorted arrays: ``ts`` (aware datetimes), ``ep`` (epoch s), ``x``."""

    __slots__ = ("ep", "ts", "x")

    def __init__(self, series: Iterable[tuple[datetime, float]]):
        rows: dict[datetime, float] = {}
        for t, v in series:
            if t.tzinfo is None:
                t = t.replace(tzinfo=UTC)
            rows[t] = float(v)  # a repeated timestamp keeps its last value
        ts = sorted(rows)
        self.ts: list[datetime] = ts
        self.x = np.fromiter((rows[t] for t in ts), dtype=float, count=len(ts))
        self.ep = epoch_seconds(ts)
        if not np.all(np.isfinite(self.x)):
            raise ValueError("series values must be finite numbers")

    def __len__(self) -> int:
        return len(self.ts)


def _points(d: timedelta, interval: float, minimum: int) -> int:
    return max(minimum, round(d.total_seconds() / interval))


def _history_ok(p: Prepared, min_history: timedelta, min_points: int) -> np.ndarray:
    n = len(p)
    ok = np.arange(n) >= min_points - 1
    if n:
        ok &= p.ep - p.ep[0] >= min_history.total_seconds()
    return ok


def _run_starts(cond: np.ndarray) -> np.ndarray:
    """For each row, the first row of the run of true ``cond`` it belongs to (or -1)."""
    n = len(cond)
    idx = np.arange(n)
    starts = np.where(cond & ~np.concatenate([[False], cond[:-1]]), idx, -1) if n else idx
    starts = np.maximum.accumulate(starts) if n else starts
    return np.where(cond, starts, -1)


def _sustained(p: Prepared, cond: np.ndarray, duration: timedelta) -> tuple[np.ndarray, np.ndarray]:
    """(fire, run_start): fire where cond has held continuously for ``duration``."""
    rs = _run_starts(cond)
    fire = cond & (p.ep - p.ep[np.maximum(rs, 0)] >= duration.total_seconds())
    return fire, rs


# --- anomaly ---------------------------------------------------------------------------------


def _robust_score(
    r: np.ndarray, w: int, min_points: int, rel_floor: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(score, scale): ``(r - median) / scale`` with a heavy-tail aware scale."""
    med, mad, q = rolling_stats(r, w, min_points=min_points, stride=max(1, w // 64), quantile=_Q)
    assert q is not None
    scale = np.fmax(1.4826 * mad, q / _Q_Z)
    scale = np.where(np.isnan(scale), np.nan, np.fmax(scale, rel_floor))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (r - med) / scale, scale


def _pick_abs(a: np.ndarray, b: np.ndarray, larger: bool) -> np.ndarray:
    """Element-wise the one of a, b with the larger (or smaller) absolute value; NaN-aware."""
    aa, bb = np.abs(a), np.abs(b)
    take_b = (bb > aa) if larger else (bb < aa)
    take_b = np.where(np.isnan(aa), True, np.where(np.isnan(bb), False, take_b))
    return np.where(take_b, b, a)


def anomaly_scores(p: Prepared, rule: AnomalyRule) -> np.ndarray:
    """Signed anomaly score per row (NaN where there is not enough history)."""
    n = len(p)
    if n < 3:
        return np.full(n, np.nan)
    interval = _interval(p, rule)
    w = _points(rule.window, interval, 24)
    minp = max(12, w // 2)
    wq = _points(rule.scale_window, interval, 60)
    k = _points(rule.smooth, interval, 3)
    med, _, _ = rolling_stats(p.x, w, min_points=minp, stride=max(1, w // 64))
    floor = _REL_FLOOR * np.abs(np.nan_to_num(med)) + 1e-12

    def score(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z_point, scale = _robust_score(r, wq, minp, floor)
        z_smooth, _ = _robust_score(rolling_mean(r, k), wq, minp, floor)
        return _pick_abs(z_point, z_smooth, larger=True), scale

    z_level, scale_level = score(p.x - med)
    if rule.period == "none":
        periods: list[float] = []
    elif rule.period == "auto":
        periods = [
            d for d, max_dt in ((86400.0, 6 * 3600.0), (7 * 86400.0, 86400.0)) if interval <= max_dt
        ]
    else:
        periods = [parse_duration(rule.period).total_seconds()]
    z_min = z_level
    best_scale = np.full(n, np.inf)
    z_best = np.full(n, np.nan)
    for period in periods:
        base = seasonal_baseline(p.ep, p.x, period, interval)
        if np.all(np.isnan(base)):
            continue
        z, scale = score(p.x - base)
        z_min = _pick_abs(z_min, z, larger=False)
        better = np.nan_to_num(scale, nan=np.inf) < best_scale
        best_scale = np.where(better, scale, best_scale)
        z_best = np.where(better, z, z_best)
    # a seasonal model that explains the recent past clearly better than the level wins;
    # otherwise a row must be abnormal under every model
    seasonal = (best_scale < _SEASONAL_GAIN * scale_level) & ~np.isnan(z_best)
    out = np.where(seasonal, z_best, z_min)
    return np.where(np.isnan(z_level), np.nan, out)


def _interval(p: Prepared, rule: AnomalyRule) -> float:
    if rule.interval == "auto":
        return estimate_interval(p.ep)
    return parse_duration(rule.interval).total_seconds()


def detect_anomaly(p: Prepared, rule: AnomalyRule) -> list[Episode]:
    if len(p) == 0:
        return []
    z = anomaly_scores(p, rule)
    zz = np.nan_to_num(z, nan=0.0)
    if rule.direction == "up":
        zz = np.maximum(zz, 0.0)
    elif rule.direction == "down":
        zz = np.minimum(zz, 0.0)
    mag = np.abs(zz)
    ok = _history_ok(p, rule.min_history, rule.min_points)
    fire = (mag > rule.sensitivity) & ok
    hold = mag > rule.sensitivity * _HOLD_RATIO
    spans = hysteresis(fire, hold, clear_points=_points(rule.clear, _interval(p, rule), 3))
    return build_episodes(
        rule.name,
        rule.kind,
        rule.metric,
        p.ts,
        p.x,
        spans,
        mag,
        direction=zz,
        detail=f"anomaly score > {rule.sensitivity:g}",
    )


# --- threshold -------------------------------------------------------------------------------


def detect_threshold(p: Prepared, rule: ThresholdRule) -> list[Episode]:
    n = len(p)
    if n == 0:
        return []
    x = p.x
    cond = np.zeros(n, dtype=bool)
    sev = np.full(n, -np.inf)
    sign = np.zeros(n)
    parts = []

    def add(c: np.ndarray, s: np.ndarray, d: float, text: str) -> None:
        nonlocal cond, sev, sign
        c = c & ~np.isnan(s)
        s = np.where(c, s, -np.inf)
        sign = np.where(c & (s > sev), d, sign)
        sev = np.fmax(sev, s)
        cond = cond | c
        parts.append(text)

    if rule.above is not None:
        add(
            x > rule.above,
            (x - rule.above) / max(abs(rule.above), 1e-12),
            1.0,
            f"above {rule.above:g}",
        )
    if rule.below is not None:
        add(
            x < rule.below,
            (rule.below - x) / max(abs(rule.below), 1e-12),
            -1.0,
            f"below {rule.below:g}",
        )
    if rule.drop_pct is not None or rule.rise_pct is not None:
        interval = estimate_interval(p.ep)
        w = _points(rule.baseline, interval, 1)
        base, _, _ = rolling_stats(
            x, w, min_points=rule.min_baseline_points, stride=max(1, w // 64)
        )
        # the trailing window is in rows; also drop rows older than the baseline period
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = (x - base) / np.abs(base) * 100.0
        span = rule.baseline.total_seconds()
        first = np.searchsorted(p.ep, p.ep - span, side="left")
        enough = (np.arange(n) - first) >= rule.min_baseline_points
        rel = np.where(enough & (base != 0), rel, np.nan)
        if rule.drop_pct is not None:
            add(rel < -rule.drop_pct, -rel, -1.0, f"{rule.drop_pct:g}% below baseline")
        if rule.rise_pct is not None:
            add(rel > rule.rise_pct, rel, 1.0, f"{rule.rise_pct:g}% above baseline")
    fire, rs = _sustained(p, cond, rule.duration)
    spans = hysteresis(fire, cond, clear_points=1)
    since = [int(rs[s]) for s, _ in spans]
    detail = " or ".join(parts)
    if rule.duration > timedelta(0):
        detail += f" for {_fmt_td(rule.duration)}"
    return build_episodes(
        rule.name,
        rule.kind,
        rule.metric,
        p.ts,
        x,
        spans,
        sev,
        since_rows=since,
        direction=sign,
        detail=detail,
    )


def _fmt_td(d: timedelta) -> str:
    s = int(d.total_seconds())
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if s and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


# --- milestone -------------------------------------------------------------------------------


def detect_milestone(p: Prepared, rule: MilestoneRule) -> list[Episode]:
    n = len(p)
    if n < 2:
        return []
    x = p.x
    prev_max = np.concatenate([[-np.inf], np.maximum.accumulate(x)[:-1]])
    cand = (x > prev_max) & _history_ok(p, rule.min_history, rule.min_points)
    cand[0] = False
    if rule.round_step is not None:
        step = rule.round_step
        cand &= np.floor(x / step) > np.floor(prev_max / step)
    out = []
    next_ok = -np.inf
    cool = rule.cooldown.total_seconds()
    for i in np.flatnonzero(cand).tolist():
        if p.ep[i] < next_ok:
            continue
        next_ok = p.ep[i] + cool
        if rule.round_step is not None:
            mark = np.floor(x[i] / rule.round_step) * rule.round_step
            detail = f"passed {mark:,.10g}"
        else:
            detail = f"new all-time high (previous {prev_max[i]:,.10g})"
        out.append(
            Episode(
                rule=rule.name,
                kind=rule.kind,
                metric=rule.metric,
                start=p.ts[i],
                end=p.ts[i],
                peak=float(x[i]),
                peak_at=p.ts[i],
                since=p.ts[i],
                direction="up",
                detail=detail,
                instant=True,
            )
        )
    return out


# --- counter guard ---------------------------------------------------------------------------


def detect_counter_guard(p: Prepared, counter: Prepared, rule: CounterGuardRule) -> list[Episode]:
    n = len(p)
    if n == 0 or len(counter) == 0:
        return []
    win = rule.window.total_seconds()
    # strictly-earlier reference points: last row at or before t - window
    ns_then = asof_values(p.ep - win, p.ep, p.x)
    c_now = asof_values(p.ep, counter.ep, counter.x)
    c_then = asof_values(p.ep - win, counter.ep, counter.x)
    with np.errstate(invalid="ignore", divide="ignore"):
        ns_chg = (p.x - ns_then) / np.abs(ns_then) * 100.0
        c_chg = (c_now - c_then) / np.abs(c_then) * 100.0
    ns_chg = np.where(np.isfinite(ns_chg), ns_chg, np.nan)
    c_chg = np.where(np.isfinite(c_chg), c_chg, np.nan)
    bad = -c_chg if rule.bad_direction == "down" else c_chg
    with np.errstate(invalid="ignore"):
        cond = (ns_chg > rule.min_rise_pct) & (bad > rule.tolerance_pct)
    cond = np.where(np.isnan(ns_chg) | np.isnan(bad), False, cond)
    fire, rs = _sustained(p, cond, rule.duration)
    spans = hysteresis(fire, cond, clear_points=1)
    since = [int(rs[s]) for s, _ in spans]
    sev = np.where(cond, bad, -np.inf)
    eps = build_episodes(
        rule.name, rule.kind, rule.metric, p.ts, c_now, spans, sev, since_rows=since
    )
    out = []
    for ep in eps:
        i = p.ts.index(ep.peak_at)
        detail = (
            f"{rule.metric} {ns_chg[i]:+.1f}% while {rule.counter} "
            f"{c_chg[i]:+.1f}% over {_fmt_td(rule.window)}"
        )
        out.append(replace(ep, detail=detail, direction=rule.bad_direction))
    return out


# --- entry points ----------------------------------------------------------------------------


def evaluate_rule(rule: Rule, data: Mapping[str, Series | Prepared]) -> list[Episode]:
    """Episodes of one rule. ``data`` maps metric keys to series; the rule reads
    ``data[rule.metric]`` (and ``data[rule.counter]`` for a counter guard)."""
    missing = [m for m in rule.metrics if m not in data]
    if missing:
        raise RuleError(f"no data for metric(s) {', '.join(missing)}.", rule=rule.name)

    def prep(key: str) -> Prepared:
        s = data[key]
        return s if isinstance(s, Prepared) else Prepared(s)

    main = prep(rule.metric)
    if isinstance(rule, AnomalyRule):
        return detect_anomaly(main, rule)
    if isinstance(rule, ThresholdRule):
        return detect_threshold(main, rule)
    if isinstance(rule, MilestoneRule):
        return detect_milestone(main, rule)
    if isinstance(rule, CounterGuardRule):
        return detect_counter_guard(main, prep(rule.counter), rule)
    raise RuleError(f"unsupported rule kind {rule.kind!r}.", rule=rule.name)


def evaluate_rules(rules: Iterable[Rule], data: Mapping[str, Series | Prepared]) -> list[Episode]:
    """Episodes of several rules, ordered by start then rule name."""
    cache: dict[str, Prepared] = {}
    prepared: dict[str, Series | Prepared] = {}
    for key, s in data.items():
        prepared[key] = s if isinstance(s, Prepared) else cache.setdefault(key, Prepared(s))
    out: list[Episode] = []
    for rule in rules:
        out.extend(evaluate_rule(rule, prepared))
    out.sort(key=lambda e: (e.start, e.rule))
    return out
