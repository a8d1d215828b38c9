"""CartesiaEngine against a local fake speaking Cartesia's WebSocket protocol."""

import asyncio
import uuid
from contextlib import aclosing
from dataclasses import replace

import pytest

from nexus_wyoming.config import CartesiaSettings
from nexus_wyoming.tts.engine import TtsError, UnknownVoiceError, VoiceRequest
from nexus_wyoming.tts.engines.cartesia import CartesiaEngine
from tests.fakes import tone
from tests.fakes.cartesia import FakeCartesia

pytestmark = pytest.mark.asyncio

TEXT = "Hello from the kitchen."
DEFAULT = VoiceRequest()


def engine_for(fake: FakeCartesia, api_key: str = "", timeout_s: float = 5.0, **settings) -> CartesiaEngine:
    return CartesiaEngine(replace(CartesiaSettings(), url=fake.url, **settings),
                          api_key or fake.api_key, timeout_s=timeout_s)


async def collect(engine: CartesiaEngine, text: str = TEXT, voice: VoiceRequest = DEFAULT) -> list:
    return [piece async for piece in engine.synthesize(text, voice)]


async def wait_for(condition, timeout_s: float = 2.0) -> None:
    """Until the fake has recorded something the client sent without waiting for an answer."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


async def test_streams_the_transcript_as_16_bit_mono_pcm():
    async with FakeCartesia() as fake:
        engine = engine_for(fake)
        pieces = await collect(engine)
        await engine.close()
    assert len(pieces) > 1, "audio should stream in several chunks"
    assert b"".join(p.audio for p in pieces) == tone(TEXT, 22050)
    assert {(p.rate, p.width, p.channels) for p in pieces} == {(22050, 2, 1)}
    assert all(len(p.audio) % 2 == 0 for p in pieces)


async def test_sends_the_documented_handshake_and_generation_request():
    async with FakeCartesia() as fake:
        engine = engine_for(fake)
        await collect(engine)
        await engine.close()
    (handshake,) = fake.handshakes
    assert handshake.path == "/tts/websocket"
    assert handshake.query == {"cartesia_version": "2025-04-16"}
    assert handshake.headers["x-api-key"] == fake.api_key
    (request,) = fake.requests
    uuid.UUID(request.pop("context_id"))
    assert request == {
        "model_id": "sonic-2",
        "transcript": TEXT,
        "voice": {"mode": "id", "id": "bf0a246a-8642-498a-9950-80c35e9276b5"},
        "language": "en",
        "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 22050},
        "continue": False,
    }


async def test_reuses_one_connection_for_sequential_calls():
    async with FakeCartesia() as fake:
        engine = engine_for(fake, sample_rate=16000)
        first, second = await collect(engine, "One."), await collect(engine, "Two, longer.")
        await engine.close()
    assert fake.connections_accepted == 1
    assert b"".join(p.audio for p in first) == tone("One.", 16000)
    assert b"".join(p.audio for p in second) == tone("Two, longer.", 16000)


async def test_concurrent_calls_on_one_connection_get_their_own_audio():
    texts = ["The first sentence is rather long.", "A second one."]
    async with FakeCartesia(chunk_samples=512, chunk_interval_s=0.002) as fake:
        engine = engine_for(fake)
        await collect(engine, "Warm up.")
        results = await asyncio.gather(*(collect(engine, text) for text in texts))
        await engine.close()
    assert fake.connections_accepted == 1
    for text, pieces in zip(texts, results):
        assert b"".join(p.audio for p in pieces) == tone(text, 22050)
    assert len({r["context_id"] for r in fake.requests}) == 3


async def test_stopping_early_cancels_the_context_and_frees_it():
    async with FakeCartesia(chunk_samples=256, chunk_interval_s=0.01) as fake:
        engine = engine_for(fake)
        async with aclosing(engine.synthesize(TEXT, DEFAULT)) as stream:
            first = await anext(stream)
        assert first.audio
        await wait_for(lambda: fake.cancels)
        assert fake.cancels == [fake.requests[0]["context_id"]]
        assert engine._conn is not None and engine._conn.contexts == {}
        assert b"".join(p.audio for p in await collect(engine, "Next.")) == tone("Next.", 22050)
        await engine.close()


async def test_wrong_key_is_a_clear_error_without_the_key():
    async with FakeCartesia() as fake:
        engine = engine_for(fake, api_key="sk_car_wrong_secret")
        with pytest.raises(TtsError) as caught:
            await collect(engine)
        await engine.close()
    message = str(caught.value)
    assert "401" in message and "API key" in message
    assert "sk_car_wrong_secret" not in message


async def test_version_is_appended_to_an_existing_query():
    async with FakeCartesia() as fake:
        engine = CartesiaEngine(replace(CartesiaSettings(), url=fake.url + "?x=1"), fake.api_key)
        await collect(engine)  # cartesia_version is appended to an existing query
        await engine.close()
    assert fake.handshakes[0].query == {"x": "1", "cartesia_version": "2025-04-16"}


@pytest.mark.parametrize("version, expected", [
    ("2025-04-16", "Cartesia error 500: Internal error: Generation failed."),
    ("2026-03-01", "Cartesia error 500 internal_error: Internal error: Generation failed."),
])
async def test_error_message_mid_stream_raises_with_the_vendor_text(version, expected):
    async with FakeCartesia(error_after_chunks=1) as fake:
        engine = engine_for(fake, version=version)
        received = []
        with pytest.raises(TtsError, match="Generation failed") as caught:
            async for piece in engine.synthesize(TEXT, DEFAULT):
                received.append(piece)
        assert str(caught.value) == expected
        assert len(received) == 1
        assert fake.cancels == [], "an error ends the context; nothing to cancel"
        fake.error_after_chunks = None
        assert await collect(engine, "Still fine.")
        await engine.close()


async def test_request_the_api_rejects_is_an_error():
    async with FakeCartesia() as fake:
        engine = engine_for(fake, voice_id="")
        with pytest.raises(TtsError, match="voice"):
            await collect(engine)
        await engine.close()


async def test_unsupported_sample_rate_is_reported():
    async with FakeCartesia() as fake:
        engine = engine_for(fake, sample_rate=11025, version="2026-03-01")
        with pytest.raises(TtsError, match="sample_rate"):
            await collect(engine)
        await engine.close()


async def test_abrupt_close_mid_stream_raises_then_reconnects():
    async with FakeCartesia(close_after_chunks=1) as fake:
        engine = engine_for(fake)
        with pytest.raises(TtsError, match="connection lost mid-stream"):
            await collect(engine)
        fake.close_after_chunks = None
        assert b"".join(p.audio for p in await collect(engine)) == tone(TEXT, 22050)
        await engine.close()
    assert fake.connections_accepted == 2


async def test_reconnects_after_the_server_closed_an_idle_connection():
    async with FakeCartesia() as fake:
        engine = engine_for(fake)
        await collect(engine)
        await fake.drop_connections()
        await wait_for(lambda: not engine._conn.is_open)
        assert b"".join(p.audio for p in await collect(engine)) == tone(TEXT, 22050)
        await engine.close()
    assert fake.connections_accepted == 2


async def test_slow_first_chunk_within_the_timeout_still_streams():
    async with FakeCartesia(first_chunk_delay_s=0.3) as fake:
        engine = engine_for(fake, timeout_s=2.0)
        assert b"".join(p.audio for p in await collect(engine)) == tone(TEXT, 22050)
        await engine.close()


async def test_silent_server_times_out_and_cancels():
    async with FakeCartesia(silent=True) as fake:
        engine = engine_for(fake, timeout_s=0.3)
        with pytest.raises(TtsError, match="sent nothing for 0.3 s"):
            await collect(engine)
        await wait_for(lambda: fake.cancels)
        assert fake.cancels == [fake.requests[0]["context_id"]]
        await engine.close()


async def test_unreachable_server_is_a_tts_error():
    async with FakeCartesia() as fake:
        url = fake.url
    engine = CartesiaEngine(replace(CartesiaSettings(), url=url), "sk_car_secret", timeout_s=1.0)
    with pytest.raises(TtsError, match="cannot connect to Cartesia") as caught:
        await collect(engine)
    assert "sk_car_secret" not in str(caught.value)
    await engine.close()


async def test_close_fails_a_waiting_call():
    async with FakeCartesia(silent=True) as fake:
        engine = engine_for(fake)
        call = asyncio.create_task(collect(engine))
        await wait_for(lambda: fake.requests)
        await engine.close()
        with pytest.raises(TtsError, match="connection lost"):
            await call


async def test_voice_names_and_empty_text():
    async with FakeCartesia() as fake:
        engine = engine_for(fake)
        (voice,) = engine.voices()
        assert voice.name == CartesiaSettings().voice_id and voice.languages == ["en"]
        assert await collect(engine, voice=VoiceRequest(name=voice.name))
        with pytest.raises(UnknownVoiceError):
            await collect(engine, voice=VoiceRequest(name="en_US-joe-medium"))
        assert await collect(engine, "   ") == []
        await engine.close()
    assert len(fake.requests) == 1
