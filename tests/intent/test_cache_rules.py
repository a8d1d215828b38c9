"""What the response cache may replay, through whole turns (real sessions, real Redis, fake providers):
never a joke, a time-relative answer, a search-backed answer or one that depended on history;
a timeless first-turn answer is replayed, and its prompt never held the clock."""

import dataclasses
from typing import Iterator

import pytest
import redis

from nexus_wyoming.config import SessionSettings
from nexus_wyoming.intent.volatility import TIME, VARIED, volatility
from tests.fakes.openai_sse import FakeOpenAi
from tests.fakes.tavily import FakeTavily
from tests.intent.helpers import assistant_for, config_for, turn
from tests.support.services import Redis

CLOCK_LINE = "It is now "


@pytest.fixture(scope="module")
def redis_server() -> Iterator[Redis]:
    server = Redis().start()
    yield server
    server.remove()


def response_keys(server: Redis) -> list[bytes]:
    client = redis.Redis.from_url(server.url)
    try:
        return client.keys("nexus:v1:response:*")
    finally:
        client.close()


def with_redis(config, server: Redis):
    return dataclasses.replace(config, sessions=SessionSettings(redis_url=server.url))


def system_prompt(fake: FakeOpenAi, index: int) -> str:
    return fake.bodies[index]["messages"][0]["content"]


async def test_a_timeless_answer_is_replayed_from_redis_by_another_server_and_never_saw_the_clock(
        tmp_path, redis_server):
    redis.Redis.from_url(redis_server.url).flushdb()
    async with FakeOpenAi(reply="William Shakespeare wrote Hamlet.") as groq:
        async with assistant_for(with_redis(config_for(tmp_path / "a", groq=groq), redis_server)) as first:
            _, answer, stats = await turn(first, "Who wrote Hamlet?", device_id="kitchen")
        async with assistant_for(with_redis(config_for(tmp_path / "b", groq=groq), redis_server)) as second:
            sentences, replay, replay_stats = await turn(second, "who wrote hamlet", device_id="hall")
    assert stats.cache == "miss" and replay_stats.cache == "hit" and replay_stats.route == "cache"
    assert replay.text == answer.text == "William Shakespeare wrote Hamlet." and sentences == [replay.text]
    assert len(groq.requests) == 1 and CLOCK_LINE not in system_prompt(groq, 0)
    assert len(response_keys(redis_server)) == 1


async def test_a_joke_is_never_replayed(tmp_path, redis_server):
    redis.Redis.from_url(redis_server.url).flushdb()
    async with FakeOpenAi(reply="Why did the tomato blush? It saw the salad dressing.") as groq:
        async with assistant_for(with_redis(config_for(tmp_path, groq=groq), redis_server)) as assistant:
            _, first, stats = await turn(assistant, "Tell me a joke", device_id="kitchen")
            groq.reply = "I told my wife she draws her eyebrows too high. She looked surprised."
            _, second, again = await turn(assistant, "tell me a joke!", device_id="hall")
            _, random_fact, fact_stats = await turn(assistant, "Tell me a random fact about space", device_id="den")
    assert first.text != second.text and second.text.startswith("I told my wife")
    assert stats.cache is again.cache is fact_stats.cache is None and len(groq.requests) == 3
    assert response_keys(redis_server) == []


async def test_a_time_relative_answer_is_never_replayed_and_its_prompt_has_the_clock(tmp_path, redis_server):
    redis.Redis.from_url(redis_server.url).flushdb()
    async with FakeOpenAi(reply="There are 23 days until Christmas.") as groq:
        async with assistant_for(with_redis(config_for(tmp_path, groq=groq), redis_server)) as assistant:
            _, _, stats = await turn(assistant, "How many days until Christmas?", device_id="kitchen")
            _, _, again = await turn(assistant, "how many days until christmas", device_id="hall")
            _, _, age = await turn(assistant, "How old is the Eiffel Tower?", device_id="den")
    assert stats.cache is again.cache is age.cache is None and len(groq.requests) == 3
    assert all(CLOCK_LINE in system_prompt(groq, i) for i in range(3))
    assert response_keys(redis_server) == []


