"""Home Assistant mode: we are a Wyoming satellite server; Home Assistant connects to us.

Like wyoming-satellite's local wake word mode (its VAD mode with --no-wake-word): on the
wake word `detection` goes first (HA 2025.4 reads its name as the run's wake word phrase),
then `run-pipeline` from the ASR stage. Plus what HA 2025.4 measurably needs: `pong` at
once (HA drops a satellite that is silent for 5 s), `played` once a reply was heard
(else the entity stays 'responding'), and our own end of speech sent as `audio-stop`
(HA then stops waiting ~1.3 s for its own VAD), and to HA only events it handles (it logs
"Unexpected event from satellite" for voice-started, audio-start, voice-stopped; the event
service still hears them). One HA connection is the owner; a new one takes over only once
the owner has been silent for `ha.owner_quiet_s` (HA pings every 5 s, so a live HA is never
displaced, while a stale socket left by HA re-adding the entry is replaced). describe/ping
are answered for all allowed peers.
"""

import asyncio
import ipaddress
import logging
import time
from typing import Optional, Sequence

from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.satellite import StreamingStarted, StreamingStopped
from wyoming.snd import Played
from wyoming.vad import VoiceStarted, VoiceStopped
from wyoming.wake import Detection

from nexus_wyoming.audio import PcmFormat
from nexus_wyoming.protocol.server import Connection, EventHandler

from .endpoint import Segment
from .events import NoEventService
from .frontend import Frontend
from .outbox import Outbox, bound_send_buffer
from .player import Playback, Player, PlayerFull
from .sounds import Sounds
from .timers import on_timer_event
from .turns import TurnTimer

_LOGGER = logging.getLogger(__name__)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allow(values: Sequence[str]) -> list[Network]:
    """`ha.allow` entries (addresses or networks, e.g. 192.168.1.10, 10.0.0.0/24); ValueError if bad."""
    return [ipaddress.ip_network(value.strip(), strict=False) for value in values if value.strip()]


def allowed(peer_host: str, networks: Sequence[Network]) -> bool:
    """No allow-list: everyone; else the peer's address must be in one of the networks."""
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(peer_host)
    except ValueError:  # a unix socket: only this machine can reach it
        return True
    return any(address in network for network in networks)


