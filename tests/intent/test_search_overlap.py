"""The web search starts as the turn begins, so it overlaps loading the session (issue 15
part 3): a slow history store no longer adds to the wait; it is never started for what a
skill answers, and a session whose own mode does not search never waits for one."""

import asyncio
import time

from tests.fakes.openai_sse import FakeOpenAi
from tests.fakes.tavily import FakeTavily
from tests.intent.helpers import assistant_for, config_for, turn

STORE_S = 0.4  # a history store across the network (PostgreSQL, Redis) on a bad day
SEARCH_S = 0.5


def slow_store(assistant, seconds: float) -> list[float]:
    """The real session store, answering `seconds` late; the moments each turn asked it."""
    asked: list[float] = []
    begin = assistant.sessions.begin_turn

    async def late_begin(*args, **kwargs):
        asked.append(time.perf_counter())
        await asyncio.sleep(seconds)
        return await begin(*args, **kwargs)

    assistant.sessions.begin_turn = late_begin
    return asked


async def test_the_search_runs_while_the_session_loads(tmp_path):
    async with FakeOpenAi(reply="It is sunny today.") as groq, FakeTavily(delay_s=SEARCH_S) as tavily:
        async with assistant_for(config_for(tmp_path, groq=groq, tavily=tavily)) as assistant:
            asked = slow_store(assistant, STORE_S)
            started = time.perf_counter()
            _sentences, final, stats = await turn(assistant, "What's the weather today?", mode="detailed")
    assert final.text == "It is sunny today." and stats.search == "ok" and stats.mode == "detailed"
    assert len(tavily.queries) == 1 and asked
    llm_asked = groq.request_received[0] - started
    # one after the other this was STORE_S + SEARCH_S (0.9 s); overlapped, the longer of the two
    assert SEARCH_S <= llm_asked < SEARCH_S + STORE_S - 0.15, llm_asked
    assert "Weather in Springfield" in str(groq.bodies[0]["messages"])  # the results reached the prompt


async def test_a_question_a_skill_answers_is_never_searched(tmp_path):
    async with FakeOpenAi() as groq, FakeTavily(delay_s=SEARCH_S) as tavily:
        async with assistant_for(config_for(tmp_path, groq=groq, tavily=tavily)) as assistant:
            _sentences, final, stats = await turn(assistant, "What day is it today?")  # "today": a search word
    assert stats.route == "skill:clock" and final.text.startswith("It's ")
    assert tavily.requests == [] and groq.requests == []


async def test_a_session_in_a_mode_without_search_does_not_wait_for_one(tmp_path):
    async with FakeOpenAi(reply="I can't check that offline.") as groq, FakeTavily(delay_s=2.0) as tavily:
        async with assistant_for(config_for(tmp_path, groq=groq, tavily=tavily)) as assistant:
            await turn(assistant, "switch to faster mode", device_id="den")
            started = time.perf_counter()
            _sentences, final, stats = await turn(assistant, "What's the weather today?", device_id="den")
            took = time.perf_counter() - started
    assert stats.mode == "faster" and stats.search == "skipped" and final.text == "I can't check that offline."
    assert took < 1.0, took  # the search the request's default mode started was dropped, not waited for
    assert "Weather in Springfield" not in str(groq.bodies[-1]["messages"])


async def test_planning_answers_with_what_arrived_in_its_wait_counted_from_the_turn_start(tmp_path):
    """search_wait_ms (800 ms in planning) runs from the start of the turn, not from after the session."""
    async with FakeOpenAi(reply="Answer.") as groq, FakeTavily(delay_s=1.5) as tavily:
        async with assistant_for(config_for(tmp_path, groq=groq, tavily=tavily)) as assistant:
            slow_store(assistant, STORE_S)
            started = time.perf_counter()
            _sentences, _final, stats = await turn(assistant, "What's the latest news?", mode="planning")
    assert stats.search == "late"
    assert 0.8 <= groq.request_received[0] - started < 0.8 + STORE_S - 0.15


async def test_while_the_search_runs_the_models_connection_is_opened_and_then_used(tmp_path):
    """The chat request skips the connection set-up (TCP, and TLS for a cloud provider): it goes out
    on the connection `GET /models` opened during the search wait."""
    async with FakeOpenAi(reply="Sunny.") as groq, FakeTavily(delay_s=SEARCH_S) as tavily:
        async with assistant_for(config_for(tmp_path, groq=groq, tavily=tavily)) as assistant:
            await turn(assistant, "What's the weather today?", mode="detailed")
            await turn(assistant, "And the news today?", mode="detailed")  # within keep-alive: no warm-up
    kinds = [(r.method, r.path.rsplit("/", 1)[-1]) for r in groq.requests]
    assert kinds == [("GET", "models"), ("POST", "completions"), ("POST", "completions")], kinds
    assert groq.requests[0].client_port == groq.requests[1].client_port  # the warmed connection was used
    assert len(tavily.queries) == 2
