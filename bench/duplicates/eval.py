"""Hit rate of duplicate suggestions on real maintainer-marked duplicate pairs.

Protocol (see README.md): for every pair the index holds all originals plus the
distractor pool; the query is the duplicate's title; a hit@k is the pair's
original among the first k suggestions. Distractors flagged ``same_request_as``
that pair's original (unmarked issues asking for the same thing) are left out
of that pair's candidates unless ``--harsh`` is given.

Run: python bench/duplicates/eval.py [--harsh] [--verbose]
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import math
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1]))

from bot.feedback.duplicates import (  # noqa: E402
    _SYNONYMS_FILE,
    DuplicateIndex,
    TextAnalyzer,
)

SECOND_PASS_MARK = "# --- added in the second pass"

Ranker = Callable[[str, set[int]], list[int]]  # query, excluded doc ids -> ranked doc ids


def load(name: str) -> list[dict]:
    with (HERE / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def build_corpus(pairs: list[dict], distractors: list[dict]):
    docs: list[str] = []
    doc_of: dict[tuple[str, int], int] = {}
    for p in pairs:
        key = (p["repo"], p["original"]["number"])
        if key not in doc_of:
            doc_of[key] = len(docs)
            docs.append(p["original"]["title"])
    same: dict[tuple[str, int], set[int]] = {}
    for d in distractors:
        key = (d["repo"], d["number"])
        if key in doc_of:
            continue
        doc_of[key] = len(docs)
        docs.append(d["title"])
        for orig in d.get("same_request_as", []):
            same.setdefault((d["repo"], orig), set()).add(doc_of[key])
    return docs, doc_of, same


# ------------------------------------------------------------------ baselines
def difflib_ranker(docs: list[str]) -> Ranker:
    low = [d.lower() for d in docs]

    def rank(q: str, excl: set[int]) -> list[int]:
        sm = difflib.SequenceMatcher(autojunk=False)
        sm.set_seq2(q.lower())
        scores = []
        for i, d in enumerate(low):
            if i in excl:
                continue
            sm.set_seq1(d)
            scores.append((-sm.ratio(), i))
        scores.sort()
        return [i for _, i in scores[:10]]

    return rank


def _char_ngrams(text: str, lo: int = 3, hi: int = 5) -> Counter:
    out: Counter = Counter()
    for w in re.findall(r"\w+", text.lower()):
        w = f" {w} "
        for n in range(lo, hi + 1):
            for j in range(len(w) - n + 1):
                out[w[j : j + n]] += 1
    return out


def tfidf_ranker(docs: list[str]) -> Ranker:
    """Char n-gram (3-5, word-bounded) TF-IDF cosine, like sklearn's char_wb."""
    grams = [_char_ngrams(d) for d in docs]
    df: Counter = Counter()
    for g in grams:
        df.update(g.keys())
    n = len(docs)
    idf = {t: math.log((1 + n) / (1 + c)) + 1 for t, c in df.items()}

    def vec(g: Counter) -> dict[str, float]:
        v = {t: (1 + math.log(c)) * idf.get(t, math.log(1 + n) + 1) for t, c in g.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {t: x / norm for t, x in v.items()}

    dvecs = [vec(g) for g in grams]
    inv: dict[str, list[tuple[int, float]]] = {}
    for i, v in enumerate(dvecs):
        for t, x in v.items():
            inv.setdefault(t, []).append((i, x))

    def rank(q: str, excl: set[int]) -> list[int]:
        acc: dict[int, float] = {}
        for t, x in vec(_char_ngrams(q)).items():
            for i, y in inv.get(t, ()):
                acc[i] = acc.get(i, 0.0) + x * y
        ranked = sorted(((-s, i) for i, s in acc.items() if i not in excl))
        return [i for _, i in ranked[:10]]

    return rank


def engine_ranker(docs: list[str]) -> Ranker:
    ix = DuplicateIndex()
    for i, d in enumerate(docs):
        ix.add(i, d)

    def rank(q: str, excl: set[int]) -> list[int]:
        return [m.key for m in ix.search(q, limit=10, exclude=excl)]

    return rank


def _first_pass_analyzer() -> TextAnalyzer:
    """The related-term table without the groups added after misses were seen."""
    text = _SYNONYMS_FILE.read_text(encoding="utf-8").split(SECOND_PASS_MARK)[0]
    tmp = Path(tempfile.mkdtemp()) / "synonyms.txt"
    tmp.write_text(text, encoding="utf-8")
    return TextAnalyzer(tmp)


def engine_first_pass_ranker(docs: list[str]) -> Ranker:
    ix = DuplicateIndex(_first_pass_analyzer())
    for i, d in enumerate(docs):
        ix.add(i, d)

    def rank(q: str, excl: set[int]) -> list[int]:
        return [m.key for m in ix.search(q, limit=10, exclude=excl)]

    return rank


#: Fusion weight of the embedding cosine (rest: engine score); picked on dev trackers.
EMBED_WEIGHT = 0.3


def embed_ranker(docs: list[str], weight: float | None = None) -> Ranker:
    """wordllama static embeddings (optional extra), alone (weight None) or fused
    with the engine: score = (1 - w) * engine + w * cosine."""
    from bot.feedback.embeddings import Embedder

    emb = Embedder()
    dvec = emb.embed(docs)
    ix = DuplicateIndex()
    for i, d in enumerate(docs):
        ix.add(i, d)

    def rank(q: str, excl: set[int]) -> list[int]:
        cos = dvec @ emb.embed([q])[0]
        score = cos.astype(float)
        if weight is not None:
            eng = dict.fromkeys(range(len(docs)), 0.0)
            for m in ix.search(q, limit=50, exclude=excl):
                eng[m.key] = m.score
            score = (1 - weight) * np.array([eng[i] for i in range(len(docs))]) + weight * score
        order = [i for i in np.argsort(-score, kind="stable").tolist() if i not in excl]
        return order[:10]

    return rank


METHODS: dict[str, Callable[[list[str]], Ranker]] = {
    "difflib ratio": difflib_ranker,
    "char 3-5gram TF-IDF": tfidf_ranker,
    "engine, 1st-pass table": engine_first_pass_ranker,
    "engine (duplicates.py)": engine_ranker,
}


PAD_TO = 100  # a tracker board with fewer items is padded with other trackers' titles


def _pad_pool(repo: str, distractors: list[dict]) -> list[dict]:
    """Other trackers' titles, in a fixed pseudo-random order (for padding)."""
    others = [d for d in distractors if d["repo"] != repo]
    return sorted(others, key=lambda d: hashlib.sha256(f"{repo}|{d['url']}".encode()).digest())


def _score(rank, docs, doc_of, same, pairs, harsh, verbose, name, per_split, per_orig):
    for p in pairs:
        okey = (p["repo"], p["original"]["number"])
        target = doc_of[okey]
        excl = set() if harsh else same.get(okey, set())
        ranked = rank(p["duplicate"]["title"], excl)
        pos = ranked.index(target) if target in ranked else None
        s = per_split[p["split"]]
        s[0] += 1
        s[1] += pos == 0
        s[2] += pos is not None and pos < 3
        per_orig.setdefault(okey, []).append(pos is not None and pos < 3)
        if verbose and name.startswith("engine") and (pos is None or pos >= 3):
            top = [docs[i] for i in ranked[:3]]
            print(
                f"  MISS [{p['split']}] {p['repo']}: {p['duplicate']['title']!r} -> "
                f"{p['original']['title']!r}; got {top}"
            )


def evaluate(
    harsh: bool = False, verbose: bool = False, methods=None, protocol: str = "tracker"
) -> dict:
    """protocol "tracker": one index per tracker (its originals + its distractors,
    padded to PAD_TO with other trackers' titles); "pooled": one index for all."""
    pairs = load("pairs.jsonl")
    distractors = load("distractors.jsonl")
    results = {}
    boards = []
    if protocol == "pooled":
        boards.append((pairs, distractors, 0))
    else:
        for repo in sorted({p["repo"] for p in pairs}):
            own = [d for d in distractors if d["repo"] == repo]
            ps = [p for p in pairs if p["repo"] == repo]
            n_orig = len({p["original"]["number"] for p in ps})
            pad = max(0, PAD_TO - n_orig - len(own))
            boards.append((ps, own + _pad_pool(repo, distractors)[:pad], pad))
    for name, make in (methods or METHODS).items():
        t0 = time.perf_counter()
        per_split: dict[str, list[int]] = {"dev": [0, 0, 0], "heldout": [0, 0, 0]}
        per_orig: dict = {}
        for ps, ds, _pad in boards:
            docs, doc_of, same = build_corpus(ps, ds)
            _score(make(docs), docs, doc_of, same, ps, harsh, verbose, name, per_split, per_orig)
        macro = sum(sum(v) / len(v) for v in per_orig.values()) / max(1, len(per_orig))
        results[name] = (per_split, time.perf_counter() - t0, macro)
    sizes = [len({p["original"]["number"] for p in ps}) + len(ds) for ps, ds, _ in boards]
    return {
        "results": results,
        "n_pairs": len(pairs),
        "n_originals": len({(p["repo"], p["original"]["number"]) for p in pairs}),
        "n_distractors": len(distractors),
        "n_repos": len({p["repo"] for p in pairs}),
        "boards": len(boards),
        "padded": sum(1 for *_x, pad in boards if pad),
        "padded_items": sum(pad for *_x, pad in boards),
        "board_sizes": (min(sizes), max(sizes)),
    }


def pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:5.1f}%" if b else "   n/a"


