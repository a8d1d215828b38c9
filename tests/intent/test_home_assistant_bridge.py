"""The Home Assistant bridge when HA is not there or not itself: the turn goes on at once
without it (a real intent server over TCP), HA is rested after a failure and logged once,
and the answers HA gives are read as HA 2025.4 writes them. tests/ha/test_bridge.py runs
the bridge against a real Home Assistant."""

import asyncio
import time

import pytest

from nexus_wyoming.config import load_config
from nexus_wyoming.intent.homeassistant import (DECLINED, HANDLED, NOT_CONFIRMED, NOT_REACHED, RESTING, UNREACHABLE,
                                                HomeAssistantAgent, _reading, check_url)
from tests.fakes.openai_sse import FakeOpenAi
from tests.intent.server_support import ask_streaming, fake_env, start_intent, turn_lines
from tests.support.services import free_port
from tests.test_config_refusals import nexus

#: HA 2025.4.4's `/api/conversation/process` answers, as a real one gave them.
TURNED_ON = {"response": {"speech": {"plain": {"speech": "Turned on the lights", "extra_data": None}}, "card": {},
                          "language": "en", "response_type": "action_done",
                          "data": {"targets": [], "success": [], "failed": []}},
             "conversation_id": "c1", "continue_conversation": False}
NOT_AWARE = {"response": {"speech": {"plain": {"speech": "Sorry, I am not aware of any device called twelve times "
                                                         "twelve", "extra_data": None}}, "card": {}, "language": "en",
                          "response_type": "error", "data": {"code": "no_valid_targets"}},
             "conversation_id": "c1", "continue_conversation": False}


def test_home_assistants_answers_are_read_as_it_writes_them():
    assert _reading(TURNED_ON) == (HANDLED, "Turned on the lights", "")
    assert _reading(NOT_AWARE) == (DECLINED, NOT_AWARE["response"]["speech"]["plain"]["speech"], "no_valid_targets")
    query = {"response": {"response_type": "query_answer", "speech": {"plain": {"speech": "Yes, it is on"}}}}
    assert _reading(query) == (HANDLED, "Yes, it is on", "")
    silent_action = {"response": {"response_type": "action_done", "speech": {}}}
    assert _reading(silent_action) == (HANDLED, "Done.", "")  # it happened: never left to the model


@pytest.mark.parametrize("payload", [None, [], "x", {}, {"response": []}, {"response": {"response_type": 7}},
                                     {"response": {"response_type": "query_answer", "speech": {"plain": "x"}}},
                                     {"response": {"response_type": "error", "data": {"code": ["x"]}}}])
def test_anything_else_is_declined_not_a_crash(payload):
    assert _reading(payload)[0] == DECLINED


@pytest.mark.parametrize("url", ["homeassistant.local:8123", "ftp://ha", "http://", "http://ha:8123/?x=1"])
def test_a_url_that_is_not_home_assistants_is_refused(url):
    with pytest.raises(ValueError):
        check_url(url)
    assert check_url("http://ha.local:8123/") == "http://ha.local:8123"


def test_the_token_comes_from_ha_token():
    config = load_config(environ={"HA_TOKEN": "abc.def", "NEXUS_INTENT__HOME_ASSISTANT__URL": "http://ha:8123"})
    assert config.keys.home_assistant == "abc.def" and config.intent.home_assistant.url == "http://ha:8123"


@pytest.mark.parametrize("env, message", [
    ({"NEXUS_INTENT__HOME_ASSISTANT__URL": "http://127.0.0.1:8123", "HA_TOKEN": ""}, "HA_TOKEN"),
    ({"NEXUS_INTENT__HOME_ASSISTANT__URL": "homeassistant.local", "HA_TOKEN": "t"}, "intent.home_assistant.url"),
])
def test_a_half_configured_bridge_is_refused_at_start(tmp_path, env, message):
    done = nexus("config", env=env)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr


async def silent_server() -> asyncio.AbstractServer:
    """Accepts connections, reads, never answers: a Home Assistant that hangs."""
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            pass
        writer.close()
    return await asyncio.start_server(hold, "127.0.0.1", 0)