async def test_a_search_backed_answer_is_never_replayed(tmp_path, redis_server):
    redis.Redis.from_url(redis_server.url).flushdb()
    async with FakeOpenAi(reply="It is sunny in Springfield.") as groq, FakeTavily() as tavily:
        async with assistant_for(with_redis(config_for(tmp_path, groq=groq, tavily=tavily), redis_server)) as assistant:
            _, _, stats = await turn(assistant, "What's the weather in Springfield?", device_id="kitchen")
            _, _, again = await turn(assistant, "what's the weather in springfield", device_id="hall")
    assert stats.search == again.search == "ok" and stats.cache is again.cache is None
    assert len(groq.requests) == 2 and len(tavily.queries) == 2
    assert response_keys(redis_server) == []


async def test_a_live_question_is_not_replayed_even_without_a_search_provider(tmp_path):
    async with FakeOpenAi(reply="I can't check the weather right now.") as groq:
        async with assistant_for(config_for(tmp_path, groq=groq)) as assistant:
            _, _, stats = await turn(assistant, "What's the weather in Springfield?", device_id="kitchen")
            _, _, again = await turn(assistant, "What's the weather in Springfield?", device_id="hall")
    assert stats.search == "skipped" and stats.cache is again.cache is None and len(groq.requests) == 2


async def test_an_answer_that_depended_on_history_is_neither_stored_nor_replayed(tmp_path, redis_server):
    redis.Redis.from_url(redis_server.url).flushdb()
    async with FakeOpenAi(reply="Noted.") as groq:
        async with assistant_for(with_redis(config_for(tmp_path, groq=groq), redis_server)) as assistant:
            await turn(assistant, "My name is Ada.", device_id="kitchen")
            groq.reply = "Your name is Ada."
            _, follow_up, follow_stats = await turn(assistant, "What is my name?", device_id="kitchen")
            groq.reply = "I don't know your name yet."
            _, stranger, stranger_stats = await turn(assistant, "What is my name?", device_id="hall")
    assert follow_up.text == "Your name is Ada." and follow_stats.cache is None
    assert stranger.text == "I don't know your name yet." and stranger_stats.cache == "miss"
    history = groq.bodies[1]["messages"]
    assert [m["content"] for m in history[1:]] == ["My name is Ada.", "Noted.", "What is my name?"]
    assert CLOCK_LINE in history[0]["content"]  # not cacheable: the follow-up may use the clock
    assert len(groq.requests) == 3 and len(response_keys(redis_server)) == 2  # "My name is Ada." and the stranger's


async def test_without_a_cache_every_prompt_has_the_clock(tmp_path):
    async with FakeOpenAi(reply="William Shakespeare wrote Hamlet.") as groq:
        config = config_for(tmp_path, groq=groq)
        config = dataclasses.replace(config, sessions=SessionSettings(response_cache_ttl_s=0))
        async with assistant_for(config) as assistant:
            _, _, stats = await turn(assistant, "Who wrote Hamlet?", device_id="kitchen")
    assert stats.cache is None and CLOCK_LINE in system_prompt(groq, 0)


@pytest.mark.parametrize("text, expected", [
    ("Who wrote Hamlet?", None),
    ("What is the capital of France?", None),
    ("How many feet are in a mile?", None),
    ("What does ephemeral mean?", None),
    ("How do I make pancakes?", None),
    ("Tell me a joke", VARIED),
    ("Tell me another one", VARIED),
    ("Write me a short poem about cats", VARIED),
    ("Surprise me", VARIED),
    ("Flip a coin", VARIED),
    ("What day is it?", TIME),
    ("How many days until Christmas?", TIME),
    ("How old is the Eiffel Tower?", TIME),
    ("How many years since the moon landing?", TIME),
    ("Is the bakery open?", TIME),
    ("What should I do this weekend?", TIME),
    ("Is Queen Elizabeth still alive?", TIME),
])
def test_volatility_of_questions(text, expected):
    assert volatility(text) == expected