def _with_optional(methods: dict) -> dict:
    from bot.feedback.embeddings import available

    if not available():
        return methods
    out = dict(methods)
    out["wordllama alone (extra)"] = lambda docs: embed_ranker(docs)
    out[f"engine+wordllama w={EMBED_WEIGHT}"] = lambda docs: embed_ranker(docs, EMBED_WEIGHT)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--harsh", action="store_true", help="keep same-request distractors")
    ap.add_argument("--verbose", action="store_true", help="print the engine's misses")
    ap.add_argument(
        "--protocol",
        choices=("tracker", "pooled", "both"),
        default="both",
        help="tracker: one board per tracker (headline); pooled: all trackers in one index",
    )
    args = ap.parse_args()
    protos = ("tracker", "pooled") if args.protocol == "both" else (args.protocol,)
    for proto in protos:
        out = evaluate(args.harsh, args.verbose, _with_optional(METHODS), protocol=proto)
        res = out["results"]
        any_split = next(iter(res.values()))[0]
        nd, nh = any_split["dev"][0], any_split["heldout"][0]
        print(
            f"\n== protocol: {proto} ==  {out['n_pairs']} pairs / {out['n_originals']} originals "
            f"from {out['n_repos']} trackers (dev {nd}, held-out {nh} pairs); "
            f"{out['n_distractors']} distractors in total"
            f"{' [harsh: same-request distractors kept]' if args.harsh else ''}"
        )
        if proto == "tracker":
            lo, hi = out["board_sizes"]
            print(
                f"{out['boards']} boards of {lo}-{hi} items; {out['padded']} padded to {PAD_TO} "
                f"with {out['padded_items']} titles of other trackers"
            )
        print(
            f"{'method':26} | {'dev top1':>8} {'dev top3':>8} | {'held top1':>9} "
            f"{'held top3':>9} | {'all top3':>8} {'orig-avg':>8} | time"
        )
        print("-" * 100)
        for name, (s, secs, macro) in res.items():
            d, h = s["dev"], s["heldout"]
            print(
                f"{name:26} | {pct(d[1], d[0]):>8} {pct(d[2], d[0]):>8} | {pct(h[1], h[0]):>9} "
                f"{pct(h[2], h[0]):>9} | {pct(d[2] + h[2], d[0] + h[0]):>8} "
                f"{100 * macro:7.1f}% | {secs:5.1f}s"
            )


if __name__ == "__main__":
    main()
