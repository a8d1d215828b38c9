"""Microphone and speaker pieces: format conversion, sinks, the player's order and barge-in stop."""

import asyncio
import shlex
import time
import wave

import numpy as np
import pytest

from nexus_wyoming.audio import PcmFormat
from satellite.mic import AudioFormatError, CommandMic, WavFileMic, mic_16k
from satellite.player import Player
from satellite.speaker import CommandSink, WavFileSink
from tests.satellite.speech import read_wav, tone, write_wav

RATE = 22050


def _pcm(seconds: float, rate: int = RATE) -> bytes:
    return (np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate) * 8000).astype("<i2").tobytes()


@pytest.mark.parametrize("rate, width, channels", [(16000, 2, 1), (8000, 1, 1), (44100, 2, 2), (48000, 4, 2)])
async def test_wav_mic_is_converted_to_16k_mono(tmp_path, rate, width, channels):
    path = write_wav(tmp_path / "in.wav", tone(440.0, 1.0, 0.5)[: rate] if rate == 16000 else
                     0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate), rate=rate, width=width, channels=channels)
    out = b"".join([chunk async for chunk in mic_16k(WavFileMic(str(path), realtime=False, tail_s=0.5))])
    assert len(out) / 32000 == pytest.approx(1.5, abs=0.01)
    samples = np.frombuffer(out[:32000], dtype="<i2") / 32768
    assert np.sqrt(np.mean(samples ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)


async def test_wav_mic_is_paced_like_a_live_microphone(tmp_path):
    path = write_wav(tmp_path / "in.wav", np.zeros(8000))
    start = time.monotonic()
    async for _ in WavFileMic(str(path), realtime=True, tail_s=0.0).chunks():
        pass
    assert time.monotonic() - start >= 0.45


def test_not_a_wav_is_a_clear_error(tmp_path):
    path = tmp_path / "noise.wav"
    path.write_bytes(b"definitely not RIFF")
    with pytest.raises(AudioFormatError, match="unsupported --mic-file"):
        WavFileMic(str(path))


def test_missing_mic_command_is_a_clear_error():
    async def first():
        async for chunk in CommandMic("/no/such/recorder -r 16000", PcmFormat(16000)).chunks():
            return chunk

    with pytest.raises(AudioFormatError, match="cannot run mic command"):
        asyncio.run(first())


async def test_player_plays_streams_in_order_into_a_valid_wav(tmp_path):
    sink = WavFileSink(str(tmp_path / "out.wav"), RATE)
    player = Player(sink)
    first = player.play(PcmFormat(RATE), _pcm(0.3), "one")
    second = player.play(PcmFormat(16000), _pcm(0.2, 16000), "two")  # converted to the sink's rate
    assert player.playing
    assert await first.done is True and await second.done is True
    assert first.first_heard < second.first_heard
    audio, rate = read_wav(tmp_path / "out.wav")  # header already valid before close
    assert rate == RATE and len(audio) / rate == pytest.approx(0.5, abs=0.01)
    await player.close()


async def test_stop_cuts_the_reply_and_drops_the_queue(tmp_path):
    player = Player(WavFileSink(str(tmp_path / "out.wav"), RATE))
    long = player.play(PcmFormat(RATE), _pcm(3.0), "long")
    queued = player.play(PcmFormat(RATE), _pcm(1.0), "queued")
    await asyncio.sleep(0.3)
    await player.stop()
    assert long.done.result() is False and queued.done.result() is False
    await asyncio.sleep(0.2)
    with wave.open(str(tmp_path / "out.wav"), "rb") as wav:
        assert wav.getnframes() / RATE < 1.0  # the rest of the reply was never played
    assert not player.playing
    again = player.play(PcmFormat(RATE), _pcm(0.1), "after")
    assert await again.done is True
    await player.close()


async def test_command_sink_feeds_the_player_command_and_waits_for_it(tmp_path):
    raw = tmp_path / "out.raw"
    player = Player(CommandSink(f"sh -c 'sleep 0.2; cat > {raw}'", RATE))
    start = time.monotonic()
    playback = player.play(PcmFormat(RATE), _pcm(0.5), "reply")
    assert await playback.done is True
    assert time.monotonic() - start >= 0.2  # done = the command finished, not just fed
    assert raw.stat().st_size == int(0.5 * RATE) * 2
    await player.close()


async def test_volume_scales_playback(tmp_path):
    player = Player(WavFileSink(str(tmp_path / "out.wav"), RATE, realtime=False), volume=0.5)
    await player.play(PcmFormat(RATE), _pcm(0.2), "reply").done
    audio, _ = read_wav(tmp_path / "out.wav")
    assert np.abs(audio).max() == pytest.approx(4000 / 32768, rel=0.01)
    await player.close()


async def test_no_speaker_still_reports_played():
    player = Player(None)
    assert await player.play(PcmFormat(RATE), _pcm(0.1), "reply").done is True
    await player.close()


async def test_a_failing_player_command_says_why(caplog):
    player = Player(CommandSink("sh -c 'cat > /dev/null; echo device busy >&2; exit 1'", RATE))
    await player.play(PcmFormat(RATE), _pcm(0.1), "reply").done
    assert "snd command exited with code 1: device busy" in caplog.text
    await player.close()


@pytest.mark.parametrize("hang", ["sleep 60", "cat > /dev/null; sleep 60"], ids=["reads-nothing", "never-exits"])
async def test_a_hung_player_command_is_killed_and_the_next_reply_plays(caplog, tmp_path, hang):
    raw, hung = tmp_path / "out.raw", tmp_path / "hung-once"
    script = f"if [ -e {hung} ]; then cat > {raw}; else touch {hung}; {hang}; fi"
    player = Player(CommandSink(f"sh -c {shlex.quote(script)}", RATE, stall_s=0.5))
    start = time.monotonic()
    await asyncio.wait_for(player.play(PcmFormat(RATE), _pcm(5.0), "reply").done, 10)
    assert time.monotonic() - start < 5  # not the 60 s the command would hang
    assert "killed" in caplog.text
    assert await player.play(PcmFormat(RATE), _pcm(0.2), "after").done is True
    assert raw.stat().st_size == int(0.2 * RATE) * 2
    await player.close()
