"""A chain of TTS engines that is itself an engine: the next one takes over on failure.

An engine fails when it raises or gives no first audio within the timeout. A failed
engine is skipped for a cool-down so the following sentences don't each pay the
timeout again. An engine that breaks after its audio started hands the whole unit
to the next engine: the listener may hear a few words twice, but none are lost.
"""

import asyncio
import dataclasses
import logging
import time
from typing import AsyncIterator, Sequence

from ..metrics import REGISTRY
from .engine import TtsAudio, TtsEngine, UnknownVoiceError, VoiceInfo, VoiceRequest

_LOGGER = logging.getLogger(__name__)
_FALLBACKS = REGISTRY.counter("nexus_tts_fallbacks_total", "Synthesis units moved to the next engine")


class FallbackEngine:
    """Tries each engine in order until one produces audio."""

    name = "fallback"

    def __init__(self, engines: Sequence[TtsEngine], first_audio_timeout_s: float, cooldown_s: float = 30.0) -> None:
        if not engines:
            raise ValueError("a fallback chain needs at least one engine")
        self.engines = list(engines)
        self.first_audio_timeout_s = first_audio_timeout_s
        self.cooldown_s = cooldown_s
        self._failed_until: dict[str, float] = {}

    def voices(self) -> list[VoiceInfo]:
        """Every engine's voices; the first engine wins a name clash."""
        seen: dict[str, VoiceInfo] = {}
        for engine in self.engines:
            for voice in engine.voices():
                seen.setdefault(voice.name, voice)
        return list(seen.values())

    async def synthesize(self, text: str, voice: VoiceRequest) -> AsyncIterator[TtsAudio]:
        """Audio from the first engine that answers in time."""
        candidates = self._candidates(voice)
        for index, engine in enumerate(candidates):
            last = index == len(candidates) - 1
            stream = engine.synthesize(text, voice)
            started = False
            try:
                while True:
                    async with asyncio.timeout(None if last or started else self.first_audio_timeout_s):
                        piece = await anext(stream, None)
                    if piece is None:
                        break
                    started = True
                    yield dataclasses.replace(piece, engine=engine.name)
            except Exception as err:  # any failure of a provider means: next one
                if isinstance(err, UnknownVoiceError) or last:
                    raise
                self._failed(engine, err, candidates[index + 1], started)
                continue
            finally:
                await stream.aclose()
            self._failed_until.pop(engine.name, None)
            return

    def _failed(self, engine: TtsEngine, err: Exception, successor: TtsEngine, started: bool) -> None:
        reason = str(err) or "no audio in time"
        # After audio started, the successor speaks the whole unit again: a few words
        # twice beat words lost, and units are short.
        where = "mid-unit" if started else "before audio"
        _LOGGER.warning("tts engine %s failed %s (%s); trying %s", engine.name, where, reason, successor.name)
        _FALLBACKS.inc(engine=engine.name)
        self._failed_until[engine.name] = time.monotonic() + self.cooldown_s

    def _candidates(self, voice: VoiceRequest) -> list[TtsEngine]:
        engines = self.engines
        if voice.name:
            engines = [e for e in engines if any(v.name == voice.name for v in e.voices())]
            if not engines:
                raise UnknownVoiceError(f"unknown voice {voice.name!r}")
        now = time.monotonic()
        healthy = [e for e in engines if self._failed_until.get(e.name, 0.0) <= now]
        return healthy or engines[-1:]

    async def close(self) -> None:
        """Close every engine."""
        for engine in self.engines:
            await engine.close()
