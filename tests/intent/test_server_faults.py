"""Provider faults through the real intent server over TCP: whatever Groq, Gemini or Tavily do,
the client gets a reply or the spoken apology within the turn budget, never silence."""

import time

import pytest

from nexus_wyoming.config import IntentSettings
from nexus_wyoming.intent.assistant import CUT_SHORT, UNREACHABLE
from nexus_wyoming.sessions.store import open_store
from tests.fakes.openai_sse import FakeOpenAi
from tests.fakes.tavily import FakeTavily
from tests.intent.server_support import ask_streaming, fake_env, start_intent

BUDGET_S = IntentSettings().turn_budget_s
STALL_S = IntentSettings().token_stall_timeout_s
#: What a process on a busy 2-core machine may add to a bound.
SLACK_S = 0.75
GROQ_WORDS = "Groq would have said this fragment, then gone wrong"
FAULTS = {
    "hang before first byte": {"silent": True},
    "hang after headers": {"headers_only": True},
    "500": {"fail_status": 500},
    "503": {"fail_status": 503},
    "429 with retry-after": {"fail_status": 429, "retry_after": "30"},
    "garbage": {"raw_body": b"\x00\xffnot an event stream\r\n\r\ndata: {{{{\n\n" * 20},
    "empty 200": {"raw_body": b""},
    "wrong content type": {"raw_body": b"<html><body>Sign in to the Wi-Fi</body></html>",
                           "content_type": "text/html"},
    "break after 3 tokens": {"disconnect_after_tokens": 3},
    "error event after 3 tokens": {"error_after_tokens": 3},
    "stall after 3 tokens": {"stall_after_tokens": 3},
}


async def timed(server, text: str, **context):
    started = time.perf_counter()
    reply = await ask_streaming(server, text, **context)
    return reply, time.perf_counter() - started


async def stored_texts(data_dir, device: str) -> list[str]:
    store = open_store(f"sqlite://{data_dir / 'history.db'}", data_dir)
    try:
        session = await store.latest_session(device)
        return [m.text for m in await store.recent_messages(session.id, 100)] if session else []
    finally:
        await store.close()


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_a_faulty_first_provider_is_replaced_unheard_within_the_budget(tmp_path, fault):
    async with FakeOpenAi(reply=GROQ_WORDS, **fault) as groq, FakeOpenAi(reply="Gemini answers. Fully.") as gemini:
        server = await start_intent(tmp_path, fake_env(groq, gemini))
        try:
            reply, elapsed = await timed(server, "Who are you?")
            assert server.alive and "Traceback" not in server.log
        finally:
            server.stop()
    assert reply.first("handled").data["text"] == "Gemini answers. Fully."
    assert "".join(reply.chunks) == "Gemini answers. Fully."  # nothing of Groq's, no apology
    assert elapsed < BUDGET_S + SLACK_S and len(groq.requests) == 1


@pytest.mark.parametrize("fault", [{"silent": True}, {"headers_only": True}, {"stall_after_tokens": 3}],
                         ids=["hang", "hang after headers", "stall after 3 tokens"])
async def test_every_provider_hanging_is_the_apology_within_the_budget_and_not_stored(tmp_path, fault):
    async with FakeOpenAi(reply=GROQ_WORDS, **fault) as groq, FakeOpenAi(reply=GROQ_WORDS, **fault) as gemini:
        server = await start_intent(tmp_path, fake_env(groq, gemini, NEXUS_INTENT__FIRST_TOKEN_TIMEOUT_S="2.5"))
        try:
            reply, elapsed = await timed(server, "Who are you?", device_id="hall")
            assert server.wait_for_log(r'"route": "llm-failed"')
        finally:
            server.stop()
    assert reply.types == ["not-handled"] and reply.events[0].data["text"] == UNREACHABLE
    assert BUDGET_S - 0.1 < elapsed < BUDGET_S + SLACK_S
    assert await stored_texts(tmp_path, "hall") == []  # like every not-handled answer


async def test_retry_after_keeps_a_rate_limited_provider_out_for_that_long(tmp_path):
    async with FakeOpenAi(fail_status=429, retry_after="30") as groq, FakeOpenAi(reply="Gemini here.") as gemini:
        env = fake_env(groq, gemini, NEXUS_INTENT__PROVIDER_COOLDOWN_S="0")  # only retry-after keeps it out
        server = await start_intent(tmp_path, env)
        try:
            first, _ = await timed(server, "Who are you?")
            second, elapsed = await timed(server, "And who am I?")
        finally:
            server.stop()
    assert first.first("handled").data["text"] == second.first("handled").data["text"] == "Gemini here."
    assert len(groq.requests) == 1 and len(gemini.requests) == 2 and elapsed < 1.0


async def test_a_stall_after_the_first_sentence_ends_with_the_apology_after_the_stall_budget(tmp_path):
    story = "The fox ran home. It was late and cold. Everyone was asleep."
    async with FakeOpenAi(reply=story, stall_after_tokens=6) as groq, FakeOpenAi(reply="never") as gemini:
        server = await start_intent(tmp_path, fake_env(groq, gemini))
        try:
            reply = await ask_streaming(server, "Tell me a story")
        finally:
            server.stop()
    assert reply.chunks == ["The fox ran home.", " It was", " " + CUT_SHORT] and not gemini.requests
    gap = reply.times[reply.types.index("handled")] - reply.times[1]
    assert STALL_S - 0.1 < gap < STALL_S + SLACK_S  # not the 15 s read timeout


@pytest.mark.parametrize("fault", [{}, {"fail_status": 500}, {"silent": True}, {"not_json": True}],
                         ids=["ok", "500", "hang", "not json"])
async def test_web_search_faults_still_answer_within_the_budget(tmp_path, fault):
    async with FakeOpenAi(reply="It is mild.") as groq, FakeTavily(**fault) as tavily:
        server = await start_intent(tmp_path, fake_env(groq, tavily=tavily))
        try:
            reply, elapsed = await timed(server, "What's the weather today?")
        finally:
            server.stop()
    wait_s = 0.8  # planning's search_wait_ms
    assert reply.first("handled").data["text"] == "It is mild." and elapsed < wait_s + BUDGET_S + SLACK_S
    assert len(tavily.requests) == 1
