"""The metric tree, read from ``lodestar.toml``.

The person setting Lodestar up writes one north star, its inputs and its
counter-metrics in TOML. A typo there silently breaks every digest, so parsing is
strict: every problem raises :class:`ConfigError` naming the file, the line and
the fix, in one sentence a non-engineer can act on.

Shape::

    [nsm]
    north_star = "weekly_active_teams"
    inputs = ["active_accounts", "teams_per_account"]  # ratio: [numerator, denominator]
    counter_metrics = ["support_tickets"]
    formula = "product"                                 # sum | product | ratio; omit for none

    [metrics.weekly_active_teams]
    name = "Weekly active teams"
    unit = "teams"
    owner = "Growth"
    higher_is_better = true      # default true
    rollup = "last"              # daily values -> week: sum | mean | last (default last)

    [metrics.weekly_activated]   # fed by raw product events
    name = "Weekly activated users"
    events = { unique_actors_of = ["project_created"] }   # or { count_of = ... }

    [[alerts]]                   # parsed into alert rules (bot.alerts.rules) on load
    kind = "threshold"

    [digest]                     # kept raw for the digest module

Rollup defaults to ``last``: most tree metrics are levels ("active accounts") or
already-windowed counts ("weekly active teams"), which summing would inflate
sevenfold; a flow such as "sign-ups" must say ``rollup = "sum"``. Event-fed
metrics are counted over the whole week from raw events, so rollup does not apply.
Other top-level tables are kept in ``LodestarConfig.raw`` for other modules.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.alerts.rules import AnyRule, RuleError, parse_rules
from bot.nsm.keys import is_metric_key

Formula = Literal["sum", "product", "ratio"]
Rollup = Literal["sum", "mean", "last"]
EventCount = Literal["unique_actors", "events"]

FORMULAS: tuple[Formula, ...] = ("sum", "product", "ratio")
ROLLUPS: tuple[Rollup, ...] = ("sum", "mean", "last")
DEFAULT_ROLLUP: Rollup = "last"

_METRIC_KEYS = ("name", "unit", "owner", "description", "higher_is_better", "rollup", "events")
_NSM_KEYS = ("north_star", "inputs", "counter_metrics", "formula")
_TOP_LEVEL = ("nsm", "metrics", "alerts", "digest", "weekly_chart")
_EVENT_KEYS: dict[str, EventCount] = {"unique_actors_of": "unique_actors", "count_of": "events"}
_FORMULA_SIGN = {"sum": " + ", "product": " × ", "ratio": " ÷ "}


class ConfigError(ValueError):
    """A problem in ``lodestar.toml``; the message names the file, the line and the fix."""

    def __init__(self, problem: str, *, source: str = "lodestar.toml", line: int | None = None):
        self.problem = problem
        self.source = source
        self.line = line
        where = f"{source} line {line}" if line else source
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class EventSource:
    """How an event-fed metric is counted each week from raw product events."""

    events: tuple[str, ...]
    count: EventCount = "unique_actors"


@dataclass(frozen=True)
class MetricDef:
    """One metric's definition; ``key`` is the name used in commands and the API."""

    key: str
    name: str
    unit: str = ""
    owner: str | None = None
    description: str = ""
    higher_is_better: bool = True
    rollup: Rollup = DEFAULT_ROLLUP
    events: EventSource | None = None
    line: int | None = None

    @property
    def label(self) -> str:
        """Display name with its key, so people learn the key to type."""
        return self.name if self.name == self.key else f"{self.name} [{self.key}]"


@dataclass(frozen=True)
class MetricTree:
    """One north star, the inputs that drive it and the counter-metrics that guard it."""

    north_star: MetricDef
    inputs: tuple[MetricDef, ...] = ()
    counter_metrics: tuple[MetricDef, ...] = ()
    formula: Formula | None = None

    @property
    def input_keys(self) -> tuple[str, ...]:
        return tuple(m.key for m in self.inputs)

    @property
    def counter_keys(self) -> tuple[str, ...]:
        return tuple(m.key for m in self.counter_metrics)

    def metrics(self) -> tuple[MetricDef, ...]:
        """Every metric in the tree: north star first, then inputs, then counters."""
        return (self.north_star, *self.inputs, *self.counter_metrics)

    def role(self, key: str) -> Literal["north_star", "input", "counter"] | None:
        if key == self.north_star.key:
            return "north_star"
        if key in self.input_keys:
            return "input"
        if key in self.counter_keys:
            return "counter"
        return None

    def describe(self) -> str:
        """A readable text tree for ``/nsm tree``."""
        ns = self.north_star
        head = f"★ North star: {ns.label}"
        if ns.unit:
            head += f" ({ns.unit})"
        out = [head]
        if self.formula and self.inputs:
            out.append("   = " + _FORMULA_SIGN[self.formula].join(m.name for m in self.inputs))
        elif self.inputs:
            out.append("   (no formula: /nsm why estimates each input's share from history)")
        if self.inputs:
            out.append("Inputs:")
            out += _branches(self.inputs)
        if self.counter_metrics:
            out.append("Counter-metrics (watched beside it):")
            out += _branches(self.counter_metrics)
        return "\n".join(out)


