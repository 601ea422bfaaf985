"""Benchmark: warm render time of the weekly north star chart (target < 250 ms).

Run: ``python bench/chart_render.py [runs]``. The first render (font cache, imports)
is reported separately; the warm figure is the median of the following runs.
Wall time is noisy on a shared machine, so CPU time is printed beside it.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.nsm.chart import demo_data, render_weekly_chart

TARGET_MS = 250.0


def main(argv: list[str] | None = None) -> int:
    runs = int(argv[0]) if argv else 15
    data = demo_data()
    t0 = time.perf_counter()
    png = render_weekly_chart(data)
    cold = (time.perf_counter() - t0) * 1000
    wall, cpu = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        render_weekly_chart(data)
        wall.append((time.perf_counter() - w) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    median = statistics.median(wall)
    print(f"first render: {cold:.0f} ms ({len(png) / 1024:.0f} KiB PNG)")
    print(
        f"warm render:  median {median:.0f} ms, best {min(wall):.0f} ms, "
        f"cpu median {statistics.median(cpu):.0f} ms over {runs} runs"
    )
    verdict = "ok" if median < TARGET_MS else "SLOW"
    print(f"target:       < {TARGET_MS:.0f} ms warm ... {verdict}")
    return 0 if median < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
