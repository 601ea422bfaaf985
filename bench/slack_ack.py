"""Ack latency of a signed ``/feedback <text>`` against ``lodestar serve slack``.

Beside it, in the same run and served the same way (FastAPI + Bolt's async handler
under uvicorn, one process each): a bare Bolt ``AsyncApp`` whose listener only acks,
with default settings and with ``process_before_response=True``. Every server talks to
the same fake Slack Web API (its own process, loopback only). Lodestar's own server
runs twice: with the synchronous core inline on the event loop and in a worker thread.

Latency is from the first byte written to the last byte of the response read, over
keep-alive connections, ``C`` connections each sending requests back to back.

A second scenario starts a fresh ``lodestar serve slack`` on a board of 100,000 items
(bulk-loaded the way ``bench/board.py`` does) and times the very first ``/feedback
<text>`` ack (Slack gives up after 3 s), then an admin's ``/feedback export``, while a
second connection asks ``/healthz`` every 10 ms: how long the event loop is held.

    python bench/slack_ack.py [--levels 1,10,50] [--requests 200,600,1500] [--big-items N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.ack_workload import feedback_text  # noqa: E402
from tests.background_server import stop_process  # noqa: E402

SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-0000-lodestar-test"
WARMUP = 30


# -- servers ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


FAKE_SCRIPT = """
import sys, time
from tests.slack_fake import FakeSlackWebAPI, payloads
fake = FakeSlackWebAPI().start()
fake.add_user(payloads.USER_ID, name="alice")
fake.add_user("U0ADA", name="ada", is_admin=True)
print(fake.api_url, flush=True)
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline and sys.stdin.readline():
    pass
"""

BARE_SCRIPT = """
import sys, uvicorn
from fastapi import FastAPI, Request
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

port, api_url, pbr = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
bolt = AsyncApp(
    signing_secret=sys.argv[4],
    client=AsyncWebClient(token=sys.argv[5], base_url=api_url),
    process_before_response=pbr,
)

@bolt.command("/feedback")
async def feedback(ack):
    await ack()

handler = AsyncSlackRequestHandler(bolt)
web = FastAPI()

@web.get("/healthz")
async def healthz():
    return {"status": "ok"}

@web.post("/slack/events")
async def events(request: Request):
    return await handler.handle(request)

