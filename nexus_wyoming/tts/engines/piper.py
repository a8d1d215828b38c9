"""Piper, the embedded offline voice: loaded once at start, synthesis in worker threads.

wyoming-piper synthesizes inside its event loop, so one long text stalls all of its
clients; here onnxruntime runs in a bounded thread pool and the loop stays free.
"""

import asyncio
import ctypes
import ctypes.util
import importlib.metadata
import json
import logging
import os
from pathlib import Path
from typing import AsyncIterator, Optional

import numpy as np
import onnxruntime
from piper import PiperVoice, SynthesisConfig
from piper.config import PiperConfig

from ...config import PiperSettings
from ..engine import TtsAudio, TtsError, UnknownVoiceError, VoiceInfo, VoiceRequest
from ..scheduler import FairExecutor

_LOGGER = logging.getLogger(__name__)
_VOICE_PACKAGE_SUFFIX = "-piper-voice"


def find_voices(voices_dir: Optional[str]) -> dict[str, Path]:
    """Voice name → .onnx path, from `voices_dir` and installed `*-piper-voice` packages."""
    found: dict[str, Path] = {}
    for dist in importlib.metadata.distributions():
        if (dist.metadata["Name"] or "").lower().endswith(_VOICE_PACKAGE_SUFFIX):
            for file in dist.files or []:
                if file.name.endswith(".onnx"):
                    found.setdefault(file.name[: -len(".onnx")], Path(str(dist.locate_file(file))))
    if voices_dir:
        for path in sorted(Path(voices_dir).expanduser().glob("*.onnx")):
            found[path.stem] = path
    return {name: path for name, path in found.items() if Path(f"{path}.json").is_file()}


def resolve_voice(settings: PiperSettings) -> tuple[dict[str, Path], str]:
    """The voices there are and the default's name; TtsError when the configured voice is missing."""
    paths = find_voices(settings.voices_dir)
    default = Path(settings.voice).expanduser()
    if default.suffix == ".onnx":
        if not default.is_file():
            raise TtsError(f"piper voice file not found: {default}")
        paths[default.stem] = default
        return paths, default.stem
    if settings.voice not in paths:
        raise TtsError(f"piper voice {settings.voice!r} not found; installed: {sorted(paths) or 'none'}")
    return paths, settings.voice


def _load(path: Path, threads: int) -> PiperVoice:
    options = onnxruntime.SessionOptions()
    # onnxruntime sizes its pool from the host's physical cores, which can differ from
    # the CPUs this process may use (containers, taskset): use those instead.
    options.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
    # The arena keeps the peak of every long unit for good; without it (and with
    # _return_memory after each unit) RSS comes back. Measured after 4 KB of text:
    # +183 MB kept with the arena, +100 MB with malloc_trim alone, +25 MB with both.
    options.enable_cpu_mem_arena = False
    config = PiperConfig.from_dict(json.loads(Path(f"{path}.json").read_text("utf-8")))
    session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    return PiperVoice(session=session, config=config)


