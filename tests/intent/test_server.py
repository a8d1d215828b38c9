"""The real intent server over TCP, with LLM providers and Tavily pointed at local fakes."""

import asyncio
import json
import os
import re
import signal
import urllib.request

from wyoming.asr import Transcript
from wyoming.handle import Handled
from wyoming.info import Describe, Info

from nexus_wyoming.intent.assistant import CUT_SHORT, NO_MODEL
from nexus_wyoming.sessions import ContextUpdated, UpdateContext
from tests.fakes.openai_sse import FakeOpenAi
from tests.fakes.tavily import FakeTavily
from tests.intent.server_support import (
    NO_EMBEDDED_LLM, NO_KEYS, ask_like_home_assistant, ask_streaming, fake_env, start_intent,
)
from tests.support.client import WyomingClient

STORY = "The fox ran home. It was late and cold. Everyone was asleep."


async def test_describe_lists_one_model_per_mode_and_streaming(tmp_path):
    server = await start_intent(tmp_path, {**NO_KEYS, **NO_EMBEDDED_LLM})
    try:
        client = await WyomingClient.connect(server.host, server.port)
        await client.send(Describe().event())
        info = Info.from_event(await client.read())
        await client.close()
    finally:
        server.stop()
    program = info.handle[0]
    assert program.supports_handled_streaming and program.installed
    assert [m.name for m in program.models] == ["faster", "planning", "detailed"]
    assert all(m.languages == ["en"] for m in program.models)


async def test_home_assistant_2025_4_client_gets_handled_with_the_whole_text(tmp_path):
    async with FakeOpenAi(reply=STORY, tokens_per_s=100) as groq:
        server = await start_intent(tmp_path, fake_env(groq))
        try:
            event = await ask_like_home_assistant(server, "Tell me a short story")
            assert event.type == "handled"
            handled = Handled.from_event(event)
            assert handled.text == STORY and handled.context == {"conversation_id": "01HA"}
            assert server.wait_for_log(r'"route": "llm".*"provider": "groq"')
            assert server.alive and "Traceback" not in server.log
        finally:
            server.stop()


async def test_streaming_client_gets_sentences_before_the_reply_is_complete(tmp_path):
    async with FakeOpenAi(reply=STORY, tokens_per_s=20) as groq:
        server = await start_intent(tmp_path, fake_env(groq))
        try:
            reply = await ask_streaming(server, "Tell me a short story", device_id="kitchen")
        finally:
            server.stop()
    assert reply.types == ["handled-start", "handled-chunk", "handled-chunk", "handled-chunk", "handled",
                           "handled-stop"]
    assert "".join(reply.chunks) == reply.first("handled").data["text"] == STORY
    assert reply.chunks[0] == "The fox ran home."
    assert reply.time_of("handled") - reply.time_of("handled-chunk") > 0.3  # the first sentence came early


async def test_without_keys_or_embedded_llm_skills_answer_and_other_questions_get_a_reason(tmp_path):
    server = await start_intent(tmp_path, {**NO_KEYS, **NO_EMBEDDED_LLM})
    try:
        arithmetic = Handled.from_event(await ask_like_home_assistant(server, "What is 17 times 23?"))
        clock = Handled.from_event(await ask_like_home_assistant(server, "what time is it"))
        other = await ask_like_home_assistant(server, "Who wrote Hamlet?")
        streamed = await ask_streaming(server, "Convert 5 miles to kilometers")
    finally:
        server.stop()
    assert arithmetic.text == "17 times 23 is 391." and clock.text.startswith("It's ")
    assert other.type == "not-handled" and other.data["text"] == NO_MODEL
    assert streamed.types == ["handled"] and streamed.events[0].data["text"] == "5 miles is 8.05 kilometers."


async def test_fallback_to_gemini_and_search_through_the_process(tmp_path):
    async with FakeOpenAi(fail_status=500) as groq, FakeOpenAi(reply="Sunny today.") as gemini, \
            FakeTavily(delay_s=0.1) as tavily:
        server = await start_intent(tmp_path, fake_env(groq, gemini, tavily))
        try:
            reply = await ask_streaming(server, "What's the weather today?")
            assert server.wait_for_log(r'"search": "ok".*"provider": "gemini".*"fallbacks": 1')
        finally:
            server.stop()
    assert reply.first("handled").data["text"] == "Sunny today."
    assert "Weather in Springfield" in gemini.bodies[0]["messages"][0]["content"]
    assert tavily.requests[0].headers["authorization"] == f"Bearer {tavily.api_key}"


