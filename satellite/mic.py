"""Microphones: a recording command (restarted with backoff), sounddevice, or a WAV file.

Each yields raw chunks in its own format; `Microphone16k` converts to the 16 kHz 16-bit
mono the frontend works in, so the rest of the satellite never sees another format.
"""

import asyncio
import logging
import shlex
import time
import wave
from typing import AsyncIterator, Optional, Protocol

from nexus_wyoming.audio import PcmConverter, PcmFormat

from .settings import AudioSettings

_LOGGER = logging.getLogger(__name__)
CHUNK_FRAMES = 1024
RATE = 16_000


class AudioFormatError(ValueError):
    """The audio source has a format we cannot convert."""


class MicSource(Protocol):
    """Raw audio from somewhere, in `format`."""

    format: PcmFormat

    def chunks(self) -> AsyncIterator[bytes]:
        """Audio until the source ends (a file) or forever (a device, a command)."""


def checked(fmt: PcmFormat, what: str) -> PcmFormat:
    """`fmt` when usable, else AudioFormatError saying why."""
    problem = fmt.problem()
    if problem:
        raise AudioFormatError(f"unsupported {what} format: {problem} (need 1-4 byte PCM, 1-8 channels)")
    return fmt


class CommandMic:
    """Reads raw PCM from a command's stdout (e.g. arecord); restarts it when it dies."""

    def __init__(self, command: str, fmt: PcmFormat, min_delay_s: float = 0.5, max_delay_s: float = 10.0) -> None:
        self.argv = shlex.split(command)
        if not self.argv:
            raise ValueError("empty --mic-command")
        self.format = checked(fmt, "--mic-command")
        self.min_delay_s = min_delay_s
        self.max_delay_s = max_delay_s
        self.restarts = 0
        self._loggers: set[asyncio.Task] = set()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The command's audio; a death costs a growing pause, a long run resets it."""
        delay = self.min_delay_s
        size = CHUNK_FRAMES * self.format.frame_bytes
        while True:
            started = time.monotonic()
            proc = await self._spawn()
            try:
                assert proc.stdout is not None
                while data := await proc.stdout.read(size):
                    yield data
            finally:
                if proc.returncode is None:
                    proc.kill()
                await proc.wait()
            if time.monotonic() - started > self.max_delay_s:
                delay = self.min_delay_s
            self.restarts += 1
            _LOGGER.warning("mic command exited with code %s; restart %d in %.1f s",
                            proc.returncode, self.restarts, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_delay_s)

    async def _spawn(self) -> asyncio.subprocess.Process:
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
        except OSError as err:
            raise AudioFormatError(f"cannot run mic command {self.argv[0]!r}: {err.strerror}") from err
        task = asyncio.create_task(_log_stderr(proc, "mic command"))
        self._loggers.add(task)
        task.add_done_callback(self._loggers.discard)
        _LOGGER.debug("mic command started (pid %d)", proc.pid)
        return proc


async def _log_stderr(proc: asyncio.subprocess.Process, what: str) -> None:
    """A command's complaints go to our log, one line each, so its pipe never fills."""
    assert proc.stderr is not None
    while line := await proc.stderr.readline():
        _LOGGER.debug("%s: %s", what, line.decode(errors="replace").rstrip()[:500])


class WavFileMic:
    """A WAV file played into the satellite as a microphone would, then silence."""

    def __init__(self, path: str, realtime: bool = True, tail_s: float = 2.0) -> None:
        try:
            with wave.open(path, "rb") as wav:
                fmt = PcmFormat(wav.getframerate(), wav.getsampwidth(), wav.getnchannels())
                self._audio = wav.readframes(wav.getnframes())
        except (wave.Error, EOFError) as err:
            raise AudioFormatError(f"unsupported --mic-file {path}: {err} (need PCM WAV)") from err
        except OSError as err:
            raise AudioFormatError(f"cannot read --mic-file {path}: {err.strerror}") from err
        self.format = checked(fmt, f"--mic-file {path}")
        self.realtime = realtime
        self.tail_s = tail_s

    async def chunks(self) -> AsyncIterator[bytes]:
        """File audio then `tail_s` of silence, paced like a live microphone when realtime."""
        size = CHUNK_FRAMES * self.format.frame_bytes
        tail = bytes(int(self.tail_s * self.format.rate) * self.format.frame_bytes)
        audio = self._audio + tail
        start = time.monotonic()
        sent = 0
        for offset in range(0, len(audio), size):
            chunk = audio[offset:offset + size]
            sent += len(chunk)
            yield chunk
            if self.realtime:
                due = start + sent / self.format.frame_bytes / self.format.rate
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            else:
                await asyncio.sleep(0)


class SoundDeviceMic:
    """A sound card through PortAudio (`pip install sounddevice`)."""

    def __init__(self, device: Optional[str], fmt: PcmFormat) -> None:
        import sounddevice  # optional: only imported when chosen

        self._sd = sounddevice
        self.device = int(device) if device and device.isdigit() else device
        self.format = checked(PcmFormat(fmt.rate, 2, fmt.channels), "sounddevice")

    async def chunks(self) -> AsyncIterator[bytes]:
        """Blocks from the device's callback thread, through a bounded queue."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=64)

        def put(data: bytes) -> None:
            if queue.full():  # we fell behind: drop the oldest rather than grow
                queue.get_nowait()
            queue.put_nowait(data)

        def callback(indata, frames, timing, status) -> None:  # noqa: ARG001 - PortAudio's signature
            loop.call_soon_threadsafe(put, bytes(indata))

        with self._sd.RawInputStream(samplerate=self.format.rate, channels=self.format.channels, dtype="int16",
                                     blocksize=CHUNK_FRAMES, device=self.device, callback=callback):
            while True:
                yield await queue.get()


def open_mic(settings: AudioSettings) -> MicSource:
    """The configured source: file, else command, else sounddevice."""
    if settings.mic_file:
        return WavFileMic(settings.mic_file, settings.mic_file_realtime, settings.mic_file_tail_s)
    fmt = PcmFormat(settings.mic_rate, settings.mic_width, settings.mic_channels)
    if settings.mic_command:
        return CommandMic(settings.mic_command, fmt, settings.mic_restart_min_s, settings.mic_restart_max_s)
    try:
        return SoundDeviceMic(settings.mic_device, fmt)
    except (ImportError, OSError) as err:
        raise AudioFormatError(f"no microphone: set --mic-command or --mic-file, or install sounddevice ({err})") from err


async def mic_16k(source: MicSource) -> AsyncIterator[bytes]:
    """The source's audio as 16 kHz 16-bit mono."""
    if source.format == PcmFormat(RATE, 2, 1):
        async for chunk in source.chunks():
            yield chunk
        return
    converter = PcmConverter(source.format, RATE)
    async for chunk in source.chunks():
        out = converter.convert(chunk)
        if out:
            yield out
    tail = converter.flush()  # the resampler's held-back last few ms, when the source ends
    if tail:
        yield tail
