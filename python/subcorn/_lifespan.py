"""The ASGI lifespan protocol, run by every shard on its own loop.

With --lifespan auto, an app that raises before it has received anything
does not support lifespan (uvicorn's rule): it is served without. An app that
received lifespan.startup and then raised has failed its startup, as under
--lifespan on: the server does not start.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any


class Lifespan:
    def __init__(self, app: Any, state: dict[str, Any], mode: str, logger: logging.Logger) -> None:
        self.app = app
        self.state = state
        self.mode = mode
        self.logger = logger
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.startup_event = asyncio.Event()
        self.shutdown_event = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.received_startup = False  # the app took lifespan.startup from receive()
        self.unsupported = False
        self.error: str | None = None  # why startup failed, for the user

    async def startup(self) -> bool:
        """Runs startup; False (and self.error) when the server must not start."""
        if self.mode == "off":
            return True
        self.task = asyncio.get_running_loop().create_task(self._main())
        await self.queue.put({"type": "lifespan.startup"})
        await self.startup_event.wait()
        return self.error is None

    async def shutdown(self) -> None:
        if self.task is None or self.unsupported or self.task.done():
            return
        await self.queue.put({"type": "lifespan.shutdown"})
        await self.shutdown_event.wait()

    async def _main(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self._receive, self._send)
        except BaseException as exc:  # the app's error, reported as the protocol says
            if self.error is None and not self.startup_event.is_set():
                if self.mode == "auto" and not self.received_startup:
                    self.unsupported = True
                    self.logger.info("ASGI 'lifespan' protocol appears unsupported.")
                else:
                    self.logger.error("Exception in 'lifespan' protocol", exc_info=exc)
                    self.error = f"{type(exc).__name__}: {exc}"
            elif self.startup_event.is_set() and not self.shutdown_event.is_set():
                self.logger.error("Exception in 'lifespan' protocol", exc_info=exc)
        finally:
            self.startup_event.set()
            self.shutdown_event.set()

    async def _receive(self) -> dict[str, Any]:
        message = await self.queue.get()
        if message["type"] == "lifespan.startup":
            self.received_startup = True
        return message

    async def _send(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "lifespan.startup.complete":
            self.startup_event.set()
        elif kind == "lifespan.startup.failed":
            self.error = message.get("message") or "lifespan.startup.failed"
            self.startup_event.set()
        elif kind == "lifespan.shutdown.complete":
            self.shutdown_event.set()
        elif kind == "lifespan.shutdown.failed":
            self.logger.error("Application shutdown failed: %s", message.get("message", ""))
            self.shutdown_event.set()
        else:
            raise RuntimeError(f"Unexpected ASGI lifespan message '{kind}'")