async def test_a_stream_broken_mid_reply_ends_with_an_apology(tmp_path):
    async with FakeOpenAi(reply=STORY, disconnect_after_tokens=6) as groq:
        server = await start_intent(tmp_path, fake_env(groq))
        try:
            reply = await ask_streaming(server, "Tell me a story")
            assert server.wait_for_log(r'"route": "llm-partial"')
        finally:
            server.stop()
    assert reply.chunks[-1] == " " + CUT_SHORT and reply.first("handled").data["text"].endswith(CUT_SHORT)


async def test_a_turn_survives_kill_9_right_after_the_reply(tmp_path):
    async with FakeOpenAi(reply="Nice to meet you, Ada.") as groq:
        server = await start_intent(tmp_path, fake_env(groq))
        try:
            await ask_streaming(server, "My name is Ada.", until="handled", device_id="kitchen")
            os.kill(server.pid, signal.SIGKILL)
            server.proc.wait(10)
        finally:
            server.stop()
        groq.reply = "Your name is Ada."
        server = await start_intent(tmp_path, fake_env(groq))
        try:
            await ask_streaming(server, "What is my name?", device_id="kitchen")
        finally:
            server.stop()
    history = [(m["role"], m["content"]) for m in groq.bodies[1]["messages"][1:]]
    assert history == [("user", "My name is Ada."), ("assistant", "Nice to meet you, Ada."),
                       ("user", "What is my name?")]


async def test_device_context_over_wyoming_reaches_the_prompt(tmp_path):
    async with FakeOpenAi(reply="Okay.") as groq:
        server = await start_intent(tmp_path, fake_env(groq))
        try:
            client = await WyomingClient.connect(server.host, server.port)
            await client.send(UpdateContext("kitchen", "This speaker is in the kitchen.").event())
            updated = ContextUpdated.from_event(await client.read())
            await client.close()
            await ask_streaming(server, "Where are you?", satellite_id="kitchen")
        finally:
            server.stop()
    assert updated.text == "This speaker is in the kitchen."
    assert "This speaker is in the kitchen." in groq.bodies[0]["messages"][0]["content"]


async def test_mode_by_voice_then_by_request(tmp_path):
    async with FakeOpenAi(reply="Fine.") as groq:
        server = await start_intent(tmp_path, fake_env(groq))
        try:
            switched = await ask_streaming(server, "Switch to faster mode.", device_id="den")
            await ask_streaming(server, "Who are you?", device_id="den")
            await ask_streaming(server, "Who are you?", device_id="den", mode="detailed")
        finally:
            server.stop()
    assert switched.first("handled").data["text"] == "Okay, faster mode."
    assert [b["model"] for b in groq.bodies] == ["llama-3.1-8b-instant", "llama-3.3-70b-versatile"]
    assert [b["max_tokens"] for b in groq.bodies] == [150, 250]


async def test_metrics_and_one_json_log_line_per_turn(tmp_path):
    async with FakeOpenAi(reply="Hello.") as groq:
        server = await start_intent(tmp_path, fake_env(groq), ["--metrics-port", "0", "--log-format", "json"])
        try:
            await ask_streaming(server, "Hi, who are you?")
            assert server.wait_for_log(r"metrics on http://[\d.]+:(\d+)/metrics")
            port = int(re.search(r"metrics on http://[\d.]+:(\d+)/metrics", server.log).group(1))
            body = await asyncio.to_thread(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read())
        finally:
            server.stop()
    text = body.decode()
    for name in ("nexus_intent_turn_seconds", "nexus_intent_llm_first_token_seconds",
                 "nexus_intent_first_sentence_seconds", "nexus_intent_turns_total"):
        assert name in text
    turns = [json.loads(line) for line in server.lines if '"request": "intent"' in line]
    assert len(turns) == 1
    turn = turns[0]
    assert turn["provider"] == "groq" and turn["route"] == "llm" and turn["cache_hit"] is False
    assert turn["first_token_ms"] > 0 and turn["fallbacks"] == 0 and turn["search"] == "skipped"


async def test_sigterm_lets_the_turn_in_flight_finish(tmp_path):
    async with FakeOpenAi(reply=STORY, tokens_per_s=15) as groq:
        server = await start_intent(tmp_path, fake_env(groq))
        try:
            client = await WyomingClient.connect(server.host, server.port)
            await client.send(Transcript("Tell me a story", context={"conversation_id": "x"}).event())
            await client.read_until("handled-chunk")
            server.proc.send_signal(signal.SIGTERM)
            events = await client.read_until("handled", timeout=30)
            await client.close()
            code = await asyncio.to_thread(server.proc.wait, 30)
        finally:
            server.stop()
    assert events[-1].data["text"] == STORY and code == 0
