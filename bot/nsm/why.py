"""Why did the north star move? Split its change into one contribution per input metric.

``/nsm why`` must give numbers people can add up in their head, so where the tree
has a formula the contributions are *exact*: they sum to the change of the formula
applied to the recorded inputs.

- ``sum``: each input's delta.
- ``product``: LMDI-I (log-mean Divisia index). Input *i* gets
  ``L(NS1, NS0) · ln(x1/x0)`` with ``L(a, b) = (a - b) / ln(a / b)`` and ``L(a, a) = a``.
  Chosen over Shapley because it is exact with any number of inputs in O(n), has
  no ordering or subset weighting to explain, and splits the change in proportion
  to each input's *relative* growth: "accounts +10 %, teams per account +2 %"
  gives accounts about five sixths of the credit, which is how people read
  multiplicative growth. Logs need positive values, so when any value is zero or
  negative we fall back to the Shapley value (exact for any signs), computed in
  O(n²) per input from the coefficients of ∏(x0 + t·x1) instead of 2ⁿ subsets.
- ``ratio`` (numerator ÷ denominator): the same log decomposition, where the
  denominator's contribution is ``-L(R1, R0) · ln(d1/d0)``; two-player Shapley is
  the fallback for non-positive values; a zero denominator is an error.

If the recorded north star differs from the formula on the recorded inputs (late
data, a definition drift), that gap is reported as ``unexplained`` and said in
words, so ``sum(contributions) + unexplained == ns_curr - ns_prev`` always holds.

Without a formula the split is an *estimate* from history (chronological
``(north star, inputs)`` observations, consecutive periods):

- with at least ``max(8, inputs + 3)`` period-to-period changes: least squares of
  north-star deltas on input deltas, with an intercept (drift, left unexplained);
  contribution = coefficient × this period's input delta;
- with fewer (but at least 3): each input's standardized delta weighted by its
  correlation with north-star deltas, ``r · σ_ns · Δx / σ_x`` (its one-variable
  regression slope), scaled down together if they overshoot the actual change;
- with fewer than 3: :class:`NotEnoughHistory`.

Either way, what the estimate does not account for is ``unexplained``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bot.nsm.config import FORMULAS

MIN_ESTIMATE_CHANGES = 3
MIN_REGRESSION_CHANGES = 8
_REL_TOL = 1e-9


class WhyError(ValueError):
    """The change cannot be explained with the numbers given."""


class NotEnoughHistory(WhyError):
    """Too few past periods to estimate input contributions without a formula."""


@dataclass(frozen=True)
class Contribution:
    """How much of the north star's change one input accounts for (in north-star units)."""

    metric: str
    previous: float
    current: float
    contribution: float

    @property
    def delta(self) -> float:
        return self.current - self.previous


@dataclass(frozen=True)
class Explanation:
    """A north star change split into input contributions plus an unexplained remainder."""

    method: str
    previous: float
    current: float
    contributions: list[Contribution]
    unexplained: float
    note: str

    @property
    def change(self) -> float:
        return self.current - self.previous

    @property
    def explained(self) -> float:
        return sum(c.contribution for c in self.contributions)


def log_mean(a: float, b: float) -> float:
    """The logarithmic mean L(a, b) of two positive numbers, with L(a, a) = a."""
    if a <= 0 or b <= 0:
        raise WhyError("the logarithmic mean needs positive numbers.")
    if a == b:
        return a
    gap = (a - b) / b
    # log1p keeps precision when a and b are close; far apart, separate logs are better
    return (a - b) / (math.log1p(gap) if abs(gap) < 0.5 else math.log(a) - math.log(b))


