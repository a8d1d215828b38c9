"""AuraEngine against a local fake speaking Deepgram's /v1/speak HTTP API."""

from contextlib import aclosing
from dataclasses import replace

import pytest

from nexus_wyoming.config import AuraSettings
from nexus_wyoming.tts.engine import TtsError, UnknownVoiceError, VoiceRequest
from nexus_wyoming.tts.engines.aura import AuraEngine
from tests.fakes import tone
from tests.fakes.deepgram_aura import FakeAura

pytestmark = pytest.mark.asyncio

TEXT = "Turning on the porch light."
DEFAULT = VoiceRequest()


def engine_for(fake: FakeAura, api_key: str = "", timeout_s: float = 5.0, **settings) -> AuraEngine:
    return AuraEngine(replace(AuraSettings(), url=fake.url, **settings), api_key or fake.api_key,
                      timeout_s=timeout_s)


async def collect(engine: AuraEngine, text: str = TEXT, voice: VoiceRequest = DEFAULT) -> list:
    return [piece async for piece in engine.synthesize(text, voice)]


async def test_streams_raw_pcm_in_whole_samples():
    async with FakeAura() as fake:  # 4095-byte chunks split samples
        engine = engine_for(fake)
        pieces = await collect(engine)
        await engine.close()
    assert len(pieces) > 1, "audio should stream in several pieces"
    assert all(len(p.audio) % 2 == 0 for p in pieces)
    assert b"".join(p.audio for p in pieces) == tone(TEXT, 24000)
    assert {(p.rate, p.width, p.channels) for p in pieces} == {(24000, 2, 1)}


async def test_sends_the_documented_request():
    async with FakeAura() as fake:
        engine = engine_for(fake, sample_rate=16000, model="aura-2-andromeda-en")
        await collect(engine)
        await engine.close()
    (request,) = fake.requests
    assert (request.method, request.path) == ("POST", "/v1/speak")
    assert request.query == {"model": "aura-2-andromeda-en", "encoding": "linear16",
                             "sample_rate": "16000", "container": "none"}
    assert request.headers["authorization"] == f"Token {fake.api_key}"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {"text": TEXT}


async def test_keeps_one_connection_alive_across_requests():
    async with FakeAura() as fake:
        engine = engine_for(fake, sample_rate=8000)
        first, second = await collect(engine, "One."), await collect(engine, "Two, longer.")
        await engine.close()
    assert b"".join(p.audio for p in first) == tone("One.", 8000)
    assert b"".join(p.audio for p in second) == tone("Two, longer.", 8000)
    assert fake.requests[0].client_port == fake.requests[1].client_port


async def test_wrong_key_is_a_clear_error_without_the_key():
    async with FakeAura() as fake:
        engine = engine_for(fake, api_key="dg_wrong_secret")
        with pytest.raises(TtsError) as caught:
            await collect(engine)
        await engine.close()
    message = str(caught.value)
    assert message == "Deepgram Aura answered HTTP 401: INVALID_AUTH: Invalid credentials."
    assert "dg_wrong_secret" not in message


async def test_text_over_the_limit_reports_deepgrams_message():
    async with FakeAura() as fake:
        engine = engine_for(fake)
        with pytest.raises(TtsError, match="HTTP 413: Payload Too Large: Input text exceeds maximum "
                                           "character limit of 2000"):
            await collect(engine, "x" * 2001)
        assert await collect(engine, "x" * 20), "the connection stays usable"
        await engine.close()


async def test_server_error_is_a_tts_error():
    async with FakeAura(fail_status=500) as fake:
        engine = engine_for(fake)
        with pytest.raises(TtsError, match="HTTP 500: Internal Server Error: Please try again later."):
            await collect(engine)
        await engine.close()


async def test_unknown_model_is_reported():
    async with FakeAura() as fake:
        engine = engine_for(fake, model="thalia")
        with pytest.raises(TtsError, match="No such model"):
            await collect(engine, voice=VoiceRequest(name="thalia"))
        await engine.close()


async def test_slow_first_byte_within_the_timeout_still_streams():
    async with FakeAura(first_byte_delay_s=0.3) as fake:
        engine = engine_for(fake, timeout_s=2.0)
        assert b"".join(p.audio for p in await collect(engine)) == tone(TEXT, 24000)
        await engine.close()


async def test_silent_server_times_out():
    async with FakeAura(silent=True) as fake:
        engine = engine_for(fake, timeout_s=0.3)
        with pytest.raises(TtsError, match="timed out"):
            await collect(engine)
        await engine.close()


async def test_connection_dropped_mid_body_is_a_tts_error():
    async with FakeAura(close_after_bytes=8000) as fake:
        engine = engine_for(fake)
        received = []
        with pytest.raises(TtsError, match="request failed"):
            async for piece in engine.synthesize(TEXT, DEFAULT):
                received.append(piece)
        assert received, "audio before the drop was delivered"
        fake.close_after_bytes = None
        assert b"".join(p.audio for p in await collect(engine)) == tone(TEXT, 24000)
        await engine.close()


async def test_stopping_early_leaves_the_engine_usable():
    async with FakeAura(chunk_bytes=1000) as fake:
        engine = engine_for(fake)
        async with aclosing(engine.synthesize(TEXT, DEFAULT)) as stream:
            assert (await anext(stream)).audio
        assert b"".join(p.audio for p in await collect(engine)) == tone(TEXT, 24000)
        await engine.close()


async def test_unreachable_server_is_a_tts_error():
    async with FakeAura() as fake:
        url = fake.url
    engine = AuraEngine(replace(AuraSettings(), url=url), "dg_secret", timeout_s=1.0)
    with pytest.raises(TtsError, match="request failed: ConnectError") as caught:
        await collect(engine)
    assert "dg_secret" not in str(caught.value)
    await engine.close()


async def test_voice_names_and_empty_text():
    async with FakeAura() as fake:
        engine = engine_for(fake)
        (voice,) = engine.voices()
        assert voice.name == "aura-2-thalia-en" and voice.languages == ["en"]
        assert await collect(engine, voice=VoiceRequest(name=voice.name))
        with pytest.raises(UnknownVoiceError):
            await collect(engine, voice=VoiceRequest(name="aura-2-zeus-en"))
        assert await collect(engine, "  ") == []
        await engine.close()
    assert len(fake.requests) == 1
