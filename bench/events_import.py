"""Raw events at scale: `lodestar events import` memory and time, then reads of an
event-fed metric with the events stored.

Generates a JSON lines file of 1,000,000 events over the last 52 weeks (mostly
``file_edited`` by 20,000 accounts, with properties) and a 2,000,000-line file
whose last line is broken. On a fresh database it runs, as subprocesses of the
real command line (under ``/usr/bin/time -v`` for peak RSS when it exists):

1. the 2M file with the bad last line — must exit 2 and store nothing;
2. the 1M file — stores every event;
3. the 1M file again — adds nothing.

Then it times `/nsm history active_accounts 12` through `lodestar console -c`
(process wall time, next to the same process doing nothing), and in-process the
service reads behind history, the chart (53 weeks) and alerts (the whole series).

Run:
    python bench/events_import.py                  # SQLite file in a temp dir
    python bench/events_import.py --pg [URL]       # PostgreSQL: database lodestar_bench_events
    python bench/events_import.py --quick          # 20k / 40k lines

``main(argv)`` returns a markdown section (used by bench/run_all.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.app import Lodestar  # noqa: E402
from bot.nsm.config import parse_config  # noqa: E402
from bot.nsm.periods import current_week  # noqa: E402
from storage.db import make_engine  # noqa: E402
from storage.models import ProductEvent  # noqa: E402

PG_ENV = "LODESTAR_BENCH_PG_URL"
PG_DEFAULT = os.environ.get(
    "LODESTAR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PG_DB = "lodestar_bench_events"
TIME = Path("/usr/bin/time")
METRIC = "active_accounts"
CONFIG = f"""\
[nsm]
north_star = "{METRIC}"

[metrics.{METRIC}]
name = "Active accounts"
events = {{ unique_actors_of = "file_edited" }}

