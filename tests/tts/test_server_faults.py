"""Provider faults through the real server: whatever a cloud TTS engine does wrong, the
reply is spoken (by the next engine) within the budget: never silence, never noise
(the cloud's audio is only ever played at its own rate, so a block at Piper's rate has
none of it), never words twice."""

import asyncio
import time

import pytest
import pytest_asyncio
from wyoming.audio import AudioStart
from wyoming.tts import Synthesize, SynthesizeVoice

from nexus_wyoming.tts.units import split_units
from tests.conftest import tts_args
from tests.fakes import tone
from tests.fakes.cartesia import FakeCartesia
from tests.fakes.deepgram_aura import FakeAura
from tests.support.client import WyomingClient
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.asyncio(loop_scope="module")

PIPER_RATE, CARTESIA_RATE, AURA_RATE = 22050, 16000, 24000
FIRST_AUDIO_S = STALL_S = 0.5
COOLDOWN_S = 1.0
TEXT = "Hello there, this is the first unit. And here comes the rest of it."
PIPER = SynthesizeVoice(name="en_US-joe-medium")
HTML = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>" + b"x" * 9000 + b"</body></html>"
GARBAGE = bytes(range(32, 127)) * 40  # printable bytes: what a text body looks like as "PCM"


async def speak(server: ServerProcess, text: str = TEXT, voice=None) -> tuple[int, bytes, float]:
    """Rate, audio and seconds to first audio of one reply."""
    client = await WyomingClient.connect(server.host, server.port)
    began = time.perf_counter()
    await client.send(Synthesize(text=text, voice=voice).event())
    events = await client.read_until("audio-stop", timeout=30)
    first = time.perf_counter() - began  # upper bound: read_until returns at audio-stop
    await client.close()
    assert [e.type for e in events].count("audio-start") == 1 and "error" not in [e.type for e in events]
    chunk_times = [e for e in events if e.type == "audio-chunk"]
    assert chunk_times, "silence: no audio at all"
    return AudioStart.from_event(events[0]).rate, b"".join(e.payload for e in chunk_times), first


def not_silent(audio: bytes) -> bool:
    return len(audio) > PIPER_RATE and max(audio[1::2]) > 0x10  # over half a second, and loud somewhere


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def clouds(tmp_path_factory):
    async with FakeCartesia() as cartesia, FakeAura() as aura:
        yield cartesia, aura


def start_server(tmp_path_factory, cartesia: FakeCartesia, aura: FakeAura, engines: str) -> ServerProcess:
    env = {
        "CARTESIA_API_KEY": cartesia.api_key, "DEEPGRAM_API_KEY": aura.api_key,
        "NEXUS_TTS__CARTESIA__URL": cartesia.url, "NEXUS_TTS__AURA__URL": aura.url,
        "NEXUS_TTS__CARTESIA__SAMPLE_RATE": str(CARTESIA_RATE), "NEXUS_TTS__ENGINES": engines,
        "NEXUS_TTS__FIRST_AUDIO_TIMEOUT_S": str(FIRST_AUDIO_S), "NEXUS_TTS__CHUNK_STALL_TIMEOUT_S": str(STALL_S),
        "NEXUS_TTS__ENGINE_COOLDOWN_S": str(COOLDOWN_S),
    }
    return ServerProcess(tts_args(tmp_path_factory.mktemp("tts")), env=env).start()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def servers(tmp_path_factory, clouds):
    cartesia, aura = clouds
    started = await asyncio.gather(
        asyncio.to_thread(start_server, tmp_path_factory, cartesia, aura, "cartesia,piper"),
        asyncio.to_thread(start_server, tmp_path_factory, cartesia, aura, "aura,piper"))
    yield dict(zip(("cartesia", "aura"), started))
    for server in started:
        server.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def healthy(clouds):
    """Each test starts with healthy fakes and no engine cooling down from the last one."""
    for fake in clouds:
        fake.reset()
    await clouds[0].drop_connections()  # handshake faults need a fresh handshake
    await asyncio.sleep(COOLDOWN_S + 0.1)
    yield
    for fake in clouds:
        fake.reset()


