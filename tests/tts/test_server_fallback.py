"""The real TTS server with cloud engines pointed at local vendor fakes: the client
gets one coherent audio stream whichever engine answers."""

import asyncio

from wyoming.audio import AudioStart
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize

from nexus_wyoming.tts.units import split_units
from tests.conftest import tts_args
from tests.fakes import tone
from tests.fakes.cartesia import FakeCartesia
from tests.fakes.deepgram_aura import FakeAura
from tests.support.client import WyomingClient
from tests.support.processes import ServerProcess


def cloud_env(cartesia: FakeCartesia, aura: FakeAura, **extra: str) -> dict[str, str]:
    return {
        "CARTESIA_API_KEY": cartesia.api_key,
        "DEEPGRAM_API_KEY": aura.api_key,
        "NEXUS_TTS__CARTESIA__URL": cartesia.url,
        "NEXUS_TTS__AURA__URL": aura.url,
        "NEXUS_TTS__FIRST_AUDIO_TIMEOUT_S": "0.5",
        **extra,
    }


async def speak(server: ServerProcess, text: str):
    client = await WyomingClient.connect(server.host, server.port)
    await client.send(Synthesize(text=text).event())
    events = await client.read_until("audio-stop", timeout=60)
    await client.close()
    start = AudioStart.from_event(events[0])
    audio = b"".join(e.payload for e in events if e.type == "audio-chunk")
    assert [e.type for e in events].count("audio-start") == 1
    return start, audio


async def run_server(tmp_path, env):
    return await asyncio.to_thread(lambda: ServerProcess(tts_args(tmp_path), env=env).start())


async def test_cartesia_answers_first_when_healthy(tmp_path):
    async with FakeCartesia() as cartesia, FakeAura() as aura:
        server = await run_server(tmp_path, cloud_env(cartesia, aura))
        try:
            client = await WyomingClient.connect(server.host, server.port)
            await client.send(Describe().event())
            voices = [v.name for v in Info.from_event(await client.read()).tts[0].voices]
            await client.close()
            assert {"en_US-joe-medium", "aura-2-thalia-en"} <= set(voices)
            start, audio = await speak(server, "Hello from the cloud.")
            assert start.rate == 22050 and len(audio) > 0
            assert cartesia.requests and not aura.requests
            assert server.wait_for_log(r'"engine": "cartesia"')
        finally:
            server.stop()


async def test_silent_cartesia_falls_back_to_aura(tmp_path):
    async with FakeCartesia(silent=True) as cartesia, FakeAura() as aura:
        server = await run_server(tmp_path, cloud_env(cartesia, aura))
        try:
            start, audio = await speak(server, "Is anybody there?")
            assert start.rate == 24000 and len(audio) > 0  # Aura's own rate
            assert aura.requests
            assert server.wait_for_log(r"tts engine cartesia failed")
            assert server.wait_for_log(r'"engine": "aura"')
        finally:
            server.stop()


async def test_both_clouds_failing_leaves_piper(tmp_path):
    async with FakeCartesia(api_key="other-key") as cartesia, FakeAura(fail_status=500) as aura:
        env = cloud_env(cartesia, aura)
        env["CARTESIA_API_KEY"] = "wrong-key"
        server = await run_server(tmp_path, env)
        try:
            start, audio = await speak(server, "The offline voice still works.")
            assert start.rate == 22050 and len(audio) > 22050  # over half a second of speech
            assert server.wait_for_log(r'"engine": "piper"')
            assert "wrong-key" not in server.log
        finally:
            server.stop()


async def test_cloud_breaking_mid_unit_gives_one_stream_in_its_format(tmp_path):
    text = "This sentence starts in the cloud and ends at home."
    first_unit = split_units(text, 100, 48)[0]  # "... ends at"; then "home."
    async with FakeCartesia(close_after_chunks=1) as cartesia, FakeAura() as aura:
        env = cloud_env(cartesia, aura, NEXUS_TTS__ENGINES="cartesia,piper", NEXUS_TTS__CARTESIA__SAMPLE_RATE="16000")
        server = await run_server(tmp_path, env)
        try:
            start, audio = await speak(server, text)
            assert start.rate == 16000  # Piper's 22050 Hz audio is converted into it
            assert server.wait_for_log(r'"engine": "cartesia,piper"')
            heard = tone(first_unit, 16000)[:2 * cartesia.chunk_samples]
            assert audio.startswith(heard)  # Cartesia's one chunk, then Piper goes on with "home."
            seconds = len(audio) / (2 * 16000)
            assert 0.3 < seconds < 1.5, seconds  # the first unit again would be 2 s more
        finally:
            server.stop()
