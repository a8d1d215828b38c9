"""Satellite mode: HA connects to `nexus-satellite ha`, runs our pipeline for a spoken turn and
plays announcements on it."""

import asyncio
import time
import wave

from nexus_wyoming.audio import PcmFormat, convert_all
from tests.ha.assist import similar, transcribe, words
from tests.ha.websocket import next_event

ANSWER = "I'm doing well, thanks for asking. How can I help?"


def speaker_audio(satellite, start_frame: int = 0) -> tuple[bytes, int]:
    """What the satellite's speaker played from `start_frame`, as 16 kHz PCM; and the frame count."""
    with wave.open(str(satellite.device.snd), "rb") as wav:
        rate, total = wav.getframerate(), wav.getnframes()
        wav.setpos(min(start_frame, total))
        pcm = wav.readframes(total - start_frame)
    return convert_all(pcm, PcmFormat(rate), 16_000), total


async def states_of(ws, entity_id: str) -> asyncio.Queue:
    return await ws.subscribe("subscribe_trigger", trigger={"platform": "state", "entity_id": entity_id})


async def test_a_voice_turn_goes_idle_listening_processing_responding_idle(ws, home_assistant, nexus, satellite):
    assert home_assistant.rest("GET", f"/api/states/{satellite.entity}").json()["state"] == "idle"
    changes = await states_of(ws, satellite.entity)
    _, before = speaker_audio(satellite)
    satellite.device.speak()
    seen = ["idle"]
    async with asyncio.timeout(60):
        while seen[-1] != "idle" or len(seen) == 1:
            event = await next_event(changes, 60)
            seen.append(event["variables"]["trigger"]["to_state"]["state"])
    satellite.last_active = time.monotonic()
    assert seen == ["idle", "listening", "processing", "responding", "idle"]
    reply, _ = speaker_audio(satellite, before)
    assert len(reply) / 32_000 > 1.5
    assert similar(ANSWER, await transcribe(nexus.stt.host, nexus.stt.port, reply)) >= 0.8
    assert satellite.device.proc.wait_for_log(r"transcript: How are you", 5), satellite.device.proc.log[-3000:]
    assert "Unexpected event from satellite" not in home_assistant.log()  # we send only what HA handles


async def test_announce_reaches_the_speaker(home_assistant, nexus, satellite):
    _, before = speaker_audio(satellite)
    message = "The laundry is done."
    started = time.monotonic()
    response = await asyncio.to_thread(home_assistant.rest, "POST", "/api/services/assist_satellite/announce",
                                       {"entity_id": satellite.entity, "message": message, "preannounce": False})
    satellite.last_active = time.monotonic()
    assert response.status_code == 200, response.text
    played, _ = speaker_audio(satellite, before)
    assert 0.8 < len(played) / 32_000 < time.monotonic() - started + 0.5
    assert words(await transcribe(nexus.stt.host, nexus.stt.port, played)) == words(message)
