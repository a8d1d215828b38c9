"""faster-whisper: the accurate offline transcript, decoded off the event loop.

CTranslate2 releases the GIL, so a decode in a worker thread leaves the event loop
free; a SerialRunner in front of the model runs one decode at a time and answers
overload with SttBusyError instead of growing a queue. The model is loaded and warmed
up at start so the first utterance is not slow.

By default (`encoder_window_s` 30) the encoder sees Whisper's standard 30 s window,
short commands padded with silence, for the reference's accuracy; the transcript is
still quick because the handler starts the decode in the trailing silence (see
stt/utterance.py). A shorter `encoder_window_s` makes the encoder see only the
utterance plus one second, rounded up to that many seconds, like whisper.cpp's
`audio_ctx`: ~3x faster on a 2-core machine at 10 s, but a higher word error rate on
our spoken-command set (BENCHMARKS.md, bench/stt.py). Decoding is greedy at
temperature 0 with a token budget that grows with the audio, so garbage input cannot
loop for seconds.
"""

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ...config import WhisperSettings
from ..engine import PartialCallback, SttError, SttRequest
from ..language import base_language
from ..model import resolve_whisper_model
from ..serial import SerialRunner

_LOGGER = logging.getLogger(__name__)
#: Whisper's prompt holds ~224 tokens; names beyond this many characters are dropped.
MAX_HOTWORD_CHARS = 400
#: Less audio than this cannot hold a word; Whisper would only invent one.
MIN_AUDIO_SAMPLES = 1600
FRAMES_PER_SECOND = 100  # Whisper's mel frames
WINDOW_MARGIN_FRAMES = 100

logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # one INFO line per decode otherwise


def window_frames(features: np.ndarray, bucket_frames: int) -> int:
    """Mel frames worth encoding: the audio (faster-whisper pads with exact zeros) plus a
    margin, rounded up to the bucket, at most the full window."""
    content = np.flatnonzero(np.any(features != 0, axis=0))
    used = int(content[-1]) + 1 if len(content) else 1
    buckets = -(-(used + WINDOW_MARGIN_FRAMES) // bucket_frames)
    return min(features.shape[-1], buckets * bucket_frames)


def max_new_tokens(samples: int) -> int:
    """A generous token budget for this much audio (speech is ~3 words a second)."""
    return min(220, 10 + 8 * samples // 16000)


def hotwords(names: list[str]) -> Optional[str]:
    """Names joined for Whisper's prompt, as many as fit."""
    text = ""
    for name in names:
        candidate = f"{text}, {name}" if text else name
        if len(candidate) > MAX_HOTWORD_CHARS:
            break
        text = candidate
    return text or None


class WhisperEngine:
    """The embedded offline recogniser."""

    name = "whisper"

    def __init__(self, settings: WhisperSettings, models_dir: Path) -> None:
        self.settings = settings
        self.models_dir = models_dir
        self.model = None
        self.load_seconds: Optional[float] = None
        self._runner = SerialRunner(settings.max_queue, "whisper")
        self._languages: list[str] = []

    async def start(self) -> None:
        """Find or assemble the model, load it and run one warm-up decode."""
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        self.model = await loop.run_in_executor(None, self._load)
        self.load_seconds = time.perf_counter() - started
        self._languages = list(getattr(self.model, "supported_languages", None) or ["en"])
        noise = np.random.default_rng(0).normal(0, 0.01, 16000).astype(np.float32)
        await self._decode(noise, SttRequest(language="en"))
        _LOGGER.info("whisper model ready in %.2f s (load %.2f s)", time.perf_counter() - started, self.load_seconds)

    def _load(self):
        source = resolve_whisper_model(self.settings, self.models_dir)
        threads = self.settings.threads or os.cpu_count() or 1
        _LOGGER.info("loading whisper model %s (%s, %d threads, %d s encoder window)", source,
                     self.settings.compute_type, threads, self.settings.encoder_window_s)
        model_class = _windowed(self.settings.encoder_window_s * FRAMES_PER_SECOND)
        try:
            return model_class(
                source, device="cpu", compute_type=self.settings.compute_type, cpu_threads=threads,
                num_workers=1, download_root=str(self.models_dir),
            )
        except Exception as err:  # CTranslate2 / huggingface raise their own types
            raise SttError(f"cannot load whisper model {source}: {err}") from err

    def languages(self) -> list[str]:
        """Languages the model knows."""
        return list(self._languages)

    async def open(self, request: SttRequest, on_partial: Optional[PartialCallback] = None) -> "WhisperSession":
        """A session that keeps the utterance's audio; decoding happens in transcribe()."""
        if self.model is None:
            raise SttError("whisper model is not loaded")
        language = base_language(request.language)
        if language is not None and language not in self._languages:
            raise SttError(f"whisper does not know language {request.language!r}")
        return WhisperSession(self, request)

    async def _decode(self, samples: np.ndarray, request: SttRequest) -> str:
        if len(samples) < MIN_AUDIO_SAMPLES:
            return ""
        options = dict(
            language=base_language(request.language),
            beam_size=self.settings.beam_size,
            hotwords=hotwords(request.names),
            without_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
            temperature=0.0,
            max_new_tokens=max_new_tokens(len(samples)),
        )
        try:
            return await self._runner.run(lambda gave_up: self._transcribe(samples, options, gave_up))
        except (SttError, asyncio.CancelledError):
            raise
        except Exception as err:
            raise SttError(f"whisper failed: {err}") from err

    def _transcribe(self, samples: np.ndarray, options: dict, gave_up: Callable[[], bool]) -> str:
        """Runs in the worker thread; stops between segments when the caller gave up."""
        if gave_up():
            return ""
        segments, _ = self.model.transcribe(samples, **options)
        texts = []
        for segment in segments:
            texts.append(segment.text.strip())
            if gave_up():
                break
        return " ".join(t for t in texts if t)

    @property
    def waiting(self) -> int:
        """Decodes waiting for the model now."""
        return self._runner.waiting

    async def close(self) -> None:
        """Stop the decode thread; the model is freed with the engine."""
        self._runner.shutdown()
        self.model = None


def _windowed(bucket_frames: int):
    """WhisperModel whose encoder sees only the audio, rounded up to `bucket_frames`."""
    from faster_whisper import WhisperModel

    if bucket_frames >= 3000:
        return WhisperModel

    class WindowedWhisperModel(WhisperModel):
        def encode(self, features: np.ndarray):
            if features.ndim == 2:
                features = np.ascontiguousarray(features[:, :window_frames(features, bucket_frames)])
            return super().encode(features)

    return WindowedWhisperModel


class WhisperSession:
    """One utterance: audio is kept (bounded by the handler's cap) and decoded on demand."""

    def __init__(self, engine: WhisperEngine, request: SttRequest) -> None:
        self.engine = engine
        self.request = request
        self._audio = bytearray()

    async def feed(self, audio: bytes) -> None:
        """Keep the audio; nothing to compute until transcribe()."""
        self._audio += audio

    async def transcribe(self) -> str:
        """Decode everything fed so far (a snapshot: later audio does not change it)."""
        usable = len(self._audio) - len(self._audio) % 2
        samples = np.frombuffer(bytes(self._audio[:usable]), dtype="<i2").astype(np.float32) / 32768.0
        return await self.engine._decode(samples, self.request)

    async def close(self) -> None:
        """Drop the audio."""
        self._audio = bytearray()

