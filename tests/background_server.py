"""What every local stand-in of a chat platform needs: a server on its own thread, and waiting.

An aiohttp application served on 127.0.0.1 from a daemon thread with its own event loop serves
sync and async tests alike; :class:`Notifier` lets either kind of test wait until the recorded
state satisfies a predicate, without polling and without blocking a running event loop, and
:class:`CallJournal` gives a stand-in its record of requests and the waits on it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import subprocess
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Generic, Self, TypeVar

from aiohttp import web

T = TypeVar("T")
C = TypeVar("C")  # a recorded call
S = TypeVar("S")  # what selects calls: a method name, a route


class Notifier:
    """Lets sync threads and coroutines on any loop wait until a predicate over state holds."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def notify(self) -> None:
        """Wake every waiter so it re-checks its predicate. Never call it holding a lock that
        a predicate takes: a blocking waiter runs its predicate holding this notifier."""
        with self._cond:
            self._cond.notify_all()
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # loop closed meanwhile
                loop.call_soon_threadsafe(event.set)

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until `predicate()` is true; False on timeout. Not from a running event loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "blocking wait inside a running event loop would stall it; "
                "use the *_async variant (await fake.wait_for_async(...))"
            )
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    async def wait_async(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Await until `predicate()` is true without blocking the loop; False on timeout."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        entry = (loop, event)
        with self._cond:
            self._waiters.add(entry)
        try:
            deadline = loop.time() + timeout
            while True:
                event.clear()
                if predicate():
                    return True
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
        finally:
            with self._cond:
                self._waiters.discard(entry)


class CallJournal(Generic[S, C]):
    """A stand-in's record of the requests it answered, and the waits on it.

    The stand-in appends to ``_calls`` under ``_lock``, notifies ``_notifier``, and says which
    calls a spec selects (:meth:`_selects`) and how a call is named in a failure (:meth:`_label`).
    """

    _lock: threading.RLock
    _calls: list[C]
    _notifier: Notifier

    def _selects(self, spec: S, call: C) -> bool:
        raise NotImplementedError

    def _label(self, call: C) -> str:
        raise NotImplementedError

    @property
    def calls(self) -> list[C]:
        """Every request so far, in arrival order (a copy), failed ones included."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, spec: S) -> list[C]:
        """The calls `spec` selects, failed attempts included."""
        with self._lock:
            return [c for c in self._calls if self._selects(spec, c)]

    def last(self, spec: S) -> C:
        """The most recent call `spec` selects; AssertionError if there was none."""
        calls = self.calls_to(spec)
        if not calls:
            raise AssertionError(f"no call to {spec}; calls: {self._summary()}")
        return calls[-1]

    def _matching(self, spec: S, where: Callable[[C], bool] | None) -> list[C]:
        return [c for c in self.calls_to(spec) if where is None or where(c)]

    def wait_for(
        self,
        spec: S,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[C], bool] | None = None,
    ) -> list[C]:
        """Block until ≥ `count` calls `spec` selects (matching `where`) arrived; returns them."""
        if not self._notifier.wait(lambda: len(self._matching(spec, where)) >= count, timeout):
            self._timeout(spec, count, timeout)
        return self._matching(spec, where)

    async def wait_for_async(
        self,
        spec: S,
        count: int = 1,
        timeout: float = 5.0,
        where: Callable[[C], bool] | None = None,
    ) -> list[C]:
        """:meth:`wait_for` for async tests: awaits without blocking the test's loop."""
        ok = await self._notifier.wait_async(
            lambda: len(self._matching(spec, where)) >= count, timeout
        )
        if not ok:
            self._timeout(spec, count, timeout)
        return self._matching(spec, where)

    def _timeout(self, spec: S, count: int, timeout: float) -> None:
        raise AssertionError(
            f"expected {count} call(s) to {spec} within {timeout}s; calls: {self._summary()}"
        )

    def _summary(self) -> str:
        return ", ".join(self._label(c) for c in self.calls) or "none"


class StandIn(CallJournal[S, C]):
    """A platform's stand-in served by a :class:`BackgroundServer` (``_server``):
    ``with Fake() as fake: ...``, or ``start()`` and ``stop()``."""

    _server: BackgroundServer

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT`` (only while started)."""
        if not self._server.running:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._server.port}"


class BackgroundServer:
    """An aiohttp application served on 127.0.0.1:<free port> from a daemon thread."""

    def __init__(self, app_factory: Callable[[], web.Application], name: str) -> None:
        self._app_factory = app_factory
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The server's event loop (only valid while started)."""
        if self._loop is None:
            raise RuntimeError(f"{self._name} is not started")
        return self._loop

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        errors: list[BaseException] = []

        async def setup() -> None:
            self._runner = web.AppRunner(self._app_factory(), access_log=None, shutdown_timeout=0.5)
            await self._runner.setup()
            await web.SockSite(self._runner, sock).start()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(setup())
            except BaseException as e:  # surfaced to start()
                errors.append(e)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=self._name, daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            self._thread.join()
            self._thread = self._loop = None
            raise errors[0]

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        loop, thread = self._loop, self._thread
        if self._runner is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        self._thread = self._loop = self._runner = None

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule `coro` on the server loop (thread-safe); returns a concurrent future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)


__all__ = ["BackgroundServer", "Notifier"]


def stop_process(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL if it has not gone within 10 s."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
