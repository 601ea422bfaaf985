"""North Star Metric engine: the metric tree, periods, "why did it move" and the chart.

These modules are pure (no storage, no network) so the command router, the digest
job and the HTTP API can all share them and tests can exercise them directly.
``bot.nsm.chart`` is not imported here: matplotlib is slow to import and only the
chart job needs it.
"""

from bot.nsm.config import (
    ConfigError,
    EventSource,
    LodestarConfig,
    MetricDef,
    MetricTree,
    load_config,
    parse_config,
)
from bot.nsm.periods import (
    Period,
    PeriodError,
    current_week,
    latest_complete_week,
    parse_period,
    rollup,
    week_of,
)
from bot.nsm.why import Contribution, Explanation, NotEnoughHistory, WhyError, explain

__all__ = [
    "ConfigError",
    "Contribution",
    "EventSource",
    "Explanation",
    "LodestarConfig",
    "MetricDef",
    "MetricTree",
    "NotEnoughHistory",
    "Period",
    "PeriodError",
    "WhyError",
    "current_week",
    "explain",
    "latest_complete_week",
    "load_config",
    "parse_config",
    "parse_period",
    "rollup",
    "week_of",
]
