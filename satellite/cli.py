"""`nexus-satellite`: the satellite's command line."""

import asyncio
import functools
import logging
import sys
from typing import Any, Callable, Optional

import click

from nexus_wyoming.logs import setup_logging

from .device_id import device_id
from .settings import ConfigError, SatelliteSettings, load_settings
from .wake import MODELS, NO_WAKE_WORD

_LOGGER = logging.getLogger(__name__)
#: wyoming-satellite's --mic-auto-gain (0-31 dBFS) and --mic-noise-suppression (0-4) onto speex,
#: the way Home Assistant's own speex enhancer maps the same two settings.
SPEEX_GAIN_PER_DBFS = 300
SPEEX_DB_PER_LEVEL = 15

#: flag name → dotted setting
_FLAGS = {
    "name": "name", "area": "area", "device_id": "device_id", "data_dir": "data_dir", "debug": "debug",
    "log_format": "log_format", "metrics_port": "metrics_port", "metrics_host": "metrics_host", "barge_in": "barge_in",
    "mic_command": "audio.mic_command", "mic_file": "audio.mic_file", "mic_device": "audio.mic_device",
    "mic_rate": "audio.mic_rate", "mic_width": "audio.mic_width", "mic_channels": "audio.mic_channels",
    "snd_command": "audio.snd_command", "snd_file": "audio.snd_file", "snd_device": "audio.snd_device",
    "snd_rate": "audio.snd_rate", "vad": "frontend.vad", "vad_mode": "frontend.vad_mode",
    "end_silence_ms": "frontend.end_silence_ms", "wake_word": "frontend.wake_word", "speex": "frontend.speex",
    "awake_wav": "audio.awake_wav", "done_wav": "audio.done_wav", "timer_finished_wav": "audio.timer_finished_wav",
    "event_uri": "event_uri", "uri": "ha.uri", "zeroconf": "ha.zeroconf", "zeroconf_name": "ha.zeroconf_name", "allow": "ha.allow", "stt_uri": "standalone.stt_uri", "intent_uri": "standalone.intent_uri",
    "tts_uri": "standalone.tts_uri", "language": "standalone.language", "max_turns": "standalone.max_turns",
}


def satellite_options(command: Callable) -> Callable:
    """Options both modes share."""
    options = [
        click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML settings file."),
        click.option("--name", default=None, help="Satellite name shown in Home Assistant."),
        click.option("--area", default=None, help="Room, e.g. Kitchen."),
        click.option("--device-id", default=None, help="Override the stable device id."),
        click.option("--data-dir", envvar="NEXUS_SATELLITE_DATA_DIR", default=None),
        click.option("--debug", is_flag=True, default=None),
        click.option("--log-format", type=click.Choice(["text", "json"]), default=None),
        click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, help="Prometheus /metrics."),
        click.option("--metrics-host", default=None, help="Bind /metrics here (default: --uri's host; standalone 127.0.0.1)."),
        click.option("--mic-command", default=None, help='e.g. "arecord -r 16000 -c 1 -f S16_LE -t raw".'),
        click.option("--mic-file", type=click.Path(dir_okay=False), default=None, help="WAV file as microphone."),
        click.option("--mic-device", default=None, help="sounddevice input device."),
        click.option("--mic-rate", type=int, default=None, help="--mic-command sample rate."),
        click.option("--mic-width", type=int, default=None, help="--mic-command bytes per sample."),
        click.option("--mic-channels", type=int, default=None, help="--mic-command channels."),
        click.option("--snd-command", default=None, help='e.g. "aplay -r 22050 -c 1 -f S16_LE -t raw".'),
        click.option("--snd-file", type=click.Path(dir_okay=False), default=None, help="Write replies to a WAV."),
        click.option("--snd-device", default=None, help="sounddevice output device."),
        click.option("--snd-rate", type=int, default=None, help="Rate the speaker is fed."),
        click.option("--vad", type=click.Choice(["webrtc", "energy"]), default=None),
        click.option("--vad-mode", type=click.IntRange(0, 3), default=None, help="WebRTC aggressiveness."),
        click.option("--end-silence-ms", type=int, default=None, help="End of speech after this silence."),
        click.option("--wake-word", type=click.Choice([*MODELS, NO_WAKE_WORD]), default=None,
                     help="What starts a turn (default okay_nabu); none: every speech does."),
        click.option("--no-wake-word", is_flag=True, default=False, help="Every speech starts a turn (--wake-word none)."),
        click.option("--speex/--no-speex", default=None, help="Speex noise suppression."),
        click.option("--mic-auto-gain", type=click.IntRange(0, 31), default=None, metavar="0-31",
                     help="Auto gain, as wyoming-satellite (dBFS): speex, frontend.speex_auto_gain = N × 300."),
        click.option("--mic-noise-suppression", type=click.IntRange(0, 4), default=None, metavar="0-4",
                     help="Noise suppression, as wyoming-satellite: speex, frontend.speex_noise_suppression_db = -15 × N."),
        click.option("--barge-in/--no-barge-in", default=None,
                     help="Speech interrupts playback (default off: the mic is muted while a reply plays)."),
        click.option("--awake-wav", type=click.Path(dir_okay=False), default=None, help="Played on the wake word."),
        click.option("--done-wav", type=click.Path(dir_okay=False), default=None, help="Played when listening stops."),
        click.option("--timer-finished-wav", type=click.Path(dir_okay=False), default=None,
                     help="Played when a timer finishes (instead of the chime)."),
        click.option("--timer-finished-wav-repeat", type=(click.IntRange(1, 100), click.FloatRange(0, 60)),
                     default=None, metavar="TIMES DELAY_S", help="Play it TIMES times, DELAY_S apart."),
        click.option("--event-uri", default=None, help="Wyoming event service (e.g. LEDs): tcp://HOST:PORT."),
    ]
    return functools.reduce(lambda cmd, opt: opt(cmd), reversed(options), command)


