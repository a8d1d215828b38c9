"""One standalone turn: audio streams to STT while the user speaks, the transcript goes
to the intent server with the device context, its sentences go to TTS as they arrive,
and the reply plays as its audio arrives.
"""

import asyncio
import contextlib
import logging
from typing import Callable, Optional

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

from nexus_wyoming.audio import PcmFormat
from nexus_wyoming.client.connection import ClientConnection
from nexus_wyoming.protocol.reader import ProtocolError
from nexus_wyoming.protocol.server import ClientGone

from .player import Playback, Player, PlayerFull
from .servers import ServerDown, Servers
from .settings import StandaloneSettings
from .turns import TurnTimer

_LOGGER = logging.getLogger(__name__)
_BROKEN = (OSError, TimeoutError, ProtocolError, ClientGone, asyncio.IncompleteReadError)


class ServerError(Exception):
    """A server answered the turn with an `error` event."""


class Turn:
    """Runs while its utterance is spoken and until the reply has been heard."""

    def __init__(self, servers: Servers, player: Player, settings: StandaloneSettings, timer: TurnTimer,
                 conversation_id: Optional[str] = None, notify: Callable[[Event], None] = lambda event: None) -> None:
        self.servers = servers
        self.notify = notify  # the event service hears the transcript and the reply text
        self.player = player
        self.settings = settings
        self.timer = timer
        self.context = {"device_id": timer.device_id, "satellite_id": timer.device_id}
        self.conversation_id = conversation_id
        self.audio: asyncio.Queue[Optional[bytes]] = asyncio.Queue()
        self.playback: Optional[Playback] = None
        self._first: Optional[Playback] = None
        self._links: list[ClientConnection] = []

    def feed(self, frame: bytes) -> None:
        """Microphone audio of this utterance (16 kHz 16-bit mono)."""
        self.audio.put_nowait(frame)

    def end(self) -> None:
        """The user stopped speaking."""
        self.timer.mark("speech_end")
        self.audio.put_nowait(None)

    async def run(self) -> str:
        """The whole turn; returns its outcome, raises ServerDown / ServerError."""
        stt = await self._open("stt")
        text = await self._transcribe(stt)
        _LOGGER.info("transcript: %s", text)
        self.timer.info["transcript"] = text
        self.notify(Transcript(text=text).event())
        if not text.strip():
            return "nothing-heard"
        # Connected only now: a link opened while the user spoke (a wake word, then a slow STT)
        # sat idle past the servers' first_event_timeout_s, and they rightly closed it.
        intent, tts = await asyncio.gather(self._open("intent"), self._open("tts"))
        await self._reply(intent, tts, text)
        if self.playback is None:
            return "no-audio"
        heard = await self.playback.done
        if self.first_heard() is not None:
            self.timer.mark("heard", self.first_heard())
        return "played" if heard else "interrupted"

    def was_cut(self) -> bool:
        """True when barge-in stopped this turn's reply."""
        playback = self.playback
        return playback is not None and playback.done.done() and playback.done.result() is False

    def first_heard(self) -> Optional[float]:
        """When the first reply audio reached the speaker."""
        return self._first.first_heard if self._first is not None else None

    async def close(self) -> None:
        """Hang up on every server (also when the turn is cancelled by barge-in)."""
        for link in self._links:
            with contextlib.suppress(Exception):
                await link.close()
        if self.playback is not None:
            self.playback.end()

    async def _open(self, role: str) -> ClientConnection:
        server = self.servers[role]
        if not server.up or server.uri is None:
            raise ServerDown(role, "not reachable")
        try:
            link = await ClientConnection.open(server.uri, self.settings.connect_timeout_s)
        except (*_BROKEN, ValueError) as err:
            raise ServerDown(role, str(err) or type(err).__name__) from err
        self._links.append(link)
        return link

    async def _guard(self, role: str, work):
        """Run `work`; a broken connection or silence past the reply timeout is ServerDown."""
        try:
            async with asyncio.timeout(self.settings.reply_timeout_s):
                return await work
        except _BROKEN as err:
            raise ServerDown(role, str(err) or type(err).__name__) from err

    async def _read(self, link: ClientConnection, role: str) -> Event:
        event = await link.read(self.settings.reply_timeout_s)
        if event is None:
            raise ServerDown(role, "closed the connection")
        if event.type == "error":
            raise ServerError(f"{role} server error: {event.data.get('text')}")
        return event

    # ------------------------------------------------------------------ STT

    async def _transcribe(self, stt: ClientConnection) -> str:
        """Stream the utterance as it is spoken; the transcript usually comes right after audio-stop."""
        await self._guard("stt", stt.send(Transcribe(language=self.settings.language, context=self.context).event()))
        reading = asyncio.create_task(self._guard("stt", self._transcript(stt)))
        try:
            await self._guard("stt", stt.send(AudioStart(rate=16_000, width=2, channels=1).event()))
            early = 0
            while (frame := await self.audio.get()) is not None:
                await self._guard("stt", stt.send(AudioChunk(rate=16_000, width=2, channels=1, audio=frame).event()))
                if "speech_end" not in self.timer.marks:
                    early += len(frame)
                    self.timer.info["streamed_before_end_s"] = round(early / 32000, 2)
                if reading.done():
                    break  # the server endpointed on its own
            if not reading.done():
                await self._guard("stt", stt.send(AudioStop().event()))
            return await reading
        finally:
            if not reading.done():
                reading.cancel()
                with contextlib.suppress(BaseException):
                    await reading

    async def _transcript(self, stt: ClientConnection) -> str:
        while True:
            event = await self._read(stt, "stt")
            if Transcript.is_type(event.type):
                self.timer.mark("transcript")
                return str(Transcript.from_event(event).text or "")

    # ------------------------------------------------------------------ intent → TTS

    async def _reply(self, intent: ClientConnection, tts: ClientConnection, text: str) -> None:
        streaming = self.servers["tts"].streaming
        voice = SynthesizeVoice(name=self.settings.voice) if self.settings.voice else None
        context = {**self.context, **({"conversation_id": self.conversation_id} if self.conversation_id else {})}
        await self._guard("intent", intent.send(
            Transcript(text=text, context=context, language=self.settings.language).event()))
        if streaming:
            await self._guard("tts", tts.send(SynthesizeStart(voice=voice, context=self.context).event()))
        listening = asyncio.create_task(self._guard("tts", self._play(tts, "synthesize-stopped" if streaming else "audio-stop")))
        try:
            reply = await self._guard("intent", self._relay(intent, tts if streaming else None))
            self.timer.info["reply"] = reply
            self.notify(Synthesize(text=reply).event())
            if streaming:
                await self._guard("tts", tts.send(Synthesize(text=reply, voice=voice).event()))  # compatibility copy
                await self._guard("tts", tts.send(SynthesizeStop().event()))
            else:
                await self._guard("tts", tts.send(Synthesize(text=reply, voice=voice).event()))
            await listening
        finally:
            if not listening.done():
                listening.cancel()
                with contextlib.suppress(BaseException):
                    await listening

    async def _relay(self, intent: ClientConnection, tts: Optional[ClientConnection]) -> str:
        """Sentences to TTS as the intent server streams them; returns the whole reply."""
        streamed = opened = False
        final = ""
        while True:
            event = await self._read(intent, "intent")
            kind = event.type
            if kind == "handled-start":
                opened = True
            elif kind == "handled-chunk":
                chunk = str(event.data.get("text") or "")
                self.timer.mark("reply_text")
                if tts is not None and chunk:
                    await tts.send(SynthesizeChunk(text=chunk).event())
                    streamed = True
            elif kind in ("handled", "not-handled"):
                self.timer.mark("reply_text")
                reply = str(event.data.get("text") or "")
                context = event.data.get("context")
                if isinstance(context, dict) and isinstance(context.get("conversation_id"), str):
                    self.conversation_id = context["conversation_id"][:200]  # the next turn continues it
                if tts is not None and not streamed and reply:
                    await tts.send(SynthesizeChunk(text=reply).event())
                if not opened:
                    return reply
                final = reply
            elif kind == "handled-stop" and opened:
                return final

    async def _play(self, tts: ClientConnection, last: str) -> None:
        """Audio to the speaker as it arrives: one playback for the whole reply."""
        while True:
            event = await self._read(tts, "tts")
            if AudioStart.is_type(event.type):
                start = AudioStart.from_event(event)
                self._playback_for(PcmFormat(start.rate, start.width, start.channels))
            elif AudioChunk.is_type(event.type):
                chunk = AudioChunk.from_event(event)
                self.timer.mark("reply_audio")
                self._playback_for(PcmFormat(chunk.rate, chunk.width, chunk.channels)).write(chunk.audio or b"")
            if event.type == last:
                if self.playback is not None:
                    self.playback.end()
                return

    def _playback_for(self, fmt: PcmFormat) -> Playback:
        problem = fmt.problem()
        if problem:
            raise ServerError(f"tts server sent unusable audio: {problem}")
        if self.playback is not None and self.playback.format != fmt:
            self.playback.end()
            self.playback = None
        if self.playback is None:
            try:
                self.playback = self.player.start(fmt, "reply")
            except PlayerFull as err:  # a TTS server switching formats endlessly
                raise ServerError(f"tts server sent more streams than can wait: {err}") from err
            self._first = self._first or self.playback
        return self.playback
