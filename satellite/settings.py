"""Satellite settings: frozen dataclasses from `config/satellite.yaml`, a user YAML and flags.

The loader is the servers' (nexus_wyoming.settings_loader): same validation and
messages naming the key and its file. No environment variables: a satellite is set up
by its YAML and flags, and flags win over files.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from nexus_wyoming.config import ConfigError, Limits, setting
from nexus_wyoming.settings_loader import load_settings as load_with  # one loader for every YAML
from nexus_wyoming.shipped import shipped_config, state_dir

from .endpoint import EndpointSettings
from .wake import MODELS, NO_WAKE_WORD

DEFAULT_FILE = shipped_config("satellite.yaml")


@dataclass(frozen=True)
class FrontendSettings:
    """The audio frontend on the device: filter, gate, VAD, endpointing, wake word."""

    highpass_hz: float = setting(200.0, minimum=20.0, maximum=1000.0)
    highpass_order: int = setting(4, minimum=1, maximum=8)
    gate_threshold: float = setting(0.008, minimum=0.0, maximum=1.0)
    gate_floor: float = setting(0.2, minimum=0.0, maximum=1.0)
    gate_attack_ms: float = setting(5.0, minimum=0.1, maximum=1000.0)
    gate_release_ms: float = setting(50.0, minimum=0.1, maximum=5000.0)
    vad: str = setting("webrtc", choices=["webrtc", "energy"])
    vad_mode: int = setting(1, minimum=0, maximum=3)
    energy_threshold: float = setting(0.015, minimum=0.0001, maximum=1.0)
    end_silence_ms: int = setting(500, minimum=90, maximum=10_000)
    min_speech_ms: int = setting(150, minimum=30, maximum=5000)
    max_utterance_s: float = setting(15.0, minimum=1.0, maximum=300.0)
    preroll_ms: int = setting(300, minimum=0, maximum=3000)
    no_speech_s: float = setting(5.0, minimum=0.5, maximum=60.0)
    speex: bool = False
    speex_noise_suppression_db: int = setting(-30, minimum=-60, maximum=0)
    speex_auto_gain: int = setting(0, minimum=0, maximum=32000)
    wake_word: Optional[str] = setting("okay_nabu", choices=[*MODELS, NO_WAKE_WORD])  # null (old files) = none

    @property
    def wake_model(self) -> Optional[str]:
        """The wake word that starts a turn, or None when every speech does."""
        return None if self.wake_word in (None, NO_WAKE_WORD) else self.wake_word

    def endpoint(self) -> EndpointSettings:
        """The endpointing part."""
        return EndpointSettings(self.end_silence_ms, self.min_speech_ms, self.max_utterance_s,
                                self.preroll_ms, self.no_speech_s)


@dataclass(frozen=True)
class AudioSettings:
    """Where sound comes from and goes to; at most one source and one sink each."""

    mic_command: Optional[str] = None
    mic_file: Optional[str] = None
    mic_device: Optional[str] = None
    mic_rate: int = setting(16000, minimum=1, maximum=192_000)
    mic_width: int = setting(2, minimum=1, maximum=4)
    mic_channels: int = setting(1, minimum=1, maximum=8)
    mic_file_realtime: bool = True
    mic_file_tail_s: float = setting(2.0, minimum=0.0, maximum=3600.0)
    mic_restart_min_s: float = setting(0.5, minimum=0.01, maximum=60.0)
    mic_restart_max_s: float = setting(10.0, minimum=0.01, maximum=600.0)
    snd_command: Optional[str] = None
    snd_file: Optional[str] = None
    snd_device: Optional[str] = None
    snd_rate: int = setting(22050, minimum=8000, maximum=192_000)
    snd_volume: float = setting(1.0, minimum=0.0, maximum=4.0)
    awake_wav: Optional[str] = None  # played when the wake word is heard
    done_wav: Optional[str] = None  # played when the satellite stops listening
    timer_finished_wav: Optional[str] = None  # instead of the built-in chime
    timer_finished_wav_repeat: int = setting(1, minimum=1, maximum=100)
    timer_finished_wav_delay_s: float = setting(0.0, minimum=0.0, maximum=60.0)


@dataclass(frozen=True)
class HaSettings:
    """Home Assistant satellite mode: Home Assistant connects to us."""

    uri: str = "tcp://0.0.0.0:10700"
    zeroconf: bool = True
    zeroconf_name: Optional[str] = None  # mDNS instance name (default nexus-satellite-HOSTNAME-ID)
    owner_quiet_s: float = setting(12.0, minimum=0.5, maximum=3600.0)  # HA pings every 5 s
    allow: list[str] = setting([])  # addresses / networks that may connect (e.g. 192.168.1.10, 10.0.0.0/24); [] = all


@dataclass(frozen=True)
class StandaloneSettings:
    """Standalone mode: we drive our own STT, intent and TTS servers."""

    stt_uri: Optional[str] = None
    intent_uri: Optional[str] = None
    tts_uri: Optional[str] = None
    language: str = "en"
    voice: Optional[str] = None
    discovery_s: float = setting(3.0, minimum=0.1, maximum=60.0)
    discovery_interface: Optional[str] = None
    connect_timeout_s: float = setting(3.0, minimum=0.1, maximum=60.0)
    reply_timeout_s: float = setting(30.0, minimum=1.0, maximum=600.0)
    retry_min_s: float = setting(0.5, minimum=0.01, maximum=60.0)
    retry_max_s: float = setting(30.0, minimum=0.01, maximum=3600.0)
    max_turns: int = setting(0, minimum=0, maximum=1_000_000)


@dataclass(frozen=True)
class SatelliteSettings:
    """Everything the satellite needs."""

    name: str = "nexus-satellite"
    area: Optional[str] = None
    device_id: Optional[str] = None
    data_dir: Optional[str] = None
    log_format: str = setting("text", choices=["text", "json"])
    debug: bool = False
    metrics_port: Optional[int] = setting(None, minimum=0, maximum=65535)
    metrics_host: Optional[str] = None  # null = ha.uri's host in HA mode, 127.0.0.1 standalone
    barge_in: bool = False  # without an echo canceller the satellite would hear itself
    barge_in_min_ms: int = setting(300, minimum=30, maximum=5000)
    event_uri: Optional[str] = None  # a Wyoming event service (LEDs, logging) that hears what happens
    audio: AudioSettings = field(default_factory=AudioSettings)
    frontend: FrontendSettings = field(default_factory=FrontendSettings)
    ha: HaSettings = field(default_factory=HaSettings)
    standalone: StandaloneSettings = field(default_factory=StandaloneSettings)
    limits: Limits = field(default_factory=Limits)

    @property
    def data_path(self) -> Path:
        """Where the persisted device id lives."""
        return state_dir("nexus-satellite", self.data_dir)


def load_settings(user_file: Optional[Union[str, Path]] = None, overrides: Optional[Mapping[str, Any]] = None,
                  default_file: Path = DEFAULT_FILE) -> SatelliteSettings:
    """Defaults, then the packaged YAML, the user's YAML and dotted flag overrides; validated."""
    shipped = default_file if Path(default_file).exists() else None
    user = Path(user_file) if user_file is not None else None
    return load_with(SatelliteSettings, [shipped, user], overrides=overrides)


__all__ = ["AudioSettings", "ConfigError", "FrontendSettings", "HaSettings", "SatelliteSettings",
           "StandaloneSettings", "load_settings"]
