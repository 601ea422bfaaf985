"""The weekly north star chart posted in the channel (PNG bytes).

Most people will see it on a phone in a chat thread, so it is one tall image
(1200 × 1500 px) with large type: the north star and its trend on top, each input
as a small multiple below, and alert episodes and shipped requests marked on the
shared timeline so a dip or a jump can be read against what happened.

It uses ``matplotlib.figure.Figure`` with the Agg canvas directly, never pyplot,
and sets every style on the artists rather than in global ``rcParams``, so renders
are independent and safe from several threads. Date ticks are computed here and
the PNG is encoded with zlib directly (no filtering): both are several times
cheaper than matplotlib's general-purpose paths and keep a warm render fast.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import matplotlib.dates as mdates
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Annotation
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import offset_copy

from bot.nsm.numbers import format_value

Series = Sequence[tuple[date, float]]

WIDTH_PX, HEIGHT_PX, DPI = 1200, 1500, 150
MAX_INPUTS = 6
TREND_WEEKS = 4

_INK, _MUTED, _GRID = "#1e293b", "#64748b", "#e2e8f0"
_NS, _TREND, _INPUT = "#2563eb", "#94a3b8", "#475569"
_ALERT, _SHIP, _UP, _DOWN = "#dc2626", "#16a34a", "#15803d", "#b91c1c"
_FONT = "DejaVu Sans"
_LEFT, _RIGHT, _MARGIN, _BOTTOM = 0.1, 0.955, 0.045, 0.06
_ROW_H = {1: 0.2, 2: 0.165, 3: 0.13}  # small-multiple row height by number of rows


class ChartError(ValueError):
    """The chart cannot be drawn from the data given."""


@dataclass(frozen=True)
class ChartData:
    """What the weekly chart shows; series are ``(week start, value)`` pairs in any order.

    ``lower_is_better`` names inputs whose rise is bad news (coloured red). An input
    with no values yet keeps its cell, which says so: the chart shows what is missing.
    """

    north_star: Series
    title: str = "North star"
    unit: str = ""
    subtitle: str = ""
    higher_is_better: bool = True
    inputs: Mapping[str, Series] = field(default_factory=dict)
    input_units: Mapping[str, str] = field(default_factory=dict)
    lower_is_better: frozenset[str] = frozenset()
    alerts: Sequence[tuple[date, str]] = ()
    ships: Sequence[tuple[date, str]] = ()


def render_weekly_chart(data: ChartData) -> bytes:
    """Draw the weekly chart and return it as PNG bytes."""
    x, y = _series(data.north_star, data.title)
    inputs = [(name, *_points(s)) for name, s in list(data.inputs.items())[:MAX_INPUTS]]
    drawn = [ix for _, ix, _ in inputs if ix is not None]
    lo = min([x[0], *(ix[0] for ix in drawn)])
    hi = max([x[-1], *(ix[-1] for ix in drawn)])
    pad = max(3.0, (hi - lo) * 0.03)
    xlim = (lo - pad, hi + pad)
    ticks = _date_ticks(lo, hi)
    alerts = _events_in_range(data.alerts, *xlim)
    ships = _events_in_range(data.ships, *xlim)

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor="white")
    canvas = FigureCanvasAgg(fig)
    _header(fig, x, y, data)

    n_rows = math.ceil(len(inputs) / 2)
    row_h = _ROW_H.get(n_rows, 0.0)
    main_bottom = _BOTTOM + n_rows * row_h + 0.095 if n_rows else 0.11
    ax = fig.add_axes((_LEFT, main_bottom, _RIGHT - _LEFT, 0.845 - main_bottom))
    _style_axes(ax, size=12.5)
    _dates(ax, xlim, ticks, size=12.5)
    _draw_main(ax, x, y, data, alerts, ships)
    if inputs:
        fig.text(
            _MARGIN,
            main_bottom - 0.062,
            "Inputs",
            fontsize=16,
            fontweight="bold",
            color=_INK,
            family=_FONT,
            va="center",
        )
        _draw_inputs(fig, inputs, data, alerts, ships, xlim, ticks, row_h=row_h)
    _legend(fig, trend=len(y) >= TREND_WEEKS, alerts=bool(alerts), ships=bool(ships))

    canvas.draw()
    return _png(np.asarray(canvas.buffer_rgba()))


# --- pieces ----------------------------------------------------------------------------------


def _header(fig: Figure, x: np.ndarray, y: np.ndarray, data: ChartData) -> None:
    fig.text(
        _MARGIN,
        0.968,
        data.title,
        fontsize=22,
        fontweight="bold",
        color=_INK,
        family=_FONT,
        va="top",
    )
    value = fig.text(
        _MARGIN,
        0.921,
        format_value(y[-1], data.unit),
        fontsize=18,
        fontweight="bold",
        color=_NS,
        family=_FONT,
        va="top",
    )
    if len(y) > 1 and (change := _change(y[-2], y[-1], data.higher_is_better)):
        fig.add_artist(
            Annotation(
                f"{change[0]} vs previous week",
                xy=(1, 0),
                xycoords=value,
                xytext=(14, 0),
                textcoords="offset points",
                fontsize=15,
                va="bottom",
                ha="left",
                color=change[1],
                family=_FONT,
            )
        )
    week = mdates.num2date(x[-1]).date()
    sub = data.subtitle or f"Week of {week.day} {week:%b %Y} · last {len(y)} weeks"
    fig.text(_MARGIN, 0.884, sub, fontsize=12.5, color=_MUTED, family=_FONT, va="top")


def _draw_main(ax, x, y, data: ChartData, alerts, ships) -> None:
    ymin, ymax = float(y.min()), float(y.max())
    span = (ymax - ymin) or max(abs(ymax), 1.0) * 0.1
    # room above for alert labels and the value tag, below for ship labels
    _values(ax, ymin - 0.3 * span, ymax + 0.32 * span, n=5, unit=data.unit, size=12.5)
    for xs, _ in alerts:
        ax.axvline(xs, color=_ALERT, linewidth=1.6, linestyle=(0, (4, 3)), alpha=0.8, zorder=1)
    for xs, _ in ships:
        ax.axvline(xs, color=_SHIP, linewidth=1.6, linestyle=(0, (1, 2.5)), alpha=0.9, zorder=1)
    if len(y) >= TREND_WEEKS:
        ax.plot(
            x,
            _rolling_mean(y, TREND_WEEKS),
            color=_TREND,
            linewidth=2.2,
            linestyle=(0, (5, 3)),
            zorder=2,
        )
    ax.plot(
        x, y, color=_NS, linewidth=3, marker="o", markersize=4.5, zorder=3, solid_capstyle="round"
    )
    ax.scatter([x[-1]], [y[-1]], s=110, color=_NS, edgecolor="white", linewidth=2.5, zorder=4)
    ax.annotate(
        format_value(y[-1]),
        (x[-1], y[-1]),
        xytext=(-12, 12),
        textcoords="offset points",
        ha="right",
        va="bottom",
        fontsize=14,
        fontweight="bold",
        color="white",
        family=_FONT,
        zorder=5,
        bbox={"boxstyle": "round,pad=0.35", "fc": _NS, "ec": "none"},
    )
    width_px = (_RIGHT - _LEFT) * WIDTH_PX
    days_per_px = (ax.get_xlim()[1] - ax.get_xlim()[0]) / width_px
    _marker_labels(ax, alerts, "▲ ", _ALERT, top=True, days_per_px=days_per_px)
    _marker_labels(ax, ships, "◆ ", _SHIP, top=False, days_per_px=days_per_px)


def _marker_labels(ax, events, prefix: str, color: str, *, top: bool, days_per_px: float) -> None:
    """Label event lines, flipping left near the right edge and stacking to avoid overlap."""
    lo, hi = ax.get_xlim()
    size = 10.5
    rows: list[list[tuple[float, float]]] = [[], [], []]
    for xs, label in events:
        text = f"{prefix}{_short(label)}"
        width = (len(text) * size * 0.6 * DPI / 72 + 12) * days_per_px
        left_side = xs > lo + 0.62 * (hi - lo)
        span = (xs - width, xs) if left_side else (xs, xs + width)
        row = next(
            (i for i, r in enumerate(rows) if all(span[1] < a or span[0] > b for a, b in r)),
            len(rows) - 1,
        )
        rows[row].append(span)
        step = 0.075 * row
        ax.text(
            xs,
            0.975 - step if top else 0.025 + step,
            f" {text} ",
            transform=ax.get_xaxis_transform(),
            fontsize=size,
            color=color,
            family=_FONT,
            ha="right" if left_side else "left",
            va="top" if top else "bottom",
            zorder=6,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.9},
        )


def _draw_inputs(fig, inputs, data: ChartData, alerts, ships, xlim, ticks, *, row_h: float) -> None:
    gap_x, n_rows = 0.1, math.ceil(len(inputs) / 2)
    col_w = (_RIGHT - _LEFT - gap_x) / 2
    for i, (name, ix, iy) in enumerate(inputs):
        r, c = divmod(i, 2)
        cell_bottom = _BOTTOM + (n_rows - 1 - r) * row_h
        # a cell: title zone (0.05) above the plot, date labels and a gap (0.03) below
        ax = fig.add_axes((_LEFT + c * (col_w + gap_x), cell_bottom + 0.03, col_w, row_h - 0.08))
        unit = data.input_units.get(name, "")
        _style_axes(ax, size=10.5)
        # shared timeline: dates only under the lowest plot of each column
        _dates(
            ax,
            xlim,
            ticks,
            size=10.5,
            every=2 if len(ticks) > 4 else 1,
            labels=i + 2 >= len(inputs),
        )
        if ix is None:
            _missing_cell(fig, ax, name)
            continue
        base, peak = float(iy.min()), float(iy.max())
        span = (peak - base) or max(abs(base), 1.0) * 0.1
        floor = base - 0.15 * span
        _values(ax, floor, peak + 0.2 * span, n=3, unit=unit, size=10.5)
        for xs, _ in alerts:
            ax.axvline(xs, color=_ALERT, linewidth=1.1, linestyle=(0, (4, 3)), alpha=0.6)
        for xs, _ in ships:
            ax.axvline(xs, color=_SHIP, linewidth=1.1, linestyle=(0, (1, 2.5)), alpha=0.7)
        ax.fill_between(ix, floor, iy, color=_INPUT, alpha=0.08, linewidth=0)
        ax.plot(ix, iy, color=_INPUT, linewidth=2.2, zorder=3)
        ax.scatter([ix[-1]], [iy[-1]], s=36, color=_INPUT, zorder=4)
        # title row above the plot: name, then latest value and change
        _cell_title(fig, ax, name)
        value = ax.text(
            0,
            1,
            format_value(iy[-1], unit),
            fontsize=12.5,
            color=_INK,
            transform=offset_copy(ax.transAxes, fig=fig, x=-4, y=5, units="points"),
            family=_FONT,
            va="bottom",
            ha="left",
        )
        if len(iy) > 1 and (change := _change(iy[-2], iy[-1], name not in data.lower_is_better)):
            ax.annotate(
                change[0],
                xy=(1, 0),
                xycoords=value,
                xytext=(8, 0),
                textcoords="offset points",
                fontsize=12,
                va="bottom",
                color=change[1],
                family=_FONT,
            )


def _cell_title(fig: Figure, ax, name: str) -> None:
    """An input's name above its cell."""
    ax.text(
        0,
        1,
        _short(name, 24),
        transform=offset_copy(ax.transAxes, fig=fig, x=-4, y=22, units="points"),
        fontsize=13,
        fontweight="bold",
        color=_INK,
        family=_FONT,
        va="bottom",
        ha="left",
    )


