"""The Home Assistant bridge against a real HA: our intent server, given HA's URL and a
long-lived token, turns on the Kitchen lights over real Wyoming TCP (as the standalone
satellite asks it), leaves other questions to our own path, keeps working when HA refuses
its token, and does the same inside an HA conversation that uses our agent (no loop)."""

import asyncio
import time
from typing import Iterator

import pytest

from nexus_wyoming.intent.homeassistant import NOT_ALLOWED
from tests.ha.flows import add_wyoming
from tests.ha.lights import kitchen_lights, set_kitchen_lights
from tests.intent.server_support import ask_like_home_assistant, ask_streaming, fake_env, intent_args, turn_lines
from tests.support.processes import ServerProcess


def bridged_intent(data_dir, url: str, token: str) -> ServerProcess:
    """No LLM (the answers here are HA's or the skills'), HA's URL and token."""
    env = fake_env(NEXUS_INTENT__HOME_ASSISTANT__URL=url, HA_TOKEN=token)
    return ServerProcess(intent_args(data_dir), env=env).start()


@pytest.fixture(scope="module")
def bridged(home_assistant, tmp_path_factory) -> Iterator[ServerProcess]:
    # HA loads its sentences on its first conversation (~1 s, more on a busy machine): once, here,
    # so a test's own turn is not the one that meets it (test_home_assistant_bridge.py covers slow).
    home_assistant.rest("POST", "/api/conversation/process", {"text": "hello", "agent_id": "conversation.home_assistant"})
    server = bridged_intent(tmp_path_factory.mktemp("bridged"), home_assistant.url, home_assistant.token)
    yield server
    server.stop()


async def test_turn_on_the_kitchen_light_through_our_intent_server(home_assistant, bridged):
    set_kitchen_lights(home_assistant, "off")
    before = len(await turn_lines(bridged, 0))
    reply = await ask_streaming(bridged, "Turn on the kitchen light.")
    assert reply.first("handled").data["text"] == "Turned on the lights", bridged.log[-3000:]
    assert kitchen_lights(home_assistant, "on") == {"on"}
    for light in ("light.kitchen_ceiling", "light.kitchen_counter"):
        assert home_assistant.rest("GET", f"/api/states/{light}").json()["state"] == "on"
    turn = (await turn_lines(bridged, before + 1))[before]
    assert turn["route"] == "home-assistant" and turn["home_assistant"] == "handled" and turn["stored"] is True
    reply = await ask_streaming(bridged, "Switch off the kitchen lights")
    assert reply.first("handled").data["text"] == "Turned off the lights"
    assert kitchen_lights(home_assistant, "off") == {"off"}


async def test_a_general_question_still_goes_our_own_way(home_assistant, bridged):
    before = len(await turn_lines(bridged, 0))
    reply = await ask_streaming(bridged, "What is twelve times twelve?")
    assert reply.first("handled").data["text"] == "12 times 12 is 144."
    turn = (await turn_lines(bridged, before + 1))[before]
    assert turn["route"] == "skill:arithmetic" and turn["home_assistant"] == "declined", bridged.log[-3000:]
    assert turn["home_assistant_ms"] < 2000  # intent.home_assistant.timeout_s


async def test_a_device_home_assistant_does_not_have_is_not_claimed(home_assistant, bridged):
    reply = await ask_streaming(bridged, "Turn on the garage light.")
    text = reply.first("handled").data["text"]
    assert "nothing was changed" in text and "Home Assistant" in text, text


async def test_a_refused_token_falls_through_and_is_logged_once(home_assistant, tmp_path):
    server = bridged_intent(tmp_path, home_assistant.url, "not-a-token")
    try:
        set_kitchen_lights(home_assistant, "off")
        command = await ask_streaming(server, "Turn on the kitchen light.")
        question = await ask_streaming(server, "What is twelve times twelve?")
        await turn_lines(server, 2)
    finally:
        server.stop()
    assert command.first("handled").data["text"] == NOT_ALLOWED
    assert kitchen_lights(home_assistant) == {"off"}
    assert question.first("handled").data["text"] == "12 times 12 is 144."
    assert server.log.count("refused the token (HTTP 401)") == 1


async def test_inside_home_assistant_a_conversation_with_our_agent_keeps_device_control(home_assistant, bridged):
    """HA calls our agent (Wyoming), our agent calls HA's built-in one (REST): no loop, the light goes on."""
    flow, agent = await asyncio.to_thread(add_wyoming, home_assistant, bridged.host, bridged.port, "intent")
    try:
        await conversation_through_our_agent(home_assistant, bridged, agent)
    finally:  # our server stops with this module: HA should not keep an entry for it
        home_assistant.rest("DELETE", f"/api/config/config_entries/entry/{flow['result']['entry_id']}")


async def conversation_through_our_agent(home_assistant, bridged, agent: str) -> None:
    set_kitchen_lights(home_assistant, "off")

    def converse(text: str) -> dict:
        answer = home_assistant.rest("POST", "/api/conversation/process",
                                     {"text": text, "language": "en", "agent_id": agent}, timeout=30)
        answer.raise_for_status()
        return answer.json()["response"]

    started = time.monotonic()
    done = await asyncio.to_thread(converse, "Turn on the kitchen light.")
    assert time.monotonic() - started < 10
    assert done["speech"]["plain"]["speech"] == "Turned on the lights", bridged.log[-3000:]
    assert kitchen_lights(home_assistant, "on") == {"on"}
    sum_ = await asyncio.to_thread(converse, "What is twelve times twelve?")
    assert sum_["speech"]["plain"]["speech"] == "12 times 12 is 144."


async def test_home_assistant_2025_4_reading_only_handled_gets_the_answer(home_assistant, bridged):
    set_kitchen_lights(home_assistant, "on")
    event = await ask_like_home_assistant(bridged, "Turn off the kitchen light.", conversation_id="01JBRIDGE")
    assert event.type == "handled" and event.data["text"] == "Turned off the lights"
    assert kitchen_lights(home_assistant, "off") == {"off"}