[metrics.projects]
name = "Projects created"
events = {{ count_of = "project_created" }}
"""
EVENTS = ("file_edited",) * 7 + ("page_viewed",) * 2 + ("project_created",)


@dataclass
class Run:
    step: str
    lines: int
    exit: int
    stored: int
    seconds: float
    cpu_seconds: float | None
    peak_mb: float | None
    said: str


@dataclass
class Result:
    backend: str
    runs: list[Run] = field(default_factory=list)
    reads: list[tuple[str, float]] = field(default_factory=list)
    file_mb: dict[int, float] = field(default_factory=dict)
    load: list[float] = field(default_factory=list)


def write_events(path: Path, lines: int, bad_last: bool, now: datetime, seed: int = 11) -> None:
    """``lines`` events evenly spread over the 52 weeks before ``now`` (distinct
    times, so each is new), the last line broken when ``bad_last``."""
    rng = random.Random(seed)
    start = now - timedelta(weeks=52)
    step = (timedelta(weeks=52) - timedelta(hours=1)) / lines
    with path.open("w", encoding="utf-8") as out:
        for i in range(lines - 1 if bad_last else lines):
            at = (start + step * i).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            actor = f"acct-{int(20000 * rng.random() ** 2):05d}"  # a few accounts do most
            props = {"file": f"f-{rng.randrange(100000)}", "ms": rng.randrange(2000)}
            out.write(
                json.dumps(
                    {
                        "actor": actor,
                        "event": rng.choice(EVENTS),
                        "timestamp": at,
                        "properties": props,
                    }
                )
                + "\n"
            )
        if bad_last:
            out.write('{"actor": "acct-00001", "event": "file_edited", "timestamp": \n')


def run_cli(
    args: list[str], env: dict[str, str]
) -> tuple[int, float, float | None, float | None, str]:
    """Exit code, wall seconds, CPU seconds and peak RSS in MB (None without
    /usr/bin/time), what it said."""
    command = [sys.executable, "-m", "adapters.cli", *args]
    if TIME.exists():
        command = [str(TIME), "-v", *command]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    peak = int(found.group(1)) / 1024 if found else None
    cpu = sum(
        float(m.group(1))
        for m in re.finditer(r"(?:User|System) time \(seconds\): ([\d.]+)", done.stderr)
    )
    said = done.stdout + done.stderr.split("\tCommand being timed")[0]
    said = "\n".join(x for x in said.splitlines() if not x.startswith("Command exited")).strip()
    return done.returncode, seconds, cpu if found else None, peak, said


def stored(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        count = int(conn.scalar(select(func.count()).select_from(ProductEvent)) or 0)
    engine.dispose()
    return count


def median_ms(action: Callable[[], object], runs: int) -> float:
    action()  # warm
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        action()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def pg_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    admin_url = admin_url.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
    admin.dispose()
    url = make_url(admin_url).set(database=PG_DB).render_as_string(hide_password=False)

    def drop() -> None:
        eng = make_engine(admin_url, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
        eng.dispose()

    return url, drop


def run(args: argparse.Namespace) -> Result:
    good_lines = args.lines or (20_000 if args.quick else 1_000_000)
    bad_lines = 2 * good_lines
    now = datetime.now(UTC)
    tmp = Path(tempfile.mkdtemp(prefix="lodestar-events-bench-"))
    drop: Callable[[], None] = lambda: None  # noqa: E731
    try:
        if args.pg:
            url, drop = pg_database(args.pg)
            backend = "postgresql"
        else:
            url, backend = f"sqlite:///{tmp / 'events.db'}", "sqlite"
        result = Result(backend)
        (tmp / "lodestar.toml").write_text(CONFIG, encoding="utf-8")
        env = {**os.environ, "LODESTAR_CONFIG": str(tmp / "lodestar.toml"), "DATABASE_URL": url}
        result.load.append(os.getloadavg()[0])
        code, *_, said = run_cli(["db", "upgrade"], env)
        assert code == 0, said
        good, bad = tmp / "good.jsonl", tmp / "bad.jsonl"
        write_events(good, good_lines, bad_last=False, now=now)
        write_events(bad, bad_lines, bad_last=True, now=now)
        result.file_mb = {
            good_lines: good.stat().st_size / 2**20,
            bad_lines: bad.stat().st_size / 2**20,
        }
        steps = [
            ("bad last line", bad, bad_lines),
            ("fresh import", good, good_lines),
            ("same file again", good, good_lines),
        ]
        for step, path, lines in steps:
            code, seconds, cpu, peak, said = run_cli(["events", "import", str(path)], env)
            count = stored(url)
            result.runs.append(Run(step, lines, code, count, seconds, cpu, peak, said[-160:]))

        history = ["console", "-c", f"/nsm history {METRIC} 12"]
        nothing = ["console", "-c", ":# nothing"]
        for label, argv in (
            ("console: `/nsm history` (process)", history),
            ("console: a comment (process start-up)", nothing),
        ):
            runs = [run_cli(argv, env) for _ in range(3)]
            result.reads.append((f"{label}, wall", statistics.median(r[1] for r in runs) * 1000))
            if all(r[2] is not None for r in runs):
                cpu = statistics.median(r[2] or 0.0 for r in runs) * 1000
                result.reads.append((f"{label}, CPU", cpu))
        app = Lodestar.open(url, config=parse_config(CONFIG))
        last = current_week(now)
        chart = [last.shift(-i) for i in range(52, -1, -1)]
        reads: list[tuple[str, Callable[[], object]]] = [
            (f"in process: history({METRIC}, 12)", lambda: app.nsm.history(METRIC, 12)),
            (
                "in process: weekly(both metrics, 53 weeks) — chart",
                lambda: app.nsm.weekly([METRIC, "projects"], chart),
            ),
            (f"in process: series({METRIC}) — alerts", lambda: app.nsm.series(METRIC)),
        ]
        for label, action in reads:
            result.reads.append((label, median_ms(action, args.runs)))
        app.db.engine.dispose()
        result.load.append(os.getloadavg()[0])
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        drop()


def markdown(result: Result) -> str:
    files = ", ".join(f"{n:,} lines = {mb:.0f} MB" for n, mb in result.file_mb.items())
    lines = [
        f"## Events import and event-metric reads ({result.backend})",
        "",
        f"`python bench/events_import.py{' --pg' if result.backend == 'postgresql' else ''}` "
        f"— JSON lines files: {files}.",
        "",
        "| step | lines | exit | events stored after | wall s | CPU s | peak RSS MB | said |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in result.runs:
        peak = f"{r.peak_mb:.0f}" if r.peak_mb is not None else "n/a"
        cpu = f"{r.cpu_seconds:.1f}" if r.cpu_seconds is not None else "n/a"
        said = r.said.replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {r.step} | {r.lines:,} | {r.exit} | {r.stored:,} | {r.seconds:.1f} | {cpu} "
            f"| {peak} | {said} |"
        )
    lines += ["", "| read, with the events stored | median ms |", "|---|---:|"]
    lines += [f"| {label} | {ms:.1f} |" for label, ms in result.reads]
    load = " → ".join(f"{x:.1f}" for x in result.load)
    lines += [
        "",
        f"1-minute load average at start and end: {load} (wall times suffer from it;"
        " CPU seconds much less).",
    ]
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--pg",
        nargs="?",
        const=os.environ.get(PG_ENV, PG_DEFAULT),
        metavar="URL",
        help=f"PostgreSQL server URL (default ${PG_ENV}, else a local server)",
    )
    p.add_argument("--quick", action="store_true", help="20k good lines, 40k with a bad last")
    p.add_argument("--lines", type=int, help="good lines (the bad file has twice as many)")
    p.add_argument("--runs", type=int, default=5, help="timed runs of each in-process read")
    return p


def main(argv: list[str] | None = None) -> str:
    return markdown(run(parser().parse_args(argv)))


if __name__ == "__main__":
    print(main(sys.argv[1:]))
