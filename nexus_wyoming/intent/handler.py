"""The Wyoming side of the intent server: `describe`, `ping`, `transcript`, `nexus-update-context`.

A turn runs as its own task, so the connection keeps being read meanwhile: when the
client hangs up, `disconnect()` cancels the turn at once — the LLM request and any
web search are closed, nothing keeps running for a client that left. A second
`transcript` on the same connection waits for the first turn to finish.
"""

import asyncio
import contextlib
import logging
from typing import Optional

from wyoming.asr import Transcript
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe
from wyoming.ping import Ping, Pong

from ..config import IntentSettings
from ..protocol.server import ClientGone, Connection, EventHandler
from ..sessions import SessionManager, UpdateContext, handle_update_context
from .assistant import Assistant, Final
from .ratelimit import peer_host
from .reply import ReplyWriter
from .request import BadRequest, TurnRequest, parse_transcript
from .turnlog import TurnStats

_LOGGER = logging.getLogger(__name__)


class IntentHandler(EventHandler):
    """Serves one client connection."""

    def __init__(self, connection: Connection, assistant: Assistant, sessions: SessionManager,
                 settings: IntentSettings, info: Event) -> None:
        super().__init__(connection)
        self.assistant = assistant
        self.sessions = sessions
        self.settings = settings
        self.info = info
        self.turn: Optional[asyncio.Task] = None

    def busy(self) -> bool:
        return self.turn is not None and not self.turn.done()

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(self.info)
        elif Ping.is_type(event.type):
            await self.write_event(Pong(text=_text_or_none(event.data)).event())
        elif Transcript.is_type(event.type):
            await self._start_turn(event.data)
        elif UpdateContext.is_type(event.type):
            await self.write_event(await handle_update_context(self.sessions, event))
        return True

    async def _start_turn(self, data) -> None:
        if self.turn is not None:
            await asyncio.wait({self.turn})
        try:
            request = parse_transcript(data, self.assistant.book.names, peer_host(self.connection.peer))
        except BadRequest as err:
            _LOGGER.info("refused transcript from %s: %s", self.connection.peer, err)
            await self.write_event(Error(str(err), err.code).event())
            return
        self.turn = asyncio.create_task(self._run(request))

    async def _run(self, request: TurnRequest) -> None:
        stats = TurnStats()
        writer = ReplyWriter(self.write_event, request.reply_context(), self.settings.stream)
        try:
            async with contextlib.aclosing(self.assistant.reply(request, stats)) as parts:
                async for part in parts:
                    if isinstance(part, Final):
                        stats.handled = part.handled
                    await writer.send(part)
        except ClientGone:
            stats.client_gone = True
        except asyncio.CancelledError:  # the client hung up (or we are shutting down)
            stats.client_gone = stats.handled is None  # HA 2025.4 hangs up right after `handled`: not early
            raise
        except Exception:  # a bug of ours: tell the client, keep serving the others
            _LOGGER.exception("internal error answering %s", self.connection.peer)
            with contextlib.suppress(ClientGone):
                await self.write_event(Error("internal server error", "internal").event())
        finally:
            stats.record(self.connection.peer)

    async def disconnect(self) -> None:
        if self.turn is not None and not self.turn.done():
            self.turn.cancel()
        if self.turn is not None:
            await asyncio.gather(self.turn, return_exceptions=True)


def _text_or_none(data) -> Optional[str]:
    text = data.get("text") if isinstance(data, dict) else None
    return text if isinstance(text, str) else None
