"""Backtest alert rules over a CSV: ``python -m bot.alerts.backtest --csv FILE``.

Usage::

    python -m bot.alerts.backtest --csv FILE [--rule NAME] [--rules-toml FILE]
                                  [--metric KEY] [--counter-csv FILE] [--json]

The CSV has ``timestamp,value`` rows, header optional. Timestamps are ISO 8601
(``2024-05-01 13:00:00``, ``2024-05-01T13:00:00Z``, with an offset, or a date) or
epoch seconds; naive ones are UTC. Without ``--rules-toml`` the default rules for the
metric run (:func:`bot.alerts.rules.default_rules`); with it, every ``[[alerts]]``
table of that file runs on the CSV (``metric`` is ignored: the CSV is the series),
and a ``counter_guard`` rule reads its counter-metric from ``--counter-csv``.
``--rule NAME`` keeps only the rule with that name (or every rule of that kind).

``--json`` prints ``{"episodes": [{"rule", "kind", "start", "end", "peak", ...}]}``
(ISO timestamps, ``end`` null while open); otherwise a table. A bad file prints
one clear message (bad rows named by line number) and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot.errors import BadInput
from bot.nsm.ingest import parse_value
from bot.nsm.numbers import json_ready
from bot.text import quote

from .detectors import Prepared, Series, evaluate_rules
from .episodes import Episode
from .rules import AnyRule, CounterGuardRule, RuleError, default_rules, parse_rules

MAX_REPORTED_ROWS = 10


class CsvError(ValueError):
    """A CSV that cannot be read; ``problems`` lists ``(line_number, reason)``."""

    def __init__(self, path: str, problems: list[tuple[int, str]], total: int | None = None):
        self.path = path
        self.problems = problems
        total = len(problems) if total is None else total
        shown = "; ".join(
            f"line {n}: {why}" if n else why for n, why in problems[:MAX_REPORTED_ROWS]
        )
        more = f" (and {total - MAX_REPORTED_ROWS} more)" if total > MAX_REPORTED_ROWS else ""
        super().__init__(f"{path}: {shown}{more}" if problems else f"{path}: no data rows")


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 (``Z``/offset/naive, date only) or epoch seconds (ms if > 1e11) ->
    aware UTC datetime. Raises ValueError."""
    s = text.strip()
    if not s:
        raise ValueError("empty timestamp")
    if s[-1] in "zZ":
        s = s[:-1] + "+00:00"
    try:
        d = datetime.fromisoformat(s)
    except ValueError:
        try:
            v = float(s)
        except ValueError:
            raise ValueError(f"unreadable timestamp “{quote(text, 40)}”") from None
        if not math.isfinite(v):
            raise ValueError(f"unreadable timestamp “{quote(text, 40)}”") from None
        if abs(v) > 1e11:
            v /= 1000.0
        try:
            return datetime.fromtimestamp(v, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"timestamp “{quote(text, 40)}” is outside the calendar") from None
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def load_csv(path: str | Path) -> list[tuple[datetime, float]]:
    """Read ``timestamp,value`` rows (extra columns ignored, blank lines skipped, a
    header on line 1 allowed). Rows are returned sorted by time; a repeated timestamp
    keeps its last value. Every bad row raises one :class:`CsvError` that names the
    line numbers (1-based)."""
    p = str(path)
    try:
        with open(p, encoding="utf-8-sig", newline="") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise CsvError(p, [(0, e.strerror or str(e))]) from None
    except UnicodeDecodeError:
        raise CsvError(p, [(0, "not a UTF-8 text file")]) from None
    rows: dict[datetime, float] = {}
    problems: list[tuple[int, str]] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cells = [c.strip().strip('"') for c in line.split(",")]
        if len(cells) < 2:
            problems.append((lineno, "expected 'timestamp,value'"))
            continue
        try:
            value, bad_value = parse_value(cells[1]), ""
        except BadInput as error:  # not a number, or beyond the range every import keeps
            value, bad_value = None, error.message.rstrip(".")
        if lineno == 1 and value is None:
            try:
                parse_timestamp(cells[0])
            except ValueError:
                continue  # header
        try:
            ts = parse_timestamp(cells[0])
        except ValueError as e:
            problems.append((lineno, str(e)))
            continue
        if value is None:
            problems.append((lineno, f"value {bad_value}"))
            continue
        rows[ts] = value
    if problems:
        raise CsvError(p, problems)
    if not rows:
        raise CsvError(p, [])
    return sorted(rows.items())


