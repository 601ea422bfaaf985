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

    async def run_now(self) -> DispatchReport:
        """Deliver what is due now and wait for it. Calls may overlap: each one feeds
        only what no lane holds yet, so a card queued during a long ship goes out in
        its turn instead of after the whole ship."""
        return await self.dispatcher.run_once()

    async def forever(self) -> None:
        while True:
            try:
                await self.run_now()
            except Exception:
                log.exception("outbox dispatch failed")
            await asyncio.sleep(self.every)
