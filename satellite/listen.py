"""The listening loop both modes share: microphone → frontend → the mode, with barge-in.

Without barge-in (the default: nothing here cancels the speaker's echo) the microphone
is muted while something plays and for MUTE_TAIL_S after it, unless an utterance is
under way (the command after the wake word goes on while the wake sound plays): the VAD
and the wake word hear silence, so the reply can never start a turn. In either mode, what
the microphone hears while the speaker may be heard is marked echo for the frontend: the
wake sound is streamed but never taken for the command's speech (the pause after it would
then end the turn before the command). With barge-in an utterance during playback
interrupts it once it has lasted `barge_in_min_ms` of voiced audio, so a cough does not.
"""

import logging
import time
from typing import Awaitable, Callable, Optional

from .endpoint import Segment
from .frontend import Frontend
from .mic import MicSource, mic_16k
from .player import Player
from .vad import FRAME_MS

_LOGGER = logging.getLogger(__name__)
SegmentHandler = Callable[[Segment], Awaitable[None]]
MUTE_TAIL_S = 0.3  # what a sound card may still hold when the player is done


class Listener:
    """Feeds the microphone through the frontend and hands utterances to `handler`."""

    def __init__(self, source: MicSource, frontend: Frontend, player: Player, handler: SegmentHandler,
                 barge_in: bool = False, barge_in_min_ms: int = 300) -> None:
        self.source = source
        self.frontend = frontend
        self.player = player
        self.handler = handler
        self.barge_in = barge_in
        self.barge_in_min_ms = barge_in_min_ms
        self._held: Optional[list[Segment]] = None
        self._held_voiced_ms = 0
        self._woke = False
        self.muted_s = 0.0  # microphone audio replaced by silence so far

    async def run(self) -> None:
        """Until the microphone ends (a file) or the task is cancelled."""
        async for pcm in mic_16k(self.source):
            echo = self.speaker_heard()
            if echo and not self.barge_in and not self.frontend.in_utterance:
                pcm = bytes(len(pcm))
                self.muted_s += len(pcm) / 32000
            for segment in self.frontend.feed(pcm, echo):
                await self._route(segment)
        _LOGGER.info("microphone ended")

    def muted(self) -> bool:
        """True while the speaker may be heard and barge-in is off (and no utterance runs)."""
        return not self.barge_in and self.speaker_heard() and not self.frontend.in_utterance

    def speaker_heard(self) -> bool:
        """True while something plays and for MUTE_TAIL_S after it (even one that ended between two chunks)."""
        return self.player.playing or time.monotonic() - self.player.last_played < MUTE_TAIL_S

    async def _route(self, segment: Segment) -> None:
        # A wake word's own "start" follows it whatever the wake sound (--awake-wav) is doing.
        opens = segment.kind == "wake" or (segment.kind == "start" and not self._woke)
        self._woke = segment.kind == "wake"
        if opens and self._held is None and self.player.playing:
            if not self.barge_in:
                self.frontend.cancel()
                self._woke = False
                return
            self._held, self._held_voiced_ms = [], 0
        if self._held is None:
            await self.handler(segment)
            return
        self._held.append(segment)
        self._held_voiced_ms += FRAME_MS if segment.voiced else 0
        if segment.kind == "end":
            _LOGGER.debug("speech during playback too short to interrupt it")
            self._held = None
        elif self._held_voiced_ms >= self.barge_in_min_ms or not self.player.playing:
            held, self._held = self._held, None
            if self.player.playing:
                _LOGGER.info("barge-in: stopping playback")
                await self.player.stop()
            for item in held:
                await self.handler(item)
