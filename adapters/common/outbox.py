"""The outbox, delivered from inside an adapter's event loop: on a timer, and at
once when a reply says notices were queued."""

from __future__ import annotations

import asyncio
import logging

from bot.notify.dispatcher import Dispatcher, DispatchReport

log = logging.getLogger(__name__)


class OutboxLoop:
    def __init__(self, dispatcher: Dispatcher, every: float) -> None:
        self.dispatcher = dispatcher
        self.every = every
        self._lock = asyncio.Lock()
        self._wanted = False

    async def run_now(self) -> DispatchReport | None:
        """Run the dispatcher; a call during a run makes that run go round once more."""
        self._wanted = True
        if self._lock.locked():
            return None
        async with self._lock:
            report = None
            while self._wanted:
                self._wanted = False
                report = await self.dispatcher.run_once()
            return report

    async def forever(self) -> None:
        while True:
            try:
                await self.run_now()
            except Exception:
                log.exception("outbox dispatch failed")
            await asyncio.sleep(self.every)
