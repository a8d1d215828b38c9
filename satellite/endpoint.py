"""Endpointing: where an utterance starts and ends, from per-frame VAD decisions.

Idle: an utterance starts once `min_speech_ms` of the last frames were voiced; the
audio just before that (`preroll_ms`) is sent first, so no syllable is lost. Armed
(after a wake word or a remote trigger): the utterance starts at once, and speech counts
as heard by the same `min_speech_ms` rule, so the wake word's own last syllable is not
taken for the command and a pause after the wake word does not end the turn (HA's VAD
likewise wants 0.3 s of speech before a command starts). Voice in frames marked `echo`
(our own speaker may be what the microphone hears) is never taken for the user's, so
the awake sound cannot stand in for the command and let the pause after it end the
turn. It ends after `end_silence_ms` of silence once speech was heard, after
`max_utterance_s` in any case, or, when armed and nobody speaks, after `no_speech_s`.
"""

from collections import deque
from dataclasses import dataclass
from typing import Optional

from .vad import FRAME_MS


@dataclass(frozen=True)
class EndpointSettings:
    """Timing of utterance detection, in milliseconds / seconds."""

    end_silence_ms: int = 500
    min_speech_ms: int = 150
    max_utterance_s: float = 15.0
    preroll_ms: int = 300
    no_speech_s: float = 5.0


@dataclass(frozen=True)
class Segment:
    """What the endpointer says about a frame: 'start' (with pre-roll), 'audio' or 'end'."""

    kind: str
    audio: bytes = b""
    reason: str = ""
    voiced: bool = False


class Endpointer:
    """Turns voiced/unvoiced frames into utterance start, audio and end."""

    def __init__(self, settings: EndpointSettings, vad_trigger: bool = True) -> None:
        self.settings = settings
        self.vad_trigger = vad_trigger
        self.min_frames = max(1, -(-settings.min_speech_ms // FRAME_MS))
        self.window: deque[bool] = deque(maxlen=self.min_frames * 2)
        self.preroll: deque[bytes] = deque(maxlen=max(0, settings.preroll_ms // FRAME_MS))
        self.active = False
        self._heard_speech = False
        self._silent_frames = 0
        self._frames = 0

    def arm(self) -> Segment:
        """Start an utterance now (wake word or remote trigger); returns its 'start'."""
        start = self._start()
        self._heard_speech = False
        return start

    def cancel(self) -> None:
        """Abandon the current utterance (paused, or the other side ended it)."""
        self.active = False
        self.window.clear()

    def push(self, frame: bytes, speech: bool, echo: bool = False) -> list[Segment]:
        """Feed one processed frame and its VAD decision; `echo`: the speaker may be what it holds."""
        if not self.active:
            self.window.append(speech)
            self.preroll.append(frame)
            if self.vad_trigger and sum(self.window) >= self.min_frames:
                return [self._start()]
            return []
        self._frames += 1
        if not self._heard_speech and not echo:
            self.window.append(speech)
            self._heard_speech = sum(self.window) >= self.min_frames
        self._silent_frames = 0 if speech else self._silent_frames + 1
        out = [Segment("audio", frame, voiced=speech)]
        end = self._end_reason()
        if end:
            self.cancel()
            out.append(Segment("end", reason=end))
        return out

    def _start(self) -> Segment:
        audio = b"".join(self.preroll)
        self.preroll.clear()
        self.window.clear()
        self.active = True
        self._heard_speech = True
        self._silent_frames = 0
        self._frames = 0
        return Segment("start", audio)

    def _end_reason(self) -> Optional[str]:
        elapsed_ms = self._frames * FRAME_MS
        if self._heard_speech and self._silent_frames * FRAME_MS >= self.settings.end_silence_ms:
            return "silence"
        if elapsed_ms >= self.settings.max_utterance_s * 1000:
            return "max-length"
        if not self._heard_speech and elapsed_ms >= self.settings.no_speech_s * 1000:
            return "no-speech"
        return None
