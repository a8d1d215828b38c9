"""Standalone mode: no Home Assistant; the satellite drives STT → intent → TTS itself.

One turn at a time: a new utterance (after barge-in, or while a slow reply is still
being worked out) supersedes the turn before it. An unreachable server costs the user
a short local error tone, never silence.
"""

import asyncio
import contextlib
import logging
import signal
from typing import Optional

from wyoming.error import Error
from wyoming.satellite import StreamingStarted, StreamingStopped
from wyoming.snd import Played
from wyoming.vad import VoiceStarted, VoiceStopped
from wyoming.wake import Detection

from .app import Parts, start_metrics
from .endpoint import Segment
from .pipeline import ServerError, Turn
from .servers import ServerDown, Servers
from .settings import SatelliteSettings
from .turns import TurnTimer

_LOGGER = logging.getLogger(__name__)


class Standalone:
    """Turns utterances from the listener into turns against the servers."""

    def __init__(self, settings: SatelliteSettings, device_id: str, parts: Parts, servers: Servers) -> None:
        self.settings = settings
        self.device_id = device_id
        self.parts = parts
        self.servers = servers
        self.turn: Optional[Turn] = None
        self.task: Optional[asyncio.Task] = None
        self.turns_done = 0
        self.conversation_id: Optional[str] = None
        self.finished = asyncio.Event()

    async def on_segment(self, segment: Segment) -> None:
        """From the listener."""
        if segment.kind == "start":
            await self._begin(segment.audio)
        elif self.turn is not None and segment.kind == "audio":
            self.turn.feed(segment.audio)
        elif self.turn is not None and segment.kind == "end":
            self.turn.timer.info["end"] = segment.reason
            self.turn.end()
            self.notify(VoiceStopped().event(), StreamingStopped().event())
            self.parts.sounds.play("done")
        elif segment.kind == "wake":
            _LOGGER.info("wake word %s", segment.reason)
            self.notify(Detection(name=segment.reason).event())
            self.parts.sounds.play("awake")

    def notify(self, *events) -> None:
        """To the event service (--event-uri), if any; never waits."""
        for event in events:
            self.parts.events.send(event)

    async def _begin(self, preroll: bytes) -> None:
        await self.cancel_turn()
        missing = self.servers.down()
        if missing:
            _LOGGER.warning("cannot take a turn: %s server(s) unreachable", ", ".join(missing))
            self.error_tone(f"{', '.join(missing)} server(s) unreachable", "server-down")  # once per utterance
            TurnTimer("standalone", self.device_id, info={"down": missing}).finish("server-down")
            self._count()
            return
        self.turn = Turn(self.servers, self.parts.player, self.settings.standalone,
                         TurnTimer("standalone", self.device_id), self.conversation_id, notify=self.notify)
        self.notify(StreamingStarted().event(), VoiceStarted().event())
        if preroll:
            self.turn.feed(preroll)
        self.task = asyncio.create_task(self._run(self.turn), name="turn")

    async def _run(self, turn: Turn) -> None:
        outcome = "superseded"
        try:
            outcome = await turn.run()
        except ServerDown as err:
            _LOGGER.warning("%s", err)
            self.servers.failed(err.role, err.reason)
            self.error_tone(str(err), "server-down")
            outcome = f"{err.role}-down"
        except ServerError as err:
            _LOGGER.warning("%s", err)
            self.error_tone(str(err), "server-error")
            outcome = "server-error"
        except asyncio.CancelledError:
            outcome = "interrupted" if turn.was_cut() else "superseded"
            raise
        finally:
            self.conversation_id = turn.conversation_id
            await turn.close()
            turn.timer.finish(outcome)
            if outcome in ("played", "interrupted"):
                self.notify(Played().event())
            if self.turn is turn:
                self.turn = None
            if outcome != "superseded":
                self._count()

    async def cancel_turn(self) -> None:
        """Drop the turn in progress (a new utterance supersedes it)."""
        task, self.task = self.task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def error_tone(self, reason: str, code: str) -> None:
        """Something failed: say so with a sound rather than silence (and to the event service)."""
        self.parts.sounds.play("error")
        self.notify(Error(text=reason, code=code).event())

    def _count(self) -> None:
        self.turns_done += 1
        limit = self.settings.standalone.max_turns
        if limit and self.turns_done >= limit:
            self.finished.set()


async def run_standalone(settings: SatelliteSettings, device_id: str) -> int:
    """Standalone mode until SIGTERM/SIGINT, `max_turns`, or the end of a --mic-file; exit code."""
    parts = Parts(settings)
    servers = Servers(settings.standalone)
    metrics = await start_metrics(settings.metrics_port, settings.metrics_host or "127.0.0.1")
    await servers.start()
    app = Standalone(settings, device_id, parts, servers)
    _LOGGER.info("standalone: listening (stt=%s, intent=%s, tts=%s)",
                 servers["stt"].uri, servers["intent"].uri, servers["tts"].uri)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    mic = asyncio.create_task(parts.listener(settings, app.on_segment).run(), name="mic")
    waiters = [mic, asyncio.create_task(app.finished.wait()), asyncio.create_task(stop.wait())]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if mic.done() and not stop.is_set() and app.task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(app.task), settings.standalone.reply_timeout_s)
        if not stop.is_set():
            await parts.player.wait_idle(settings.standalone.reply_timeout_s)  # let the last sound finish
    finally:
        for task in waiters:
            task.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        await app.cancel_turn()
        await servers.close()
        await parts.close()
        if metrics is not None:
            await metrics.stop()
    failed = mic.done() and not mic.cancelled() and mic.exception() is not None
    if failed:
        _LOGGER.error("microphone failed: %s", mic.exception())
    return 2 if failed else 0
