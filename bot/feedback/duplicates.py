"""Duplicate suggestions for feedback items.

When someone logs "snap to grid", the bot offers up to three existing items
that probably ask for the same thing ("align shapes on a grid").

The engine is pure Python + numpy and keeps everything in memory:

* Text is normalised (chat markup such as ``<@U123>``, ``<!channel>``, links
  and ``:emoji:`` is dropped), split into words, stop words are removed and
  the rest lightly stemmed.
* Every item becomes a set of features: word stems, *concepts* from a small
  hand-written related-term table (``duplicate_synonyms.txt``: "hotkey",
  "keybinding" and "keyboard shortcut" share one concept) and character
  n-grams of the words (robust to typos and word forms).
* An inverted index (feature -> array of item slots) finds candidates: only
  postings of the query's features are touched, weighted by IDF and summed
  with ``numpy.bincount``.
* The best candidates are re-scored exactly: IDF-weighted cosine on the word
  and concept features, fused with the cosine on the character n-grams. The
  score is in [0, 1]; matches below ``MIN_SCORE`` are not suggested.

Everything is deterministic: ties are broken by the caller's key.
"""

from __future__ import annotations

import math
import re
import unicodedata
from array import array
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["MIN_SCORE", "DuplicateIndex", "Match", "TextAnalyzer"]

#: Suggestions scoring below this are not returned.
MIN_SCORE = 0.18
#: Weight of the word/concept cosine in the final score (rest: char n-grams).
WORD_WEIGHT = 0.6
#: Character n-gram similarity only ever raises the word/concept score.
CHAR_CAN_ONLY_HELP = True
#: Stage 1 skips features in more than this share of items (after the 3 best).
STAGE1_MAX_DF = 0.05
#: How many candidates from the inverted index are re-scored exactly.
CANDIDATES = 200
#: Only this much of a text is analysed (items are titles, not essays).
MAX_CHARS = 1000
#: A concept feature counts this much relative to a word stem ...
CONCEPT_WEIGHT = 1.0
#: ... and a word that is part of a matched related-term phrase this much.
COVERED_WEIGHT = 0.6
#: IDF is computed as if the board had at least this many items: on a young
#: board every word is rare, and words the board has never seen would otherwise
#: outweigh the ones it shares with an item.
MIN_IDF_ITEMS = 3000
#: N-gram lengths used for the character features.
NGRAMS = (3, 4)

_SYNONYMS_FILE = Path(__file__).with_name("duplicate_synonyms.txt")


@dataclass(frozen=True)
class Match:
    key: int  # the caller's id for the item
    score: float  # higher = more similar, in [0, 1]


# --------------------------------------------------------------------------- text

_STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be
    because been before being below between both but by can cannot could couldn't
    did didn't do does doesn't doing don't down during each either else etc ever
    every few for from further had hadn't has hasn't have haven't having he her here
    hers herself him himself his how however i i'd i'll i'm i've if in into is isn't
    it it's its itself just let let's like may me might more most much must mustn't
    my myself no nor not now of off on once only or other ought our ours ourselves
    out over own per please pls plz same shall she should shouldn't so some such
    than that that's the their theirs them themselves then there there's these they
    they're this those though through thus to too under until up upon us very via
    was wasn't we we'd we're we've were weren't what what's when where where's
    whether which while who who's whom why will with within without won't would
    wouldn't yet you you'd you'll you're you've your yours yourself yourselves
    feature request requests feat fr suggestion suggest idea enhancement support
    supported allow allowing ability able option options possible possibility add
    adding added want wanted wants need needs needed would could get make makes made
    use using used way ways really still already thanks thank hi hello hey new issue
    bug problem something anything implement implemented implementation enable provide
    introduce nice great love cool awesome function functionality kindly
    """.split()  # noqa: SIM905 (a word list reads better as text)
)

# Chat markup: Slack <@U123|name>, <#C123|chan>, <!channel>, <http://x|label>,
# Discord <@123>, <#123>, <:name:123>, <a:name:123>, plain :emoji:, URLs.
_SLACK_LINK = re.compile(r"<(https?://[^|>]*)\|([^>]*)>")
_ANGLE = re.compile(r"<[^<>]{0,200}>")
_EMOJI = re.compile(r":[a-z0-9_+\-]{1,40}:")
_URL = re.compile(r"https?://\S+|www\.\S+")
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


def _fold(text: str) -> str:
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


def _clean(text: str) -> str:
    text = text[: MAX_CHARS * 2]
    text = _SLACK_LINK.sub(r" \2 ", text)
    text = _ANGLE.sub(" ", text)
    text = _fold(text)
    text = _URL.sub(" ", text)
    text = _EMOJI.sub(" ", text)
    return text[:MAX_CHARS]


def words(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` (chat markup removed)."""
    out = []
    for w in _WORD.findall(_clean(text)):
        w = w.replace("’", "'")
        if w.endswith("'s"):
            w = w[:-2]
        out.append(w)
    return out


