"""A chain of TTS engines that is itself an engine: the next one takes over on failure.

An engine fails when it raises, gives no first audio within `first_audio_timeout_s`,
or, once speaking, leaves a gap longer than `chunk_stall_timeout_s`. A failed engine
is skipped for a cool-down (or as long as its provider's `retry-after` asks) so the
following units don't each pay the timeout again.

Before any audio, the next engine speaks the unit. After audio started, what was
heard stays heard: the unit ends there and the next unit goes to the next engine, so
the listener never hears words twice (at worst the rest of one short unit is lost).
"""

import asyncio
import dataclasses
import logging
import time
from typing import AsyncIterator, Optional, Sequence

from ..metrics import REGISTRY
from .engine import TtsAudio, TtsEngine, TtsError, UnknownVoiceError, VoiceInfo, VoiceRequest

_LOGGER = logging.getLogger(__name__)
_FALLBACKS = REGISTRY.counter("nexus_tts_fallbacks_total", "Synthesis units moved to the next engine")
#: A provider's retry-after is respected up to this; longer ones are likely a mistake.
_MAX_COOLDOWN_S = 3600.0


class FallbackEngine:
    """Tries each engine in order until one produces audio."""

    name = "fallback"

    def __init__(self, engines: Sequence[TtsEngine], first_audio_timeout_s: float, cooldown_s: float = 30.0,
                 chunk_stall_timeout_s: Optional[float] = None) -> None:
        if not engines:
            raise ValueError("a fallback chain needs at least one engine")
        self.engines = list(engines)
        self.first_audio_timeout_s = first_audio_timeout_s
        self.chunk_stall_timeout_s = chunk_stall_timeout_s
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
                    async with asyncio.timeout(None if last else self._budget(started)):
                        piece = await anext(stream, None)
                    if piece is None:
                        break
                    started = True
                    yield dataclasses.replace(piece, engine=engine.name)
            except Exception as err:  # any failure of a provider means: next one
                if isinstance(err, UnknownVoiceError) or last:
                    raise
                self._failed(engine, err, candidates[index + 1], started)
                if started:
                    return  # heard audio is not repeated; the next unit goes to the successor
                continue
            finally:
                await stream.aclose()
            self._failed_until.pop(engine.name, None)
            return

    def _budget(self, started: bool) -> Optional[float]:
        """How long a (not last) engine may keep the listener waiting for its next piece."""
        return self.chunk_stall_timeout_s if started else self.first_audio_timeout_s

    def _failed(self, engine: TtsEngine, err: Exception, successor: TtsEngine, started: bool) -> None:
        if isinstance(err, TimeoutError):
            reason = "stalled mid-unit" if started else "no audio in time"
        else:
            reason = str(err) or type(err).__name__
        retry_after = err.retry_after_s if isinstance(err, TtsError) else None
        cooldown = min(retry_after if retry_after is not None else self.cooldown_s, _MAX_COOLDOWN_S)
        where = "mid-unit (the rest of the unit is dropped)" if started else "before audio"
        _LOGGER.warning("tts engine %s failed %s (%s); trying %s, skipped for %g s", engine.name, where, reason,
                        successor.name, cooldown)
        _FALLBACKS.inc(engine=engine.name)
        self._failed_until[engine.name] = time.monotonic() + cooldown

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
