"""An async client for Home Assistant's websocket API: commands, subscriptions, binary frames."""

import asyncio
import json
from typing import Any, Optional

from websockets.asyncio.client import ClientConnection, connect


class HaError(Exception):
    """A command that HA answered with success: false."""


class HaSocket:
    """One authenticated connection; results by id, events of a subscription in a queue."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.next_id = 1
        self.results: dict[int, asyncio.Future] = {}
        self.events: dict[int, asyncio.Queue] = {}
        self.reader = asyncio.create_task(self._read())

    @staticmethod
    async def open(url: str, token: str) -> "HaSocket":
        ws = await connect(url, max_size=None)
        assert json.loads(await ws.recv())["type"] == "auth_required"
        await ws.send(json.dumps({"type": "auth", "access_token": token}))
        reply = json.loads(await ws.recv())
        if reply["type"] != "auth_ok":
            raise HaError(reply)
        return HaSocket(ws)

    async def _read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if message.get("type") == "result":
                future = self.results.pop(message["id"], None)
                if future is not None and not future.done():
                    future.set_result(message)
            elif message.get("type") == "event" and message["id"] in self.events:
                self.events[message["id"]].put_nowait(message["event"])

    async def _send(self, kind: str, data: dict) -> tuple[int, asyncio.Future]:
        ident, self.next_id = self.next_id, self.next_id + 1
        future = asyncio.get_running_loop().create_future()
        self.results[ident] = future
        self.events[ident] = asyncio.Queue()
        await self.ws.send(json.dumps({"id": ident, "type": kind, **data}))
        return ident, future

    async def command(self, kind: str, timeout: float = 30.0, **data: Any) -> Any:
        """Send one command; its result (raises HaError on failure)."""
        ident, future = await self._send(kind, data)
        reply = await asyncio.wait_for(future, timeout)
        self.events.pop(ident, None)
        if not reply["success"]:
            raise HaError(f"{kind}: {reply.get('error')}")
        return reply.get("result")

    async def subscribe(self, kind: str, timeout: float = 30.0, **data: Any) -> asyncio.Queue:
        """A command whose events keep coming (subscribe_events, assist_pipeline/run): their queue."""
        ident, future = await self._send(kind, data)
        reply = await asyncio.wait_for(future, timeout)
        if not reply["success"]:
            raise HaError(f"{kind}: {reply.get('error')}")
        return self.events[ident]

    async def send_bytes(self, data: bytes) -> None:
        await self.ws.send(data)

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


async def next_event(queue: asyncio.Queue, timeout: float = 30.0, kind: Optional[str] = None) -> dict:
    """The next event of a subscription (of `kind`, skipping others, when given)."""
    async with asyncio.timeout(timeout):
        while True:
            event = await queue.get()
            if kind is None or event.get("type") == kind:
                return event