async def test_an_agent_that_cannot_reach_home_assistant_rests_and_logs_once(caplog):
    clock = [0.0]
    agent = HomeAssistantAgent(f"http://127.0.0.1:{free_port()}", "token", timeout_s=0.5, retry_s=10.0,
                               clock=lambda: clock[0])
    try:
        first = await agent.ask("turn on the light", "en", "c1")
        assert (first.status, first.code) == (UNREACHABLE, "connect") and first.ms < 500
        again = await agent.ask("turn on the light", "en", "c1")
        assert (again.status, again.code) == (RESTING, "connect") and again.refusal == NOT_REACHED
        clock[0] = 11.0
        assert (await agent.ask("turn on the light", "en", "c1")).status == UNREACHABLE  # asked again after retry_s
    finally:
        await agent.close()
    lines = [r for r in caplog.records if "home assistant not asked" in r.getMessage()]
    assert len(lines) == 1 and "ConnectError" in lines[0].getMessage()  # the third is within the log's window


async def test_a_hanging_home_assistant_costs_two_turns_timeout_s_then_nothing(caplog):
    """HA may still carry out a command it was too slow to confirm: the answer says so. One slow
    answer (HA's first turn after its start) does not rest it; a second in a row does."""
    server = await silent_server()
    port = server.sockets[0].getsockname()[1]
    agent = HomeAssistantAgent(f"http://127.0.0.1:{port}", "token", timeout_s=0.4, retry_s=30.0)
    try:
        for _ in range(2):
            started = time.perf_counter()
            slow = await agent.ask("turn on the light", None, "c1")
            assert (slow.status, slow.code, slow.refusal) == (UNREACHABLE, "timeout", NOT_CONFIRMED)
            assert 0.35 < time.perf_counter() - started < 1.5
        started = time.perf_counter()
        assert (await agent.ask("what is a light year", None, "c1")).status == RESTING
        assert time.perf_counter() - started < 0.05
    finally:
        await agent.close()
        server.close()
    said = [r.getMessage() for r in caplog.records if r.name.endswith("homeassistant")]
    assert len(said) == 2 and "asked again next turn" in said[0] and "not asked for 30 s" in said[1], said


async def test_home_assistant_down_the_turn_goes_on_without_it(tmp_path):
    """A device command is told HA could not be reached (the model is never asked to pretend);
    a question gets our own answer; both within a second, with one log line for HA."""
    async with FakeOpenAi(reply="William Shakespeare wrote Hamlet.", tokens_per_s=100) as groq:
        env = fake_env(groq, NEXUS_INTENT__HOME_ASSISTANT__URL=f"http://127.0.0.1:{free_port()}", HA_TOKEN="t")
        server = await start_intent(tmp_path, env)
        try:
            started = time.perf_counter()
            command = await ask_streaming(server, "Turn on the kitchen light.")
            command_s = time.perf_counter() - started
            started = time.perf_counter()
            sum_ = await ask_streaming(server, "What is 17 times 23?")
            sum_s = time.perf_counter() - started
            question = await ask_streaming(server, "Who wrote Hamlet?")
            again = await ask_streaming(server, "switch off the fan")
            turns = await turn_lines(server, 4)
        finally:
            server.stop()
        assert command.first("handled").data["text"] == NOT_REACHED and command_s < 1.0
        assert sum_.first("handled").data["text"] == "17 times 23 is 391." and sum_s < 1.0
        assert question.first("handled").data["text"] == "William Shakespeare wrote Hamlet."  # the model's path
        assert again.first("handled").data["text"] == NOT_REACHED
        asked = [body["messages"][-1]["content"] for body in groq.bodies]
        assert asked == ["Who wrote Hamlet?"]  # the model never sees a device command, so cannot claim it
        routes = [(t["route"], t["home_assistant"]) for t in turns]
        assert routes == [("skill:devices", "unreachable"), ("skill:arithmetic", "resting"), ("llm", "resting"),
                          ("skill:devices", "resting")]
        assert server.log.count("home assistant not asked for 10 s") == 1