class HaSatellite:
    """What outlives a connection: listening state, the active connection, playback."""

    def __init__(self, info: Info, frontend: Frontend, player: Player, device_id: str,
                 owner_quiet_s: float = 12.0, sounds: Optional[Sounds] = None, events=None) -> None:
        self.info = info
        self.sounds = sounds or Sounds(player)
        self.events = events or NoEventService()
        self.owner_quiet_s = owner_quiet_s
        self.frontend = frontend
        self.player = player
        self.device_id = device_id
        self.connection: Optional[Connection] = None
        self.running = False
        self.streaming = False
        self.turn: Optional[TurnTimer] = None
        self._acks: dict[asyncio.Task, Playback] = {}
        self.owner_heard = 0.0
        self.outbox: Optional[Outbox] = None

    # ------------------------------------------------------------------ connection

    def heard(self, connection: Connection) -> None:
        """Any event from the owner (a ping too) shows it is alive."""
        if connection is self.connection:
            self.owner_heard = time.monotonic()

    def attach(self, connection: Connection) -> bool:
        """Make `connection` the owner unless a live one holds the satellite; False if refused."""
        if self.connection is connection:
            self.heard(connection)
            return True
        old = self.connection
        if old is not None and not old.writer.is_closing() and time.monotonic() - self.owner_heard < self.owner_quiet_s:
            return False
        self.connection = connection
        self.heard(connection)
        if self.outbox is not None:
            self.outbox.close()
        bound_send_buffer(connection.writer)
        self.outbox = Outbox(connection, self._dead)
        if old is not None:
            _LOGGER.info("Home Assistant reconnected from %s; closing the silent %s", connection.peer, old.peer)
            old.writer.close()
        self._stop_streaming()
        return True

    def detach(self, connection: Connection) -> None:
        """The active connection ended: stop streaming and wait for the next one."""
        if self.connection is connection:
            self.connection = None
            self.running = False
            if self.outbox is not None:
                self.outbox.close()
                self.outbox = None
            self._stop_streaming()
            _LOGGER.info("Home Assistant disconnected")

    def send(self, event: Event) -> None:
        """To the active connection, through its outbox: the mic loop never waits on the network."""
        if self.outbox is not None:
            self.outbox.put(event)

    def notify(self, event: Event) -> None:
        """To the event service (--event-uri), if any; never waits."""
        self.events.send(event)

    def _dead(self, connection: Connection) -> None:
        """Its outbox could not deliver: drop that connection."""
        self.detach(connection)
        connection.writer.close()

    # ------------------------------------------------------------------ microphone side

    async def on_segment(self, segment: Segment) -> None:
        """From the listener: stream utterances to Home Assistant while it lets us."""
        if segment.kind == "wake":
            if self.running and self.connection is not None:
                detection = Detection(name=segment.reason).event()
                self.send(detection)  # before run-pipeline: HA passes the wake word to its pipeline
                self.notify(detection)
                self.sounds.play("awake")
            return
        if segment.kind == "start":
            if not (self.running and self.connection is not None):
                self.frontend.cancel()
                return
            await self._start_streaming(segment.audio)
        elif segment.kind == "audio" and self.streaming:
            self.send(AudioChunk(rate=16_000, width=2, channels=1, audio=segment.audio).event())
        elif segment.kind == "end" and self.streaming:
            self.streaming = False
            if self.turn is not None:
                self.turn.mark("speech_end")
                self.turn.info["end"] = segment.reason
            self.send(AudioStop().event())  # HA ends STT now instead of after its own VAD
            self._listening_done(VoiceStopped().event())

    async def trigger(self) -> None:
        """A remote trigger (run-pipeline from HA): listen now as after a wake word."""
        if self.running and not self.streaming and not self.frontend.in_utterance:
            await self._start_streaming(self.frontend.arm().audio)

    async def _start_streaming(self, preroll: bytes) -> None:
        cut = [task for task, playback in self._acks.items() if playback.done.done()]
        await asyncio.gather(*cut, return_exceptions=True)  # barge-in: `played` goes before the new run
        if self.turn is not None and not self.turn.marks.get("reply_audio"):
            self._finish_turn("superseded")  # a reply still coming is finished by its playback
        self.turn = TurnTimer("ha", self.device_id)
        end_stage = PipelineStage.TTS if self.player.sink is not None else PipelineStage.HANDLE
        self.streaming = True
        _LOGGER.info("speech: running the Home Assistant pipeline")
        run = RunPipeline(start_stage=PipelineStage.ASR, end_stage=end_stage).event()
        self.send(run)  # then audio only: HA 2025.4 handles no voice-started/audio-start/voice-stopped
        for event in (run, StreamingStarted().event(), VoiceStarted().event()):
            self.notify(event)
        if preroll:
            self.send(AudioChunk(rate=16_000, width=2, channels=1, audio=preroll).event())

    def _stop_streaming(self) -> None:
        if self.streaming or self.frontend.in_utterance:
            self.frontend.cancel()
        self.streaming = False

    def stop_streaming(self, done: bool = False) -> None:
        """Home Assistant ended the utterance (transcript: `done`, error, pause)."""
        streaming = self.streaming
        if streaming and self.turn is not None:
            self.turn.mark("speech_end")
            self.turn.info["end"] = "home-assistant"
        self._stop_streaming()
        if streaming:
            self._listening_done(None, sound=done)

    def _listening_done(self, voice_stopped: Optional[Event], sound: bool = True) -> None:
        """Listening for this turn is over: tell the event service, play the done sound."""
        if voice_stopped is not None:
            self.notify(voice_stopped)
        self.notify(StreamingStopped().event())
        if sound:
            self.sounds.play("done")

    # ------------------------------------------------------------------ playback side

    def play(self, playback: Playback) -> None:
        """Answer `played` once this stream was heard (or cut off by barge-in)."""
        turn = self.turn if playback.label == "reply" else None
        task = asyncio.create_task(self._played(playback, self.connection, turn))
        self._acks[task] = playback
        task.add_done_callback(lambda done: self._acks.pop(done, None))

    async def _played(self, playback: Playback, connection: Optional[Connection], turn: Optional[TurnTimer]) -> None:
        heard = await playback.done
        if turn is not None and playback.first_heard is not None:
            turn.mark("heard", playback.first_heard)
        if connection is not None and connection is self.connection:
            self.send(Played().event())
            self.notify(Played().event())
        if turn is not None:
            turn.finish("played" if heard else "interrupted")
            if self.turn is turn:
                self.turn = None

    def _finish_turn(self, outcome: str) -> None:
        turn, self.turn = self.turn, None
        if turn is not None:
            turn.finish(outcome)