def backtest(
    series: Series,
    rules: Sequence[AnyRule],
    *,
    extra: dict[str, Series] | None = None,
) -> list[Episode]:
    """Run ``rules`` over ``series`` (each rule reads it whatever its ``metric``);
    a counter guard reads its counter from ``extra[rule.counter]``. Returns every
    episode ordered by start then rule name."""
    main = Prepared(series)
    data: dict[str, Series | Prepared] = {k: Prepared(v) for k, v in (extra or {}).items()}
    for r in rules:
        if isinstance(r, CounterGuardRule) and r.counter not in data:
            raise RuleError(f"needs the series of its counter-metric '{r.counter}'.", rule=r.name)
        data[r.metric] = main
    return evaluate_rules(rules, data)


def load_rules_toml(path: str | Path, default_metric: str) -> list[AnyRule]:
    """The ``[[alerts]]`` tables of a TOML file, parsed (RuleError/ValueError on problems)."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ValueError(f"{path}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: not valid TOML ({e})") from None
    except RecursionError:
        raise ValueError(f"{path}: not valid TOML (nested too deeply to read)") from None
    tables = data.get("alerts", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ValueError(f"{path}: 'alerts' must be [[alerts]] tables")
    if not tables:
        raise ValueError(f"{path}: no [[alerts]] tables")
    return parse_rules(tables, default_metric=default_metric)


def _fmt_time(d: datetime | None) -> str:
    return "open" if d is None else d.strftime("%Y-%m-%d %H:%M")


def format_table(episodes: Sequence[Episode]) -> str:
    if not episodes:
        return "No episodes."
    head = ("rule", "kind", "start", "end", "peak", "peak at", "detail")
    rows = [
        (
            e.rule,
            e.kind,
            _fmt_time(e.start),
            "—" if e.instant else _fmt_time(e.end),
            f"{e.peak:.6g}",
            _fmt_time(e.peak_at),
            e.detail,
        )
        for e in episodes
    ]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [head, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    n_open = sum(1 for e in episodes if e.end is None and not e.instant)
    lines.append(f"{len(episodes)} episode(s), {n_open} open")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="lodestar alerts backtest",
        description="Replay alert rules over a CSV of timestamp,value.",
    )
    ap.add_argument("--csv", required=True, help="timestamp,value rows (header optional)")
    ap.add_argument("--rule", help="only the rule with this name (or of this kind)")
    ap.add_argument(
        "--rules-toml", help="TOML file with [[alerts]] tables (default rules if omitted)"
    )
    ap.add_argument("--metric", default="metric", help="metric key for default rule names")
    ap.add_argument("--counter-csv", help="counter-metric series for counter_guard rules")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = ap.parse_args(argv)
    try:
        series = load_csv(args.csv)
        if args.rules_toml:
            rules = load_rules_toml(args.rules_toml, args.metric)
        else:
            rules = default_rules(args.metric, north_star=False)
        if args.rule:
            rules = [r for r in rules if args.rule in (r.name, r.kind)]
            if not rules:
                raise ValueError(f"no rule named “{quote(args.rule, 40)}”")
        extra = {}
        if args.counter_csv:
            counter = load_csv(args.counter_csv)
            extra = {r.counter: counter for r in rules if isinstance(r, CounterGuardRule)}
        episodes = backtest(series, rules, extra=extra)
    except (ValueError, RuleError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    text = (
        json.dumps(
            json_ready({"episodes": [e.to_dict() for e in episodes]}), indent=1, allow_nan=False
        )
        if args.json
        else format_table(episodes)
    )
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into `head`
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