def _missing_cell(fig: Figure, ax, name: str) -> None:
    """An input with no values yet: its title, and the words in place of a line."""
    ax.set_ylim(0, 1)
    _cell_title(fig, ax, name)
    ax.text(
        0.5,
        0.5,
        "no values yet",
        transform=ax.transAxes,
        fontsize=12,
        fontstyle="italic",
        color=_MUTED,
        family=_FONT,
        va="center",
        ha="center",
    )


def _legend(fig: Figure, *, trend: bool, alerts: bool, ships: bool) -> None:
    parts = [("━ north star", _NS)]
    if trend:
        parts.append((f"╍ {TREND_WEEKS}-week average", _TREND))
    if alerts:
        parts.append(("▲ alert", _ALERT))
    if ships:
        parts.append(("◆ shipped", _SHIP))
    xpos = _MARGIN
    for text, color in parts:
        fig.text(xpos, 0.018, text, fontsize=11.5, color=color, family=_FONT, va="bottom")
        xpos += len(text) * 11.5 * 0.6 * DPI / 72 / WIDTH_PX + 0.04


# --- helpers ---------------------------------------------------------------------------------


def _as_date(d: date | datetime) -> date:
    return d.date() if isinstance(d, datetime) else d


def _series(points: Series, what: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = _points(points)
    if x is None or y is None:
        raise ChartError(f"There are no values for {what} to chart yet.")
    return x, y


def _points(points: Series) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """Finite values as (x, y) arrays in date order; (None, None) when there are none."""
    pts = sorted((_as_date(d), float(v)) for d, v in points if v is not None)
    pts = [(d, v) for d, v in pts if math.isfinite(v)]
    if not pts:
        return None, None
    x = mdates.date2num([d for d, _ in pts])
    return np.asarray(x, dtype=float), np.asarray([v for _, v in pts])


def _change(prev: float, curr: float, higher_is_better: bool) -> tuple[str, str] | None:
    """Week-on-week change as (text, colour): green when it moved the good way."""
    if prev == 0:
        return None
    pct = (curr - prev) / abs(prev) * 100
    if round(pct, 1) == 0:
        return "= 0.0%", _MUTED
    good = (pct > 0) == higher_is_better
    return f"{'▲' if pct > 0 else '▼'} {pct:+.1f}%", _UP if good else _DOWN


def _rolling_mean(y: np.ndarray, window: int) -> np.ndarray:
    c = np.cumsum(np.insert(y, 0, 0.0))
    i = np.arange(1, len(y) + 1)
    lo = np.maximum(0, i - window)
    return (c[i] - c[lo]) / (i - lo)


def _short(text: str, limit: int = 26) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _events_in_range(events: Sequence[tuple[date, str]], lo: float, hi: float):
    """Events inside the timeline as (x, label), those on the same day merged into one."""
    by_x: dict[float, list[str]] = {}
    for d, label in events:
        x = float(mdates.date2num(_as_date(d)))
        if lo <= x <= hi:
            by_x.setdefault(x, []).append(" ".join(str(label).split()))
    return [(x, ", ".join(labels)) for x, labels in sorted(by_x.items())]


def _date_ticks(lo: float, hi: float, max_ticks: int = 7) -> list[tuple[float, str]]:
    """Month starts (or week starts for short ranges) as (x, label); January shows the year."""
    first, last = mdates.num2date(lo).date(), mdates.num2date(hi).date()
    if (last - first).days <= 70:
        step = max(1, math.ceil((last - first).days / 7 / max_ticks))
        d = first - timedelta(days=first.weekday())
        out = []
        while d <= last:
            if d >= first:
                out.append((float(mdates.date2num(d)), f"{d.day} {d:%b}"))
            d += timedelta(weeks=step)
        return out
    months = (last.year - first.year) * 12 + last.month - first.month
    step = next(s for s in (1, 2, 3, 4, 6, 12, 24) if months / s <= max_ticks)
    out = []
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month):
        d = date(y, m, 1)
        if first <= d and (m - 1) % step == 0:
            out.append((float(mdates.date2num(d)), f"{d:%b}" if m != 1 else f"{d:%b} ’{d:%y}"))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _style_axes(ax, *, size: float) -> None:
    """Bare axes: ticks are drawn by ``_values``/``_dates`` as plain text, which is several
    times cheaper than matplotlib's Tick objects (five artists and a style copy each)."""
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(_GRID)
    ax.set_xticks([])
    ax.set_yticks([])


