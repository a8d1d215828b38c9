"""The device's audio frontend: 16 kHz PCM in, utterance start/audio/end out.

Per 30 ms frame: speex (optional) → high-pass < 200 Hz → soft gate → VAD → endpointer,
with an optional wake word listening while no utterance runs. Arbitrary chunk sizes go
in; a partial frame waits for the next chunk.
"""

from typing import Optional

import numpy as np

from .dsp import HighPass, SoftGate, SpeexCleaner, make_speex
from .endpoint import Endpointer, Segment
from .settings import FrontendSettings
from .vad import FRAME_BYTES, Vad, make_vad
from .wake import WakeWord, make_wake_word


class Frontend:
    """Stateful per-stream processing; one instance per microphone."""

    def __init__(self, settings: FrontendSettings, wake: Optional[WakeWord] = None,
                 vad: Optional[Vad] = None, speex: Optional[SpeexCleaner] = None) -> None:
        self.settings = settings
        self.highpass = HighPass(settings.highpass_hz, settings.highpass_order)
        self.gate = SoftGate(settings.gate_threshold, settings.gate_floor,
                             settings.gate_attack_ms, settings.gate_release_ms)
        self.vad = vad or make_vad(settings.vad, settings.vad_mode, settings.energy_threshold)
        self.speex = speex
        self.wake = wake
        self.endpointer = Endpointer(settings.endpoint(), vad_trigger=wake is None)
        self._pending = b""
        self.last_speech = False

    @staticmethod
    def from_settings(settings: FrontendSettings) -> "Frontend":
        """Build with the optional parts (speex, wake word) the settings enable."""
        speex = make_speex(settings.speex, settings.speex_noise_suppression_db, settings.speex_auto_gain)
        return Frontend(settings, wake=make_wake_word(settings.wake_model), speex=speex)

    @property
    def in_utterance(self) -> bool:
        """True between an utterance's start and end."""
        return self.endpointer.active

    def feed(self, pcm: bytes, echo: bool = False) -> list[Segment]:
        """Process 16 kHz 16-bit mono audio; returns what happened, in order.

        `echo`: our speaker may be heard in it, so its voice does not count as the user's
        having begun the utterance under way (it is still streamed).
        """
        data = self._pending + pcm
        whole = len(data) - len(data) % FRAME_BYTES
        self._pending = data[whole:]
        out: list[Segment] = []
        for offset in range(0, whole, FRAME_BYTES):
            out += self.push_frame(data[offset:offset + FRAME_BYTES], echo)
        return out

    def push_frame(self, frame: bytes, echo: bool = False) -> list[Segment]:
        """One 30 ms frame through the whole chain."""
        clean, speech = self.process_frame(frame)
        self.last_speech = speech
        if self.wake is not None and not self.endpointer.active:
            self.endpointer.push(clean, speech)  # keeps the pre-roll current
            if self.wake.process(clean):
                return [Segment("wake", reason=self.wake.name), self.endpointer.arm()]
            return []
        segments = self.endpointer.push(clean, speech, echo)
        if self.wake is not None and any(s.kind == "end" for s in segments):
            self.wake.reset()
        return segments

    def process_frame(self, frame: bytes) -> tuple[bytes, bool]:
        """Filter, gate and classify one frame: (processed PCM, voiced?)."""
        if self.speex is not None:
            frame = self.speex.process(frame)
        samples = np.frombuffer(frame, dtype="<i2").astype(np.float64) * (1.0 / 32768.0)
        samples = self.gate.process(self.highpass.process(samples))
        clean = np.clip(samples * 32768.0, -32768.0, 32767.0).astype("<i2").tobytes()
        return clean, self.vad.is_speech(clean, samples)

    def arm(self) -> Segment:
        """Start an utterance now (remote trigger)."""
        return self.endpointer.arm()

    def cancel(self) -> None:
        """Drop the utterance in progress."""
        self.endpointer.cancel()
        if self.wake is not None:
            self.wake.reset()
