"""A whole turn in process: real sessions (SQLite), fake LLM providers and fake Tavily."""

import asyncio
import contextlib

from nexus_wyoming.intent.assistant import CUT_SHORT, NO_MODEL, UNREACHABLE, Final, Sentence
from nexus_wyoming.intent.request import parse_transcript
from nexus_wyoming.intent.turnlog import TurnStats
from tests.fakes.openai_sse import FakeOpenAi
from tests.fakes.tavily import FakeTavily
from tests.intent.helpers import assistant_for, config_for, turn

LONG_FIRST = ("Well, the short answer is that it depends on where you live and the season, "
              "but usually it is mild. Spring is the best time to visit.")


async def stored_messages(assistant, device: str):
    session = await assistant.sessions.store.latest_session(device)
    return await assistant.sessions.store.recent_messages(session.id, 50) if session else []


async def test_llm_reply_streams_sentences_stores_the_turn_and_reports_metrics(tmp_path):
    async with FakeOpenAi(reply=LONG_FIRST, tokens_per_s=400) as groq:
        async with assistant_for(config_for(tmp_path, groq=groq)) as assistant:
            sentences, final, stats = await turn(assistant, "What's the climate like?", device_id="kitchen")
            messages = await stored_messages(assistant, "kitchen")
    assert final.handled and final.text == " ".join(sentences)
    # the first chunk is cut early (at most 60 characters, at a word) so speech can start
    assert sentences[0] == "Well, the short answer is that it depends on where you live"
    assert sentences[1] == "and the season, but usually it is mild."
    assert sentences[2] == "Spring is the best time to visit." and len(sentences) == 3
    assert [(m.role, m.text, m.partial) for m in messages] == [
        ("user", "What's the climate like?", False), ("assistant", final.text, False)]
    assert messages[1].latencies["first_token_ms"] > 0
    assert stats.route == "llm" and stats.provider == "groq" and stats.tokens == len(LONG_FIRST.split())
    assert stats.tokens_per_s and stats.mode == "planning" and stats.cache == "miss"
    body = groq.bodies[0]
    assert body["model"] == "llama-3.3-70b-versatile" and body["max_tokens"] == 250


async def test_the_turn_is_committed_before_the_final_is_handed_out(tmp_path):
    async with FakeOpenAi() as groq:
        async with assistant_for(config_for(tmp_path, groq=groq)) as assistant:
            request = parse_transcript({"text": "Hi there, who are you?", "context": {"device_id": "den"}},
                                       assistant.book.names)
            async for part in assistant.reply(request, TurnStats()):
                if isinstance(part, Final):
                    assert len(await stored_messages(assistant, "den")) == 2


async def test_a_stream_broken_after_text_ends_with_an_apology_and_is_stored_as_partial(tmp_path):
    async with FakeOpenAi(reply="First sentence here. Second one is cut", disconnect_after_tokens=5) as groq, \
            FakeOpenAi(reply="never used") as gemini:
        async with assistant_for(config_for(tmp_path, groq=groq, gemini=gemini)) as assistant:
            sentences, final, stats = await turn(assistant, "Tell me a story", device_id="kitchen")
            messages = await stored_messages(assistant, "kitchen")
    assert sentences == ["First sentence here.", "Second one", CUT_SHORT]
    assert final.handled and final.text.endswith(CUT_SHORT) and final.text.startswith("First sentence here.")
    assert messages[-1].partial and stats.route == "llm-partial" and not gemini.requests


async def test_a_failure_before_text_falls_back_transparently(tmp_path):
    async with FakeOpenAi(fail_status=429, retry_after="30") as groq, FakeOpenAi(reply="Gemini here.") as gemini:
        async with assistant_for(config_for(tmp_path, groq=groq, gemini=gemini)) as assistant:
            sentences, final, stats = await turn(assistant, "Who are you?")
    assert final.handled and final.text == "Gemini here." and stats.provider == "gemini" and stats.fallbacks == 1
    assert gemini.bodies[0]["model"] == "gemini-2.5-flash" and gemini.bodies[0]["reasoning_effort"] == "none"


async def test_every_provider_failing_is_a_spoken_not_handled(tmp_path):
    async with FakeOpenAi(fail_status=500) as groq, FakeOpenAi(fail_status=503) as gemini:
        async with assistant_for(config_for(tmp_path, groq=groq, gemini=gemini)) as assistant:
            sentences, final, stats = await turn(assistant, "Who are you?", device_id="hall")
            messages = await stored_messages(assistant, "hall")
    assert not sentences and final == Final(UNREACHABLE, handled=False) and stats.route == "llm-failed"
    assert messages == []


async def test_no_keys_and_no_local_model_means_skills_and_a_clear_reason(tmp_path):
    async with assistant_for(config_for(tmp_path)) as assistant:
        _, arithmetic, _ = await turn(assistant, "what is 17 times 23")
        _, question, stats = await turn(assistant, "Who wrote Hamlet?")
    assert arithmetic.handled and arithmetic.text == "17 times 23 is 391."
    assert question == Final(NO_MODEL, handled=False) and stats.route == "no-model"


async def test_a_local_server_without_key_answers_offline(tmp_path):
    async with FakeOpenAi(api_key=None, prefix="/v1", reply="Local answer.") as local:
        async with assistant_for(config_for(tmp_path, local=local)) as assistant:
            _, final, stats = await turn(assistant, "Who wrote Hamlet?")
    assert final.text == "Local answer." and stats.provider == "local" and local.bodies[0]["model"] == "local"