_VOWELS = frozenset("aeiouy")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix stripper (a small subset of Porter's rules)."""
    w = word.replace("'", "")
    if len(w) <= 3 or w.isdigit():
        return w
    for suf, rep in (
        ("izations", "ize"),
        ("ization", "ize"),
        ("ational", "ate"),
        ("ations", "ate"),
        ("ation", "ate"),
        ("nesses", ""),
        ("ness", ""),
        ("ments", ""),
        ("ment", ""),
        ("ables", ""),
        ("able", ""),
        ("ibles", ""),
        ("ible", ""),
        ("fully", ""),
        ("ful", ""),
    ):
        if w.endswith(suf) and len(w) - len(suf) >= 4:
            w = w[: -len(suf)] + rep
            break
    if w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
        w = w[:-1]
    for suf in ("ingly", "edly", "ing", "ed", "ly"):
        if w.endswith(suf):
            base = w[: -len(suf)]
            if len(base) >= 3 and _VOWELS.intersection(base):
                w = base
                if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                    w = w[:-1]
            break
    if w.endswith("e") and len(w) > 3:
        w = w[:-1]
    if w.endswith("y") and len(w) > 4 and w[-2] not in _VOWELS:
        w = w[:-1] + "i"
    return w


def _load_groups(path: Path) -> dict[tuple[str, ...], frozenset[str]]:
    """Phrase (as a tuple of words) -> concept ids it belongs to."""
    phrases: dict[tuple[str, ...], set[str]] = {}
    if not path.exists():
        return {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        concept = f"~{n}"
        for entry in line.split(","):
            toks = tuple(stem(w) for w in words(entry))
            if toks:
                phrases.setdefault(toks, set()).add(concept)
    return {k: frozenset(v) for k, v in phrases.items()}


@lru_cache(maxsize=131072)
def _grams(stem_: str, ngrams: tuple[int, ...]) -> tuple[str, ...]:
    padded = f" {stem_} "
    return tuple("#" + padded[j : j + n] for n in ngrams for j in range(len(padded) - n + 1))


class TextAnalyzer:
    """Turns a text into word/concept features and character n-gram features."""

    def __init__(self, synonyms: Path | None = _SYNONYMS_FILE, ngrams=NGRAMS) -> None:
        self.phrases = _load_groups(synonyms) if synonyms else {}
        self.max_phrase = max((len(p) for p in self.phrases), default=0)
        self.ngrams = tuple(ngrams)

    def parts(self, text: str) -> tuple[dict[str, float], list[str]]:
        """(word and concept features with weights, content stems for n-grams)."""
        raw = words(text)
        toks = [stem(w) for w in raw]
        concepts: set[str] = set()
        covered: set[str] = set()
        if self.phrases:
            # Greedy longest match, left to right: "trash folder" yields the
            # trash concept only, not also the folder concept of its last word.
            i = 0
            while i < len(toks):
                for n in range(min(self.max_phrase, len(toks) - i), 0, -1):
                    found = self.phrases.get(tuple(toks[i : i + n]))
                    if found:
                        concepts.update(found)
                        covered.update(toks[i : i + n])
                        i += n
                        break
                else:
                    i += 1
        content = [t for w, t in zip(raw, toks, strict=True) if len(w) > 1 and w not in _STOPWORDS]
        counts: dict[str, float] = {}
        for t in content:
            counts[t] = counts.get(t, 0.0) + 1.0
        feats: dict[str, float] = {}
        for t, c in counts.items():
            w = 1.0 + math.log(c)
            feats[t] = w * COVERED_WEIGHT if t in covered else w
        for c in concepts:
            feats[c] = CONCEPT_WEIGHT
        return feats, list(counts)

    def grams(self, stem_: str) -> tuple[str, ...]:
        return _grams(stem_, self.ngrams)

    def analyze(self, text: str) -> tuple[dict[str, float], dict[str, float]]:
        """(word and concept features, character n-gram features), with weights."""
        feats, stems = self.parts(text)
        chars: dict[str, float] = {}
        for t in stems:
            chars.update(dict.fromkeys(self.grams(t), 1.0))
        return feats, chars


# -------------------------------------------------------------------------- index


class DuplicateIndex:
    """In-memory index of one board's item texts."""

    def __init__(self, analyzer: TextAnalyzer | None = None) -> None:
        self._an = analyzer if analyzer is not None else _default_analyzer()
        self._vocab: dict[str, int] = {}
        self._is_char = array("b")
        self._df = array("i")
        self._postings: list[array] = []
        self._cache: dict[int, np.ndarray] = {}
        self._gram_fids: dict[str, tuple[int, ...]] = {}
        # per slot
        self._keys: list[int] = []
        self._alive = array("b")
        self._fids: list[np.ndarray | None] = []
        self._fws: list[np.ndarray | None] = []
        self._slot_of: dict[int, int] = {}
        self._dead = 0

    # ------------------------------------------------------------ mutation
    def _fid(self, feature: str, is_char: int) -> int:
        fid = self._vocab.get(feature)
        if fid is None:
            fid = len(self._postings)
            self._vocab[feature] = fid
            self._postings.append(array("i"))
            self._df.append(0)
            self._is_char.append(is_char)
        return fid

    def add(self, key: int, text: str) -> None:
        """Index ``text`` under ``key``; re-adding a key replaces its text."""
        if key in self._slot_of:
            self.discard(key)
        feats, stems = self._an.parts(text or "")
        slot = len(self._keys)
        fids = [self._fid(f, 0) for f in feats]
        fws = list(feats.values())
        char_fids: set[int] = set()
        gram_fids = self._gram_fids
        for t in stems:
            g = gram_fids.get(t)
            if g is None:
                g = gram_fids[t] = tuple(self._fid(x, 1) for x in self._an.grams(t))
            char_fids.update(g)
        fids.extend(char_fids)
        fws.extend([1.0] * len(char_fids))
        postings, df = self._postings, self._df
        for fid in fids:
            postings[fid].append(slot)
            df[fid] += 1
        self._keys.append(key)
        self._alive.append(1)
        self._fids.append(np.array(fids, dtype=np.int32))
        self._fws.append(np.array(fws, dtype=np.float32))
        self._slot_of[key] = slot

    def discard(self, key: int) -> None:
        """Forget ``key``; no error if it is not indexed."""
        slot = self._slot_of.pop(key, None)
        if slot is None:
            return
        self._alive[slot] = 0
        fids = self._fids[slot]
        if fids is not None:
            for fid in fids.tolist():
                self._df[fid] -= 1
        self._fids[slot] = None
        self._fws[slot] = None
        self._dead += 1
        if self._dead > 1000 and self._dead > len(self._slot_of):
            self._compact()

    def _compact(self) -> None:
        """Drop dead slots from the postings (amortised; keeps ids stable)."""
        old_alive = np.frombuffer(self._alive, dtype=np.int8).astype(bool)
        new_slot = np.cumsum(old_alive) - 1
        self._keys = [k for k, a in zip(self._keys, old_alive, strict=True) if a]
        self._fids = [f for f, a in zip(self._fids, old_alive, strict=True) if a]
        self._fws = [f for f, a in zip(self._fws, old_alive, strict=True) if a]
        self._alive = array("b", [1] * len(self._keys))
        self._slot_of = {k: i for i, k in enumerate(self._keys)}
        for fid, post in enumerate(self._postings):
            if not post:
                continue
            arr = np.frombuffer(post, dtype=np.int32)
            arr = new_slot[arr[old_alive[arr]]].astype(np.int32)
            self._postings[fid] = array("i", arr.tobytes())
        self._cache.clear()
        self._dead = 0

    # --------------------------------------------------------------- query
    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, key: object) -> bool:
        return key in self._slot_of

    def _posting(self, fid: int) -> np.ndarray:
        post = self._postings[fid]
        arr = self._cache.get(fid)
        if arr is None or arr.shape[0] != len(post):
            arr = np.frombuffer(post, dtype=np.int32).copy()
            self._cache[fid] = arr
        return arr

    def search(self, text: str, limit: int = 3, *, exclude: Collection[int] = ()) -> list[Match]:
        """Up to ``limit`` indexed items most likely duplicating ``text``."""
        if limit <= 0 or not self._slot_of or not text:
            return []
        n_live = max(len(self._slot_of), MIN_IDF_ITEMS)
        word_feats, char_feats = self._an.analyze(text)
        q_fids: list[int] = []
        q_ws: list[float] = []
        for feats in (word_feats, char_feats):
            for f, w in feats.items():
                fid = self._vocab.get(f)
                if fid is not None and self._df[fid] > 0:
                    q_fids.append(fid)
                    q_ws.append(w)
        if not q_fids:
            return []
        n_slots = len(self._keys)
        qf = np.array(q_fids, dtype=np.int64)
        df = np.frombuffer(self._df, dtype=np.int32)[qf].astype(np.float64)
        idf = np.log((n_live + 1.0) / (df + 0.5))
        is_char = np.frombuffer(self._is_char, dtype=np.int8)[qf].astype(bool)
        qw = np.array(q_ws, dtype=np.float64) * idf
        # Norms of the query vectors include the query features the index
        # does not know (they still make the query "different").
        q_word_norm, q_char_norm = self._query_norms(word_feats, char_feats, n_live)

        # Stage 1: accumulate over postings (skip features too common to help).
        contrib = qw.copy()
        contrib[is_char] /= max(1.0, math.sqrt(float(is_char.sum())))
        order = np.argsort(-contrib, kind="stable")
        parts, weights = [], []
        max_df = max(50.0, STAGE1_MAX_DF * n_live)
        for i in order.tolist():
            if df[i] > max_df and len(parts) >= 3:
                continue
            post = self._posting(q_fids[i])
            parts.append(post)
            weights.append(np.full(post.shape[0], contrib[i]))
        slots = np.concatenate(parts)
        acc = np.bincount(slots, weights=np.concatenate(weights), minlength=n_slots)
        alive = np.frombuffer(self._alive, dtype=np.int8)
        acc[alive == 0] = 0.0
        if exclude:
            for k in exclude:
                s = self._slot_of.get(k)  # type: ignore[call-overload]
                if s is not None:
                    acc[s] = 0.0
        nz = int(np.count_nonzero(acc))
        if nz == 0:
            return []
        k = min(CANDIDATES, nz)
        cand = np.argpartition(-acc, k - 1)[:k] if k < n_slots else np.arange(n_slots)
        cand = cand[acc[cand] > 0]

        # Stage 2: exact fused cosine on the candidates.
        qmap_w = dict(zip(q_fids, qw.tolist(), strict=True))
        scores = self._rescore(cand, qmap_w, q_word_norm, q_char_norm, n_live)
        out = [
            (float(s), self._keys[int(c)])
            for s, c in zip(scores, cand, strict=True)
            if s >= MIN_SCORE
        ]
        out.sort(key=lambda t: (-t[0], t[1]))
        return [Match(key=key, score=round(min(1.0, s), 6)) for s, key in out[:limit]]

    def _query_norms(self, word_feats, char_feats, n_live) -> tuple[float, float]:
        norms = []
        for feats in (word_feats, char_feats):
            total = 0.0
            for f, w in feats.items():
                fid = self._vocab.get(f)
                d = self._df[fid] if fid is not None else 0
                total += (w * math.log((n_live + 1.0) / (d + 0.5))) ** 2
            norms.append(math.sqrt(total))
        return norms[0], norms[1]

    def _rescore(self, cand, qmap_w, q_word_norm, q_char_norm, n_live) -> np.ndarray:
        fid_list = [self._fids[int(c)] for c in cand]
        fw_list = [self._fws[int(c)] for c in cand]
        lens = np.array([len(f) for f in fid_list], dtype=np.int64)
        if lens.sum() == 0:
            return np.zeros(len(cand))
        fids = np.concatenate(fid_list).astype(np.int64)
        fws = np.concatenate(fw_list).astype(np.float64)
        df = np.frombuffer(self._df, dtype=np.int32)[fids].astype(np.float64)
        dw = fws * np.log((n_live + 1.0) / (df + 0.5))
        is_char = np.frombuffer(self._is_char, dtype=np.int8)[fids].astype(bool)
        # The query's weight of each candidate feature, by binary search over the
        # (few) query features rather than a Python lookup per feature.
        q_keys = np.fromiter(qmap_w.keys(), dtype=np.int64, count=len(qmap_w))
        q_vals = np.fromiter(qmap_w.values(), dtype=np.float64, count=len(qmap_w))
        order = np.argsort(q_keys)
        q_keys, q_vals = q_keys[order], q_vals[order]
        pos = np.minimum(np.searchsorted(q_keys, fids), len(q_keys) - 1)
        qv = np.where(q_keys[pos] == fids, q_vals[pos], 0.0)
        owner = np.repeat(np.arange(len(cand)), lens)
        n = len(cand)
        dot_w = np.bincount(owner, weights=np.where(is_char, 0.0, qv * dw), minlength=n)
        dot_c = np.bincount(owner, weights=np.where(is_char, qv * dw, 0.0), minlength=n)
        nrm_w = np.sqrt(np.bincount(owner, weights=np.where(is_char, 0.0, dw * dw), minlength=n))
        nrm_c = np.sqrt(np.bincount(owner, weights=np.where(is_char, dw * dw, 0.0), minlength=n))
        with np.errstate(divide="ignore", invalid="ignore"):
            cos_w = np.where(nrm_w > 0, dot_w / (nrm_w * (q_word_norm or 1.0)), 0.0)
            cos_c = np.where(nrm_c > 0, dot_c / (nrm_c * (q_char_norm or 1.0)), 0.0)
        # Character n-grams can lift a score (typos, word forms) but not sink
        # a match the word/concept features already agree on.
        if CHAR_CAN_ONLY_HELP:
            cos_c = np.maximum(cos_c, cos_w)
        return np.clip(WORD_WEIGHT * cos_w + (1.0 - WORD_WEIGHT) * cos_c, 0.0, 1.0)

    def extend(self, items: Iterable[tuple[int, str]]) -> None:
        """Add many ``(key, text)`` pairs (start-up convenience)."""
        for key, text in items:
            self.add(key, text)


@lru_cache(maxsize=1)
def _default_analyzer() -> TextAnalyzer:
    return TextAnalyzer()