def _branches(metrics: tuple[MetricDef, ...]) -> list[str]:
    lines = []
    for i, m in enumerate(metrics):
        bits = [m.label]
        if m.owner:
            bits.append(f"owner {m.owner}")
        if not m.higher_is_better:
            bits.append("lower is better")
        if m.events:
            verb = "people who did" if m.events.count == "unique_actors" else "count of"
            bits.append(f"{verb} {', '.join(m.events.events)}")
        lines.append(("└─ " if i == len(metrics) - 1 else "├─ ") + " · ".join(bits))
    return lines


class SourcedDict(dict):
    """A raw TOML table that remembers the line it was declared on (``.line``)."""

    line: int | None = None

    def __init__(self, data: Mapping[str, Any], line: int | None = None):
        super().__init__(data)
        self.line = line


@dataclass(frozen=True)
class LodestarConfig:
    """Everything read from ``lodestar.toml``; ``tree`` is None when there is no ``[nsm]``.

    ``alerts`` are the raw ``[[alerts]]`` tables (with their lines), ``rules`` the same
    tables parsed and checked, so a mistake in one stops start-up, not the first alert.
    """

    source: str
    tree: MetricTree | None
    metrics: dict[str, MetricDef]
    alerts: list[dict] = field(default_factory=list)
    rules: tuple[AnyRule, ...] = ()
    digest: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)
    #: Scheduled posts for every workspace that sets none of its own: "digest" (daily)
    #: and "weekly_chart" (``bot.jobs.schedule``), with their grace for missed slots.
    schedules: dict = field(default_factory=dict)


