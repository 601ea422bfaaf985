"""The synchronous core, called from an asyncio adapter without blocking its loop.

Calls someone is waiting for (before an ack) go before follow-up work (card
bookkeeping, redraws, App Home), so a burst of follow-ups never delays the next
ack. With SQLite one worker thread is enough: its writers are serialized anyway.
Work of seconds (an export, a duplicate index) never runs here but on ``slow_pool``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import gc
import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

MODES = ("inline", "thread", "auto")


class CoreRunner:
    """Worker threads taking calls by priority (0: someone waits; 1: follow-up)."""

    def __init__(self, workers: int) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Any]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._threads = [
            threading.Thread(target=self._work, name=f"lodestar-core-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    async def run(self, urgent: bool, call: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((0 if urgent else 1, next(self._order), (loop, future, call)))
        return await future

    def _work(self) -> None:
        while True:
            _priority, _n, job = self._queue.get()
            if job is None:
                return
            loop, future, call = job
            try:
                outcome, failed = call(), False
            except BaseException as error:
                outcome, failed = error, True
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(_settle, future, outcome, failed)

    def shutdown(self) -> None:
        for _ in self._threads:
            self._queue.put((2, next(self._order), None))


def _settle(future: asyncio.Future[Any], outcome: Any, failed: bool) -> None:
    if future.cancelled():
        return
    if failed:
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class Core:
    """``now`` for calls before an ack, ``later`` for follow-up work.

    ``inline`` runs calls on the event loop (a little faster at low load:
    bench/slack_ack.py); ``thread`` (and ``auto``) on worker threads, one for SQLite,
    four for PostgreSQL. Threads are the default because a call may wait for the
    database (another process holding SQLite's write lock): on the loop, that wait
    would stall every request, health checks included.
    """

    def __init__(self, mode: str, dialect: str) -> None:
        if mode not in MODES:
            raise ValueError(f"core runner must be inline, thread or auto, not {mode!r}")
        sqlite = dialect == "sqlite"
        inline = mode == "inline"
        self._runner = None if inline else CoreRunner(1 if sqlite else 4)
        self.slow_pool = QuietPool(2, thread_name_prefix="lodestar-slow")

    @property
    def threaded(self) -> bool:
        return self._runner is not None

    async def now(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A call someone is waiting for (before an ack)."""
        if self._runner is None:
            return call(*args, **kwargs)
        return await self._runner.run(True, functools.partial(call, *args, **kwargs))

    async def later(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A call in follow-up work: it yields to calls on the ack path."""
        if self._runner is None:
            return call(*args, **kwargs)
        return await self._runner.run(False, functools.partial(call, *args, **kwargs))

    async def slow(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Work of seconds (an export): on ``slow_pool`` whatever the mode, so it holds up
        neither the event loop nor the workers that serve acks."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.slow_pool, functools.partial(call, *args, **kwargs))

    def close(self) -> None:
        if self._runner is not None:
            self._runner.shutdown()
        self.slow_pool.shutdown(wait=False, cancel_futures=True)


class QuietPool(ThreadPoolExecutor):
    """Threads for work of seconds that allocates a lot (an export, a board's duplicate
    index). While any of it runs, the cyclic garbage collector waits: on a 100,000-item
    board its full collections, each stopping every thread (the event loop with them),
    took 100–400 ms apiece during an export (bench/slack_ack.py). What such work
    allocates is freed by reference counting when it is done."""

    _running = 0
    _restore = True
    _lock = threading.Lock()

    def submit(  # type: ignore[override]
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        return super().submit(self._quietly, functools.partial(fn, *args, **kwargs))

    @classmethod
    def _quietly(cls, call: Callable[[], T]) -> T:
        with cls._lock:
            if cls._running == 0:
                cls._restore = gc.isenabled()
                gc.disable()
            cls._running += 1
        try:
            return call()
        finally:
            with cls._lock:
                cls._running -= 1
                if cls._running == 0 and cls._restore:
                    gc.enable()
