"""The satellite's own sounds: wake / done / timer WAVs (wyoming-satellite's flags) and tones.

Each WAV is read once at start, so a missing or broken file stops the satellite there
(exit 2) instead of failing silently at the first wake word.
"""

import wave
from dataclasses import dataclass
from typing import Optional

from nexus_wyoming.audio import PcmFormat

from .player import Player
from .settings import AudioSettings
from .tones import ERROR_TONE, FORMAT, TIMER_TONE


@dataclass(frozen=True)
class Clip:
    """A whole sound in one format."""

    format: PcmFormat
    pcm: bytes

    def repeated(self, times: int, gap_s: float) -> "Clip":
        """`times` copies with `gap_s` of silence between them."""
        fmt = self.format
        gap = bytes(int(gap_s * fmt.rate) * fmt.width * fmt.channels)
        return Clip(fmt, gap.join([self.pcm] * times))


def load_wav(path: str, flag: str) -> Clip:
    """The WAV at `path`; ValueError naming `flag` when it cannot be read or played."""
    try:
        with wave.open(path, "rb") as wav:
            fmt = PcmFormat(wav.getframerate(), wav.getsampwidth(), wav.getnchannels())
            pcm = wav.readframes(wav.getnframes())
    except OSError as err:
        raise ValueError(f"{flag} {path}: cannot read it ({err.strerror or err})") from None
    except (wave.Error, EOFError) as err:
        raise ValueError(f"{flag} {path}: not a PCM WAV file ({err or 'truncated'})") from None
    problem = fmt.problem()
    if problem:
        raise ValueError(f"{flag} {path}: cannot play it: {problem}")
    if not pcm:
        raise ValueError(f"{flag} {path}: the WAV holds no audio")
    return Clip(fmt, pcm)


class Sounds:
    """What plays on wake, when listening stops, when a timer finishes and on errors."""

    def __init__(self, player: Player, awake: Optional[Clip] = None, done: Optional[Clip] = None,
                 timer: Optional[Clip] = None) -> None:
        self.player = player
        self.awake = awake
        self.done = done
        self.timer = timer or Clip(FORMAT, TIMER_TONE)
        self.error = Clip(FORMAT, ERROR_TONE)

    @staticmethod
    def from_settings(settings: AudioSettings, player: Player) -> "Sounds":
        """Load the configured WAVs (ValueError when one is unusable)."""
        def clip(path: Optional[str], flag: str) -> Optional[Clip]:
            return load_wav(path, flag) if path else None

        timer = clip(settings.timer_finished_wav, "--timer-finished-wav")
        if timer is not None:
            timer = timer.repeated(settings.timer_finished_wav_repeat, settings.timer_finished_wav_delay_s)
        return Sounds(player, clip(settings.awake_wav, "--awake-wav"), clip(settings.done_wav, "--done-wav"), timer)

    def play(self, name: str) -> None:
        """Play `awake`, `done`, `timer` or `error` if there is such a sound."""
        clip: Optional[Clip] = getattr(self, name)
        if clip is not None:
            self.player.play(clip.format, clip.pcm, name if name != "error" else "error tone")
