"""Alert rules engine: threshold, anomaly, milestone and counter-guard rules turn a
metric's history into alert *episodes* (one alert when an episode opens, one recovery
when it closes). Pure Python + numpy, deterministic and causal, so a live evaluator
can recompute episodes after a restart and diff them against the stored ones.

Entry points: :func:`evaluate_rules` (several metrics), ``bot.alerts.backtest.backtest``
(one series; that module also has ``load_csv`` and the CLI, and is not imported here so
that ``python -m bot.alerts.backtest`` runs cleanly),
:func:`plan_notifications` (what to post, given stored episodes and snoozes),
:func:`parse_rules` / :func:`default_rules` (configuration).
"""

from .detectors import Prepared, anomaly_scores, evaluate_rule, evaluate_rules
from .episodes import Episode, Mute, Notification, plan_notifications
from .rules import (
    AnomalyRule,
    CounterGuardRule,
    MilestoneRule,
    Rule,
    RuleError,
    ThresholdRule,
    default_rules,
    parse_duration,
    parse_rule,
    parse_rules,
)

__all__ = [
    "AnomalyRule",
    "CounterGuardRule",
    "Episode",
    "MilestoneRule",
    "Mute",
    "Notification",
    "Prepared",
    "Rule",
    "RuleError",
    "ThresholdRule",
    "anomaly_scores",
    "default_rules",
    "evaluate_rule",
    "evaluate_rules",
    "parse_duration",
    "parse_rule",
    "parse_rules",
    "plan_notifications",
]