def explain(
    formula: str | None,
    ns_prev: float,
    ns_curr: float,
    inputs_prev: Mapping[str, float],
    inputs_curr: Mapping[str, float],
    history: Sequence[tuple[float, Mapping[str, float]]] | None = None,
    *,
    order: Sequence[str] | None = None,
) -> Explanation:
    """Split ``ns_curr - ns_prev`` into one contribution per input, largest first.

    ``order`` names the inputs in tree order (required meaning for ``ratio``:
    numerator then denominator); it defaults to the order of ``inputs_prev``.
    ``history`` is only used when there is no formula.
    """
    names = list(order) if order is not None else list(inputs_prev)
    _check(ns_prev, ns_curr, inputs_prev, inputs_curr, names)
    x0 = [float(inputs_prev[n]) for n in names]
    x1 = [float(inputs_curr[n]) for n in names]
    if formula is None:
        return _estimate(float(ns_prev), float(ns_curr), names, x0, x1, history or [])
    if formula not in FORMULAS:
        raise WhyError(f"'{formula}' is not a formula: use {', '.join(FORMULAS)} or none.")
    if formula == "ratio" and len(names) != 2:
        raise WhyError(
            f"a ratio needs exactly two inputs (numerator, denominator), not {len(names)}."
        )
    if not names:
        raise WhyError(f"a {formula} needs at least one input.")

    if formula == "sum":
        method, parts = "sum", [b - a for a, b in zip(x0, x1, strict=True)]
        f0, f1 = sum(x0), sum(x1)
    elif formula == "product":
        f0, f1 = math.prod(x0), math.prod(x1)
        if all(v > 0 for v in (*x0, *x1)) and min(f0, f1) > 0:  # (a product can underflow)
            method, parts = "lmdi", _lmdi_product(x0, x1, f0, f1)
        else:
            method, parts = "shapley", _shapley_product(x0, x1)
    else:
        (n0, d0), (n1, d1) = x0, x1
        if d0 == 0 or d1 == 0:
            raise WhyError(f"the ratio is undefined because its denominator '{names[1]}' is 0.")
        f0, f1 = n0 / d0, n1 / d1
        if all(v > 0 for v in (*x0, *x1)) and min(f0, f1) > 0:
            method, parts = "log-ratio", _lmdi_ratio(x0, x1, f0, f1)
        else:
            method, parts = "shapley", _shapley_ratio(x0, x1)

    change = float(ns_curr) - float(ns_prev)
    # a gap within 1e-9 of the north star is float noise in recorded values, not data
    holds = abs(change - (f1 - f0)) <= _REL_TOL * max(abs(ns_prev), abs(ns_curr))
    unexplained = 0.0 if holds else change - math.fsum(parts)
    note = _formula_note(method, formula, change, f1 - f0, unexplained)
    return _build(method, ns_prev, ns_curr, names, x0, x1, parts, unexplained, note)


def _check(ns_prev, ns_curr, inputs_prev, inputs_curr, names) -> None:
    for n in names:
        if n not in inputs_prev or n not in inputs_curr:
            which = "previous" if n not in inputs_prev else "current"
            raise WhyError(f"input '{n}' has no {which} value, so its share cannot be computed.")
    extra = (set(inputs_prev) | set(inputs_curr)) - set(names)
    if extra:
        raise WhyError(f"'{sorted(extra)[0]}' is not one of the inputs {', '.join(names)}.")
    values = [ns_prev, ns_curr, *(inputs_prev[n] for n in names), *(inputs_curr[n] for n in names)]
    if not all(math.isfinite(float(v)) for v in values):
        raise WhyError("every value must be a finite number.")


def _lmdi_product(x0: list[float], x1: list[float], f0: float, f1: float) -> list[float]:
    weight = log_mean(f1, f0)
    return [weight * (math.log(b) - math.log(a)) for a, b in zip(x0, x1, strict=True)]


def _lmdi_ratio(x0: list[float], x1: list[float], f0: float, f1: float) -> list[float]:
    weight = log_mean(f1, f0)
    (n0, d0), (n1, d1) = x0, x1
    return [weight * (math.log(n1) - math.log(n0)), -weight * (math.log(d1) - math.log(d0))]


def _shapley_product(x0: list[float], x1: list[float]) -> list[float]:
    """Shapley value of each factor for ∏x1 - ∏x0.

    Switching factor i with a set S of others already switched adds
    (x1_i - x0_i) · ∏_{S} x1 · ∏_{others} x0; summing those terms by |S| = k gives
    the coefficient of t^k in ∏_{j≠i} (x0_j + t·x1_j), weighted k!(n-k-1)!/n!.
    """
    n = len(x0)
    weights = [math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n) for k in range(n)]
    out = []
    for i in range(n):
        coeffs = [1.0]
        for j in range(n):
            if j == i:
                continue
            nxt = [0.0] * (len(coeffs) + 1)
            for k, c in enumerate(coeffs):
                nxt[k] += c * x0[j]
                nxt[k + 1] += c * x1[j]
            coeffs = nxt
        out.append((x1[i] - x0[i]) * math.fsum(w * c for w, c in zip(weights, coeffs, strict=True)))
    return out


