"""Run the registered benchmarks and write docs/benchmarks.md.

Each benchmark is a script under bench/ exposing ``main(argv) -> str`` that
returns a markdown section. Register it in ``BENCHMARKS`` below: a name, the
script's path (relative to bench/), and the arguments it gets (``--quick`` is
appended when run_all is given ``--quick``). One script may be registered
several times with different arguments (board on SQLite and on PostgreSQL).

Run:
    python bench/run_all.py                  # everything, full size
    python bench/run_all.py --quick          # smoke run, small sizes
    python bench/run_all.py --only board-sqlite --out /tmp/b.md
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import inspect
import io
import os
import platform
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Benchmark:
    name: str
    script: str  # relative to bench/
    args: tuple[str, ...] = field(default=())
    quick_flag: str | None = "--quick"  # what --quick becomes for this script (None: nothing)
    title: str = ""  # for scripts that print rather than return their section
    printed: str = ""  # "markdown": what it prints is the section; "text": shown verbatim


# The registry: add a line per benchmark (or per configuration of one).
BENCHMARKS: list[Benchmark] = [
    Benchmark("board-sqlite", "board.py"),
    Benchmark("board-postgresql", "board.py", ("--pg",)),
    Benchmark("slack-ack", "slack_ack.py", quick_flag=None),
    Benchmark("events-import-sqlite", "events_import.py"),
    Benchmark("events-import-postgresql", "events_import.py", ("--pg",)),
    Benchmark("discord-ack", "discord_ack.py"),
    Benchmark("fanout", "fanout.py"),
    Benchmark(
        "alerts-nab",
        "alerts_nab.py",
        quick_flag="--no-speed",
        title="Alert quality: NAB-style score of the default rules",
        printed="markdown",
    ),
    Benchmark(
        "chart-render",
        "chart_render.py",
        quick_flag=None,
        title="Weekly chart: render time (target < 250 ms warm)",
        printed="text",
    ),
    Benchmark(
        "duplicates-quality",
        "duplicates/eval.py",
        quick_flag=None,
        title="Duplicate suggestions: hits in the top 3 on real duplicate pairs",
        printed="text",
    ),
    Benchmark(
        "duplicates-speed",
        "duplicates/speed.py",
        quick_flag=None,
        title="Duplicate suggestions: index build and search at 100k items",
        printed="text",
    ),
]


def call(module: ModuleType, bench: Benchmark, argv: list[str]) -> str:
    """Run a script's main(); for scripts that print, what they print is the section."""
    takes_args = bool(inspect.signature(module.main).parameters)
    if not bench.printed:
        return str(module.main(argv))
    out = io.StringIO()
    saved = sys.argv
    sys.argv = [bench.script, *argv]
    try:
        with contextlib.redirect_stdout(out):
            module.main(argv) if takes_args else module.main()
    finally:
        sys.argv = saved
    body = out.getvalue().strip()
    if bench.printed == "text":
        body = f"```text\n{body}\n```"
    return f"## {bench.title}\n\n`python bench/{bench.script}`\n\n{body}\n"


def load_module(path: Path) -> ModuleType:
    if f"bench_{path.stem}" in sys.modules:
        return sys.modules[f"bench_{path.stem}"]
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


def machine() -> dict[str, str]:
    """nproc, load, Python, SQLite and PostgreSQL versions."""
    board = load_module(HERE / "board.py")
    vers = board.server_versions()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "load average (1/5/15 min) at start": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "sqlite": vers["sqlite"],
        "postgresql": vers["postgresql"],
        "platform": platform.platform(),
        "code": git_state(),
    }


def git_state() -> str:
    """The commit measured, and whether tracked files differed from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.split("\n")
    except OSError:
        return "unknown (no git)"
    changed = [line[3:] for line in dirty if line.strip()]
    return f"{head}" + (f" + uncommitted changes in {', '.join(changed)}" if changed else "")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Run the benchmarks under bench/.")
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    p.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this benchmark (repeatable; a prefix such as 'board' works)",
    )
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    p.add_argument("--list", action="store_true", help="list the registered benchmarks")
    args = p.parse_args(argv)

    if args.list:
        for b in BENCHMARKS:
            print(f"{b.name:24} bench/{b.script} {' '.join(b.args)}")
        return 0
    chosen = [
        b for b in BENCHMARKS if not args.only or any(b.name.startswith(o) for o in args.only)
    ]
    if not chosen:
        p.error(f"no benchmark matches {args.only}; see --list")

    info = machine()
    sections: list[str] = []
    failed = 0
    for bench in chosen:
        path = HERE / bench.script
        if not path.exists():
            sections.append(f"## {bench.name}\n\nSkipped: bench/{bench.script} does not exist.\n")
            continue
        module = load_module(path)
        if not callable(getattr(module, "main", None)):
            sections.append(f"## {bench.name}\n\nSkipped: bench/{bench.script} has no main().\n")
            continue
        argv_b = list(bench.args)
        if args.quick and bench.quick_flag:
            argv_b.append(bench.quick_flag)
        print(f"== {bench.name}: bench/{bench.script} {' '.join(argv_b)}", file=sys.stderr)
        t = time.perf_counter()
        try:
            section = call(module, bench, argv_b)
        except (Exception, SystemExit):
            failed += 1
            section = f"## {bench.name}\n\nFAILED:\n\n```\n{traceback.format_exc()}```\n"
        took = time.perf_counter() - t
        sections.append(f"{section.rstrip()}\n\n_{bench.name}: {took:.0f} s wall clock._\n")
        print(f"== {bench.name}: {took:.0f} s", file=sys.stderr)

    lines = [
        "# Benchmarks",
        "",
        "Written by `python bench/run_all.py"
        + (" --quick" if args.quick else "")
        + "".join(f" --only {o}" for o in args.only or [])
        + "`; do not edit by hand.",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in info.items()],
        f"| load average (1/5/15 min) at end | {' / '.join(f'{x:.2f}' for x in os.getloadavg())} |",
        f"| mode | {'quick' if args.quick else 'full'} |",
        *(
            [f"| code at end (changed during the run!) | {git_state()} |"]
            if git_state() != info["code"]
            else []
        ),
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n" + "\n".join(sections), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
