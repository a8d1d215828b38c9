"""The response cache: its key, its bypass rule and its in-process LRU."""

import pytest

from nexus_wyoming.sessions import cache_key, cacheable, normalize_query
from nexus_wyoming.sessions.response_cache import ResponseCache
from tests.sessions.conftest import Clock


@pytest.mark.parametrize("a, b", [
    ("What is the capital of France?", "what is the capital of france"),
    ("  What   is the capital of France ?! ", "what is the capital of france"),
    ("ＷＨＡＴ is the capital of France", "what is the capital of france"),
])
def test_equivalent_questions_share_a_key(a, b):
    assert normalize_query(a) == b
    assert cache_key("faster", a, None) == cache_key("faster", b, None)


@pytest.mark.parametrize("other", [
    ("detailed", "what is the capital of france", None),
    ("faster", "what is the capital of germany", None),
    ("faster", "what is the capital of france", "This speaker is in Paris."),
])
def test_mode_query_and_context_each_change_the_key(other):
    assert cache_key("faster", "what is the capital of france", None) != cache_key(*other)


@pytest.mark.parametrize("history_turns, used_search, time_dependent, varied, partial, expected", [
    (0, False, False, False, False, True),
    (1, False, False, False, False, False),   # a follow-up depends on the conversation
    (0, True, False, False, False, False),    # web results change
    (0, False, True, False, False, False),    # "how many days until christmas"
    (0, False, False, True, False, False),    # "tell me a joke"
    (0, False, False, False, True, False),    # a reply cut short
])
def test_bypass_rule(history_turns, used_search, time_dependent, varied, partial, expected):
    assert cacheable(history_turns=history_turns, used_search=used_search,
                     time_dependent=time_dependent, varied=varied, partial=partial) is expected


async def test_entries_expire_after_the_ttl():
    clock = Clock(0.0)
    cache = ResponseCache(ttl_s=10.0, entries=10, max_chars=100, clock=clock)
    await cache.put("k", "answer")
    clock.advance(9.9)
    assert await cache.get("k") == "answer"
    clock.advance(0.2)
    assert await cache.get("k") is None


async def test_least_recently_used_entries_go_first():
    cache = ResponseCache(ttl_s=60.0, entries=2, max_chars=100, clock=Clock(0.0))
    await cache.put("a", "1")
    await cache.put("b", "2")
    assert await cache.get("a") == "1"
    await cache.put("c", "3")
    assert [await cache.get(k) for k in "abc"] == ["1", None, "3"]


async def test_disabled_by_a_zero_ttl_and_oversize_answers_are_not_kept():
    off = ResponseCache(ttl_s=0.0, entries=10, max_chars=100)
    await off.put("k", "answer")
    assert await off.get("k") is None
    small = ResponseCache(ttl_s=60.0, entries=10, max_chars=5)
    await small.put("k", "too long")
    await small.put("e", "")
    assert await small.get("k") is None and await small.get("e") is None
