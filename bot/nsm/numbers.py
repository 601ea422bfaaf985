"""How metric numbers leave Lodestar: compact text for people, valid JSON for programs.

Kept apart from the chart so that replies can format numbers without importing
matplotlib (slow to import, and only the chart needs it).
"""

from __future__ import annotations

import math
from typing import Any

# Ascending, so the smallest suffix that keeps three digits wins ("999.95k" is "1M").
_SCALES = ((1e3, "k"), (1e6, "M"), (1e9, "B"), (1e12, "T"))


def format_value(value: float, unit: str = "") -> str:
    """Compact, human number: 1,234 · 12.3k · 4.56M · 7.1B · 12.5% (unit appended if
    short); a value that is not a finite number shows as "—"."""
    if not math.isfinite(value):
        return "—"
    if unit == "%":
        return f"{value:.1f}%"
    s = _compact(value)
    return f"{s} {unit}" if unit else s


def _compact(value: float) -> str:
    a = abs(value)
    if a >= 1e18:
        return f"{value:.3g}"
    if a >= 1e4:
        for scale, suffix in _SCALES:
            scaled = value / scale
            if abs(float(f"{scaled:.3g}")) < 1000:
                return f"{scaled:.3g}{suffix}"
        return f"{scaled:,.0f}{suffix}"
    if a >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.3g}"


def format_percent(fraction: float | None) -> str:
    """A signed percentage such as ``+4.2%``; empty when there is none to show."""
    if fraction is None or not math.isfinite(fraction):
        return ""
    if abs(fraction) >= 1e4:  # a million percent and more: the digits stop meaning much
        return f"{fraction * 100:+.3g}%"
    return f"{fraction:+.1%}"


def json_ready(data: Any) -> Any:
    """``data`` with every non-finite float replaced by None, so that
    ``json.dumps(..., allow_nan=False)`` never fails and never writes a bare NaN."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: json_ready(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [json_ready(v) for v in data]
    return data
