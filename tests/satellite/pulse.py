"""A real sound server without hardware: PulseAudio with two null sinks, for device tests.

`micfeed` is where a test speaks (its monitor is the satellite's default microphone);
`speaker` is the satellite's default output (its monitor is what a listener hears).
Recordings are timestamped against time.monotonic(), so "speech ended" and "the reply
was first heard" are both measured where the sound is, not where bytes were written.
"""

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from tests.satellite.process import SatelliteProcess

RATE = 16_000  # recordings are fetched as 16 kHz 16-bit mono
WINDOW = RATE // 100  # 10 ms energy windows
VOICED_RMS = 0.01  # -40 dBFS: above this a 10 ms window is sound, below it silence
TOOLS = ("pulseaudio", "pactl", "pacat", "paplay")


class PulseUnavailable(RuntimeError):
    """PulseAudio is not installed or would not start here."""


def missing_tools() -> list[str]:
    """The PulseAudio programs this module needs that are not on PATH."""
    return [tool for tool in TOOLS if shutil.which(tool) is None]


@dataclass
class Recording:
    """One source recorded by `pacat --record`; sample i was captured at `t0 + i / RATE`."""

    source: str
    env: dict[str, str]
    chunks: list[bytes] = field(default_factory=list)
    reads: list[tuple[float, int]] = field(default_factory=list)  # (monotonic after read, bytes so far)
    proc: Optional[subprocess.Popen] = None
    _thread: Optional[threading.Thread] = None

    def start(self) -> "Recording":
        self.proc = subprocess.Popen(
            ["pacat", "--record", "-d", self.source, "--raw", "--format=s16le", f"--rate={RATE}", "--channels=1",
             "--latency-msec=10"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=self.env)
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()
        return self

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        fd, total = self.proc.stdout.fileno(), 0
        while data := os.read(fd, WINDOW * 2):
            now = time.monotonic()
            total += len(data)
            self.chunks.append(data)
            self.reads.append((now, total))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        if self._thread is not None:
            self._thread.join(5)

    @property
    def samples(self) -> np.ndarray:
        """Everything recorded so far, float, full scale 1."""
        audio = b"".join(list(self.chunks))
        return np.frombuffer(audio[: len(audio) // 2 * 2], dtype="<i2").astype(np.float64) / 32768.0

    @property
    def t0(self) -> float:
        """When the first sample was captured: the least-delayed read says it best."""
        if not self.reads:
            raise AssertionError(f"nothing recorded from {self.source}")
        return min(at - total / 2 / RATE for at, total in list(self.reads))

    def time_of(self, index: int) -> float:
        return self.t0 + index / RATE

    def index_of(self, at: float) -> int:
        return max(0, int(round((at - self.t0) * RATE)))

    def voiced(self, start: float, end: Optional[float] = None) -> np.ndarray:
        """Start indexes of the 10 ms windows louder than VOICED_RMS between two monotonic times."""
        samples = self.samples
        first = self.index_of(start) // WINDOW * WINDOW
        last = len(samples) if end is None else min(len(samples), self.index_of(end))
        count = max(0, (last - first) // WINDOW)
        if count == 0:
            return np.array([], dtype=int)
        windows = samples[first:first + count * WINDOW].reshape(count, WINDOW)
        loud = np.sqrt(np.mean(windows ** 2, axis=1)) > VOICED_RMS
        return first + np.flatnonzero(loud) * WINDOW

    def first_sound(self, after: float, until: Optional[float] = None) -> Optional[float]:
        """Monotonic time of the first sound after `after`, or None."""
        loud = self.voiced(after, until)
        return self.time_of(int(loud[0])) if len(loud) else None

    def last_sound(self, after: float, until: Optional[float] = None) -> Optional[float]:
        """Monotonic time the last sound between the two times ended, or None."""
        loud = self.voiced(after, until)
        return self.time_of(int(loud[-1]) + WINDOW) if len(loud) else None

    def pcm(self, start: float, end: Optional[float] = None) -> bytes:
        """16 kHz 16-bit mono PCM between two monotonic times."""
        audio = b"".join(list(self.chunks))
        first = self.index_of(start) * 2
        return audio[first:] if end is None else audio[first:self.index_of(end) * 2]


class Pulse:
    """A private PulseAudio daemon (no config files, anonymous unix socket) with the two sinks."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="nexus-pa-"))  # short: a unix socket path is <= 108 bytes
        self.socket = self.dir / "native"
        self.client_env = {"PULSE_SERVER": f"unix:{self.socket}"}  # what a client (the satellite) needs
        self.env = {**os.environ, **self.client_env}
        self.proc: Optional[subprocess.Popen] = None
        self.log = self.dir / "pulseaudio.log"
        self._recordings: list[Recording] = []

    def start(self, timeout: float = 15.0) -> "Pulse":
        """Start the daemon; PulseUnavailable saying why when it cannot run here."""
        if missing := missing_tools():
            raise PulseUnavailable(f"not installed: {', '.join(missing)} (apt-get install pulseaudio pulseaudio-utils)")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                ["pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit", "--disallow-module-loading",
                 "-n", "--disable-shm", "--realtime=no", "--high-priority=no", "--log-target=stderr",
                 f"--load=module-native-protocol-unix auth-anonymous=1 socket={self.socket}",
                 "--load=module-null-sink sink_name=speaker rate=48000",
                 "--load=module-null-sink sink_name=micfeed rate=48000"],
                stdout=log, stderr=log, start_new_session=True,
                env={**self.env, "HOME": str(self.dir), "XDG_RUNTIME_DIR": str(self.dir),
                     "PULSE_RUNTIME_PATH": str(self.dir), "PULSE_STATE_PATH": str(self.dir / "state")})
        deadline = time.monotonic() + timeout
        while subprocess.run(["pactl", "info"], env=self.env, capture_output=True).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise PulseUnavailable(f"pulseaudio did not start:\n{self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        for setting in (["set-default-sink", "speaker"], ["set-default-source", "micfeed.monitor"]):
            subprocess.run(["pactl", *setting], env=self.env, check=True, capture_output=True)
        return self

    def record(self, source: str) -> Recording:
        """Start recording `source` (e.g. speaker.monitor); stopped with the daemon."""
        recording = Recording(source, self.env).start()
        self._recordings.append(recording)
        return recording

    def say(self, wav: Path) -> subprocess.Popen:
        """Play a WAV into micfeed, at real time, as a person speaking to the satellite."""
        return subprocess.Popen(["paplay", "-d", "micfeed", "--latency-msec=20", str(wav)], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        for recording in self._recordings:
            recording.stop()
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


#: The satellite's two ways to each device: PortAudio (sounddevice) and ALSA commands, both on PulseAudio.
MICS = {"sounddevice": ["--mic-device", "pulse"],
        "arecord": ["--mic-command", "arecord -D pulse -r 16000 -c 1 -f S16_LE -t raw"]}
SPEAKERS = {"sounddevice": ["--snd-device", "pulse"],
            "aplay": ["--snd-command", "aplay -D pulse -r 22050 -c 1 -f S16_LE -t raw"]}
_STAMP = re.compile(r"reply: first sound at monotonic ([\d.]+)")


@dataclass
class DeviceTurn:
    """One spoken question and its reply, as the two monitors heard them (monotonic seconds)."""

    speech_end: float  # the question's last sound in micfeed
    first_sound: Optional[float]  # the reply's first sound in speaker
    reply: bytes  # the reply as recorded from speaker.monitor (16 kHz 16-bit mono)
    stamps: list[float]  # the satellite's own "first sound" stamps, one per playback
    record: Optional[dict]  # its satellite-turn log record
    log: str

    @property
    def latency_s(self) -> Optional[float]:
        """End of speech to the first reply sound, both at the device."""
        return None if self.first_sound is None else self.first_sound - self.speech_end

    @property
    def stamp_error_s(self) -> Optional[float]:
        """The satellite's stamp minus what the monitor heard (negative: it claims too early)."""
        if self.first_sound is None or not self.stamps:
            return None
        return self.stamps[0] - self.first_sound


async def device_turn(pulse: Pulse, mic: str, speaker: str, wav: Path, args: list[str],
                      timeout: float = 60.0) -> DeviceTurn:
    """Start a satellite on the sound server, say `wav` into micfeed once, wait for its one turn."""
    micfeed, heard = pulse.record("micfeed.monitor"), pulse.record("speaker.monitor")
    sat = SatelliteProcess(["run", "--debug", "--max-turns", "1", "--no-wake-word", *MICS[mic], *SPEAKERS[speaker],
                            *args], env=pulse.client_env, wait_for_port=False).start()
    try:
        async with asyncio.timeout(timeout):
            while "standalone: listening" not in sat.log:
                assert sat.alive, sat.log
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # the microphone stream or command is running
            said = time.monotonic()
            speaking = pulse.say(wav)
            while speaking.poll() is None or sat.alive:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # what the monitors still hold
        done = time.monotonic()
    except TimeoutError:
        raise AssertionError(f"no turn within {timeout} s:\n{sat.log}") from None
    finally:
        sat.stop()
        micfeed.stop()
        heard.stop()
    speech_end = micfeed.last_sound(said, done)
    assert speech_end is not None, "the spoken question never reached micfeed"
    first = heard.first_sound(speech_end, done)
    records = [json.loads(line[line.index("{"):]) for line in sat.lines if '"satellite-turn"' in line]
    return DeviceTurn(speech_end, first, heard.pcm(first, done) if first else b"",
                      [float(m) for m in _STAMP.findall(sat.log)], records[0] if records else None, sat.log)
