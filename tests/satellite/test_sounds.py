"""--awake-wav, --done-wav, --timer-finished-wav: checked at start, played when they should be."""

import asyncio
import subprocess
import sys
import time

import pytest
from wyoming.event import Event

from satellite.sounds import load_wav
from tests.satellite.ha_client import Ha
from tests.satellite.speech import silence, tone, write_wav
from tests.support.processes import REPO


def test_a_wav_loads_in_its_own_format(tmp_path):
    samples = tone(660, 0.25)
    clip = load_wav(str(write_wav(tmp_path / "a.wav", samples, rate=22050)), "--awake-wav")
    assert (clip.format.rate, clip.format.width, clip.format.channels) == (22050, 2, 1)
    assert len(clip.pcm) == len(samples) * 2
    twice = clip.repeated(2, 0.5)
    assert len(twice.pcm) == 2 * len(clip.pcm) + int(0.5 * 22050) * 2


def _bad_files(tmp_path):
    (tmp_path / "text.wav").write_text("not a wav at all\n")
    write_wav(tmp_path / "empty.wav", silence(0.0))
    return {"missing.wav": "cannot read it", "text.wav": "not a PCM WAV", "empty.wav": "the WAV holds no audio"}


@pytest.mark.parametrize("name", ["missing.wav", "text.wav", "empty.wav"])
def test_an_unusable_wav_is_refused(tmp_path, name):
    why = _bad_files(tmp_path)[name]
    with pytest.raises(ValueError, match=f"--done-wav .*{name}: {why}"):
        load_wav(str(tmp_path / name), "--done-wav")


@pytest.mark.parametrize("flag", ["--awake-wav", "--done-wav", "--timer-finished-wav"])
def test_the_satellite_stops_at_start_on_an_unusable_wav(tmp_path, flag):
    _bad_files(tmp_path)
    mic = write_wav(tmp_path / "mic.wav", silence(0.2))
    result = subprocess.run(
        [sys.executable, "-m", "satellite", "ha", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir",
         str(tmp_path / "data"), "--mic-file", str(mic), flag, str(tmp_path / "text.wav")],
        capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 2, result.stderr
    assert f"{flag} {tmp_path / 'text.wav'}: not a PCM WAV file" in result.stderr
    assert "Traceback" not in result.stderr


async def test_timer_finished_plays_the_wav_repeated(tmp_path, command_wav):
    chime = write_wav(tmp_path / "chime.wav", tone(880, 0.2), rate=16000)
    ha = Ha(tmp_path, command_wav, "--timer-finished-wav", str(chime), "--timer-finished-wav-repeat", "3", "0.1")
    try:
        client = await ha.client()
        await client.send(Event("run-satellite"))
        await client.send(Event("timer-finished", {"id": "t1"}))
        assert ha.proc.wait_for_log(r"timer t1 finished")
        deadline = time.monotonic() + 5
        while (not ha.snd.exists() or ha.played_seconds() < 0.79) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
        assert 0.79 <= ha.played_seconds() <= 0.82  # 3 × 0.2 s, 0.1 s apart; not the built-in chime
        await client.close()
    finally:
        ha.proc.stop()