class HaHandler(EventHandler):
    """One connection from Home Assistant (or anything speaking like it)."""

    def __init__(self, connection: Connection, satellite: HaSatellite, allow: Sequence[Network] = ()) -> None:
        super().__init__(connection)
        self.satellite = satellite
        self.allow = allow
        self.playback: Optional[Playback] = None
        self.skipping = False

    async def handle_event(self, event: Event) -> bool:
        """Dispatch; bad data in a known event is answered with `error`, never a crash."""
        if not allowed(self.connection.peer_host, self.allow):
            _LOGGER.warning("refusing %s: not in ha.allow", self.connection.peer)
            await self.write_event(Error("this satellite does not accept your address (ha.allow)", "forbidden").event())
            return False
        try:
            return await self._dispatch(event)
        except PlayerFull as err:
            _LOGGER.warning("refusing audio from %s: %s", self.connection.peer, err)
            await self.write_event(Error(f"cannot play more now: {err}", "busy").event())
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            _LOGGER.warning("bad %s from %s: %s", event.type, self.connection.peer, err)
            await self.write_event(Error(f"bad data in {event.type}: {err}", "bad-event").event())
        return True

    async def _dispatch(self, event: Event) -> bool:
        """Handle one event; False closes a connection that may not take the satellite over."""
        sat = self.satellite
        kind = event.type
        sat.heard(self.connection)
        if Describe.is_type(kind):
            await self.write_event(sat.info.event())
            return True
        if Ping.is_type(kind):
            await self.write_event(Pong(text=Ping.from_event(event).text).event())
            return True
        if kind == "pong":
            return True
        if not sat.attach(self.connection):
            _LOGGER.warning("refusing %s from %s: Home Assistant at %s is using this satellite", kind,
                            self.connection.peer, sat.connection.peer if sat.connection else "?")
            await self.write_event(Error("this satellite is in use by another Home Assistant", "busy").event())
            return False
        if kind != "audio-chunk":
            sat.notify(event)  # like wyoming-satellite: the event service hears all but audio
        if kind == "run-satellite":
            sat.running = True
            _LOGGER.info("Home Assistant is ready: listening for speech")
        elif kind == "pause-satellite":
            sat.running = False
            sat.stop_streaming()
            _LOGGER.info("paused by Home Assistant")
        elif Transcript.is_type(kind):
            text = Transcript.from_event(event).text
            _LOGGER.info("transcript: %s", text)
            if sat.turn is not None:
                sat.turn.mark("speech_end")
                sat.turn.mark("transcript")
                sat.turn.info["transcript"] = text
            sat.stop_streaming(done=True)
        elif kind == "synthesize":
            if sat.turn is not None:
                sat.turn.mark("reply_text")
            _LOGGER.info("reply: %s", str(event.data.get("text", ""))[:200])
        elif Error.is_type(kind):
            _LOGGER.warning("Home Assistant error: %s", Error.from_event(event).text)
            sat.stop_streaming()
        elif RunPipeline.is_type(kind):
            await sat.trigger()
        elif kind.startswith("timer-"):
            on_timer_event(event, sat.sounds)
        elif kind in ("audio-start", "audio-chunk", "audio-stop"):
            await self._audio(event)
        else:
            _LOGGER.debug("ignoring %s", kind)
        return True

    async def _audio(self, event: Event) -> None:
        """Reply audio and announcements: played in order, `played` after each."""
        sat = self.satellite
        if AudioStart.is_type(event.type):
            self._end_playback()
            start = AudioStart.from_event(event)
            self.playback = self._open(PcmFormat(start.rate, start.width, start.channels))
        elif AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            fmt = PcmFormat(chunk.rate, chunk.width, chunk.channels)
            if self.playback is None and not self.skipping:
                self.playback = self._open(fmt)  # audio without audio-start: play it anyway
            if self.playback is None:
                return
            if fmt != self.playback.format:
                raise ValueError(f"audio-chunk format {fmt} differs from audio-start {self.playback.format}")
            if sat.turn is not None and self.playback.label == "reply":
                sat.turn.mark("reply_audio")
            self.playback.write(chunk.audio or b"")
        else:
            self._end_playback()
            self.skipping = False

    def _open(self, fmt: PcmFormat) -> Optional[Playback]:
        problem = fmt.problem()
        if problem:
            self.skipping = True
            raise ValueError(f"unsupported audio format: {problem}")
        label = "reply" if self.satellite.turn is not None else "announcement"
        self.skipping = True  # until the player takes it: a refused stream's chunks are dropped
        playback = self.satellite.player.start(fmt, label)
        self.skipping = False
        self.satellite.play(playback)
        return playback

    def _end_playback(self) -> None:
        if self.playback is not None:
            self.playback.end()
            self.playback = None

    async def disconnect(self) -> None:
        """HA went away: what it sent still plays; streaming stops."""
        self._end_playback()
        self.satellite.detach(self.connection)
