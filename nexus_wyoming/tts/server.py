"""Assembles the TTS server from settings: engines in fallback order, `info`, handler."""

import logging

from wyoming.event import Event
from wyoming.info import Attribution, Info, TtsProgram, TtsVoice, TtsVoiceSpeaker

from .. import __version__
from ..config import Config
from ..protocol.runner import run_server
from .engine import TtsEngine, TtsError
from .engines.piper import PiperEngine
from .fallback import FallbackEngine
from .handler import TtsHandler
from .scheduler import FairExecutor, PendingText

_LOGGER = logging.getLogger(__name__)
ATTRIBUTION = Attribution(name="Nexus Wyoming (voices: Piper)", url="https://github.com/OHF-Voice/piper1-gpl")


def build_engines(config: Config, executor: FairExecutor) -> list[TtsEngine]:
    """The configured engines whose keys are set, in fallback order."""
    engines: list[TtsEngine] = []
    for name in config.tts.engines:
        if name == "piper":
            engines.append(PiperEngine(config.tts.piper, executor))
        elif name == "cartesia" and config.keys.cartesia:
            from .engines.cartesia import CartesiaEngine

            engines.append(CartesiaEngine(config.tts.cartesia, config.keys.cartesia))
        elif name == "aura" and config.keys.deepgram:
            from .engines.aura import AuraEngine

            engines.append(AuraEngine(config.tts.aura, config.keys.deepgram))
    if not engines:
        raise TtsError(f"no TTS engine usable: tts.engines={config.tts.engines} and no API key for the cloud ones")
    _LOGGER.info("tts engines in order: %s", ", ".join(e.name for e in engines))
    return engines


def info_event(engine: TtsEngine) -> Event:
    """What `describe` answers."""
    voices = [
        TtsVoice(
            name=voice.name,
            description=voice.description or voice.name,
            attribution=ATTRIBUTION,
            installed=True,
            version=None,
            languages=voice.languages,
            speakers=[TtsVoiceSpeaker(name=s) for s in voice.speakers] or None,
        )
        for voice in engine.voices()
    ]
    program = TtsProgram(
        name="nexus-tts",
        description="Nexus Wyoming streaming TTS (Piper offline, Cartesia / Deepgram Aura with fallback)",
        attribution=ATTRIBUTION,
        installed=True,
        version=__version__,
        voices=voices,
        supports_synthesize_streaming=True,
    )
    return Info(tts=[program]).event()


async def serve_tts(config: Config, uri: str) -> None:
    """Load the voices, then serve until stopped."""
    tts = config.tts
    executor = FairExecutor(tts.max_parallel_syntheses)
    engines = build_engines(config, executor)
    for engine in engines:
        if isinstance(engine, PiperEngine):
            await engine.start()
    chain = FallbackEngine(engines, tts.first_audio_timeout_s, tts.engine_cooldown_s, tts.chunk_stall_timeout_s)
    info = info_event(chain)
    pending = PendingText(tts.max_pending_chars)

    async def close() -> None:
        await chain.close()
        executor.shutdown()

    await run_server(config, "tts", uri, lambda conn: TtsHandler(conn, chain, tts, info, pending), on_stop=close)
