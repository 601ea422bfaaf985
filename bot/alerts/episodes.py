"""Episodes, the hysteresis state machine that builds them, and the restart-safe diff.

An *episode* is one stretch of abnormality: an alert is sent when it opens and one
recovery notice when it closes, nothing in between. Detectors are pure functions of
the history and causal (whether a point opens or closes an episode depends only on
that point and earlier ones), so a live evaluator can recompute all episodes over
stored history after a restart and :func:`plan_notifications` against the episodes it
stored: an episode is identified by ``(rule, start)``; one already stored never fires
again.

Snoozes: a :class:`Mute` silences one rule (or ``"*"``, every rule) until a time.
Episodes are still computed and should still be stored; only the notifications are
marked ``suppressed``. An alert is suppressed when the episode *starts* inside a mute;
its recovery is suppressed when the alert was, or when the episode *ends* inside a mute.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class Episode:
    """One alert episode.

    ``start``: when the alert fires (the point that opened the episode);
    ``end``: the point at which it was judged recovered, or None while open;
    ``peak``/``peak_at``: the most abnormal value in the episode and when it was seen;
    ``since``: when the condition began (earlier than ``start`` for sustained rules);
    ``direction``: ``up``/``down`` (empty when not meaningful); ``detail``: short text;
    ``instant``: a one-point event (milestone) that has no recovery notice.
    """

    rule: str
    kind: str
    start: datetime
    end: datetime | None
    peak: float
    peak_at: datetime
    metric: str = ""
    since: datetime | None = None
    direction: str = ""
    detail: str = ""
    instant: bool = False

    @property
    def key(self) -> tuple[str, datetime]:
        return (self.rule, self.start)

    @property
    def is_open(self) -> bool:
        return self.end is None

    def to_dict(self) -> dict:
        """JSON-ready dict with ISO timestamps (``end`` is None while open)."""
        return {
            "rule": self.rule,
            "kind": self.kind,
            "metric": self.metric,
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end is not None else None,
            "peak": self.peak,
            "peak_at": self.peak_at.isoformat(),
            "since": self.since.isoformat() if self.since is not None else None,
            "direction": self.direction,
            "detail": self.detail,
        }


def hysteresis(
    fire: np.ndarray,
    hold: np.ndarray,
    *,
    clear_points: int = 1,
    refractory_points: int = 0,
) -> list[tuple[int, int | None]]:
    """Episode (start_row, end_row | None) pairs from two boolean arrays.

    A row where ``fire`` is true opens an episode (when none is open and at least
    ``refractory_points`` rows have passed since the last one closed); the episode
    stays open while ``hold`` is true and closes at the row where ``hold`` has been
    false for ``clear_points`` consecutive rows. Causal: row i's effect depends
    only on rows <= i.
    """
    out: list[tuple[int, int | None]] = []
    n = len(fire)
    if n == 0:
        return out
    clear_points = max(1, int(clear_points))
    cand = np.flatnonzero(fire)
    not_hold = ~np.asarray(hold, dtype=bool)
    # runs of clear_points consecutive not-hold rows end at row j where csum jumps
    c = np.concatenate([[0], np.cumsum(not_hold)])
    idx = np.arange(n)
    lo = idx - clear_points + 1
    full = np.zeros(n, dtype=bool)
    ok = lo >= 0
    full[ok] = (c[idx[ok] + 1] - c[lo[ok]]) == clear_points
    closers = np.flatnonzero(full)
    pos = 0  # earliest row allowed to open
    while True:
        k = np.searchsorted(cand, pos)
        if k >= len(cand):
            break
        s = int(cand[k])
        # first closing row strictly after the opening row, whose clear run lies after s
        j = np.searchsorted(closers, s + clear_points)
        if j >= len(closers):
            out.append((s, None))
            break
        e = int(closers[j])
        out.append((s, e))
        pos = e + 1 + max(0, int(refractory_points))
    return out


def build_episodes(
    rule: str,
    kind: str,
    metric: str,
    ts: Sequence[datetime],
    values: np.ndarray,
    spans: Iterable[tuple[int, int | None]],
    severity: np.ndarray,
    *,
    since_rows: Sequence[int] | None = None,
    direction: np.ndarray | None = None,
    detail: str = "",
) -> list[Episode]:
    """Turn row spans into :class:`Episode` objects; the peak is the row of highest
    ``severity`` inside the span (start..end inclusive, or to the last row if open)."""
    eps = []
    sev = np.nan_to_num(np.asarray(severity, dtype=float), nan=-np.inf)
    for k, (s, e) in enumerate(spans):
        hi = (e if e is not None else len(values) - 1) + 1
        p = s + int(np.argmax(sev[s:hi]))
        d = ""
        if direction is not None:
            d = "up" if direction[p] > 0 else "down" if direction[p] < 0 else ""
        eps.append(
            Episode(
                rule=rule,
                kind=kind,
                metric=metric,
                start=ts[s],
                end=ts[e] if e is not None else None,
                peak=float(values[p]),
                peak_at=ts[p],
                since=ts[since_rows[k]] if since_rows is not None else ts[s],
                direction=d,
                detail=detail,
            )
        )
    return eps


# --- snoozes and notifications --------------------------------------------------------------


@dataclass(frozen=True)
class Mute:
    """Silence ``rule`` (a rule name, or ``"*"`` for all) until ``until`` (exclusive),
    optionally only from ``since`` (inclusive)."""

    rule: str
    until: datetime
    since: datetime | None = None

    def covers(self, rule: str, at: datetime) -> bool:
        if self.rule not in ("*", rule):
            return False
        return at < self.until and (self.since is None or at >= self.since)


def is_muted(mutes: Iterable[Mute], rule: str, at: datetime) -> bool:
    return any(m.covers(rule, at) for m in mutes)


@dataclass(frozen=True)
class Notification:
    """One message to post: ``event`` is ``alert`` or ``recovery``. ``suppressed``
    notifications must be recorded but not posted (``reason`` says why)."""

    event: Literal["alert", "recovery"]
    episode: Episode
    at: datetime
    suppressed: bool = False
    reason: str = ""


def plan_notifications(
    stored: Iterable[Episode],
    computed: Iterable[Episode],
    *,
    now: datetime,
    mutes: Iterable[Mute] = (),
    quiet_before: datetime | None = None,
) -> list[Notification]:
    """What to post after recomputing episodes, given the episodes stored earlier.

    * a computed episode whose key is not stored -> ``alert`` (and ``recovery`` too
      if it already closed; never for instant episodes);
    * a stored open episode now closed -> ``recovery``;
    * a stored open episode no longer computed at all (history was edited) ->
      ``recovery`` at ``now`` with reason ``no longer detected``;
    * anything else -> nothing (an open episode never fires twice).

    Episodes starting before ``quiet_before`` (e.g. when a rule is first enabled over
    old history) are recorded silently. The caller then stores ``computed``.
    """
    mutes = list(mutes)
    old = {e.key: e for e in stored}
    new = {e.key: e for e in computed}
    out: list[Notification] = []

    def alert_quiet(ep: Episode) -> str:
        if quiet_before is not None and ep.start < quiet_before:
            return "before the rule was watched"
        if is_muted(mutes, ep.rule, ep.start):
            return "snoozed"
        return ""

    def recovery(ep: Episode, at: datetime, reason: str = "") -> Notification:
        why = alert_quiet(ep) or ("snoozed" if is_muted(mutes, ep.rule, at) else "")
        return Notification("recovery", ep, at, bool(why), why or reason)

    for key, ep in sorted(new.items(), key=lambda kv: (kv[1].start, kv[0][0])):
        prev = old.get(key)
        if prev is None:
            why = alert_quiet(ep)
            out.append(Notification("alert", ep, ep.start, bool(why), why))
            if ep.end is not None and not ep.instant:
                out.append(recovery(ep, ep.end))
        elif prev.end is None and ep.end is not None and not ep.instant:
            out.append(recovery(ep, ep.end))
    for key, ep in old.items():
        if key not in new and ep.end is None and not ep.instant:
            out.append(recovery(replace(ep, end=now), now, "no longer detected"))
    return out