def load_config(path: str | Path) -> LodestarConfig:
    """Read and validate a ``lodestar.toml`` file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")  # an editor's BOM is not an error
    except FileNotFoundError:
        raise ConfigError("the file does not exist.", source=str(p)) from None
    except UnicodeDecodeError:
        raise ConfigError("the file is not UTF-8 text.", source=str(p)) from None
    except IsADirectoryError:
        raise ConfigError("that is a directory, not a file.", source=str(p)) from None
    return parse_config(text, source=str(p))


def parse_config(text: str, source: str = "lodestar.toml") -> LodestarConfig:
    """Parse and validate TOML text; raises :class:`ConfigError` on the first problem."""
    return _Parser(text, source).parse()


# --- parsing ---------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, source: str):
        self.text = text
        self.source = source
        self.lines = _LineIndex(text)

    def fail(self, problem: str, line: int | None) -> ConfigError:
        return ConfigError(problem, source=self.source, line=line)

    def parse(self) -> LodestarConfig:
        try:
            data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            raise self._decode_error(exc) from None
        except RecursionError:  # tomllib reads nested arrays and tables recursively
            raise self.fail(
                "this is not valid TOML (arrays or tables are nested too deeply to read).", None
            ) from None
        for name in data:
            if name not in _TOP_LEVEL:
                hint = " (did you mean [[alerts]]?)" if name == "alert" else ""
                raise self.fail(
                    f"unknown table or setting '{name}'{hint}; known: {', '.join(_TOP_LEVEL)}.",
                    self.lines.table(name) or self.lines.key((), name),
                )
        metrics_raw = data.get("metrics", {})
        if not isinstance(metrics_raw, dict):
            raise self.fail(
                "'metrics' must be tables like [metrics.weekly_active_teams].",
                self.lines.key((), "metrics") or self.lines.table("metrics"),
            )
        metrics = {key: self._metric(key, raw) for key, raw in metrics_raw.items()}
        tree = None
        if "nsm" in data:
            tree = self._tree(data["nsm"], metrics)
        alerts = self._alerts(data.get("alerts", []))
        return LodestarConfig(
            source=self.source,
            tree=tree,
            metrics=metrics,
            alerts=alerts,
            rules=self._rules(alerts, metrics),
            digest=self._table(data, "digest"),
            raw=data,
            schedules=self._schedules(data),
        )

    def _decode_error(self, exc: tomllib.TOMLDecodeError) -> ConfigError:
        msg = str(exc)
        m = re.search(r"\s*\(at line (\d+), column \d+\)$", msg)
        line = int(m.group(1)) if m else None
        reason = msg[: m.start()] if m else re.sub(r"\s*\(at end of document\)$", "", msg)
        text = self.lines.text(line) if line else ""
        if reason.startswith("Cannot overwrite a value"):
            head = _HEADER_RE.match(text)
            if head:
                name = head.group(2)
                return self.fail(
                    f"table [{name}] clashes with a value set earlier: rename one.", line
                )
            key = text.split("=", 1)[0].strip()
            first = self.lines.first_key(key, before=line)
            where = f" (first set on line {first})" if first else ""
            return self.fail(f"'{key}' is set twice{where}: keep one.", line)
        d = re.match(r"Cannot declare \((.*)\) twice", reason)
        if d:
            parts = tuple(p.strip().strip("'\"") for p in d.group(1).split(",") if p.strip())
            name = ".".join(parts)
            first = self.lines.table(*parts)
            where = f" (first on line {first})" if first and first != line else ""
            return self.fail(f"table [{name}] is declared twice{where}: merge them.", line)
        d = re.match(r"Duplicate inline table key '(.*)'", reason)
        if d:
            return self.fail(f"'{d.group(1)}' appears twice in the same {{...}}: keep one.", line)
        return self.fail(f"this is not valid TOML ({reason[:1].lower() + reason[1:]}).", line)

    def _schedules(self, data: dict) -> dict:
        """``[digest]`` and ``[weekly_chart]``: a post is scheduled when its time is set."""
        from bot.alerts.rules import parse_duration
        from bot.errors import BadInput
        from bot.feedback.grammar import parse_channel
        from bot.jobs.schedule import (
            DailySchedule,
            WeeklySchedule,
            check_grace,
            parse_time,
            parse_weekday,
            parse_zone,
        )

        allowed = {
            "digest": ("channel", "time", "timezone", "grace"),
            "weekly_chart": ("channel", "weekday", "time", "timezone", "grace"),
        }
        digest = self._table(data, "digest")
        out: dict = {}
        for name, keys in allowed.items():
            table = self._table(data, name)
            for key, value in table.items():
                line = self.lines.key((name,), key) or self.lines.table(name)
                if key not in keys:
                    raise self.fail(
                        f"[{name}] has an unknown setting '{key}'; known: {', '.join(keys)}.", line
                    )
                if not isinstance(value, str):
                    raise self.fail(f"[{name}] {key} must be text, not {_show(value)}.", line)
            if "time" not in table:
                continue
            channel = table.get("channel") or digest.get("channel")
            try:
                if not channel:
                    raise BadInput("needs a channel to post in.")
                written, channel = channel, parse_channel(str(channel))
                if channel is None:
                    raise BadInput(
                        f'channel {_show(written)} is no channel: write it like "metrics".'
                    )
                at = parse_time(table["time"])
                zone = parse_zone(table.get("timezone") or digest.get("timezone") or "UTC")
                if name == "digest":
                    schedule: Any = DailySchedule(channel, at, zone)
                else:
                    schedule = WeeklySchedule(
                        channel, parse_weekday(table.get("weekday", "monday")), at, zone
                    )
                grace = check_grace(parse_duration(table["grace"])) if "grace" in table else None
            except (BadInput, RuleError, ValueError, OverflowError) as error:
                message = getattr(error, "message", None) or str(error)
                raise self.fail(f"[{name}] {message}", self.lines.table(name)) from None
            out[name] = (schedule, grace)
        return out

    def _table(self, data: dict, name: str) -> dict:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise self.fail(f"'{name}' must be a table: write [{name}].", self.lines.key((), name))
        return value

    def _metric(self, key: str, raw: Any) -> MetricDef:
        path = ("metrics", key)
        line = self.lines.table(*path) or self.lines.key(("metrics",), key)
        where = f"[metrics.{key}]"
        if not isinstance(raw, dict):
            raise self.fail(f"{where} must be a table of settings, not {_show(raw)}.", line)
        if not is_metric_key(key):
            raise self.fail(
                f"metric key '{key[:80]}' must start with a letter or digit, use only letters, "
                "digits, '_' and '-', be at most 64 long, and not be 'none'.",
                line,
            )
        for k in raw:
            if k not in _METRIC_KEYS:
                raise self.fail(
                    f"{where} has an unknown setting '{k}'; known: {', '.join(_METRIC_KEYS)}.",
                    self.lines.key(path, k) or line,
                )

        def text_opt(k: str) -> str | None:
            v = raw.get(k)
            if v is not None and not isinstance(v, str):
                raise self.fail(
                    f"{where} {k} must be text in quotes, not {_show(v)}.",
                    self.lines.key(path, k) or line,
                )
            return v

        hib = raw.get("higher_is_better", True)
        if not isinstance(hib, bool):
            raise self.fail(
                f"{where} higher_is_better must be true or false, not {_show(hib)}.",
                self.lines.key(path, "higher_is_better") or line,
            )
        rollup = raw.get("rollup", DEFAULT_ROLLUP)
        if rollup not in ROLLUPS:
            raise self.fail(
                f"{where} rollup must be one of {', '.join(ROLLUPS)}, not {_show(rollup)}.",
                self.lines.key(path, "rollup") or line,
            )
        events = None
        if "events" in raw:
            events = self._events(where, raw["events"], self.lines.key(path, "events") or line)
        return MetricDef(
            key=key,
            name=text_opt("name") or key,
            unit=text_opt("unit") or "",
            owner=text_opt("owner"),
            description=text_opt("description") or "",
            higher_is_better=hib,
            rollup=rollup,
            events=events,
            line=line,
        )

    def _events(self, where: str, raw: Any, line: int | None) -> EventSource:
        usage = 'write events = { unique_actors_of = ["project_created"] } or { count_of = ... }'
        if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in _EVENT_KEYS:
            raise self.fail(f"{where} events is not understood: {usage}.", line)
        ((how, names),) = raw.items()
        if isinstance(names, str):
            names = [names]
        if (
            not isinstance(names, list)
            or not names
            or not all(isinstance(n, str) and n.strip() for n in names)
        ):
            raise self.fail(f"{where} events must name at least one event: {usage}.", line)
        return EventSource(events=tuple(names), count=_EVENT_KEYS[how])

    def _tree(self, raw: Any, metrics: dict[str, MetricDef]) -> MetricTree:
        line = self.lines.table("nsm") or self.lines.key((), "nsm")
        if not isinstance(raw, dict):
            raise self.fail(f"'nsm' must be a table: write [nsm], not {_show(raw)}.", line)

        def at(k: str) -> int | None:
            return self.lines.key(("nsm",), k) or line

        for k in raw:
            if k not in _NSM_KEYS:
                raise self.fail(
                    f"[nsm] has an unknown setting '{k}'; known: {', '.join(_NSM_KEYS)}.", at(k)
                )
        ns = raw.get("north_star")
        if ns is None:
            raise self.fail('[nsm] needs north_star = "<metric key>".', line)
        if not isinstance(ns, str):
            raise self.fail(
                f"[nsm] north_star must be a metric key in quotes, not {_show(ns)}.",
                at("north_star"),
            )

        def keys(k: str) -> list[str]:
            v = raw.get(k, [])
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise self.fail(
                    f'[nsm] {k} must be a list of metric keys like ["a", "b"], not {_show(v)}.',
                    at(k),
                )
            seen: set[str] = set()
            for x in v:
                if x in seen:
                    raise self.fail(f"[nsm] {k} lists '{x}' twice.", at(k))
                seen.add(x)
            return v

        inputs, counters = keys("inputs"), keys("counter_metrics")
        for k, names in (("north_star", [ns]), ("inputs", inputs), ("counter_metrics", counters)):
            for name in names:
                if name not in metrics:
                    raise self.fail(
                        f"[nsm] {k} names '{name}', which is not defined: "
                        f"add a [metrics.{name}] table.",
                        at(k),
                    )
        if ns in inputs or ns in counters:
            which = "inputs" if ns in inputs else "counter_metrics"
            raise self.fail(f"the north star '{ns}' cannot also be in {which}.", at(which))
        both = [x for x in inputs if x in counters]
        if both:
            raise self.fail(
                f"'{both[0]}' is both an input and a counter-metric: keep it in one list.",
                at("counter_metrics"),
            )
        formula = raw.get("formula")
        if formula is not None:
            if formula not in FORMULAS:
                raise self.fail(
                    f"[nsm] formula must be one of {', '.join(FORMULAS)} (or left out), "
                    f"not {_show(formula)}.",
                    at("formula"),
                )
            if formula == "ratio" and len(inputs) != 2:
                raise self.fail(
                    f"a ratio needs exactly two inputs, [numerator, denominator]; "
                    f"got {len(inputs)}.",
                    at("inputs"),
                )
            if len(inputs) < 2:
                raise self.fail(
                    f"a {formula} needs at least two inputs; got {len(inputs)}.", at("inputs")
                )
        return MetricTree(
            north_star=metrics[ns],
            inputs=tuple(metrics[k] for k in inputs),
            counter_metrics=tuple(metrics[k] for k in counters),
            formula=formula,
        )

    def _alerts(self, raw: Any) -> list[dict]:
        header_lines = self.lines.array_tables("alerts")
        if not isinstance(raw, list) or not all(isinstance(a, dict) for a in raw):
            raise self.fail(
                "'alerts' must be [[alerts]] tables.",
                self.lines.key((), "alerts") or (header_lines[0] if header_lines else None),
            )
        fallback = self.lines.key((), "alerts")
        return [
            SourcedDict(a, header_lines[i] if i < len(header_lines) else fallback)
            for i, a in enumerate(raw)
        ]

    def _rules(self, tables: list[SourcedDict], metrics: dict[str, MetricDef]) -> tuple:
        try:
            rules = parse_rules(tables)
        except RuleError as error:
            name = f"alert '{error.rule}'" if error.rule else "[[alerts]]"
            raise self.fail(f"{name}: {_sentence(error.problem)}", error.line) from None
        for rule, table in zip(rules, tables, strict=True):
            for key in rule.metrics:
                if key not in metrics:
                    raise self.fail(
                        f"alert '{rule.name}' watches '{key}', which is not defined: "
                        f"add a [metrics.{key}] table.",
                        table.line,
                    )
        return tuple(rules)


def _sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."


def _show(value: Any) -> str:
    """A value as the user wrote it in TOML, for error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)