uvicorn.run(web, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    response_url: str = "http://127.0.0.1:9/unused"
    log: Path | None = None  # where its stderr goes (a pipe nobody reads would fill)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        if self.log is not None:
            return self.log.read_text(errors="replace") if self.log.exists() else ""
        return self.process.stderr.read().decode() if self.process.stderr else ""


def _env(api_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.pop("LODESTAR_CONFIG", None)
    env.update(
        PYTHONPATH=str(ROOT),
        SLACK_API_URL=api_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        LODESTAR_HOST="127.0.0.1",
        **extra,
    )
    return env


def _start_lodestar(name: str, api_url: str, db: Path, core: str) -> Server:
    port = _free_port()
    env = _env(api_url, DATABASE_URL=f"sqlite:///{db}", LODESTAR_SLACK_CORE=core)
    log = db.parent / f"server-{port}.log"
    with log.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "serve", "slack", "--port", str(port)],
            cwd=db.parent,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    # Private answers after an ack go to a response_url: the fake's own.
    response_url = api_url.removesuffix("api/") + "response/bench"
    return Server(name, port, process, response_url, log)


def _start_bare(name: str, api_url: str, pbr: bool) -> Server:
    port = _free_port()
    args = [str(port), api_url, "1" if pbr else "0", SECRET, BOT_TOKEN]
    process = subprocess.Popen(
        [sys.executable, "-c", BARE_SCRIPT, *args],
        cwd=ROOT,
        env=_env(api_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return Server(name, port, process)


async def _wait_healthy(server: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.output()}")
        with contextlib.suppress(OSError):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
            await writer.drain()
            status, _ = await _read_response(reader)
            writer.close()
            if status == 200:
                return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{server.name} did not come up within {timeout}s")


@contextlib.contextmanager
def _fake_slack(lifetime: float) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    process = subprocess.Popen(
        [sys.executable, "-c", FAKE_SCRIPT, str(lifetime)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        api_url = process.stdout.readline().strip()
        if not api_url.startswith("http://127.0.0.1:"):
            raise RuntimeError("the fake Slack Web API did not start")
        yield api_url, process
    finally:
        if process.stdin:
            process.stdin.close()
        stop_process(process)


# -- client ----------------------------------------------------------------------------------------


def _signed_request(
    text: str, n: int, user: str = "U0ALICE", response_url: str = "http://127.0.0.1:9/unused"
) -> bytes:
    import hashlib
    import hmac

    body = urlencode(
        {
            "token": "verification-token",
            "team_id": "T0LODE",
            "team_domain": "lodestar-test",
            "channel_id": "C0GENERAL",
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/feedback",
            "text": text,
            "api_app_id": "A0LODE",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": f"{n}.{int(time.time())}.bench",
        }
    ).encode()
    ts = str(int(time.time()))
    base = b"v0:" + ts.encode() + b":" + body
    signature = "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()
    head = (
        "POST /slack/events HTTP/1.1\r\nHost: bench\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Slack-Request-Timestamp: {ts}\r\nX-Slack-Signature: {signature}\r\n\r\n"
    )
    return head.encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
    body = await asyncio.wait_for(reader.readexactly(length), 10) if length else b""
    return status, body


class Counter:
    def __init__(self, start: int) -> None:
        self.n = start

    def take(self) -> int:
        self.n += 1
        return self.n


async def _worker(
    server: Server, counter: Counter, quota: list[int], out: list[float], errors: list[str]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        while quota[0] > 0:
            quota[0] -= 1
            n = counter.take()
            request = _signed_request(feedback_text(n), n, response_url=server.response_url)
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            status, body = await _read_response(reader)
            elapsed = time.perf_counter() - started
            if status != 200:
                errors.append(f"{status} {body[:80]!r}")
            out.append(elapsed * 1000)
    finally:
        writer.close()


async def _measure(server: Server, concurrency: int, requests: int, counter: Counter) -> dict:
    quota = [requests]
    out: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(_worker(server, counter, quota, out, errors) for _ in range(concurrency))
    )
    wall = time.perf_counter() - started
    out.sort()
    return {
        "n": len(out),
        "p50": statistics.median(out),
        "p99": out[min(len(out) - 1, round(0.99 * (len(out) - 1)))],
        "max": out[-1],
        "rps": len(out) / wall,
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
    }


async def _run(levels: list[int], requests: list[int], settle: float) -> tuple[list, list]:
    rows: list[tuple[str, int, dict]] = []
    with tempfile.TemporaryDirectory() as tmp, _fake_slack(3600) as (api_url, _fake):
        for sub in ("a", "b"):
            (Path(tmp) / sub).mkdir()
        servers = [
            _start_lodestar("lodestar (core inline)", api_url, Path(tmp) / "a" / "db", "inline"),
            _start_lodestar("lodestar (core in thread)", api_url, Path(tmp) / "b" / "db", "thread"),
            _start_bare("bare AsyncApp, default", api_url, pbr=False),
            _start_bare("bare AsyncApp, process_before_response", api_url, pbr=True),
        ]
        try:
            await asyncio.gather(*(_wait_healthy(s) for s in servers))
            counters = {s.name: Counter(0) for s in servers}
            for s in servers:
                await _measure(s, 1, WARMUP, counters[s.name])
            await asyncio.sleep(settle)
            for level, count in zip(levels, requests, strict=True):
                for s in servers:
                    result = await _measure(s, level, count, counters[s.name])
                    rows.append((s.name, level, result))
                    await asyncio.sleep(settle)  # let cards and DB writes after the acks finish
        finally:
            for s in servers:
                stop_process(s.process)
    return rows, [s.name for s in servers]


# -- a fresh process on a big board ------------------------------------------------------------


def _board_bench() -> ModuleType:
    """bench/board.py, for its bulk loader (run_all loads this script without bench/ on
    sys.path)."""
    spec = importlib.util.spec_from_file_location("bench_board", ROOT / "bench" / "board.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def _big_board(path: Path, items: int) -> None:
    """A migrated SQLite database whose one board (Slack team T0LODE) holds ``items``."""
    board = _board_bench()
    from storage.db import make_engine
    from storage.migrate import upgrade

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    size = board.Size(items=items, people=5_000, votes=items, merges=items // 100)
    board.load(engine, size, 7, board.Result("sqlite", size))
    with engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("UPDATE workspaces SET platform = 'slack', external_id = 'T0LODE'"))
    engine.dispose()


async def _probe_health(server: Server, stop: asyncio.Event, out: list[float]) -> None:
    """GET /healthz every 10 ms on its own connection until ``stop``; latencies in ms."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        while not stop.is_set():
            started = time.perf_counter()
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
            await writer.drain()
            await _read_response(reader)
            out.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)
    finally:
        writer.close()


async def _timed_command(server: Server, text: str, n: int, user: str) -> tuple[float, int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        started = time.perf_counter()
        writer.write(_signed_request(text, n, user, server.response_url))
        await writer.drain()
        status, body = await _read_response(reader)
        return (time.perf_counter() - started) * 1000, status, body
    finally:
        writer.close()


async def _during(
    server: Server, text: str, n: int, user: str, linger: float
) -> tuple[float, int, bytes, list[float]]:
    """A command's ack time, and /healthz latencies from its start until ``linger`` s
    after its ack (the work after the ack runs then)."""
    stop = asyncio.Event()
    health: list[float] = []
    probe = asyncio.create_task(_probe_health(server, stop, health))
    await asyncio.sleep(0.05)
    took, status, body = await _timed_command(server, text, n, user)
    await asyncio.sleep(linger)
    stop.set()
    await probe
    return took, status, body, health


async def _big_board_run(items: int, linger: float) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory() as tmp, _fake_slack(3600) as (api_url, _fake):
        template = Path(tmp) / "template.db"
        started = time.perf_counter()
        _big_board(template, items)
        print(f"[slack_ack] {items:,}-item board loaded in {time.perf_counter() - started:.0f} s",
              file=sys.stderr)  # fmt: skip
        for core in ("inline", "thread"):
            work = Path(tmp) / core
            work.mkdir()
            shutil.copy(template, work / "db")
            server = _start_lodestar(f"lodestar (core {core})", api_url, work / "db", core)
            try:
                await _wait_healthy(server, timeout=120)
                first = await _during(server, feedback_text(10**6), 10**6, "U0ALICE", linger)
                second = await _during(server, feedback_text(10**6 + 1), 10**6 + 1, "U0ALICE", 0)
                export = await _during(server, "export", 10**6 + 2, "U0ADA", linger * 4)
            finally:
                stop_process(server.process)
            for name, (took, status, body, health) in (
                ("first `/feedback <text>`", first),
                ("second `/feedback <text>`", second),
                ("`/feedback export`", export),
            ):
                health.sort()
                results.append(
                    {
                        "server": server.name,
                        "request": name,
                        "ack": took,
                        "status": status,
                        "answer": body.decode(errors="replace")[:90],
                        "health_n": len(health),
                        "health_p50": statistics.median(health) if health else float("nan"),
                        "health_max": health[-1] if health else float("nan"),
                    }
                )
    return results


def _big_board_markdown(rows: list[dict], items: int, linger: float) -> str:
    lines = [
        f"### A fresh process on a {items:,}-item board",
        "",
        f"Each server starts on a copy of one SQLite board of {items:,} items and answers "
        "`/healthz` before the first command is sent. `/healthz` is asked every 10 ms on a "
        f"second connection from just before the command until {linger:g} s after its ack "
        f"({linger * 4:g} s for the export, whose file is uploaded after the ack). "
        "Milliseconds; Slack shows an error when an ack takes over 3,000.",
        "",
        "| server | request | ack | status | /healthz asked | /healthz p50 | /healthz max "
        "| answer starts |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        answer = r["answer"].replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {r['server']} | {r['request']} | {r['ack']:.0f} | {r['status']} | "
            f"{r['health_n']} | {r['health_p50']:.1f} | {r['health_max']:.1f} | `{answer}` |"
        )
    return "\n".join(lines) + "\n"


def _markdown(rows: list, names: list[str], levels: list[int], requests: list[int]) -> str:
    per_level = ", ".join(f"{c}×{n}" for c, n in zip(levels, requests, strict=True))
    lines = [
        "## Slack ack latency (`bench/slack_ack.py`)",
        "",
        f"Signed `/feedback <text>` over HTTP, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, SQLite (temp file); "
        f"requests per level: {per_level} "
        f"(after {WARMUP} warm-up requests). Milliseconds.",
        "",
        "| server | concurrent | p50 | p99 | max | req/s | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    order = {name: i for i, name in enumerate(names)}
    for name, level, r in sorted(rows, key=lambda row: (row[1], order[row[0]])):
        lines.append(
            f"| {name} | {level} | {r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.1f} "
            f"| {r['rps']:.0f} | {r['errors']} |"
        )
    errors = [f"{name} ×{level}: {r['first_error']}" for name, level, r in rows if r["errors"]]
    if errors:
        lines += ["", "First errors: " + "; ".join(errors)]
    lines += [
        "",
        "Lodestar does the real work before acking (store the item, duplicate suggestions, "
        "the ephemeral reply in the ack body); posting the card and remembering its ts run "
        "after the response. The bare apps' listener only calls `ack()`.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,10,50")
    parser.add_argument("--requests", default="200,600,1500")
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--big-items", type=int, default=100_000, help="0: skip that scenario")
    parser.add_argument("--linger", type=float, default=1.0)
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",") if x]
    requests = [int(x) for x in args.requests.split(",") if x]
    if len(levels) != len(requests):
        parser.error("--levels and --requests need as many entries")
    out = ""
    if levels:
        rows, names = asyncio.run(_run(levels, requests, args.settle))
        out = _markdown(rows, names, levels, requests)
    if args.big_items:
        big = asyncio.run(_big_board_run(args.big_items, args.linger))
        out = (
            (out or "## Slack ack latency (`bench/slack_ack.py`)\n")
            + "\n"
            + _big_board_markdown(big, args.big_items, args.linger)
        )
    return out


if __name__ == "__main__":
    print(main(sys.argv[1:]), end="")