async def test_search_results_go_into_the_prompt_and_such_answers_are_not_cached(tmp_path):
    async with FakeOpenAi(reply="It is sunny.") as groq, FakeTavily(delay_s=0.05) as tavily:
        async with assistant_for(config_for(tmp_path, groq=groq, tavily=tavily)) as assistant:
            _, final, stats = await turn(assistant, "What's the weather in Springfield?", device_id="a")
            _, again, stats2 = await turn(assistant, "What's the weather in Springfield?", device_id="b")
    system = groq.bodies[0]["messages"][0]["content"]
    assert "Weather in Springfield: Sunny, 21 degrees" in system and "Third result" not in system
    assert stats.search == "ok" and stats.search_ms >= 50 and stats.cache is None
    assert len(groq.bodies) == 2 and stats2.cache is None and tavily.queries[0]["max_results"] == 2  # both asked


async def test_planning_answers_without_a_late_search_and_cancels_it(tmp_path):
    async with FakeOpenAi(reply="No results needed.") as groq, FakeTavily(delay_s=5) as tavily:
        async with assistant_for(config_for(tmp_path, groq=groq, tavily=tavily)) as assistant:
            loop = asyncio.get_running_loop()
            started = loop.time()
            _, final, stats = await turn(assistant, "latest news please")
            elapsed = loop.time() - started
            await asyncio.wait_for(tavily.cancelled.wait(), 5)
    assert final.handled and stats.search == "late" and 0.7 < elapsed < 3.0
    assert "Web search results" not in groq.bodies[0]["messages"][0]["content"]


async def test_search_errors_and_faster_mode_never_search(tmp_path):
    async with FakeOpenAi(reply="Fine.") as groq, FakeTavily(fail_status=432) as tavily:
        async with assistant_for(config_for(tmp_path, groq=groq, tavily=tavily)) as assistant:
            _, final, stats = await turn(assistant, "weather today?")
            _, quick, quick_stats = await turn(assistant, "weather today?", mode="faster")
    assert final.handled and stats.search == "error"
    assert quick.handled and quick_stats.search == "skipped" and len(tavily.requests) == 1
    assert groq.bodies[1]["model"] == "llama-3.1-8b-instant" and groq.bodies[1]["max_tokens"] == 150


async def test_response_cache_serves_first_turns_only(tmp_path):
    async with FakeOpenAi(reply="Paris is the capital.") as groq:
        async with assistant_for(config_for(tmp_path, groq=groq)) as assistant:
            await turn(assistant, "What is the capital of France?", device_id="one")
            sentences, hit, stats = await turn(assistant, "what is the capital of france", device_id="two")
            _, follow_up, follow_stats = await turn(assistant, "What is the capital of France?", device_id="two")
    assert hit.text == "Paris is the capital." and stats.cache == "hit" and stats.route == "cache"
    assert sentences == ["Paris is the capital."]
    assert follow_stats.cache is None and follow_stats.route == "llm" and len(groq.requests) == 2


async def test_history_and_device_context_reach_the_prompt(tmp_path):
    async with FakeOpenAi(reply="Noted.") as groq:
        async with assistant_for(config_for(tmp_path, groq=groq)) as assistant:
            await assistant.sessions.set_context("kitchen", "This speaker is in the kitchen.")
            await turn(assistant, "My name is Ada.", device_id="kitchen")
            await turn(assistant, "What is my name?", device_id="kitchen")
    messages = groq.bodies[1]["messages"]
    assert "This speaker is in the kitchen." in messages[0]["content"]
    assert [(m["role"], m["content"]) for m in messages[1:]] == [
        ("user", "My name is Ada."), ("assistant", "Noted."), ("user", "What is my name?")]


async def test_mode_by_voice_persists_for_the_session_and_request_mode_wins(tmp_path):
    async with FakeOpenAi() as groq:
        async with assistant_for(config_for(tmp_path, groq=groq, device_modes={"porch": "faster"})) as assistant:
            _, _, porch = await turn(assistant, "Hello, who are you?", device_id="porch")
            _, switched, _ = await turn(assistant, "switch to detailed mode", device_id="kitchen")
            _, _, kitchen = await turn(assistant, "Who are you?", device_id="kitchen")
            _, _, override = await turn(assistant, "Who are you?", device_id="kitchen", mode="faster")
    assert porch.mode == "faster" and switched.text == "Okay, detailed mode."
    assert kitchen.mode == "detailed" and override.mode == "faster"


async def test_markdown_is_not_spoken(tmp_path):
    async with FakeOpenAi(reply="**Sure!** Here is the [plan](https://x.example/p). # Step one is `easy`.") as groq:
        async with assistant_for(config_for(tmp_path, groq=groq)) as assistant:
            sentences, final, _ = await turn(assistant, "Plan my day")
    assert final.text == "Sure! Here is the plan. Step one is easy."


async def test_closing_the_reply_mid_stream_hangs_up_on_the_provider(tmp_path):
    async with FakeOpenAi(reply="One. Two. Three. Four. Five. Six.", tokens_per_s=5) as groq:
        async with assistant_for(config_for(tmp_path, groq=groq)) as assistant:
            request = parse_transcript({"text": "Count slowly", "context": {"device_id": "x"}}, assistant.book.names)
            async with contextlib.aclosing(assistant.reply(request, TurnStats())) as parts:
                first = await anext(parts)
            await asyncio.wait_for(groq.cancelled.wait(), 5)
            assert isinstance(first, Sentence) and first.text == "One."
            assert await stored_messages(assistant, "x") == []


async def test_a_reply_longer_than_max_reply_s_is_cut_short(tmp_path):
    async with FakeOpenAi(reply="One. Two. Three. Four. Five.", tokens_per_s=4) as groq:
        async with assistant_for(config_for(tmp_path, groq=groq, max_reply_s=1.0)) as assistant:
            sentences, final, stats = await turn(assistant, "Count slowly")
    assert final.handled and sentences[-1] == CUT_SHORT and stats.route == "llm-partial"
