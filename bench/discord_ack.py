"""Interaction latency and memory of ``lodestar serve discord`` against the Discord stand-in.

Two processes: the stand-in (``bench/discord_standin.py``: REST API and gateway on one
loopback port) and ``lodestar serve discord`` (SQLite in a temp dir, ``DISCORD_API_URL``
pointing at the stand-in, which also names the gateway). The stand-in measures, on its own
monotonic clock, from dispatching INTERACTION_CREATE for ``/feedback <text>`` to the
arrival of that interaction's callback, with 1 and with 20 interactions in flight (targets:
p99 < 100 ms at 20). Texts vary but share words, so duplicate suggestions are computed.

Memory is VmRSS of the serve process, read from /proc once it is ready: every
GUILD_CREATE written, discord.py's guild-ready wait over, and an interaction answered
after them on the same socket (target: < 150 MB at 1,000 guilds).

    python bench/discord_ack.py [--quick] [--guilds 1000] [--in-flight 20] [--core inline]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.background_server import stop_process  # noqa: E402

BOT_TOKEN = "fake-lodestar-bot-token"  # tests.discord_fake.payloads.BOT_TOKEN
#: discord.py fires ``ready`` 2 s after the last GUILD_CREATE (guild_ready_timeout).
GUILD_READY_WAIT = 2.0
WARMUP = 30
LATENCY_TARGET_MS = 100.0
RSS_TARGET_MB = 150.0


@dataclass(frozen=True)
class Shape:
    """The guilds the bot is in: `guilds` besides the stand-in's default one."""

    guilds: int
    channels: int = 1
    roles: int = 0
    interactions: int = 0  # answered before the memory was read (besides the probe)

    @property
    def label(self) -> str:
        if not self.guilds:
            return "1 guild"
        extra = f", {self.roles} roles" if self.roles else ""
        label = f"{self.guilds + 1:,} guilds ({self.channels} channel(s){extra} each)"
        return label + (f", after {self.interactions:,} interactions" if self.interactions else "")


class StandIn:
    """The stand-in process: one command line in, one JSON line out."""

    def __init__(self, shape: Shape) -> None:
        args = [
            "--guilds",
            str(shape.guilds),
            "--channels",
            str(shape.channels),
            "--roles",
            str(shape.roles),
        ]
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "discord_standin.py"), *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.api_url = self._line()
        if not self.api_url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the Discord stand-in did not start: {self.api_url!r}")

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the Discord stand-in exited")
        return line.strip()

    def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer = json.loads(self._line())
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        stop_process(self.process)


def _start_serve(api_url: str, db: Path, log: Path, core: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "LODESTAR_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        DISCORD_TOKEN=BOT_TOKEN,
        DISCORD_API_URL=api_url,
        DATABASE_URL=f"sqlite:///{db}",
        LODESTAR_DISCORD_CORE=core,
    )
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "serve", "discord"],
            cwd=db.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@dataclass
class Session:
    stand_in: StandIn
    serve: subprocess.Popen[bytes]
    log: Path
    ready_s: float

    def memory(self) -> dict[str, float]:
        """VmRSS and VmHWM (peak) of the serve process, in MB."""
        fields = {}
        for line in Path(f"/proc/{self.serve.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) / 1024
        return fields


@contextlib.contextmanager
def session(shape: Shape, core: str = "thread") -> Iterator[Session]:
    """The stand-in and ``lodestar serve discord``, connected, every guild processed."""
    stand_in = StandIn(shape)
    with tempfile.TemporaryDirectory(prefix="discord-ack-") as tmp:
        log = Path(tmp) / "serve.log"
        started = time.monotonic()
        serve = _start_serve(stand_in.api_url, Path(tmp) / "lodestar.db", log, core)
        try:
            ready = stand_in.ask("ready 120")
            if ready["guild_creates"] != shape.guilds + 1:
                raise RuntimeError(f"expected {shape.guilds + 1} GUILD_CREATEs, got {ready}")
            time.sleep(GUILD_READY_WAIT + 0.5)
            probe = stand_in.ask("measure 1 1")
            if probe["missing"] or serve.poll() is not None:
                raise RuntimeError(f"serve discord did not answer:\n{log.read_text()[-3000:]}")
            yield Session(stand_in, serve, log, time.monotonic() - started)
        finally:
            stop_process(serve)
            stand_in.stop()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Load:
    """One latency measurement: a stand-in command and how to name it."""

    label: str
    command: str
    size: int  # interactions in flight (closed loop) or per burst
    count: int


def _measure(s: Session, load: Load) -> dict[str, Any]:
    pids = (s.serve.pid, s.stand_in.process.pid)
    before = [_cpu_seconds(pid) for pid in pids]
    answer = s.stand_in.ask(load.command)
    time.sleep(0.5)  # the follow-up work of the last interactions (suggestions, cards)
    serve_cpu, stand_in_cpu = (_cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True))
    out = sorted(answer["latencies"])
    summary: dict[str, Any] = {
        "n": len(out),
        "missing": len(answer["missing"]),
        "types": answer["types"],
        "serve_cpu_ms": serve_cpu * 1000 / max(load.count, 1),
        "stand_in_cpu_ms": stand_in_cpu * 1000 / max(load.count, 1),
    }
    if out:
        summary.update(
            p50=statistics.median(out),
            p99=out[min(len(out) - 1, round(0.99 * (len(out) - 1)))],
            max=out[-1],
            rate=len(out) / answer["wall"],
        )
    return summary