def _values(ax, lo: float, hi: float, *, n: int, unit: str, size: float) -> None:
    """Fix the y range; draw round-number gridlines and their labels inside it."""
    ax.set_ylim(lo, hi)
    pct = "%" if unit == "%" else ""
    ticks = [t for t in MaxNLocator(n, min_n_ticks=3).tick_values(lo, hi) if lo <= t <= hi]
    trans = ax.get_yaxis_transform()
    ax.hlines(ticks, 0, 1, transform=trans, color=_GRID, linewidth=1, zorder=0.5)
    label_at = offset_copy(trans, fig=ax.figure, x=-6, units="points")
    for t in ticks:
        ax.text(
            0,
            t,
            format_value(t, pct),
            transform=label_at,
            fontsize=size,
            color=_MUTED,
            family=_FONT,
            ha="right",
            va="center",
        )


def _dates(ax, xlim, ticks, *, size: float, every: int = 1, labels: bool = True) -> None:
    ax.set_xlim(*xlim)
    if not labels:
        return
    label_at = offset_copy(ax.get_xaxis_transform(), fig=ax.figure, y=-7, units="points")
    for t, label in ticks[::every]:
        ax.text(
            t,
            0,
            label,
            transform=label_at,
            fontsize=size,
            color=_MUTED,
            family=_FONT,
            ha="center",
            va="top",
        )