def _shapley_ratio(x0: list[float], x1: list[float]) -> list[float]:
    (n0, d0), (n1, d1) = x0, x1
    num = ((n1 / d0 - n0 / d0) + (n1 / d1 - n0 / d1)) / 2
    den = ((n0 / d1 - n0 / d0) + (n1 / d1 - n1 / d0)) / 2
    return [num, den]


def _fmt(v: float) -> str:
    return f"{v:+,.4g}"


def _formula_note(method: str, formula: str, change: float, fchange: float, gap: float) -> str:
    how = {
        "sum": "Each input's contribution is its own change (the north star is their sum).",
        "lmdi": "Split exactly by each input's relative growth (LMDI; north star = product).",
        "log-ratio": "Split exactly by the relative growth of numerator and denominator "
        "(log decomposition; north star = ratio).",
        "shapley": f"Some values are zero or negative, so the {formula} is split by Shapley "
        "values (each input's average effect over every order of change).",
    }[method]
    if gap == 0:
        return how
    return (
        f"{how} The recorded north star moved {_fmt(change)}, but the {formula} of the "
        f"recorded inputs moved {_fmt(fchange)}: {_fmt(gap)} is not explained by the inputs "
        "(the formula does not hold exactly on the recorded numbers; check late or "
        "mismatched data)."
    )


def _build(method, ns_prev, ns_curr, names, x0, x1, parts, unexplained, note) -> Explanation:
    results = (*parts, unexplained, float(ns_curr) - float(ns_prev))
    if not all(math.isfinite(float(v)) for v in results):
        raise WhyError(
            "The change cannot be split: the values are too large or too small to compute "
            "with; check them for typos."
        )
    contributions = [
        Contribution(n, a, b, float(p)) for n, a, b, p in zip(names, x0, x1, parts, strict=True)
    ]
    contributions.sort(key=lambda c: -abs(c.contribution))
    return Explanation(method, float(ns_prev), float(ns_curr), contributions, unexplained, note)


# --- no formula: estimate from history --------------------------------------------------------


def _estimate(ns_prev, ns_curr, names, x0, x1, history) -> Explanation:
    rows = []
    for i, (ns, inputs) in enumerate(history):
        missing = [n for n in names if n not in inputs]
        if missing:
            raise WhyError(f"history entry {i + 1} has no value for input '{missing[0]}'.")
        rows.append([float(ns), *(float(inputs[n]) for n in names)])
    deltas = np.diff(np.asarray(rows, dtype=float).reshape(-1, len(names) + 1), axis=0)
    if len(deltas) < MIN_ESTIMATE_CHANGES:
        need = MIN_ESTIMATE_CHANGES + 1
        raise NotEnoughHistory(
            f"Without a formula I need at least {need} periods of history for the north star "
            f"and its inputs to estimate why it moved; I have {len(rows)}."
        )
    if not np.all(np.isfinite(deltas)):
        raise WhyError("every history value must be a finite number.")
    change = ns_curr - ns_prev
    dx = np.asarray(x1) - np.asarray(x0)
    dy, dX = deltas[:, 0], deltas[:, 1:]
    needed = max(MIN_REGRESSION_CHANGES, len(names) + 3)
    if len(deltas) >= needed:
        design = np.column_stack([np.ones(len(dy)), dX])
        coef, _, rank, _ = np.linalg.lstsq(design, dy, rcond=None)
        parts = list(coef[1:] * dx)
        method = "regression"
        note = (
            f"Estimated: no formula links the inputs to the north star, so this fits past "
            f"changes ({len(deltas)} periods, least squares)."
        )
        if rank < design.shape[1]:
            note += " Some inputs moved together in the past, so their split is uncertain."
    else:
        sd_y = float(dy.std())
        parts = []
        for j in range(len(names)):
            sd_x = float(dX[:, j].std())
            if sd_x == 0 or sd_y == 0:
                parts.append(0.0)
                continue
            r = float(np.corrcoef(dX[:, j], dy)[0, 1])
            parts.append(r * sd_y * dx[j] / sd_x)
        total = math.fsum(parts)
        if total * change > 0 and abs(total) > abs(change):
            parts = [p * change / total for p in parts]
        method = "correlation"
        note = (
            f"Rough estimate: no formula and only {len(deltas)} past changes (a fit needs "
            f"{needed}), so each input is weighted by how its changes tracked the north star's."
        )
    unexplained = change - math.fsum(parts)
    if abs(unexplained) > _REL_TOL * max(1.0, abs(change)):
        note += f" {_fmt(unexplained)} is not explained by the inputs."
    return _build(method, ns_prev, ns_curr, names, x0, x1, parts, unexplained, note)
