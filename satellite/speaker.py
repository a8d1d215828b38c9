"""Speakers: a playback command per reply (e.g. aplay), sounddevice, or a WAV file.

A sink is fed 16-bit mono at the configured rate and says when what it was given has
been heard (`finish`), which is when the satellite may answer `played`.
"""

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import struct
import time
from collections import deque
from typing import Optional, Protocol

from .settings import AudioSettings

_LOGGER = logging.getLogger(__name__)
STALL_S = 5.0  # a player command that takes no audio (or does not exit) this long is hung


class Sink(Protocol):
    """Where played audio goes; one `open` … `finish`/`abort` per reply."""

    rate: int
    delay_s: float  # from a write to its first sound at the device (an estimate for a command)

    async def open(self) -> None:
        """Get ready for a reply."""

    async def write(self, pcm: bytes) -> None:
        """Play 16-bit mono PCM; may wait while the device catches up."""

    async def finish(self) -> None:
        """Return once everything written has been heard."""

    async def abort(self) -> None:
        """Stop at once (barge-in); what was not heard yet is dropped."""

    async def close(self) -> None:
        """Release the device at exit."""


class CommandSink:
    """Runs the command for each reply and feeds its stdin; its exit means 'played'.

    'Heard' is stamped when the pipe takes the first bytes (delay_s 0): the command's
    start-up comes on top, which through PulseAudio is 50-100 ms for aplay whatever its
    --buffer-time (BENCHMARKS.md, device-measured latency), so the stamp is a lower bound.
    """

    def __init__(self, command: str, rate: int, stall_s: float = STALL_S) -> None:
        self.argv = shlex.split(command)
        if not self.argv:
            raise ValueError("empty --snd-command")
        self.rate = rate
        self.stall_s = stall_s
        self.delay_s = 0.0
        self._proc: Optional[asyncio.subprocess.Process] = None
        self._complaints: Optional[asyncio.Task] = None

    async def open(self) -> None:
        """Start the player process."""
        self._proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, start_new_session=True)  # its own group: killed whole
        self._complaints = asyncio.create_task(_last_lines(self._proc))

    async def write(self, pcm: bytes) -> None:
        """Pipe audio in; the pipe's back-pressure paces us at the device's speed."""
        if self._proc is None or self._proc.stdin is None or self._proc.returncode is not None:
            return
        try:
            self._proc.stdin.write(pcm)
            await asyncio.wait_for(self._proc.stdin.drain(), self.stall_s)
        except (BrokenPipeError, ConnectionResetError):
            _LOGGER.warning("snd command exited early (code %s)", self._proc.returncode)
        except asyncio.TimeoutError:  # a hung device: the reply is lost, the satellite is not
            _LOGGER.warning("snd command read nothing for %.0f s: killed", self.stall_s)
            await self.abort()

    async def finish(self) -> None:
        """Close its input and wait for it to play the rest and exit."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:  # what is left in its buffer plays well within the stall bound
            code = await asyncio.wait_for(proc.wait(), self.stall_s)
        except asyncio.TimeoutError:
            _LOGGER.warning("snd command did not exit %.0f s after its input ended: killed", self.stall_s)
            code = await _kill(proc)
        said = ""
        if self._complaints is not None:  # something it left running may keep stderr open
            with contextlib.suppress(asyncio.TimeoutError):
                said = await asyncio.wait_for(self._complaints, self.stall_s)
        if code != 0:  # e.g. the device is busy or missing: say why, not just that nothing played
            _LOGGER.warning("snd command exited with code %s: %s", code, said or "(nothing on stderr)")

    async def abort(self) -> None:
        """Kill the player now."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.returncode is None:
            await _kill(proc)

    async def close(self) -> None:
        """Nothing stays open between replies."""
        await self.abort()


async def _kill(proc: asyncio.subprocess.Process) -> int:
    """Kill the command and whatever it started (`sh -c 'sox ... | aplay'`), which may hold its pipes."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    return await proc.wait()


async def _last_lines(proc: asyncio.subprocess.Process, keep: int = 5) -> str:
    """The command's last few stderr lines (read all along, so its pipe never fills)."""
    assert proc.stderr is not None
    lines: deque[str] = deque(maxlen=keep)
    while line := await proc.stderr.readline():
        lines.append(line.decode(errors="replace").rstrip()[:300])
    return " | ".join(lines)


