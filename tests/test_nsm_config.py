"""The metric tree config: a valid file parses; every mistake names its line and the fix."""

from __future__ import annotations

import re

import pytest

from bot.nsm.config import (
    ConfigError,
    EventSource,
    LodestarConfig,
    load_config,
    parse_config,
)

GOOD = """\
# Lodestar settings
[nsm]
north_star = "weekly_active_teams"
inputs = ["active_accounts", "teams_per_account"]
counter_metrics = ["support_tickets"]
formula = "product"

[metrics.weekly_active_teams]
name = "Weekly active teams"
unit = "teams"
higher_is_better = true
rollup = "last"

[metrics.active_accounts]
name = "Active accounts"
owner = "Growth"

[metrics.teams_per_account]
name = "Teams per account"
owner = "Product"
rollup = "mean"

[metrics.support_tickets]
name = "Support tickets"
higher_is_better = false
rollup = "sum"

[metrics.weekly_activated]
name = "Weekly activated users"
events = { unique_actors_of = ["project_created", "teammate_invited"] }

[[alerts]]
name = "wat-drop"
kind = "threshold"
metric = "weekly_active_teams"
drop_pct = 10

[[alerts]]
name = "ath"
kind = "milestone"
metric = "weekly_active_teams"

[digest]
channel = "#metrics"
time = "09:00"
"""