def _load(config_file: Optional[str], flags: dict[str, Any]) -> tuple[SatelliteSettings, str]:
    """Settings and device id; exit 2 with the reason when invalid."""
    overrides = {_FLAGS[key]: value for key, value in flags.items() if key in _FLAGS and value is not None}
    overrides.update(_translated(flags))
    try:
        settings = load_settings(config_file, overrides)
    except ConfigError as err:
        click.echo(f"nexus-satellite: config error: {err}", err=True)
        sys.exit(2)
    setup_logging(settings.log_format, settings.debug)
    return settings, device_id(settings.data_path, settings.device_id)


def _translated(flags: dict[str, Any]) -> dict[str, Any]:
    """Flags that are not one setting each: wyoming-satellite's speex levels, --no-wake-word, the repeat pair."""
    out: dict[str, Any] = {}
    if flags.get("no_wake_word"):
        out["frontend.wake_word"] = NO_WAKE_WORD
    gain, suppression = flags.get("mic_auto_gain"), flags.get("mic_noise_suppression")
    if gain is not None:
        out["frontend.speex_auto_gain"] = gain * SPEEX_GAIN_PER_DBFS
    if suppression is not None:
        out["frontend.speex_noise_suppression_db"] = -SPEEX_DB_PER_LEVEL * suppression
    if gain or suppression:
        out["frontend.speex"] = True
    if flags.get("timer_finished_wav_repeat") is not None:
        times, delay = flags["timer_finished_wav_repeat"]
        out["audio.timer_finished_wav_repeat"], out["audio.timer_finished_wav_delay_s"] = times, delay
    return out


def _run(coro_factory, settings: SatelliteSettings, ident: str) -> None:
    from .mic import AudioFormatError

    _LOGGER.info("device id %s", ident)
    try:
        sys.exit(asyncio.run(coro_factory(settings, ident)))
    except (AudioFormatError, ValueError, RuntimeError) as err:
        _LOGGER.error("%s", err)
        sys.exit(2)
    except OSError as err:
        _LOGGER.error("%s", err)
        sys.exit(1)


@click.group()
@click.version_option(package_name="nexus-wyoming")
def main() -> None:
    """Nexus Wyoming satellite for a Raspberry Pi speaker."""


@main.command("device-id")
@click.option("--data-dir", envvar="NEXUS_SATELLITE_DATA_DIR", default=None)
@click.option("--device-id", "override", default=None, help="Use this id instead.")
def show_device_id(data_dir: Optional[str], override: Optional[str]) -> None:
    """Print the id this device sends with every request."""
    settings = SatelliteSettings(data_dir=data_dir)
    click.echo(device_id(settings.data_path, override))


@main.command()
@satellite_options
@click.option("--uri", default=None, help="Where Home Assistant connects (default tcp://0.0.0.0:10700).")
@click.option("--no-zeroconf", is_flag=True, default=False, help="Do not advertise on mDNS.")
@click.option("--zeroconf-name", default=None, help="Name advertised on mDNS (what Home Assistant shows).")
@click.option("--allow", default=None, metavar="ADDR,NET/BITS", help="Only these may connect, e.g. 192.168.1.10,10.0.0.0/24.")
def ha(config_file: Optional[str], no_zeroconf: bool, **flags: Any) -> None:
    """Home Assistant satellite: HA connects here and runs its Assist pipeline."""
    from .app import run_ha

    flags["zeroconf"] = False if no_zeroconf else None
    _run(run_ha, *_load(config_file, flags))


@main.command()
@satellite_options
@click.option("--stt-uri", default=None, help="STT server (default: found by zeroconf).")
@click.option("--intent-uri", default=None, help="Intent server (default: found by zeroconf).")
@click.option("--tts-uri", default=None, help="TTS server (default: found by zeroconf).")
@click.option("--language", default=None)
@click.option("--max-turns", type=click.IntRange(0), default=None, help="Exit after this many turns.")
def run(config_file: Optional[str], **flags: Any) -> None:
    """Standalone: drive our STT, intent and TTS servers without Home Assistant."""
    from .standalone import run_standalone

    _run(run_standalone, *_load(config_file, flags))


if __name__ == "__main__":
    main()