def run(shapes: list[Shape], latency_shape: Shape, loads: list[Load], core: str) -> dict[str, Any]:
    memory: list[tuple[Shape, float, dict[str, float]]] = []
    latency: list[tuple[Load, dict[str, Any]]] = []
    for shape in shapes:
        with session(shape, core) as s:
            memory.append((shape, s.ready_s, s.memory()))
            if shape != latency_shape:
                continue
            s.stand_in.ask(f"measure 1 {WARMUP}")
            for load in loads:
                latency.append((load, _measure(s, load)))
            after = replace(shape, interactions=WARMUP + sum(load.count for load in loads))
            memory.append((after, s.ready_s, s.memory()))
    return {"memory": memory, "latency": latency}


def _latency_row(load: Load, r: dict[str, Any]) -> str:
    types = ", ".join(f"{k}: {v}" for k, v in sorted(r["types"].items()))
    cpu = f"{r['serve_cpu_ms']:.1f} | {r['stand_in_cpu_ms']:.1f}"
    if not r["n"]:
        return f"| {load.label} | 0 | | | | | {cpu} | {types} | {r['missing']} | missed |"
    target = ""
    if load.size >= 20:
        target = "met" if r["p99"] < LATENCY_TARGET_MS and not r["missing"] else "**missed**"
    return (
        f"| {load.label} | {r['n']} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} "
        f"| {r['rate']:.0f} | {cpu} | {types} | {r['missing']} | {target} |"
    )


def _markdown(
    result: dict[str, Any], latency_shape: Shape, core: str, load: tuple[tuple[float, ...], ...]
) -> str:
    start, end = (" / ".join(f"{x:.2f}" for x in la) for la in load)
    lines = [
        "## Discord interaction latency and memory (`bench/discord_ack.py`)",
        "",
        f"`lodestar serve discord` (core: {core}, SQLite temp file) against the Discord "
        f"stand-in in another process; {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load average (1/5/15 min) "
        f"{start} at start, {end} at end.",
        "",
        f"From the dispatch of INTERACTION_CREATE for `/feedback <text>` to the arrival of its "
        f"callback, on the stand-in's clock, in {latency_shape.label}; one board (the default "
        f"guild) growing by one item per interaction, after {WARMUP} warm-up interactions. "
        f"“N in flight”: N workers each dispatching their next interaction when the last "
        f"one's callback arrived; “bursts of N”: N dispatched at once, then a pause. CPU: "
        f"user + system time of each process per interaction, follow-up work included (the "
        f"private duplicate suggestions, remembering the card). "
        f"Target: p99 < {LATENCY_TARGET_MS:.0f} ms at 20. Milliseconds.",
        "",
        "| load | interactions | p50 | p99 | max | per s | serve CPU | stand-in CPU "
        "| callbacks (type (status)) | unanswered | p99 target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    lines += [_latency_row(load, r) for load, r in result["latency"]]
    lines += [
        "",
        f"VmRSS of the serve process once ready (every GUILD_CREATE processed, discord.py's "
        f"{GUILD_READY_WAIT:.0f} s guild-ready wait over, one interaction answered); VmHWM is "
        f"its peak. Target: < {RSS_TARGET_MB:.0f} MB at 1,000 guilds.",
        "",
        "| guilds | start to ready (s) | VmRSS (MB) | VmHWM (MB) | target |",
        "|---|---:|---:|---:|---|",
    ]
    for shape, ready_s, mem in result["memory"]:
        target = ""
        if shape.guilds + 1 >= 1000 and not shape.interactions:
            target = "met" if mem["VmRSS"] < RSS_TARGET_MB else "**missed**"
        lines.append(
            f"| {shape.label} | {ready_s:.1f} | {mem['VmRSS']:.1f} | {mem['VmHWM']:.1f} "
            f"| {target} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer interactions, two shapes")
    parser.add_argument("--guilds", type=int, default=1000, help="guilds for the memory rows")
    parser.add_argument("--single", type=int, help="interactions one at a time (300; quick 60)")
    parser.add_argument("--in-flight", type=int, default=20, help="the concurrency measured")
    parser.add_argument("--closed", type=int, help="interactions in the closed loop (1000; 200)")
    parser.add_argument("--bursts", type=int, help="bursts (25; quick 5)")
    parser.add_argument("--core", default="thread", choices=("thread", "inline"))
    args = parser.parse_args(argv)
    single = args.single or (60 if args.quick else 300)
    closed = args.closed or (200 if args.quick else 1000)
    rounds = args.bursts or (5 if args.quick else 25)
    c = args.in_flight
    loads = [
        Load("1 in flight", f"measure 1 {single}", 1, single),
        Load(f"{c} in flight", f"measure {c} {closed}", c, closed),
        Load(f"bursts of {c}", f"burst {c} {rounds} 0.3", c, c * rounds),
    ]
    many = args.guilds - 1  # the stand-in's default guild is one of them
    shapes = [Shape(0), Shape(many)]
    if not args.quick:
        shapes.append(Shape(many, channels=10, roles=5))
    load_start = os.getloadavg()
    result = run(shapes, shapes[1], loads, args.core)
    return _markdown(result, shapes[1], args.core, (load_start, os.getloadavg()))


if __name__ == "__main__":
    print(main(sys.argv[1:]), end="")
