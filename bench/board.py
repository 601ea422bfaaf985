"""Board-scale latency of the feedback service: top, vote, capture, merge/unmerge.

Builds one board with (by default) 100k items, 20k people, 1M votes with a
skewed popularity and 5k merges, bulk-loaded with SQLAlchemy Core (the service
would take hours), computes the groups' backers with one ``INSERT ... SELECT``,
checks a sample of it, then times the real service calls.

Targets (issue): top 20 < 5 ms, one vote < 2 ms p50, capture with duplicate
suggestions < 50 ms (the per-board duplicate index is built on first use and
timed separately).

Run:
    python bench/board.py                 # SQLite file in a temp dir
    python bench/board.py --pg            # PostgreSQL, database lodestar_bench
    python bench/board.py --quick --json  # 10k items / 100k votes / 500 merges

``main(argv)`` returns a markdown section (used by bench/run_all.py).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from sqlalchemy import Engine, event, func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bot.app import Lodestar  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.context import Caller  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import (  # noqa: E402
    Board,
    Identity,
    Item,
    MergeEvent,
    Person,
    Vote,
    Workspace,
)
from storage.repositories import BoardRepository  # noqa: E402
from storage.uow import Database  # noqa: E402

PG_ADMIN_ENV = "LODESTAR_BENCH_PG_URL"
PG_ADMIN_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_DB = "lodestar_bench"
PLATFORM, WORKSPACE = "console", "bench"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
BATCH = 50_000

TARGETS_MS = {"top": 5.0, "vote": 2.0, "capture": 50.0}

# ----------------------------------------------------------------------------- texts

_VERBS = [
    "Add", "Support", "Allow", "Please add", "We need", "Would love", "Can we get",
    "Improve", "Bring back", "Make it possible to use", "Request:", "Let admins configure",
    "Provide", "Offer", "It would be great to have", "Any plans for", "Missing",
    "Enable", "Need better", "Give us",
]  # fmt: skip
_FEATURES = [
    "dark mode", "keyboard shortcuts", "export to CSV", "bulk edit", "two-factor authentication",
    "SSO login", "custom fields", "recurring tasks", "calendar sync", "offline mode",
    "search filters", "email notifications", "Slack integration", "webhooks", "audit log",
    "role-based permissions", "undo and redo", "drag and drop", "snap to grid", "PDF export",
    "markdown support", "emoji reactions", "threaded comments", "timezone support",
    "multi-language UI", "saved views", "Gantt chart", "kanban board", "time tracking",
    "invoice templates", "file attachments", "image previews", "version history",
    "archiving old projects", "import from Trello", "Jira sync", "GitHub integration",
    "custom domains", "API tokens per project", "granular sharing settings", "guest access",
    "read receipts", "scheduled reports", "pivot tables", "conditional formatting",
    "spell check", "voice notes", "screen sharing", "a public roadmap", "usage analytics",
    "data retention policies", "SCIM provisioning", "IP allowlisting", "a zoom slider",
    "column reordering", "sticky table headers", "inline editing", "autosave",
    "a print layout", "high contrast theme", "font size settings", "RTL languages",
    "batch delete", "duplicate detection", "tag colors", "nested folders", "favorites",
    "pinned messages", "a mobile widget", "push notifications", "a desktop app",
    "an Outlook add-in", "Zapier triggers", "a GraphQL API", "SAML", "password policies",
    "login history", "session timeouts", "a trash folder", "restore deleted items",
]  # fmt: skip
_CONTEXTS = [
    "in the mobile app", "on the dashboard", "for admins", "in reports", "for guest users",
    "on Android", "on iOS", "in the web editor", "for large teams", "in the API",
    "on the billing page", "in Safari", "in Firefox", "for enterprise plans", "in the sidebar",
    "in search results", "on the calendar view", "in the inbox", "for shared workspaces",
    "in the CLI", "on tablets", "for every project", "in exports", "in the settings page",
    "for read-only users", "in notifications", "on the home screen", "in the chat panel",
    "for our EU region", "on slow connections", "",
]  # fmt: skip
_REASONS = [
    "because we do it by hand every week", "so managers can review faster",
    "our customers keep asking for it", "it is really slow right now",
    "competitors already have this", "we lose data without it",
    "the current workaround takes hours", "needed for compliance",
    "otherwise we cannot roll it out to the whole company", "it blocks our migration",
    "our designers waste time on this", "support tickets about this pile up",
]  # fmt: skip
_BROKEN = [
    "is broken", "doesn't work", "is too slow", "crashes", "shows the wrong timezone",
    "loses my changes", "is confusing", "times out", "looks blurry", "ignores my settings",
]  # fmt: skip


def feedback_text(rng: random.Random) -> str:
    feature = rng.choice(_FEATURES)
    context = rng.choice(_CONTEXTS)
    shape = rng.random()
    if shape < 0.45:
        out = f"{rng.choice(_VERBS)} {feature} {context}"
    elif shape < 0.65:
        out = f"{feature.capitalize()} {rng.choice(_BROKEN)} {context}"
    elif shape < 0.85:
        out = f"{rng.choice(_VERBS)} {feature} and {rng.choice(_FEATURES)}"
    else:
        out = f"{feature.capitalize()} {context}"
    if rng.random() < 0.35:
        out += f", {rng.choice(_REASONS)}"
    if rng.random() < 0.05:  # a typo
        ws = out.split()
        i = rng.randrange(len(ws))
        w = ws[i]
        if len(w) > 3:
            j = rng.randrange(len(w) - 1)
            ws[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        out = " ".join(ws)
    return " ".join(out.split())


# ----------------------------------------------------------------------------- sizes


@dataclass(frozen=True)
class Size:
    items: int
    people: int
    votes: int
    merges: int


FULL = Size(items=100_000, people=20_000, votes=1_000_000, merges=5_000)
QUICK = Size(items=10_000, people=5_000, votes=100_000, merges=500)


@dataclass
class Result:
    backend: str
    size: Size
    load: dict[str, float] = field(default_factory=dict)
    timings: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    verify: str = ""
    verify_after: str = ""
    plans: dict[str, str] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)


class SqlMeter:
    """Counts statements and the time spent in ``cursor.execute`` (the database's
    share; the rest of an operation's time is Python: ORM, views, the index)."""

    def __init__(self) -> None:
        self.n = 0
        self.secs = 0.0
        self.log: list[tuple[int, float]] = []
        self._t = 0.0

    def install(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_: Any) -> None:
        self._t = time.perf_counter()

    def _after(self, *_: Any) -> None:
        self.n += 1
        self.secs += time.perf_counter() - self._t

    def take(self) -> list[tuple[int, float]]:
        log, self.log = self.log, []
        return log


METER = SqlMeter()


def stats(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(x * 1000.0 for x in samples_s)
    n = len(ms)
    out = {
        "n": n,
        "p50": statistics.median(ms),
        "p99": ms[min(n - 1, round(0.99 * (n - 1)))],
        "mean": statistics.fmean(ms),
        "max": ms[-1],
    }
    log = METER.take()
    if len(log) == n:
        out["sql_stmts"] = statistics.fmean(c for c, _ in log)
        out["sql_ms_p50"] = statistics.median(t * 1000.0 for _, t in log)
    return out


# ----------------------------------------------------------------------------- databases


@dataclass
class Target:
    url: str
    backend: str
    cleanup: Callable[[], None]


def sqlite_target(keep: bool) -> Target:
    tmp = Path(tempfile.mkdtemp(prefix="lodestar-bench-"))
    path = tmp / "board.db"

    def cleanup() -> None:
        if keep:
            print(f"kept {path}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    return Target(f"sqlite:///{path}", "sqlite", cleanup)


def pg_target(keep: bool) -> Target:
    admin_url = os.environ.get(PG_ADMIN_ENV, PG_ADMIN_DEFAULT)
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
    admin.dispose()
    url = make_url(admin_url).set(database=PG_DB).render_as_string(hide_password=False)

    def cleanup() -> None:
        if keep:
            print(f"kept database {PG_DB}", file=sys.stderr)
            return
        eng = make_engine(admin_url, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        eng.dispose()

    return Target(url, "postgresql", cleanup)


def server_versions(pg_url: str | None = None) -> dict[str, str]:
    """SQLite library and PostgreSQL server versions (PG: 'n/a' when unreachable)."""
    out = {"sqlite": sqlite3.sqlite_version, "postgresql": "n/a"}
    try:
        eng = make_engine(pg_url or os.environ.get(PG_ADMIN_ENV, PG_ADMIN_DEFAULT))
        with eng.connect() as conn:
            out["postgresql"] = str(conn.scalar(text("SHOW server_version")))
        eng.dispose()
    except Exception as exc:  # any failure means "not available"
        out["postgresql"] = f"n/a ({type(exc).__name__})"
    return out


# ----------------------------------------------------------------------------- loading


def _batches(n: int, size: int = BATCH) -> Iterator[tuple[int, int]]:
    for lo in range(0, n, size):
        yield lo, min(n, lo + size)


def _zipf_weights(n: int, offset: float, a: float) -> np.ndarray:
    w = 1.0 / (np.arange(n, dtype=np.float64) + offset) ** a
    return w / w.sum()


def make_votes(size: Size, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``size.votes`` unique (item index, person index) pairs, both skewed; and the
    item popularity ranking (item index by rank) used to pick merge targets."""
    gen = np.random.default_rng(seed)
    item_rank = gen.permutation(size.items)  # rank -> item index
    person_rank = gen.permutation(size.people)
    p_item = _zipf_weights(size.items, 20.0, 1.1)
    p_person = _zipf_weights(size.people, 50.0, 0.7)
    keys = np.empty(0, dtype=np.int64)
    while keys.size < size.votes:
        draw = int((size.votes - keys.size) * 1.3) + 1000
        it = item_rank[gen.choice(size.items, draw, p=p_item)].astype(np.int64)
        pe = person_rank[gen.choice(size.people, draw, p=p_person)].astype(np.int64)
        keys = np.unique(np.concatenate([keys, it * size.people + pe]))
    keys = np.sort(gen.choice(keys, size.votes, replace=False))
    return keys // size.people, keys % size.people, item_rank


def load(
    engine: Engine, size: Size, seed: int, result: Result, analyze_sqlite: bool = False
) -> dict[str, Any]:
    """Bulk-load one board; returns ids the measurements need."""
    rng = random.Random(seed)
    t_all = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(Board), [{"id": 1, "name": "Bench", "next_number": size.items + 1,
                                      "created_at": T0}])  # fmt: skip
        conn.execute(insert(Workspace), [{"id": 1, "board_id": 1, "platform": PLATFORM,
                                          "external_id": WORKSPACE, "name": "Bench",
                                          "created_at": T0}])  # fmt: skip
        t = time.perf_counter()
        for lo, hi in _batches(size.people):
            conn.execute(insert(Person), [
                {"id": i + 1, "display_name": f"Person {i}", "muted": False, "created_at": T0}
                for i in range(lo, hi)
            ])  # fmt: skip
            conn.execute(insert(Identity), [
                {"id": i + 1, "person_id": i + 1, "workspace_id": 1, "external_id": f"u{i}",
                 "display_name": f"Person {i}"}
                for i in range(lo, hi)
            ])  # fmt: skip
        result.load["people"] = time.perf_counter() - t

        t = time.perf_counter()
        statuses = ["new"] * 85 + ["planned"] * 7 + ["in-progress"] * 3 + ["shipped"] * 3
        statuses += ["declined"] * 2
        req_w = _zipf_weights(size.people, 50.0, 0.5)
        requesters = np.random.default_rng(seed + 1).choice(size.people, size.items, p=req_w)
        for lo, hi in _batches(size.items):
            rows = []
            for i in range(lo, hi):
                at = T0 + timedelta(minutes=i)
                rows.append({
                    "id": i + 1, "board_id": 1, "number": i + 1, "text": feedback_text(rng),
                    "status": rng.choice(statuses), "requester_id": int(requesters[i]) + 1,
                    "merged_into_id": None, "head_id": i + 1, "demand": 0,
                    "linked_metric": None, "created_at": at, "updated_at": at,
                })  # fmt: skip
            conn.execute(insert(Item), rows)
        result.load["items"] = time.perf_counter() - t

        t = time.perf_counter()
        v_items, v_people, item_rank = make_votes(size, seed + 2)
        result.load["votes_generate"] = time.perf_counter() - t
        t = time.perf_counter()
        for lo, hi in _batches(size.votes):
            conn.execute(insert(Vote), [
                {"board_id": 1, "item_id": int(a) + 1, "person_id": int(b) + 1,
                 "created_at": T0 + timedelta(seconds=int(a) * 60 + int(b) % 50_000)}
                for a, b in zip(v_items[lo:hi].tolist(), v_people[lo:hi].tolist(), strict=True)
            ])  # fmt: skip
        result.load["votes"] = time.perf_counter() - t

        # Merges: distinct sources; targets are never sources (so they stay heads),
        # picked by popularity (duplicates pile onto the popular items).
        t = time.perf_counter()
        gen = np.random.default_rng(seed + 3)
        sources = gen.choice(size.items, size.merges, replace=False)
        src_set = set(sources.tolist())
        p_rank = _zipf_weights(size.items, 20.0, 0.9)
        pairs = []
        for s in sources.tolist():
            while True:
                tgt = int(item_rank[gen.choice(size.items, p=p_rank)])
                if tgt not in src_set:
                    break
            pairs.append({"s": s + 1, "t": tgt + 1})
        conn.execute(
            text("UPDATE items SET merged_into_id = :t, head_id = :t WHERE id = :s"), pairs
        )
        conn.execute(insert(MergeEvent), [
            {"board_id": 1, "item_id": p["s"], "into_id": p["t"], "action": "merge",
             "by_id": 1, "at": T0 + timedelta(days=30)}
            for p in pairs
        ])  # fmt: skip
        result.load["merges"] = time.perf_counter() - t

        # The backers, exactly: requester once per item + one per vote, by group.
        t = time.perf_counter()
        conn.execute(text("""
            INSERT INTO backers (head_id, person_id, board_id, weight)
            SELECT head_id, person_id, 1, COUNT(*) FROM (
                SELECT i.head_id AS head_id, i.requester_id AS person_id
                  FROM items i WHERE i.board_id = 1
                UNION ALL
                SELECT i.head_id, v.person_id
                  FROM votes v JOIN items i ON i.id = v.item_id WHERE v.board_id = 1
            ) s GROUP BY head_id, person_id
        """))  # fmt: skip
        conn.execute(text("""
            UPDATE items SET demand = c.n
              FROM (SELECT head_id, COUNT(*) AS n FROM backers GROUP BY head_id) c
             WHERE items.id = c.head_id AND items.merged_into_id IS NULL
        """))  # fmt: skip
        result.load["backers"] = time.perf_counter() - t
    if engine.dialect.name == "postgresql":  # ids were given: move the sequences on
        with engine.begin() as conn:
            for table in ("boards", "workspaces", "people", "identities", "items"):
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                ))  # fmt: skip
    t = time.perf_counter()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        result.notes.append("PostgreSQL: VACUUM ANALYZE after load (as autovacuum would).")
    elif analyze_sqlite:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        result.notes.append("SQLite: ANALYZE after load (--sqlite-analyze).")
    else:
        result.notes.append("SQLite: no ANALYZE (Lodestar never runs it), as in production.")
    result.load["analyze"] = time.perf_counter() - t
    result.load["total"] = time.perf_counter() - t_all
    return {"targets": sorted({p["t"] for p in pairs}), "sources": [p["s"] for p in pairs]}


def verify(engine: Engine, targets: list[int], seed: int) -> str:
    """Demand of 20 group heads (10 merge targets, 10 others) == distinct people behind
    the item and the items merged into it, counted from requesters and votes."""
    rng = random.Random(seed)
    with engine.connect() as conn:
        heads = rng.sample(targets, min(10, len(targets)))
        plain = conn.scalars(text(
            "SELECT id FROM items WHERE merged_into_id IS NULL AND demand > 1 "
            "ORDER BY id LIMIT 2000"
        )).all()  # fmt: skip
        heads += rng.sample(list(plain), min(10, len(plain)))
        bad = []
        for head in heads:
            want = conn.scalar(text("""
                SELECT COUNT(DISTINCT p) FROM (
                    SELECT requester_id AS p FROM items WHERE id = :r OR merged_into_id = :r
                    UNION ALL
                    SELECT v.person_id FROM votes v JOIN items i ON i.id = v.item_id
                     WHERE i.id = :r OR i.merged_into_id = :r
                ) s
            """), {"r": head})  # fmt: skip
            got = conn.scalar(text("SELECT demand FROM items WHERE id = :r"), {"r": head})
            if want != got:
                bad.append((head, got, want))
        zero = conn.scalar(text("SELECT COUNT(*) FROM items WHERE merged_into_id IS NOT NULL "
                                "AND demand <> 0"))  # fmt: skip
    if bad or zero:
        return f"FAIL ({len(bad)} of {len(heads)} heads wrong: {bad[:3]}; merged demand<>0: {zero})"
    return f"OK ({len(heads)} heads, incl. {min(10, len(targets))} merge targets)"


# ----------------------------------------------------------------------------- measuring


def caller(i: int, *, admin: bool = False) -> Caller:
    return Caller(PLATFORM, WORKSPACE, f"u{i}", f"Person {i}", is_platform_admin=admin)


def timed(fn: Callable[[], Any]) -> float:
    n0, s0 = METER.n, METER.secs
    t = time.perf_counter()
    fn()
    wall = time.perf_counter() - t
    METER.log.append((METER.n - n0, METER.secs - s0))
    return wall


def profile(fn: Callable[[], Any], runs: int, top: int = 18) -> str:
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(runs):
        fn()
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(top)
    return "\n".join(ln for ln in buf.getvalue().splitlines() if ln.strip())


def explain(engine: Engine, sql: str, params: dict[str, Any]) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("EXPLAIN QUERY PLAN " + sql), params).all()
            return "\n".join(str(r[-1]) for r in rows)
        rows = conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql), params).all()
        return "\n".join(r[0] for r in rows)


def measure(
    engine: Engine, size: Size, seed: int, args: argparse.Namespace, result: Result
) -> None:
    rng = random.Random(seed + 10)
    METER.install(engine)
    app = Lodestar.build(Database(engine), SystemClock())
    fb = app.board
    me = caller(0)

    # top, through the service
    for _ in range(10):
        fb.top(me, 20)
    result.timings["top 20 (service)"] = stats([timed(lambda: fb.top(me, 20))
                                                for _ in range(args.top_runs)])  # fmt: skip

    # top, repository only (ORM objects, one session each) and Core SQL only
    def repo_top() -> None:
        with Session(engine) as s:
            BoardRepository(s, 1).top(20)

    for _ in range(10):
        repo_top()
    result.timings["top 20 (repo.top, ORM)"] = stats([timed(repo_top)
                                                     for _ in range(args.top_runs)])  # fmt: skip
    with Session(engine) as s:
        top_stmt = (
            select(Item.id)
            .where(Item.board_id == 1, Item.merged_into_id.is_(None),
                   Item.status.in_(("new", "planned", "in-progress")))
            .order_by(Item.demand.desc(), Item.number)
            .limit(20)
        )  # fmt: skip
        top_ids = list(s.scalars(top_stmt))
    with engine.connect() as conn:
        core_stmt = top_stmt.with_only_columns(*Item.__table__.c)
        core = [timed(lambda: conn.execute(core_stmt).all()) for _ in range(args.top_runs)]
        result.timings["top 20 (SQL only, Core)"] = stats(core)
        counts = select(Vote.item_id).where(Vote.item_id.in_(top_ids))
        id_list = ", ".join(str(i) for i in top_ids)
        vc_sql = (
            f"SELECT item_id, count(*) FROM votes WHERE item_id IN ({id_list}) GROUP BY item_id"
        )
        vc = [timed(lambda: conn.execute(text(vc_sql)).all()) for _ in range(args.top_runs)]
        result.timings["counting votes of the top 20 in SQL (what items.votes saves)"] = stats(vc)
        n_top_votes = conn.scalar(select(func.count()).select_from(counts.subquery()))
    result.notes.append(f"The top 20 items carry {n_top_votes:,} votes between them.")
    top_sql = (
        "SELECT id FROM items WHERE board_id = 1 AND merged_into_id IS NULL "
        "AND status IN ('new', 'planned', 'in-progress') ORDER BY demand DESC, number LIMIT 20"
    )
    result.plans["top"] = explain(engine, top_sql, {})
    result.plans["vote_counts"] = explain(engine, vc_sql, {})
    if args.profile:
        result.profiles["top"] = profile(lambda: fb.top(me, 20), 100)

    # votes: random (person, item) pairs not voted yet
    def fresh_pairs(n: int) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        seen: set[tuple[int, int]] = set()
        with engine.connect() as conn:
            while len(out) < n:
                p, i = rng.randrange(size.people), rng.randrange(1, size.items + 1)
                if (p, i) in seen:
                    continue
                voted = conn.scalar(
                    text("SELECT 1 FROM votes WHERE item_id = :i AND person_id = :p"),
                    {"i": i, "p": p + 1},
                )
                if voted is None:
                    seen.add((p, i))
                    out.append((p, i))
        return out

    pairs = fresh_pairs(args.vote_runs + 20 + (300 if args.profile else 0))
    for p, i in pairs[:20]:
        fb.vote(caller(p), i)
    samples = []
    changed = 0
    for p, i in pairs[20 : 20 + args.vote_runs]:
        box: list[Any] = []
        samples.append(timed(lambda p=p, i=i, box=box: box.append(fb.vote(caller(p), i))))
        changed += box[0].changed
    result.timings["vote (service)"] = stats(samples)
    if changed != args.vote_runs:
        result.notes.append(f"WARNING: only {changed} of {args.vote_runs} votes changed anything")
    if args.profile:
        rest = iter(pairs[20 + args.vote_runs :])

        def one_vote() -> None:
            p, i = next(rest)
            fb.vote(caller(p), i)

        result.profiles["vote"] = profile(one_vote, 150)

    # capture: first call builds the board's duplicate index
    with Session(engine) as s:
        t = time.perf_counter()
        n_texts = len(BoardRepository(s, 1).texts_since(0))
        result.load["capture: fetch all texts (part of first capture)"] = time.perf_counter() - t
    qrng = random.Random(seed + 20)
    box: list[Any] = []
    first_text = feedback_text(qrng)
    wall = timed(lambda: box.append(fb.capture(me, first_text)))
    first = box[0]
    result.timings["capture, first (builds index)"] = stats([wall])
    result.notes.append(f"Duplicate index built over {n_texts:,} item texts on first capture.")
    samples, with_sugg = [], int(bool(first.suggestions))
    for k in range(args.capture_runs):
        body = feedback_text(qrng)
        who = caller(k % size.people)
        box = []
        samples.append(timed(lambda who=who, body=body, box=box: box.append(fb.capture(who, body))))
        with_sugg += bool(box[0].suggestions)
    result.timings["capture, steady"] = stats(samples)
    result.notes.append(
        f"{with_sugg} of {args.capture_runs + 1} captures came back with duplicate suggestions."
    )
    if args.profile:
        result.profiles["capture"] = profile(lambda: fb.capture(me, feedback_text(qrng)), 50)

    # merge + unmerge: a group of ~50 people (not a merge target) into another group
    with engine.connect() as conn:
        cands = conn.scalars(text("""
            SELECT i.id FROM items i
             WHERE i.merged_into_id IS NULL AND i.demand BETWEEN 45 AND 55
               AND NOT EXISTS (SELECT 1 FROM items c WHERE c.merged_into_id = i.id)
             ORDER BY i.id
        """)).all()  # fmt: skip
        into = conn.scalars(text(
            "SELECT id FROM items WHERE merged_into_id IS NULL AND demand BETWEEN 5 AND 500 "
            "ORDER BY id"
        )).all()  # fmt: skip
    cands = rng.sample(list(cands), min(args.merge_runs, len(cands)))
    admin = caller(0, admin=True)
    m_s: list[float] = []
    u_s: list[float] = []
    m_log: list[tuple[int, float]] = []
    u_log: list[tuple[int, float]] = []
    for a in cands:
        b = rng.choice(into)
        while b == a:
            b = rng.choice(into)
        m_s.append(timed(lambda a=a, b=b: app.merges.merge(admin, a, b)))
        m_log.append(METER.log.pop())
        u_s.append(timed(lambda a=a: app.merges.unmerge(admin, a)))
        u_log.append(METER.log.pop())
    if m_s:
        METER.log = m_log
        result.timings["merge (~50 people)"] = stats(m_s)
        METER.log = u_log
        result.timings["unmerge (~50 people)"] = stats(u_s)
        if args.profile:
            a, b = cands[0], into[0] if into[0] != cands[0] else into[1]
            result.profiles["merge+unmerge"] = profile(
                lambda: (app.merges.merge(admin, a, b), app.merges.unmerge(admin, a)), 10
            )
    else:
        result.notes.append("No group with 45..55 backers found: merge not measured.")
    # The board must still be exact after all that.
    with engine.connect() as conn:
        targets = conn.scalars(text(
            "SELECT DISTINCT merged_into_id FROM items WHERE merged_into_id IS NOT NULL"
        )).all()  # fmt: skip
    result.verify_after = verify(engine, list(targets), seed + 30)


# ----------------------------------------------------------------------------- output


def _target_of(name: str) -> float | None:
    if name.startswith("top 20 (service)"):
        return TARGETS_MS["top"]
    if name.startswith("vote (service)"):
        return TARGETS_MS["vote"]
    if name.startswith("capture, steady"):
        return TARGETS_MS["capture"]
    return None


def markdown(result: Result, with_profiles: bool) -> str:
    s = result.size
    loadavg = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    out = [
        f"## Board at scale — {result.backend}",
        "",
        f"{s.items:,} items, {s.people:,} people, {s.votes:,} votes, {s.merges:,} merges "
        f"on one board. Load average after the run (1/5/15 min): {loadavg}.",
        "",
        f"Demand check after load: **{result.verify}**; after the measurements: "
        f"**{result.verify_after or 'n/a'}**.",
        "",
        "| operation | runs | p50 ms | p99 ms | max ms | SQL stmts/op | SQL ms p50 "
        "| target | met |",
        "|---|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for name, st in result.timings.items():
        tgt = _target_of(name)
        met = "" if tgt is None else ("yes" if st["p50"] < tgt else "**no**")
        sql = f"{st['sql_stmts']:.1f} | {st['sql_ms_p50']:.2f}" if "sql_stmts" in st else " | "
        out.append(
            f"| {name} | {st['n']} | {st['p50']:.2f} | {st['p99']:.2f} | {st['max']:.2f} | "
            f"{sql} | {'' if tgt is None else f'< {tgt:g}'} | {met} |"
        )
    out += ["", "Load (seconds):", "", "| step | s |", "|---|---:|"]
    out += [f"| {k} | {v:.2f} |" for k, v in result.load.items()]
    if result.notes:
        out += ["", *[f"- {n}" for n in result.notes]]
    for name, plan in result.plans.items():
        out += ["", f"Plan of `{name}`:", "", "```", plan, "```"]
    if with_profiles:
        for name, prof in result.profiles.items():
            out += ["", f"Profile of `{name}` (cProfile, cumulative):", "", "```", prof, "```"]
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace) -> Result:
    size = QUICK if args.quick else FULL
    size = Size(
        items=args.items or size.items,
        people=args.people or size.people,
        votes=args.votes or size.votes,
        merges=args.merges if args.merges is not None else size.merges,
    )
    target = pg_target(args.keep) if args.pg else sqlite_target(args.keep)
    result = Result(target.backend, size)
    try:
        engine = make_engine(target.url)
        t = time.perf_counter()
        upgrade(engine)
        result.load["migrate"] = time.perf_counter() - t
        ids = load(engine, size, args.seed, result, args.sqlite_analyze)
        result.verify = verify(engine, ids["targets"], args.seed)
        print(f"[board/{target.backend}] loaded in {result.load['total']:.1f}s, "
              f"demand {result.verify}", file=sys.stderr)  # fmt: skip
        measure(engine, size, args.seed, args, result)
        engine.dispose()
    finally:
        target.cleanup()
    return result


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pg", action="store_true", help=f"PostgreSQL ({PG_ADMIN_ENV} or local)")
    p.add_argument("--quick", action="store_true", help="10k items / 100k votes / 500 merges")
    p.add_argument("--items", type=int)
    p.add_argument("--people", type=int)
    p.add_argument("--votes", type=int)
    p.add_argument("--merges", type=int)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--top-runs", type=int, default=200)
    p.add_argument("--vote-runs", type=int, default=1000)
    p.add_argument("--capture-runs", type=int, default=200)
    p.add_argument("--merge-runs", type=int, default=50)
    p.add_argument("--sqlite-analyze", action="store_true", help="run ANALYZE after loading")
    p.add_argument("--profile", action="store_true", help="add cProfile of each operation")
    p.add_argument("--keep", action="store_true", help="keep the database afterwards")
    p.add_argument("--json", nargs="?", const="-", metavar="PATH",
                   help="also write the figures as JSON (to stdout without PATH)")  # fmt: skip
    return p


def main(argv: list[str] | None = None) -> str:
    args = parser().parse_args(argv)
    result = run(args)
    if args.json:
        doc = {
            "backend": result.backend,
            "size": result.size.__dict__,
            "load_s": result.load,
            "timings_ms": result.timings,
            "verify": result.verify,
            "verify_after": result.verify_after,
            "notes": result.notes,
            "loadavg": os.getloadavg(),
        }
        if args.json == "-":
            print(json.dumps(doc, indent=2))
        else:
            Path(args.json).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return markdown(result, args.profile)


if __name__ == "__main__":
    print(main(sys.argv[1:]))