CARTESIA_FAULTS = {
    "hang before first byte": dict(hang_handshake=True),
    "hang after headers": dict(silent=True),
    "5xx at the handshake": dict(handshake_status=503),
    "5xx in the stream": dict(error_after_chunks=0),
    "garbage": dict(garbage=True),
    "empty answer": dict(empty=True),
    "wrong content type": dict(binary=True),
}
AURA_FAULTS = {
    "hang before first byte": dict(silent=True),
    "hang after headers": dict(hang_after_headers=True),
    "5xx": dict(fail_status=502),
    "garbage": dict(body=GARBAGE),
    "empty 200": dict(body=b""),
    "wrong content type": dict(body=HTML, content_type="text/html; charset=utf-8"),
}
CASES = [("cartesia", name, switches) for name, switches in CARTESIA_FAULTS.items()] + [
    ("aura", name, switches) for name, switches in AURA_FAULTS.items()]


@pytest.mark.parametrize("engine, fault, switches", CASES, ids=[f"{e}: {f}" for e, f, _ in CASES])
async def test_a_fault_before_audio_is_spoken_by_piper_in_time(servers, clouds, healthy, engine, fault, switches):
    server, fake = servers[engine], clouds[0 if engine == "cartesia" else 1]
    _, piper_audio, piper_s = await speak(server, voice=PIPER)  # the same reply by Piper alone, now
    for name, value in switches.items():
        setattr(fake, name, value)
    asked = len(fake.requests) + len(getattr(fake, "handshakes", []))
    rate, audio, seconds = await speak(server)
    assert len(fake.requests) + len(getattr(fake, "handshakes", [])) > asked, "the fault was not exercised"
    assert rate == PIPER_RATE, "the cloud's answer was played"
    assert not_silent(audio)
    # Piper samples its durations (a few % between runs); a repeated or lost unit is ~50 %.
    assert abs(len(audio) - len(piper_audio)) < 0.2 * len(piper_audio), ("not the whole reply once", len(audio), len(piper_audio))
    assert seconds < piper_s + FIRST_AUDIO_S + 2.0, f"{seconds:.2f} s (Piper alone {piper_s:.2f} s)"
    assert server.wait_for_log(rf"tts engine {engine} failed before audio")


@pytest.mark.parametrize("engine", ["cartesia", "aura"])
async def test_a_stall_after_first_audio_goes_on_with_the_next_unit_never_twice(servers, clouds, healthy, engine):
    server, fake = servers[engine], clouds[0 if engine == "cartesia" else 1]
    cloud_rate = CARTESIA_RATE if engine == "cartesia" else AURA_RATE
    first_unit, rest = split_units("Hello there, this is the first unit.", 100, 48)[0], "And here comes the rest of it."
    if engine == "cartesia":
        fake.stall_after_chunks, heard = 1, 2 * fake.chunk_samples
    else:
        fake.stall_after_bytes, heard = fake.chunk_bytes, fake.chunk_bytes - fake.chunk_bytes % 2
    began = time.perf_counter()
    rate, audio, seconds = await speak(server)
    assert rate == cloud_rate  # the cloud spoke first; Piper's audio is converted into its rate
    assert audio.startswith(tone(first_unit, cloud_rate)[:heard])
    _, piper_rest, _ = await speak(server, rest, voice=PIPER)
    rest_s = len(piper_rest) / (2 * PIPER_RATE)
    after_cloud_s = (len(audio) - heard) / (2 * cloud_rate)
    assert abs(after_cloud_s - rest_s) < 0.2 * rest_s + 0.05, (after_cloud_s, rest_s)  # the rest, once
    assert server.wait_for_log(rf"tts engine {engine} failed mid-unit")
    assert seconds < STALL_S + 10.0 and time.perf_counter() - began < 30


@pytest.mark.parametrize("engine", ["cartesia", "aura"])
async def test_429_retry_after_is_respected_as_the_cooldown(servers, clouds, healthy, engine):
    server, fake = servers[engine], clouds[0 if engine == "cartesia" else 1]
    if engine == "cartesia":
        fake.handshake_status = 429
    else:
        fake.fail_status = 429
    fake.retry_after = "3"
    count = (lambda: len(fake.handshakes)) if engine == "cartesia" else (lambda: len(fake.requests))
    before = count()
    rate, audio, _ = await speak(server, "Slow down.")
    assert rate == PIPER_RATE and not_silent(audio) and count() == before + 1
    await asyncio.sleep(COOLDOWN_S + 0.2)  # past our own cool-down, within the provider's 3 s
    rate, _, _ = await speak(server, "Still there?")
    assert rate == PIPER_RATE and count() == before + 1, "asked again before its retry-after"
    fake.reset()
    await asyncio.sleep(3.2 - COOLDOWN_S)
    rate, _, _ = await speak(server, "Back again.")
    assert rate == (CARTESIA_RATE if engine == "cartesia" else AURA_RATE)