class PiperEngine:
    """Local neural TTS; the default voice is preloaded and warmed up."""

    name = "piper"

    def __init__(self, settings: PiperSettings, executor: FairExecutor) -> None:
        self.settings = settings
        self.executor = executor
        self.paths, self.default_voice = resolve_voice(settings)
        self._loaded: dict[str, PiperVoice] = {}
        self._loading = asyncio.Lock()

    async def start(self) -> None:
        """Load and warm up the default voice so the first request is not slow."""
        async for _ in self.synthesize("Ready.", VoiceRequest()):
            pass

    def voices(self) -> list[VoiceInfo]:
        """Installed voices."""
        return [
            VoiceInfo(name=name, languages=[name.split("-")[0]], description=f"Piper {name}")
            for name in sorted(self.paths)
        ]

    async def synthesize(self, text: str, voice: VoiceRequest) -> AsyncIterator[TtsAudio]:
        """Synthesize one unit in worker threads, one bounded phoneme piece at a time."""
        name = voice.name or self.default_voice
        if name not in self.paths:
            raise UnknownVoiceError(f"unknown voice {name!r}")
        loaded = await self._voice(name)
        config = SynthesisConfig(
            speaker_id=self._speaker_id(loaded, voice.speaker), length_scale=self.settings.length_scale
        )
        # Phonemes and the first piece in one thread hop: the first audio is what a listener waits for.
        pieces, audio = await self.executor.run(self._first_piece, loaded, text, config)
        while audio is not None:
            yield TtsAudio(audio=audio, rate=loaded.config.sample_rate)
            if not pieces:
                break
            ids = pieces.pop(0)
            audio = await self.executor.run(_render, loaded, ids, config, not pieces)

    async def close(self) -> None:
        """Drop loaded voices."""
        self._loaded.clear()

    async def _voice(self, name: str) -> PiperVoice:
        async with self._loading:
            if name not in self._loaded:
                _LOGGER.info("loading piper voice %s", name)
                try:
                    self._loaded[name] = await self.executor.run(_load, self.paths[name], self.settings.threads)
                except Exception as err:  # onnxruntime raises its own exception types
                    raise TtsError(f"cannot load piper voice {name}: {err}") from err
            return self._loaded[name]

    @staticmethod
    def _speaker_id(voice: PiperVoice, speaker: Optional[str]) -> Optional[int]:
        if speaker is None or voice.config.num_speakers <= 1:
            return None
        if speaker in voice.config.speaker_id_map:
            return voice.config.speaker_id_map[speaker]
        if speaker.isdigit() and int(speaker) < voice.config.num_speakers:
            return int(speaker)
        raise UnknownVoiceError(f"unknown speaker {speaker!r}")

    def _first_piece(self, voice: PiperVoice, text: str, config: SynthesisConfig) -> tuple[list[list[int]], Optional[bytes]]:
        """The remaining phoneme pieces and the first piece's audio (None when there is nothing to say)."""
        pieces = self._phoneme_pieces(voice, text)
        return pieces[1:], (_render(voice, pieces[0], config, last=len(pieces) == 1) if pieces else None)

    def _phoneme_pieces(self, voice: PiperVoice, text: str) -> list[list[int]]:
        """Phoneme ids in pieces of at most `max_phonemes`, cut at word boundaries.

        The model's memory grows with its input: "$1,234,567.89" × 7 (98 characters)
        is 706 phonemes and took 665 MB in one run, so characters alone can't bound it.
        """
        limit = self.settings.max_phonemes
        pieces: list[list[int]] = []
        for sentence in voice.phonemize(text):
            while sentence:
                cut = len(sentence) if len(sentence) <= limit else _word_cut(sentence, limit)
                pieces.append(voice.phonemes_to_ids(sentence[:cut]))
                sentence = sentence[cut:]
        return pieces


def _word_cut(phonemes: list[str], limit: int) -> int:
    """Index after the last word break within `limit` phonemes (or `limit` itself)."""
    for index in range(limit, limit // 2, -1):
        if phonemes[index - 1] == " ":
            return index
    return limit


def _render(voice: PiperVoice, ids: list[int], config: SynthesisConfig, last: bool = False) -> bytes:
    """One model run → 16-bit PCM, normalised to full scale as Piper does; after a unit's last, memory back."""
    audio = voice.phoneme_ids_to_audio(ids, config)
    if last:
        _return_memory()
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak < 1e-8:
        return b""
    return (np.clip(audio / peak, -1.0, 1.0) * 32767).astype("<i2").tobytes()


_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def _return_memory() -> None:
    """Give the heap the model run freed back to the system (glibc keeps it otherwise)."""
    trim = getattr(_LIBC, "malloc_trim", None)  # glibc only
    if trim is not None:
        trim(0)
