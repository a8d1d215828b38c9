"""Server-side end-of-speech detection on the incoming audio (WebRTC VAD, 30 ms frames).

Home Assistant keeps streaming until its own VAD has heard 0.7 s (its default) of
silence, then sends `audio-stop`. Noticing the end of speech here first lets the
final decode run during that silence, so the transcript is ready when `audio-stop`
arrives. A burst of speech counts once it lasts START_MS; the trailing silence is
measured from the last speech frame. WebRTC VAD keeps saying "speech" for about
120 ms after the voice stops (its hangover), so a 60 ms click looks like 180 ms of
speech (START_MS is just above that) and a silence of N ms is noticed ~120 ms + N ms
after the last word.
"""

from typing import Optional

import webrtcvad

from .engine import SAMPLE_RATE

FRAME_MS = 30
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000 * 2
START_MS = 210
MIN_SILENCE_MS = 90
#: `transcribe.vad_sensitivity` scales the silence like Home Assistant's own VAD does
#: (assist_pipeline/vad.py VadSensitivity.to_seconds: 0.25 / 0.7 / 1.25 s).
SENSITIVITY_SCALE = {"aggressive": 0.25 / 0.7, "default": 1.0, "relaxed": 1.25 / 0.7}


def silence_for(silence_ms: int, sensitivity: Optional[str]) -> int:
    """The silence that ends speech for a `vad_sensitivity` (unknown or None = default)."""
    scale = SENSITIVITY_SCALE.get(sensitivity or "default", 1.0)
    return max(MIN_SILENCE_MS, round(silence_ms * scale))


class Endpointer:
    """Follows speech and silence in 16 kHz 16-bit mono audio fed in any chunk sizes."""

    def __init__(self, aggressiveness: int = 2) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)
        self._rest = b""
        self._speech_run = 0
        self._silence_run = 0
        self.frames = 0
        self.bursts = 0
        """Speech bursts heard so far; a change means new speech since a given moment."""
        self.last_speech_ms: Optional[int] = None
        """Audio position of the end of the last speech frame."""

    @property
    def position_ms(self) -> int:
        """Audio processed so far."""
        return self.frames * FRAME_MS

    @property
    def trailing_silence_ms(self) -> int:
        """Silence since the last speech (0 before any speech was heard)."""
        return self._silence_run * FRAME_MS if self.bursts else 0

    def silent_for(self, silence_ms: int) -> bool:
        """Speech was heard and has been followed by at least `silence_ms` of silence."""
        return self.bursts > 0 and self._silence_run * FRAME_MS >= silence_ms

    def feed(self, audio: bytes) -> None:
        """Process whole frames; a partial frame waits for the next chunk."""
        data = self._rest + audio
        usable = len(data) - len(data) % FRAME_BYTES
        self._rest = data[usable:]
        for offset in range(0, usable, FRAME_BYTES):
            self._frame(self._vad.is_speech(data[offset:offset + FRAME_BYTES], SAMPLE_RATE))

    def _frame(self, speech: bool) -> None:
        self.frames += 1
        if not speech:
            self._speech_run = 0
            self._silence_run += 1
            return
        self.last_speech_ms = self.position_ms
        self._silence_run = 0
        self._speech_run += 1
        if self._speech_run == START_MS // FRAME_MS:
            self.bursts += 1
