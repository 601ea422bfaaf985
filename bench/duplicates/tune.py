"""Grid over engine constants, scored on DEV trackers only (tracker protocol).

Run: python bench/duplicates/tune.py
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))

import eval as ev  # noqa: E402

import bot.feedback.duplicates as dup  # noqa: E402


def dev_score() -> tuple[float, float]:
    out = ev.evaluate(methods={"engine": ev.engine_ranker}, protocol="tracker")
    s, _secs, _macro = out["results"]["engine"]
    d = s["dev"]
    return d[2] / d[0], d[1] / d[0]


def main() -> None:
    grid = {
        "MIN_SCORE": [0.1, 0.18, 0.25],
        "WORD_WEIGHT": [0.4, 0.6, 0.8],
        "CHAR_CAN_ONLY_HELP": [True, False],
    }
    rows = []
    for combo in itertools.product(*grid.values()):
        for k, v in zip(grid, combo, strict=True):
            setattr(dup, k, v)
        rows.append((dev_score(), combo))
    rows.sort(reverse=True)
    for (top3, top1), combo in rows[:10]:
        print(f"dev top3 {top3:.3f} top1 {top1:.3f}  {dict(zip(grid, combo, strict=True))}")


if __name__ == "__main__":
    main()
