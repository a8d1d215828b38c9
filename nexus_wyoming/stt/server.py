"""Assembles the STT server from settings: engines in fallback order, `info`, handler."""

import logging

from wyoming.event import Event
from wyoming.info import AsrModel, AsrProgram, Attribution, Info

from .. import __version__
from ..config import Config
from ..protocol.runner import run_server
from .engine import SAMPLE_RATE, SttEngine, SttError
from .engines.sphinx import SphinxEngine
from .engines.whisper import WhisperEngine
from .fallback import FallbackEngine
from .handler import SttHandler
from .hybrid import HybridEngine

_LOGGER = logging.getLogger(__name__)
ATTRIBUTION = Attribution(name="Nexus Wyoming (models: OpenAI Whisper, CMU Sphinx)",
                          url="https://github.com/SYSTRAN/faster-whisper")
_DESCRIPTIONS = {
    "whisper": "Whisper base (faster-whisper, offline) with pocketsphinx partials",
    "deepgram": "Deepgram streaming speech-to-text",
}


async def build_engines(config: Config) -> list[SttEngine]:
    """The configured engines whose keys are set, in fallback order, loaded and warm."""
    engines: list[SttEngine] = []
    for name in config.stt.engines:
        if name == "whisper":
            engines.append(await _local_engine(config))
        elif name == "deepgram" and config.keys.deepgram:
            from .engines.deepgram import DeepgramEngine

            engines.append(DeepgramEngine(config.stt.deepgram, config.keys.deepgram))
    if not engines:
        raise SttError(f"no STT engine usable: stt.engines={config.stt.engines} and no Deepgram key")
    _LOGGER.info("stt engines in order: %s", ", ".join(e.name for e in engines))
    return engines


async def _local_engine(config: Config) -> SttEngine:
    whisper = WhisperEngine(config.stt.whisper, config.data_path / "models")
    await whisper.start()
    partials = None
    if config.stt.partials and config.stt.partial_sessions > 0:
        partials = SphinxEngine(config.stt.partial_sessions)
        await partials.start()
    return HybridEngine(whisper, partials)


def info_event(engines: list[SttEngine], requires_external_vad: bool) -> Event:
    """What `describe` answers."""
    models = [
        AsrModel(name=engine.name, description=_DESCRIPTIONS.get(engine.name, engine.name),
                 attribution=ATTRIBUTION, installed=True, version=None, languages=engine.languages())
        for engine in engines
    ]
    program = AsrProgram(
        name="nexus-stt",
        description="Nexus Wyoming STT: live partials, server-side endpointing, fallback",
        attribution=ATTRIBUTION,
        installed=True,
        version=__version__,
        models=models,
        supports_transcript_streaming=True,
        requires_external_vad=requires_external_vad,
    )
    return Info(asr=[program]).event()


async def serve_stt(config: Config, uri: str) -> None:
    """Load the models, then serve until stopped."""
    engines = await build_engines(config)
    max_bytes = int(config.stt.max_utterance_s * SAMPLE_RATE * 2) + SAMPLE_RATE  # + slack for resampling
    chain = FallbackEngine(engines, config.stt.first_result_timeout_s, max_bytes)
    info = info_event(engines, config.stt.requires_external_vad)
    await run_server(config, "stt", uri, lambda conn: SttHandler(conn, chain, config.stt, info), on_stop=chain.close)
