"""Helpers for Home Assistant mode tests: a satellite process and what HA sends."""

import sys
import urllib.request
import wave
from pathlib import Path
from typing import Optional

import numpy as np
from wyoming.event import Event

from tests.satellite.process import SatelliteProcess
from tests.support.client import WyomingClient
from tests.support.services import free_port

MIC = Path(__file__).parent / "paced_mic.py"
REPLY_RATE = 22050


class Ha:
    """A satellite process, its go-file (starts the spoken command) and its speaker file."""

    def __init__(self, tmp_path: Path, wav: Path, *extra: str, mic_args: str = "", wake: bool = False) -> None:
        """`wake`: the default trigger (okay nabu); else every speech starts a turn (--no-wake-word)."""
        self.go = tmp_path / "go"
        self.snd = tmp_path / "played.wav"
        self.metrics_port = free_port()
        mic = f"{sys.executable} {MIC} --wav {wav} --go {self.go} {mic_args}"
        self.proc = SatelliteProcess([
            "ha", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir", str(tmp_path / "data"),
            "--device-id", "kitchen-pi", "--mic-command", mic, "--snd-file", str(self.snd),
            "--metrics-port", str(self.metrics_port), *([] if wake else ["--no-wake-word"]), *extra,
        ]).start()

    async def client(self, source: Optional[str] = None) -> WyomingClient:
        return await WyomingClient.connect(self.proc.host, self.proc.port, source)

    def speak(self) -> None:
        self.go.touch()

    def played_seconds(self) -> float:
        with wave.open(str(self.snd), "rb") as wav:
            return wav.getnframes() / wav.getframerate()

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            return response.read().decode()


def reply_events(seconds: float, rate: int = REPLY_RATE) -> list[Event]:
    """What HA sends for a reply: audio-start, 1024-sample chunks, audio-stop."""
    pcm = (np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate) * 8000).astype("<i2").tobytes()
    fmt = {"rate": rate, "width": 2, "channels": 1}
    return ([Event("audio-start", fmt)] + [Event("audio-chunk", fmt, payload=pcm[i:i + 2048])
                                           for i in range(0, len(pcm), 2048)] + [Event("audio-stop")])


async def send_all(client: WyomingClient, events: list[Event]) -> None:
    for event in events:
        await client.send(event)


async def until(client: WyomingClient, event_type: str, timeout: float = 20.0) -> list[Event]:
    """Events up to `event_type`, answering HA-style pings on the way is the satellite's job."""
    return await client.read_until(event_type, timeout)