def _png(rgba: np.ndarray) -> bytes:
    """Encode an RGBA buffer as an RGB PNG (zlib level 1, no row filters)."""
    h, w = rgba.shape[:2]
    rows = np.zeros((h, w * 3 + 1), dtype=np.uint8)
    rows[:, 1:] = rgba[:, :, :3].reshape(h, w * 3)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 1))
        + chunk(b"IEND", b"")
    )


def demo_data(weeks: int = 26, end: date | None = None) -> ChartData:
    """A plausible company's last half-year, for the demo, tests and the benchmark."""
    end = end or date(2026, 10, 5)
    starts = [end - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    rng = np.random.default_rng(7)
    t = np.arange(weeks)
    accounts = 410 + 6.5 * t + rng.normal(0, 6, weeks)
    per = 2.4 + 0.012 * t + rng.normal(0, 0.03, weeks)
    per[weeks - 9 : weeks - 6] -= 0.18
    activation = 38 + 0.2 * t + rng.normal(0, 0.8, weeks)
    tickets = 120 - 0.8 * t + rng.normal(0, 6, weeks)

    def s(v) -> list[tuple[date, float]]:
        return list(zip(starts, (float(a) for a in v), strict=True))

    return ChartData(
        north_star=s(np.round(accounts * per)),
        title="Weekly active teams",
        unit="teams",
        inputs={
            "Active accounts": s(np.round(accounts)),
            "Teams per account": s(per),
            "Activation rate": s(activation),
            "Support tickets": s(np.round(tickets)),
        },
        input_units={"Activation rate": "%"},
        lower_is_better=frozenset({"Support tickets"}),
        alerts=[(starts[weeks - 8], "WAT below baseline")],
        ships=[
            (starts[weeks - 14], "#42 Bulk invite"),
            (starts[weeks - 5], "#57 Team templates"),
            (starts[weeks - 3], "#61 Slack digest"),
        ],
    )
