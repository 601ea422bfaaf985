"""Build time and search latency of DuplicateIndex at board scale.

Items are synthetic but realistic: real issue titles from pairs.jsonl and
distractors.jsonl recombined (first part of one title + last part of another,
sometimes a third fragment), so vocabulary and lengths are those of real
trackers. Queries are the real duplicate titles plus fresh recombinations.

Run: python bench/duplicates/speed.py [--items 100000] [--queries 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1]))

from bot.feedback.duplicates import DuplicateIndex  # noqa: E402


def real_titles() -> tuple[list[str], list[str]]:
    titles, queries = [], []
    for name in ("pairs.jsonl", "distractors.jsonl"):
        with (HERE / name).open(encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                if "duplicate" in row:
                    titles.append(row["original"]["title"])
                    queries.append(row["duplicate"]["title"])
                else:
                    titles.append(row["title"])
    return titles, queries


def recombine(rng: random.Random, titles: list[str]) -> str:
    a, b = rng.choice(titles).split(), rng.choice(titles).split()
    cut_a = rng.randint(1, max(1, len(a)))
    cut_b = rng.randint(0, max(0, len(b) - 1))
    words = a[:cut_a] + b[cut_b:]
    if rng.random() < 0.3:
        words += rng.choice(titles).split()[: rng.randint(1, 4)]
    return " ".join(words)


def pct(sorted_vals: list[float], q: float) -> float:
    return sorted_vals[min(len(sorted_vals) - 1, int(q * len(sorted_vals)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    titles, dup_queries = real_titles()
    items = [recombine(rng, titles) for _ in range(args.items)]
    queries = dup_queries + [recombine(rng, titles) for _ in range(args.queries - len(dup_queries))]

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ix = DuplicateIndex()
    t0 = time.perf_counter()
    for i, text in enumerate(items):
        ix.add(i, text)
    build = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    ix.search(queries[0])  # warm the posting-array cache like a running bot
    lat = []
    hits = 0
    for q in queries:
        t = time.perf_counter()
        found = ix.search(q)
        lat.append(time.perf_counter() - t)
        hits += bool(found)
    lat.sort()

    t = time.perf_counter()
    for i in range(1000):
        ix.add(args.items + i, recombine(rng, titles))
    add_one = (time.perf_counter() - t) / 1000
    t = time.perf_counter()
    lat2 = []
    for q in queries[:200]:
        t = time.perf_counter()
        ix.search(q)
        lat2.append(time.perf_counter() - t)
    lat2.sort()

    print(f"items: {len(ix):,} (recombined from {len(titles):,} real titles)")
    print(
        f"build: {build:.2f} s total, {1e6 * build / args.items:.1f} us/item; "
        f"peak RSS grew by ~{(rss1 - rss0) / 1024:.0f} MB"
    )
    print(
        f"search ({len(queries)} queries, limit 3): p50 {1e3 * pct(lat, 0.5):.2f} ms, "
        f"p90 {1e3 * pct(lat, 0.9):.2f} ms, p99 {1e3 * pct(lat, 0.99):.2f} ms, "
        f"max {1e3 * lat[-1]:.2f} ms; {hits} returned suggestions"
    )
    print(
        f"after 1,000 live adds ({1e6 * add_one:.0f} us/add): search p50 "
        f"{1e3 * pct(lat2, 0.5):.2f} ms, p99 {1e3 * pct(lat2, 0.99):.2f} ms (cold posting cache)"
    )


if __name__ == "__main__":
    main()
