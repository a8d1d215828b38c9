"""The Whisper engine: windowed encoder, token budget, names as hotwords, real decodes."""

import numpy as np
import pytest
import pytest_asyncio

from nexus_wyoming.config import WhisperSettings
from nexus_wyoming.stt.engine import SttError, SttRequest
from nexus_wyoming.stt.engines.whisper import MAX_HOTWORD_CHARS, WhisperEngine, hotwords, max_new_tokens, window_frames
from tests.stt.speech import silence, words


def padded(content_frames: int) -> np.ndarray:
    features = np.zeros((80, 3000), dtype=np.float32)
    features[:, :content_frames] = -0.5
    return features


@pytest.mark.parametrize("content, expected", [(149, 1000), (899, 1000), (901, 2000), (2950, 3000), (0, 1000)])
def test_window_covers_the_audio_plus_a_second_in_whole_buckets(content, expected):
    assert window_frames(padded(content), 1000) == expected


def test_token_budget_grows_with_the_audio_and_is_capped():
    assert max_new_tokens(16000) < max_new_tokens(5 * 16000) <= 220
    assert max_new_tokens(600 * 16000) == 220


def test_hotwords_keep_order_and_fit_the_prompt():
    assert hotwords(["Kitchen", "Living Room"]) == "Kitchen, Living Room"
    assert hotwords([]) is None
    assert len(hotwords([f"device number {i}" for i in range(200)])) <= MAX_HOTWORD_CHARS


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def whisper(stt_data_dir):
    engine = WhisperEngine(WhisperSettings(), stt_data_dir / "models")
    await engine.start()
    yield engine
    await engine.close()


@pytest.mark.asyncio(loop_scope="module")
async def test_transcribes_a_spoken_command(whisper, speaker):
    session = await whisper.open(SttRequest(language="en-US", names=["Kitchen"]))
    await session.feed(speaker.say("Turn on the kitchen lights.") + silence(0.5))
    assert words(await session.transcribe()) == ["turn", "on", "the", "kitchen", "lights"]
    await session.close()


@pytest.mark.asyncio(loop_scope="module")
async def test_too_little_audio_is_no_text(whisper):
    session = await whisper.open(SttRequest(language="en"))
    await session.feed(b"\x01")
    assert await session.transcribe() == ""


@pytest.mark.asyncio(loop_scope="module")
async def test_unknown_language_is_refused(whisper):
    assert "en" in whisper.languages() and "de" in whisper.languages()
    with pytest.raises(SttError, match="language"):
        await whisper.open(SttRequest(language="xx"))