def error_for(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    return info.value


def line_of(text: str, needle: str, nth: int = 1) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[nth - 1]


def test_good_config_parses_into_a_tree() -> None:
    cfg = parse_config(GOOD)
    assert isinstance(cfg, LodestarConfig)
    tree = cfg.tree
    assert tree is not None
    assert tree.north_star.key == "weekly_active_teams"
    assert tree.north_star.unit == "teams"
    assert tree.input_keys == ("active_accounts", "teams_per_account")
    assert tree.counter_keys == ("support_tickets",)
    assert tree.formula == "product"
    assert tree.role("support_tickets") == "counter"
    assert tree.role("weekly_activated") is None
    assert cfg.metrics["active_accounts"].owner == "Growth"
    assert cfg.metrics["teams_per_account"].rollup == "mean"
    assert cfg.metrics["support_tickets"].higher_is_better is False
    assert cfg.metrics["weekly_activated"].events == EventSource(
        ("project_created", "teammate_invited"), "unique_actors"
    )
    assert cfg.metrics["weekly_active_teams"].line == line_of(GOOD, "[metrics.weekly_active_teams]")
    assert cfg.digest == {"channel": "#metrics", "time": "09:00"}


def test_defaults_are_documented_ones() -> None:
    cfg = parse_config("[metrics.signups]\n")
    m = cfg.metrics["signups"]
    assert (m.name, m.unit, m.owner, m.higher_is_better, m.rollup, m.events) == (
        "signups",
        "",
        None,
        True,
        "last",
        None,
    )
    assert cfg.tree is None
    assert cfg.alerts == []


def test_alerts_are_kept_raw_with_their_lines() -> None:
    cfg = parse_config(GOOD)
    assert [a["name"] for a in cfg.alerts] == ["wat-drop", "ath"]
    assert cfg.alerts[0] == {
        "name": "wat-drop",
        "kind": "threshold",
        "metric": "weekly_active_teams",
        "drop_pct": 10,
    }
    assert [a.line for a in cfg.alerts] == [
        line_of(GOOD, "[[alerts]]", 1),
        line_of(GOOD, "[[alerts]]", 2),
    ]


def test_count_of_events() -> None:
    cfg = parse_config('[metrics.x]\nevents = { count_of = "task_completed" }\n')
    assert cfg.metrics["x"].events == EventSource(("task_completed",), "events")


def test_load_config_reads_a_file(tmp_path) -> None:
    path = tmp_path / "lodestar.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert load_config(path).tree is not None
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_error_message_names_source_and_line() -> None:
    bad = GOOD.replace('formula = "product"', 'formula = "power"')
    with pytest.raises(ConfigError) as info:
        parse_config(bad, source="conf/lodestar.toml")
    err = info.value
    assert err.line == line_of(bad, "formula =")
    assert str(err).startswith(f"conf/lodestar.toml line {err.line}: ")
    assert "sum, product, ratio" in str(err)


@pytest.mark.parametrize(
    ("old", "new", "needle", "pattern"),
    [
        (
            'inputs = ["active_accounts", "teams_per_account"]',
            'inputs = ["active_accounts", "teams_per_acount"]',
            "inputs =",
            r"'teams_per_acount'.*not defined.*\[metrics\.teams_per_acount\]",
        ),
        (
            'north_star = "weekly_active_teams"',
            'north_star = "wat"',
            "north_star =",
            r"'wat', which is not defined",
        ),
        (
            'counter_metrics = ["support_tickets"]',
            'counter_metrics = ["active_accounts"]',
            "counter_metrics =",
            r"'active_accounts' is both an input and a counter-metric",
        ),
        (
            'counter_metrics = ["support_tickets"]',
            'counter_metrics = ["weekly_active_teams"]',
            "counter_metrics =",
            r"north star .* cannot also be in counter_metrics",
        ),
        (
            'formula = "product"',
            'formula = "ratio"\n',
            "inputs =",
            None,
        ),  # two inputs: valid, checked below
        (
            "higher_is_better = true",
            'higher_is_better = "yes"',
            'higher_is_better = "yes"',
            r'higher_is_better must be true or false, not "yes"',
        ),
        (
            'rollup = "last"',
            'rollup = "median"',
            'rollup = "median"',
            r"rollup must be one of sum, mean, last",
        ),
        ('unit = "teams"', "unit = 3", "unit = 3", r"unit must be text"),
        ('owner = "Growth"', 'ownr = "Growth"', "ownr", r"unknown setting 'ownr'"),
        (
            'inputs = ["active_accounts", "teams_per_account"]',
            'inputs = "active_accounts"',
            "inputs =",
            r"inputs must be a list of metric keys",
        ),
        (
            'inputs = ["active_accounts", "teams_per_account"]',
            'inputs = ["active_accounts", "active_accounts"]',
            "inputs =",
            r"lists 'active_accounts' twice",
        ),
    ],
)
def test_validation_errors_point_at_the_line(old, new, needle, pattern) -> None:
    assert old in GOOD
    bad = GOOD.replace(old, new, 1)
    if pattern is None:
        assert parse_config(bad).tree.formula == "ratio"
        return
    err = error_for(bad)
    assert re.search(pattern, str(err)), str(err)
    assert err.line == line_of(bad, needle), str(err)


def test_ratio_needs_exactly_two_inputs() -> None:
    bad = GOOD.replace('formula = "product"', 'formula = "ratio"').replace(
        'inputs = ["active_accounts", "teams_per_account"]',
        'inputs = ["active_accounts", "teams_per_account", "weekly_activated"]',
    )
    err = error_for(bad)
    assert "exactly two inputs" in str(err) and "got 3" in str(err)
    assert err.line == line_of(bad, "inputs =")


def test_formula_needs_two_inputs() -> None:
    bad = GOOD.replace('["active_accounts", "teams_per_account"]', '["active_accounts"]')
    assert "at least two inputs" in str(error_for(bad))


def test_missing_north_star() -> None:
    err = error_for("[nsm]\ninputs = []\n")
    assert "north_star" in str(err) and err.line == 1


def test_duplicate_key_becomes_clear_message() -> None:
    bad = GOOD.replace('owner = "Growth"', 'owner = "Growth"\nowner = "Sales"')
    err = error_for(bad)
    assert err.line == line_of(bad, 'owner = "Sales"')
    assert "'owner' is set twice" in str(err)
    first = line_of(bad, 'owner = "Growth"')
    assert f"first set on line {first}" in str(err)


def test_duplicate_table_becomes_clear_message() -> None:
    bad = GOOD + '\n[metrics.active_accounts]\nunit = "accounts"\n'
    err = error_for(bad)
    assert err.line == line_of(bad, "[metrics.active_accounts]", 2)
    assert "[metrics.active_accounts] is declared twice" in str(err)
    assert f"first on line {line_of(bad, '[metrics.active_accounts]')}" in str(err)


def test_invalid_toml_is_reported_with_line() -> None:
    err = error_for('[nsm]\nnorth_star = "x\n')
    assert err.line == 2 and "not valid TOML" in str(err)


@pytest.mark.parametrize(
    "events",
    [
        '"project_created"',
        "{ unique_actors_of = [] }",
        '{ sum_of = "x" }',
        '{ unique_actors_of = "a", count_of = "b" }',
    ],
)
def test_bad_event_spec(events: str) -> None:
    err = error_for(f'[metrics.x]\nname = "X"\nevents = {events}\n')
    assert err.line == 3 and "events" in str(err)


def test_bad_metric_key() -> None:
    err = error_for('[metrics."weekly active"]\n')
    assert err.line == 1 and "use only letters, digits" in str(err)


def test_describe_shows_the_tree() -> None:
    text = parse_config(GOOD).tree.describe()
    assert text.splitlines()[0] == "★ North star: Weekly active teams [weekly_active_teams] (teams)"
    assert "= Active accounts × Teams per account" in text
    assert "├─ Active accounts [active_accounts] · owner Growth" in text
    assert "└─ Teams per account [teams_per_account] · owner Product" in text
    assert "Counter-metrics" in text
    assert "└─ Support tickets [support_tickets] · lower is better" in text
    no_formula = parse_config(GOOD.replace('formula = "product"\n', "")).tree.describe()
    assert "no formula" in no_formula


def test_alert_rules_are_parsed_when_the_file_is_read() -> None:
    rules = parse_config(GOOD).rules
    assert [(r.name, r.kind, r.metric) for r in rules] == [
        ("wat-drop", "threshold", "weekly_active_teams"),
        ("ath", "milestone", "weekly_active_teams"),
    ]


@pytest.mark.parametrize(
    ("old", "new", "nth", "pattern"),
    [
        ('kind = "milestone"', 'kind = "milestones"', 2, r"alert 'ath': 'kind' must be one of"),
        ("drop_pct = 10", 'drop_pct = "ten"', 1, r"alert 'wat-drop': 'drop_pct' must be a number"),
        ("drop_pct = 10", 'drop_pct = 10\nbaseline = "99999999999d"', 1, r"not a duration"),
        ("drop_pct = 10", "drop_pct = 10\nabove_pct = 3", 1, r"unknown key\(s\) above_pct"),
        ("drop_pct = 10", "", 1, r"a threshold alert needs 'above', 'below'"),
        ('name = "ath"', 'name = "wat-drop"', 2, r"two alerts have this name"),
        ('name = "ath"', f'name = "{"a" * 101}"', 2, r"'name' is 101 characters long; at most 100"),
        (
            'kind = "milestone"\nmetric = "weekly_active_teams"',
            'kind = "milestone"\nmetric = "weekly_active_team"',
            2,
            r"alert 'ath' watches 'weekly_active_team', which is not defined: add a "
            r"\[metrics\.weekly_active_team\] table",
        ),
    ],
)
def test_a_bad_alert_rule_stops_loading_with_its_line(old, new, nth, pattern) -> None:
    assert old in GOOD
    bad = GOOD.replace(old, new, 1)
    err = error_for(bad)
    assert re.search(pattern, str(err)), str(err)
    assert err.line == line_of(bad, "[[alerts]]", nth), str(err)


def test_a_counter_guard_must_name_a_defined_counter() -> None:
    guard = (
        '\n[[alerts]]\nname = "guard"\nkind = "counter_guard"\n'
        'metric = "weekly_active_teams"\ncounter = "tickets"\n'
    )
    err = error_for(GOOD + guard)
    assert "alert 'guard' watches 'tickets', which is not defined" in str(err)
    assert err.line == line_of(GOOD + guard, "[[alerts]]", 3)


@pytest.mark.parametrize(
    "nested",
    ["a = " + "[" * 5000 + "]" * 5000, "a = " + "{ b = " * 5000 + "1" + " }" * 5000],
)
def test_absurdly_deep_nesting_is_a_config_error_naming_the_file(tmp_path, nested) -> None:
    path = tmp_path / "lodestar.toml"
    path.write_text(nested, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: this is not valid TOML (arrays or tables are nested too deeply to read)."
    )


@pytest.mark.parametrize("grace", ["999999999d", "0h", "1s", "2d"])
def test_a_schedules_grace_must_be_a_minute_to_a_day(grace: str) -> None:
    """Shorter than the scheduler's tick, a missed post could never be made; longer
    than a day it means nothing (a post is never made on another day) or overflows."""
    bad = GOOD.replace('time = "09:00"', f'time = "09:00"\ngrace = "{grace}"', 1)
    err = error_for(bad)
    assert "grace must be between 1m and 24h" in str(err), str(err)
    assert err.line == line_of(bad, "[digest]"), str(err)


@pytest.mark.parametrize(
    ("channel", "said"),
    [
        ('"<!channel>"', 'channel "<!channel>" is no channel'),
        ('"two words"', 'channel "two words" is no channel'),
        ('""', "[digest] needs a channel to post in."),
    ],
)
def test_a_schedules_channel_must_be_a_channel(channel: str, said: str) -> None:
    bad = GOOD.replace('channel = "#metrics"', f"channel = {channel}", 1)
    err = error_for(bad)
    assert said in str(err) and "[digest] [digest]" not in str(err), str(err)


def test_a_schedules_channel_is_kept_without_its_hash() -> None:
    (schedule, _grace) = parse_config(GOOD).schedules["digest"]
    assert schedule.channel == "metrics"
