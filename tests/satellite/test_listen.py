"""The satellite hears its own speaker (no echo canceller): without barge-in the reply
cannot start a turn; with barge-in it interrupts itself, which is why barge-in is off by
default. A test double joins the two: what the player writes is what the microphone hears."""

import asyncio
from types import SimpleNamespace

import numpy as np
import pytest

from nexus_wyoming.audio import PcmFormat
from satellite.endpoint import Segment
from satellite.frontend import Frontend
from satellite import listen
from satellite.listen import Listener
from satellite import player as player_module
from satellite.player import Player
from satellite.settings import FrontendSettings
from tests.satellite.speech import pcm, silence, spoken

CHUNK = 640  # 20 ms at 16 kHz
SPEEDUP = 8  # the room runs at 8x real time


class Room:
    """A speaker and a microphone in one room: the sink's audio is the mic's next audio."""

    rate = 16_000
    delay_s = 0.0
    HELD = 16_000  # the device still holds 0.5 s when it says it is done, like a sound card's buffer

    def __init__(self, seconds: float, voice: bytes = b"") -> None:
        self.air = bytearray()
        self.voice = bytearray(voice)  # what the user says, heard along with the speaker
        self.chunks_left = int(seconds * 50)
        self.elapsed_s = 0.0  # room time: the audio the microphone has delivered
        self.format = PcmFormat(16_000)

    # --- the speaker (a Sink): a small device buffer the microphone empties
    async def open(self) -> None:
        pass

    async def write(self, audio: bytes) -> None:
        while len(self.air) > self.HELD:
            await asyncio.sleep(0.001)
        self.air += audio

    async def finish(self) -> None:
        while len(self.air) > self.HELD:
            await asyncio.sleep(0.001)

    async def abort(self) -> None:
        self.air.clear()

    async def close(self) -> None:
        pass

    # --- the microphone (a MicSource): silence unless the speaker plays
    async def chunks(self):
        while self.chunks_left > 0:
            self.chunks_left -= 1
            self.elapsed_s += CHUNK / 32_000
            yield _mixed(self._take(self.air), self._take(self.voice))
            await asyncio.sleep(0.02 / SPEEDUP)


    @staticmethod
    def _take(buffer: bytearray) -> bytes:
        chunk = bytes(buffer[:CHUNK])
        del buffer[:CHUNK]
        return chunk + bytes(CHUNK - len(chunk))


def _mixed(a: bytes, b: bytes) -> bytes:
    total = np.frombuffer(a, "<i2").astype(np.int32) + np.frombuffer(b, "<i2")
    return np.clip(total, -32768, 32767).astype("<i2").tobytes()


REPLIES = {"none": "Here is a long answer. It goes on for a while, about the weather today.",
           "okay_nabu": "Okay Nabu. Here is a long answer about the weather today."}


@pytest.mark.parametrize("wake_word", ["none", "okay_nabu"])
@pytest.mark.parametrize("barge_in", [False, True])
async def test_a_reply_the_microphone_hears(wake_word, barge_in):
    reply = spoken(REPLIES[wake_word])
    room = Room(seconds=len(reply) / 16_000 + 3.0)
    player = Player(room)
    heard: list[Segment] = []

    async def handler(segment: Segment) -> None:
        heard.append(segment)

    frontend = Frontend.from_settings(FrontendSettings(wake_word=wake_word))
    listener = Listener(room, frontend, player, handler, barge_in=barge_in, barge_in_min_ms=300)
    listening = asyncio.create_task(listener.run())
    await asyncio.sleep(0.05)
    playback = player.start(PcmFormat(16_000), "reply")
    playback.write(pcm(reply))
    playback.end()
    played_fully = await asyncio.wait_for(playback.done, 30)
    await asyncio.wait_for(listening, 30)  # the room's time runs out
    await player.close()
    kinds = [s.kind for s in heard]
    if barge_in:
        assert not played_fully  # it interrupted itself
        assert "start" in kinds
        assert ("wake" in kinds) == (wake_word != "none")
    else:
        assert played_fully
        assert kinds == []  # no turn, no wake word
        assert listener.muted_s >= len(reply) / 16_000 * 0.9


async def test_an_utterance_under_way_is_not_muted():
    """The command after the wake word goes on while the wake sound plays."""
    room = Room(seconds=1.0)
    player = Player(room)
    frontend = Frontend.from_settings(FrontendSettings(wake_word="none"))
    listener = Listener(room, frontend, player, lambda segment: asyncio.sleep(0))
    frontend.arm()
    playback = player.start(PcmFormat(16_000), "awake")
    assert player.playing and not listener.muted()
    frontend.cancel()
    assert listener.muted()
    playback.end()
    await player.close()


@pytest.mark.parametrize("pause", [0.3, 1.5])  # the user may wait for the awake sound to end
@pytest.mark.parametrize("barge_in", [False, True])
async def test_the_wake_sound_does_not_cut_the_command_it_announces(barge_in, pause, monkeypatch):
    voice = pcm(np.concatenate([silence(0.3), spoken("Okay Nabu."), silence(pause),
                                spoken("Turn on the kitchen lights."), silence(1.0)]))
    room = Room(seconds=len(voice) / 32_000 + 0.5, voice=voice)
    # The room's own clock (the audio it has moved), not the wall clock, which a busy machine
    # slows against it; the speaker's tail covers what the device still holds, as on a device.
    clock = SimpleNamespace(monotonic=lambda: room.elapsed_s)
    monkeypatch.setattr(listen, "time", clock)
    monkeypatch.setattr(player_module, "time", clock)
    monkeypatch.setattr(listen, "MUTE_TAIL_S", Room.HELD / 32_000 + 0.1)
    player = Player(room)
    heard: list[Segment] = []
    sounds: list = []

    async def handler(segment: Segment) -> None:
        heard.append(segment)
        if segment.kind == "wake":  # what the modes do: the awake sound plays as the command begins
            sounds.append(player.play(PcmFormat(16_000), pcm(0.3 * np.sin(np.arange(8000) / 5.0)), "awake"))

    frontend = Frontend.from_settings(FrontendSettings(wake_word="okay_nabu"))
    await Listener(room, frontend, player, handler, barge_in=barge_in).run()
    await player.close()
    kinds = [s.kind for s in heard]
    assert kinds[:2] == ["wake", "start"] and kinds[-1] == "end" and kinds.count("start") == 1
    assert heard[-1].reason == "silence"
    assert sum(s.kind == "audio" for s in heard) * 0.03 >= 1.5  # the whole command went to the mode
    assert sounds[0].done.result() is True  # played to the end, not taken for barge-in