# --- line numbers ----------------------------------------------------------------------------

_HEADER_RE = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(?:#.*)?$")
_KEYLINE_RE = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")


def _split_dotted(key: str) -> tuple[str, ...]:
    parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([^.\s]+)', key)
    return tuple(a or b or c for a, b, c in parts)


class _LineIndex:
    """Finds 1-based line numbers of tables and keys by scanning the raw text."""

    def __init__(self, text: str):
        self._lines = text.splitlines()
        # (line number, is_array, dotted path) for each table header
        self.headers: list[tuple[int, bool, tuple[str, ...]]] = []
        for n, raw in enumerate(self._lines, 1):
            m = _HEADER_RE.match(raw)
            if m and not raw.lstrip().startswith("#"):
                self.headers.append((n, m.group(1) == "[[", _split_dotted(m.group(2))))

    def text(self, line: int) -> str:
        return self._lines[line - 1] if 0 < line <= len(self._lines) else ""

    def table(self, *path: str) -> int | None:
        return next((n for n, _, p in self.headers if p == path), None)

    def array_tables(self, *path: str) -> list[int]:
        return [n for n, arr, p in self.headers if arr and p == path]

    def key(self, table: tuple[str, ...], key: str) -> int | None:
        """Line where ``key`` is set inside ``[table]`` (or as a dotted key above it)."""
        sub = self.table(*table, key)
        if sub is not None:
            return sub
        start = 0 if not table else self.table(*table)
        if start is None:
            return self._dotted((*table, key))
        end = next((n for n, _, _ in self.headers if n > start), len(self._lines) + 1)
        for n in range(start + 1, end):
            m = _KEYLINE_RE.match(self._lines[n - 1])
            if m and _split_dotted(m.group(1))[:1] == (key,):
                return n
        return self._dotted((*table, key))

    def _dotted(self, path: tuple[str, ...]) -> int | None:
        for n, raw in enumerate(self._lines, 1):
            m = _KEYLINE_RE.match(raw)
            if m and _split_dotted(m.group(1))[-len(path) :] == path:
                return n
        return None

    def first_key(self, key: str, before: int | None) -> int | None:
        """First line before ``before`` that sets the same key in the same table."""
        if before is None:
            return None
        start = max((n for n, _, _ in self.headers if n < before), default=0)
        for n in range(start + 1, before):
            m = _KEYLINE_RE.match(self._lines[n - 1])
            if m and m.group(1).strip() == key:
                return n
        return None