class WavFileSink:
    """Writes what is played to a WAV file, at the pace a speaker would play it.

    The header is rewritten after every write, so the file is valid at any moment,
    even if the satellite is killed.
    """

    LEAD_S = 0.05
    delay_s = 0.0  # a sample counts as heard when it is written

    def __init__(self, path: str, rate: int, realtime: bool = True) -> None:
        self.path = path
        self.rate = rate
        self.realtime = realtime
        self._file = open(path, "wb")  # noqa: SIM115 - kept open for the whole run
        self._bytes = 0
        self._clock = 0.0
        self._patch()

    async def open(self) -> None:
        """A reply starts playing now."""
        self._clock = time.monotonic()

    async def write(self, pcm: bytes) -> None:
        """Append, then wait until the 'speaker' is at most LEAD_S ahead."""
        self._file.seek(0, 2)
        self._file.write(pcm)
        self._bytes += len(pcm)
        self._patch()
        self._clock = max(self._clock, time.monotonic()) + len(pcm) / 2 / self.rate
        if self.realtime:
            await asyncio.sleep(max(0.0, self._clock - self.LEAD_S - time.monotonic()))

    async def finish(self) -> None:
        """Wait until the last sample would have left the speaker."""
        if self.realtime:
            await asyncio.sleep(max(0.0, self._clock - time.monotonic()))

    async def abort(self) -> None:
        """Nothing more is written: the file holds what was heard."""

    async def close(self) -> None:
        """Close the file."""
        self._file.close()

    def _patch(self) -> None:
        header = b"RIFF" + struct.pack("<I", 36 + self._bytes) + b"WAVEfmt " + struct.pack(
            "<IHHIIHH", 16, 1, 1, self.rate, self.rate * 2, 2, 16) + b"data" + struct.pack("<I", self._bytes)
        self._file.seek(0)
        self._file.write(header)
        self._file.flush()


class SoundDeviceSink:
    """A sound card through PortAudio (`pip install sounddevice`)."""

    def __init__(self, device: Optional[str], rate: int) -> None:
        import sounddevice  # optional: only imported when chosen

        self._sd = sounddevice
        self.device = int(device) if device and device.isdigit() else device
        self.rate = rate
        self._stream = None

    async def open(self) -> None:
        """Open an output stream."""
        self._stream = self._sd.RawOutputStream(samplerate=self.rate, channels=1, dtype="int16", device=self.device)
        self._stream.start()

    @property
    def delay_s(self) -> float:
        """The stream's output latency, as PortAudio reports it."""
        return 0.0 if self._stream is None else float(self._stream.latency)

    async def write(self, pcm: bytes) -> None:
        """Blocking write in a worker thread: it returns at the device's pace."""
        if self._stream is not None:
            await asyncio.to_thread(self._stream.write, pcm)

    async def finish(self) -> None:
        """Let the device drain, then close."""
        stream, self._stream = self._stream, None
        if stream is not None:
            await asyncio.to_thread(stream.stop)
            stream.close()

    async def abort(self) -> None:
        """Drop what is buffered."""
        stream, self._stream = self._stream, None
        if stream is not None:
            await asyncio.to_thread(stream.abort)
            stream.close()

    async def close(self) -> None:
        """Nothing stays open between replies."""
        await self.abort()


def open_sink(settings: AudioSettings) -> Optional[Sink]:
    """The configured sink: file, else command, else sounddevice, else none (no replies played)."""
    if settings.snd_file:
        return WavFileSink(settings.snd_file, settings.snd_rate)
    if settings.snd_command:
        return CommandSink(settings.snd_command, settings.snd_rate)
    try:
        return SoundDeviceSink(settings.snd_device, settings.snd_rate)
    except (ImportError, OSError) as err:
        _LOGGER.warning("no speaker (set --snd-command or --snd-file, or install sounddevice): %s", err)
        return None
