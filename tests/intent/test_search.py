"""Search: the keyword classifier, the Tavily client against a local fake, and the wait policy."""

import asyncio

import pytest

from nexus_wyoming.intent.search.classifier import KeywordClassifier
from nexus_wyoming.intent.search.policy import PendingSearch
from nexus_wyoming.intent.search.provider import SearchError
from nexus_wyoming.intent.search.tavily import TavilySearch
from tests.fakes.tavily import FakeTavily

KEYWORDS = ["weather", "temperature", "forecast", "news", "today", "latest", "current", "price", "score"]


@pytest.mark.parametrize("text, expected", [
    ("What's the weather like?", True),
    ("Any NEWS from Springfield", True),
    ("bitcoin prices right now", True),
    ("What were the scores last night?", True),
    ("Tell me a joke", False),
    ("Who wrote Hamlet?", False),
    ("weathers-man", True),
    ("", False),
    ("ｗｅａｔｈｅｒ", True),  # full-width letters normalize
])
def test_classifier_is_a_word_set_intersection(text, expected):
    assert KeywordClassifier(KEYWORDS).needs_search(text) is expected


def test_classifier_does_not_match_inside_words():
    assert not KeywordClassifier(["score"]).needs_search("scoreboard design")
    assert not KeywordClassifier(["news"]).needs_search("newsletter")


async def test_tavily_sends_the_documented_request_and_parses_results():
    async with FakeTavily() as fake:
        client = TavilySearch(fake.url, fake.api_key)
        results = await client.search("weather in Springfield " + "x" * 500)
        await client.close()
    assert [r.title for r in results] == ["Weather in Springfield", "Springfield forecast - Example News"]
    assert results[0].content.startswith("Sunny") and results[0].url.startswith("https://")
    body = fake.queries[0]
    assert body["max_results"] == 2 and body["search_depth"] == "basic" and len(body["query"]) == 400
    assert fake.requests[0].headers["authorization"] == "Bearer tvly-fake-key"


@pytest.mark.parametrize("switch", [{"fail_status": 429}, {"fail_status": 432}, {"fail_status": 500},
                                    {"not_json": True}])
async def test_tavily_failures_are_search_errors(switch):
    async with FakeTavily(**switch) as fake:
        client = TavilySearch(fake.url, fake.api_key)
        with pytest.raises(SearchError):
            await client.search("news")
        await client.close()


async def test_tavily_bad_key_and_odd_results():
    async with FakeTavily(results=[{"title": "", "url": "https://a.example", "content": "  some\ntext "},
                                   {"title": "no content"}, "junk"]) as fake:
        client = TavilySearch(fake.url, "wrong")
        with pytest.raises(SearchError, match="401"):
            await client.search("news")
        await client.close()
        client = TavilySearch(fake.url, fake.api_key, max_results=3)
        results = await client.search("news")
        await client.close()
    assert [(r.title, r.content) for r in results] == [("https://a.example", "some text")]


async def test_pending_search_returns_results_in_time():
    async with FakeTavily(delay_s=0.05) as fake:
        client = TavilySearch(fake.url, fake.api_key)
        outcome = await PendingSearch(client, "weather").outcome(2.0)
        await client.close()
    assert outcome.status == "ok" and outcome.used and outcome.ms >= 50


async def test_a_late_search_is_cancelled_and_answered_without():
    async with FakeTavily(delay_s=5.0) as fake:
        client = TavilySearch(fake.url, fake.api_key)
        outcome = await PendingSearch(client, "weather").outcome(0.1)
        await asyncio.wait_for(fake.cancelled.wait(), 5)
        await client.close()
    assert outcome.status == "late" and not outcome.used


async def test_a_failed_search_is_an_outcome_not_an_exception():
    async with FakeTavily(fail_status=500) as fake:
        client = TavilySearch(fake.url, fake.api_key)
        outcome = await PendingSearch(client, "weather").outcome(2.0)
        await client.close()
    assert outcome.status == "error" and not outcome.results


async def test_unreachable_search_is_an_error_outcome():
    async with FakeTavily() as fake:
        url = fake.url
    client = TavilySearch(url, "k", timeout_s=1.0)
    outcome = await PendingSearch(client, "weather").outcome(2.0)
    await client.close()
    assert outcome.status == "error"
