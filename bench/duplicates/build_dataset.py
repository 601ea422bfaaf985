"""Build pairs.jsonl and distractors.jsonl from the hand-collected raw/*.tsv.

raw/pairs.tsv     repo, duplicate #, duplicate title, original #, original title
raw/titles.tsv    repo, #, title   (other real issue titles seen while collecting)
raw/cluster.tsv   repo, #, original #   (unmarked issues that ask for the same
                  thing as a pair's original; kept out of that pair's pool)
raw/pending.tsv   duplicates whose original title was not found (unused)

The split is by tracker (repository): all pairs and distractors of a tracker
are either dev or held-out.

Run: python bench/duplicates/build_dataset.py
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

HERE = Path(__file__).parent
RAW = HERE / "raw"


def url(repo: str, number: int) -> str:
    return f"https://github.com/{repo}/issues/{number}"


def split_of(repo: str) -> str:
    """Split by tracker, so nothing tuned on dev trackers leaks into held-out."""
    h = hashlib.sha256(repo.encode()).digest()[0]
    return "dev" if h % 2 == 0 else "heldout"


def rows(name: str) -> list[list[str]]:
    path = RAW / name
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            out.append(line.split("\t"))
    return out


def main() -> None:
    pairs = []
    members: set[tuple[str, int]] = set()
    seen = set()
    for repo, dup, dup_title, orig, orig_title in rows("pairs.tsv"):
        dup_n, orig_n = int(dup), int(orig)
        if (repo, dup_n) in seen:
            continue
        seen.add((repo, dup_n))
        members.update({(repo, dup_n), (repo, orig_n)})
        pairs.append(
            {
                "id": f"{repo}#{dup_n}",
                "repo": repo,
                "duplicate": {"number": dup_n, "url": url(repo, dup_n), "title": dup_title},
                "original": {"number": orig_n, "url": url(repo, orig_n), "title": orig_title},
                "split": split_of(repo),
            }
        )
    cluster: dict[tuple[str, int], list[int]] = {}
    for repo, num, orig in rows("cluster.tsv"):
        cluster.setdefault((repo, int(num)), []).append(int(orig))
    distractors = []
    dseen = set()
    for repo, num, title in rows("titles.tsv"):
        key = (repo, int(num))
        if key in members or key in dseen:
            continue
        dseen.add(key)
        d = {"repo": repo, "number": int(num), "url": url(repo, int(num)), "title": title}
        if key in cluster:
            d["same_request_as"] = sorted(set(cluster[key]))
        distractors.append(d)
    with (HERE / "pairs.jsonl").open("w", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    with (HERE / "distractors.jsonl").open("w", encoding="utf-8") as f:
        for d in distractors:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    n_dev = sum(p["split"] == "dev" for p in pairs)
    print(
        f"{len(pairs)} pairs ({n_dev} dev, {len(pairs) - n_dev} held-out) "
        f"from {len({p['repo'] for p in pairs})} repos; {len(distractors)} distractors"
    )


if __name__ == "__main__":
    main()
