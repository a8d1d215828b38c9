"""The offline model's honesty rules: no claimed device actions, no invented live facts."""

import pytest

from nexus_wyoming.intent.llm import ChatMessage
from nexus_wyoming.intent.offline_guard import (
    NO_DEVICES, NO_LIVE_FACTS, OFFLINE_RULE, OfflineGuard, asks_live_facts, claims_device_action, live_facts_answer,
)
from nexus_wyoming.intent.prompt import SYSTEM_PROMPT
from nexus_wyoming.intent.providers.embedded import with_offline_rule


@pytest.mark.parametrize("text", [
    "The kitchen light is turned on.", "I've turned on the kitchen light.", "Done!", "Okay, done.",
    "Turning on the kitchen light.", "The living room lights are now off.", "I have set the thermostat to 21 degrees.",
    "I'll lock the front door for you.", "The front door has been locked.", "Sure, turning it off.",
])
def test_device_claims_are_recognised(text):
    assert claims_device_action(text)


@pytest.mark.parametrize("text", [
    "Hamlet was written by William Shakespeare.", "The Berlin Wall was opened in 1989.",
    "The store is closed on Sundays.", "I can't turn on the light without a Home Assistant connection.",
    "Water boils at 212 degrees Fahrenheit.", "Boil the eggs for about nine minutes.",
])
def test_facts_are_not_device_claims(text):
    assert not claims_device_action(text)


def feed(guard: OfflineGuard, tokens: list[str]) -> str:
    return "".join(guard.add(t) for t in tokens) + guard.finish()


def test_guard_ends_the_answer_before_a_claimed_action():
    guard = OfflineGuard()
    tokens = ["Sure", "!", " The", " kitchen", " light", " is", " turned", " on", ".", " Enjoy", " your",
              " evening", "."]
    said = feed(guard, tokens)
    assert said == "Sure! " + NO_DEVICES
    assert guard.stopped and "turned on" in guard.withheld


def test_guard_passes_an_honest_answer_unchanged_clause_by_clause():
    guard = OfflineGuard()
    assert guard.add("Hamlet was written") == ""  # held until the clause ends
    assert guard.add(" by William Shakespeare, around 1600.") == "Hamlet was written by William Shakespeare,"
    assert guard.finish() == " around 1600."
    assert not guard.stopped


@pytest.mark.parametrize("question", ["what's the weather like today", "will it rain tomorrow",
                                      "what's in the news today", "who won the football game last night",
                                      "what is the forecast for the weekend"])
def test_live_questions_get_the_honest_answer_without_web_results(question):
    assert asks_live_facts(question)
    assert live_facts_answer(question, SYSTEM_PROMPT) == NO_LIVE_FACTS
    with_results = SYSTEM_PROMPT + "\n\nWeb search results for the question (name a source by its title):\n1. x: y"
    assert live_facts_answer(question, with_results) is None


@pytest.mark.parametrize("question", ["who wrote hamlet", "what is the boiling point of water in fahrenheit",
                                      "how do i make a cup of tea", "what is the temperature of boiling water"])
def test_other_questions_go_to_the_model(question):
    assert live_facts_answer(question, SYSTEM_PROMPT) is None


def test_offline_rule_follows_the_fixed_system_paragraph_so_the_cached_prefix_stays_fixed():
    messages = (ChatMessage("system", SYSTEM_PROMPT + "\n\nAnswer briefly.\n\nIt is now Monday."),
                ChatMessage("user", "hi"))
    system = with_offline_rule(messages)[0].content
    assert system.startswith(SYSTEM_PROMPT + "\n\n" + OFFLINE_RULE + "\n\nAnswer briefly.")
    assert system.endswith("It is now Monday.")
    assert with_offline_rule(messages)[1:] == messages[1:]
