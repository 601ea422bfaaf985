"""Alert rules: one frozen dataclass per kind, parsed from ``[[alerts]]`` TOML tables.

Every rule has ``name``, ``kind`` and ``metric``; the other keys depend on the kind
and all have defaults (see each class). Durations are strings such as ``"90m"``,
``"24h"``, ``"2d"``, ``"1w"`` (or a number of seconds). Example::

    [[alerts]]
    name = "wat-drop"
    kind = "threshold"
    metric = "weekly_active_teams"
    drop_pct = 10            # 10 % below the trailing median ...
    baseline = "28d"         # ... of the previous 28 days
    duration = "24h"         # sustained for a day before it fires

    [[alerts]]
    name = "wat-guard"
    kind = "counter_guard"
    metric = "weekly_active_teams"
    counter = "support_tickets"
    bad_direction = "up"     # more tickets is bad
    tolerance_pct = 5

:func:`parse_rule` is strict: an unknown key, a wrong type or a bad duration raises
:class:`RuleError` naming the rule (and the TOML line when the dict carries one).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any, ClassVar

KINDS = ("threshold", "anomaly", "milestone", "counter_guard")
DIRECTIONS = ("both", "up", "down")

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


#: The longest rule name (its episodes and mutes are stored under it).
MAX_NAME = 100


class RuleError(ValueError):
    """A rule definition that cannot be used; the message says which rule and why."""

    def __init__(self, problem: str, *, rule: str | None = None, line: int | None = None):
        self.problem = problem
        self.rule = rule
        self.line = line
        where = []
        if line:
            where.append(f"line {line}")
        if rule:
            where.append(f"alert '{rule}'")
        super().__init__(f"{', '.join(where)}: {problem}" if where else problem)


def parse_duration(value: str | float | int | timedelta) -> timedelta:
    """``"90m"``, ``"24h"``, ``"2d"``, ``"1w"``, ``"30s"``, a bare number of seconds or a
    timedelta -> timedelta. Negative or malformed values raise ValueError."""
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ValueError(f"negative duration {value}")
        return value
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    usage = f'not a duration: {value!r} (write it like "90m", "24h" or "2d")'
    seconds: float | None = None
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION_RE.match(value)):
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2).lower()]
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(usage)
    try:
        return timedelta(seconds=seconds)
    except OverflowError:  # beyond timedelta's 999,999,999 days
        raise ValueError(usage) from None


@dataclass(frozen=True)
class Rule:
    """Common fields. ``metrics`` lists every series the rule needs (the evaluator
    passes them in a mapping keyed by metric key)."""

    name: str
    metric: str
    kind: ClassVar[str] = ""

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric,)


@dataclass(frozen=True)
class ThresholdRule(Rule):
    """Fires when the value breaks a bound continuously for ``duration``.

    Conditions (any that is set counts; at least one is required):
    ``above``: value > above; ``below``: value < below; ``drop_pct``: value is more
    than ``drop_pct`` % below the median of the points in the previous ``baseline``
    period; ``rise_pct``: more than ``rise_pct`` % above that median. The baseline
    needs at least ``min_baseline_points`` points. The episode opens at the first
    point where the breach has lasted ``duration`` (``"0"``: at the first breaching
    point) and closes at the first point that no longer breaches.
    """

    kind: ClassVar[str] = "threshold"
    above: float | None = None
    below: float | None = None
    drop_pct: float | None = None
    rise_pct: float | None = None
    baseline: timedelta = timedelta(days=7)
    min_baseline_points: int = 3
    duration: timedelta = timedelta(0)


@dataclass(frozen=True)
class AnomalyRule(Rule):
    """Robust, seasonal-aware anomaly detection (see :mod:`bot.alerts.detectors`).

    ``sensitivity``: score threshold (lower fires more; 4 is the default, 3 is
    sensitive, 6 is quiet). ``direction``: ``both``, ``up`` or ``down``.
    ``period``: ``"auto"`` (daily and weekly candidates, chosen per point from how well
    each explains the recent past), ``"none"``, or a duration such as ``"1d"``/``"7d"``.
    ``window``: trailing window of the level baseline (default 1 day, at least 24
    points). ``scale_window``: trailing window of the residual scale (default 7 days,
    at least 60 points). ``smooth``: span of the second, smoothed channel that catches
    level shifts and changes in spike density (default 1 hour, at least 3 points).
    ``clear``: how long the score must stay low before the episode closes (default 3 h,
    at least 3 points). ``min_history``/``min_points``: no firing before this much
    history. ``interval``: the sampling interval; ``"auto"`` estimates it from the
    first intervals of the series (so that appending data never changes it).
    """

    kind: ClassVar[str] = "anomaly"
    sensitivity: float = 4.0
    direction: str = "both"
    period: str = "auto"
    window: timedelta = timedelta(days=1)
    scale_window: timedelta = timedelta(days=7)
    smooth: timedelta = timedelta(hours=1)
    clear: timedelta = timedelta(hours=3)
    min_history: timedelta = timedelta(days=1)
    min_points: int = 24
    interval: str = "auto"


@dataclass(frozen=True)
class MilestoneRule(Rule):
    """A new all-time high (value strictly above every earlier value).

    ``round_step``: when set, only highs that cross a new multiple of it fire
    (e.g. 1000 -> "passed 12,000"). No firing before ``min_history`` and
    ``min_points``; after a milestone fires, none fires for ``cooldown``.
    Milestone episodes are instantaneous (``end == start``): no recovery notice.
    """

    kind: ClassVar[str] = "milestone"
    round_step: float | None = None
    min_history: timedelta = timedelta(days=28)
    min_points: int = 8
    cooldown: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class CounterGuardRule(Rule):
    """North star up while a counter-metric moves the wrong way.

    Over the trailing ``window`` the north star (``metric``) must have risen by more
    than ``min_rise_pct`` % while ``counter`` moved in ``bad_direction`` (``down``:
    falling is bad, e.g. retention; ``up``: rising is bad, e.g. support tickets) by
    more than ``tolerance_pct`` %, both sustained for ``duration``. Changes compare the
    latest value with the last value at or before ``t - window``; the counter is read
    as of each north-star timestamp.
    """

    kind: ClassVar[str] = "counter_guard"
    counter: str = ""
    bad_direction: str = "down"
    tolerance_pct: float = 5.0
    min_rise_pct: float = 0.0
    window: timedelta = timedelta(days=7)
    duration: timedelta = timedelta(0)

    @property
    def metrics(self) -> tuple[str, ...]:
        return (self.metric, self.counter)


AnyRule = ThresholdRule | AnomalyRule | MilestoneRule | CounterGuardRule
RULE_CLASSES: dict[str, type[Rule]] = {
    c.kind: c for c in (ThresholdRule, AnomalyRule, MilestoneRule, CounterGuardRule)
}


def _coerce(cls: type[Rule], key: str, value: Any, default: Any) -> Any:
    if isinstance(default, timedelta):
        try:
            return parse_duration(value)
        except ValueError as error:
            raise ValueError(f"'{key}' is {error}") from None
    if key in ("name", "metric", "counter", "direction", "bad_direction", "period", "interval"):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"'{key}' must be a non-empty string, not {value!r}")
        return value.strip()
    if key in ("min_points", "min_baseline_points"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"'{key}' must be a whole number ≥ 1, not {value!r}")
        return value
    # numbers (possibly optional)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"'{key}' must be a number, not {value!r}")
    return float(value)


def parse_rule(data: Mapping[str, Any], *, default_metric: str | None = None) -> AnyRule:
    """One ``[[alerts]]`` table -> rule. Raises :class:`RuleError`."""
    line = getattr(data, "line", None)
    name = data.get("name")
    label = name if isinstance(name, str) else None
    kind = data.get("kind")
    if kind not in RULE_CLASSES:
        raise RuleError(
            f"'kind' must be one of {', '.join(KINDS)}, not {kind!r}.", rule=label, line=line
        )
    cls = RULE_CLASSES[kind]
    metric = data.get("metric", default_metric)
    if label is None:
        label = f"{metric}-{kind}" if metric else kind
    if len(label) > MAX_NAME:
        raise RuleError(
            f"'name' is {len(label)} characters long; at most {MAX_NAME}.",
            rule=label[:40] + "…",
            line=line,
        )
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known) - {"kind"})
    if unknown:
        allowed = ", ".join(sorted(set(known) | {"kind"}))
        raise RuleError(
            f"unknown key(s) {', '.join(unknown)}; allowed: {allowed}.", rule=label, line=line
        )
    kwargs: dict[str, Any] = {"name": label}
    if not isinstance(metric, str) or not metric.strip():
        raise RuleError(
            "'metric' is required (the metric key the rule watches).", rule=label, line=line
        )
    kwargs["metric"] = metric.strip()
    for key, value in data.items():
        if key in ("kind", "name", "metric"):
            continue
        f = known[key]
        default = f.default
        try:
            kwargs[key] = _coerce(cls, key, value, default)
        except ValueError as e:
            raise RuleError(str(e), rule=label, line=line) from None
    rule = cls(**kwargs)
    try:
        validate_rule(rule)
    except ValueError as e:
        raise RuleError(str(e), rule=label, line=line) from None
    return rule  # type: ignore[return-value]


def validate_rule(rule: Rule) -> None:
    """Cross-field checks; raises ValueError."""
    if isinstance(rule, ThresholdRule):
        if all(v is None for v in (rule.above, rule.below, rule.drop_pct, rule.rise_pct)):
            raise ValueError("a threshold alert needs 'above', 'below', 'drop_pct' or 'rise_pct'.")
        for k in ("drop_pct", "rise_pct"):
            v = getattr(rule, k)
            if v is not None and v <= 0:
                raise ValueError(f"'{k}' must be > 0.")
    elif isinstance(rule, AnomalyRule):
        if rule.sensitivity <= 0:
            raise ValueError("'sensitivity' must be > 0.")
        if rule.direction not in DIRECTIONS:
            raise ValueError(f"'direction' must be one of {', '.join(DIRECTIONS)}.")
        if rule.period not in ("auto", "none"):
            parse_duration(rule.period)
        if rule.interval != "auto" and parse_duration(rule.interval) <= timedelta(0):
            raise ValueError("'interval' must be > 0.")
    elif isinstance(rule, MilestoneRule):
        if rule.round_step is not None and rule.round_step <= 0:
            raise ValueError("'round_step' must be > 0.")
    elif isinstance(rule, CounterGuardRule):
        if not rule.counter:
            raise ValueError("a counter_guard alert needs 'counter' (the counter-metric key).")
        if rule.bad_direction not in ("up", "down"):
            raise ValueError("'bad_direction' must be 'up' or 'down'.")
        if rule.tolerance_pct < 0 or rule.min_rise_pct < 0:
            raise ValueError("'tolerance_pct' and 'min_rise_pct' must be ≥ 0.")
        if rule.window <= timedelta(0):
            raise ValueError("'window' must be > 0.")


def parse_rules(
    tables: Iterable[Mapping[str, Any]], *, default_metric: str | None = None
) -> list[AnyRule]:
    """Several tables; rule names must be unique."""
    tables = list(tables)
    rules = [parse_rule(t, default_metric=default_metric) for t in tables]
    seen: set[str] = set()
    for r, t in zip(rules, tables, strict=True):
        if r.name in seen:
            raise RuleError(
                "two alerts have this name; names must be unique.",
                rule=r.name,
                line=getattr(t, "line", None),
            )
        seen.add(r.name)
    return rules


def default_rules(metric_key: str, *, north_star: bool = False) -> list[AnyRule]:
    """The rules used when none are configured for ``metric_key``: one robust,
    seasonal-aware anomaly rule with default settings (what the NAB bench in
    ``bench/alerts_nab.py`` scores). With ``north_star=True`` a milestone rule
    (new all-time high, 28 days of history, 28-day cooldown) is added: a record is
    news for the north star, not for a counter-metric."""
    rules: list[AnyRule] = [AnomalyRule(name=f"{metric_key}-anomaly", metric=metric_key)]
    if north_star:
        rules.append(
            MilestoneRule(
                name=f"{metric_key}-milestone", metric=metric_key, cooldown=timedelta(days=28)
            )
        )
    return rules
