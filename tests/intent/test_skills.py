"""Built-in skills: what they answer, and that everything else is left to the model."""

import time
from datetime import datetime, timezone

import pytest

from nexus_wyoming.intent.skills.base import SkillContext
from nexus_wyoming.intent.skills.catalog import builtin_skills

NOW = datetime(2025, 3, 4, 15, 7, tzinfo=timezone.utc)  # a Tuesday
CONTEXT = SkillContext(NOW, "planning", ("faster", "planning", "detailed"))
ROUTER = builtin_skills()


def ask(text: str):
    return ROUTER.answer(text, CONTEXT)


@pytest.mark.parametrize("text, expected", [
    ("What time is it?", "It's 3:07 PM."),
    ("hey, what's the time right now", "It's 3:07 PM."),
    ("What's the date today?", "Today is Tuesday, March 4, 2025."),
    ("what day is it", "It's Tuesday."),
    ("Which day of the week is it today?", "It's Tuesday."),
    ("What is 17 times 23?", "17 times 23 is 391."),
    ("what's seventeen times twenty-three", "17 times 23 is 391."),
    ("Calculate 15% of 80", "15 percent of 80 is 12."),
    ("what is 2 to the power of 10", "2 to the power of 10 is 1024."),
    ("What is the square root of 2?", "The square root of 2 is 1.41."),
    ("what is 10 divided by 0", "You can't divide by zero."),
    ("what is 9 to the power of 99999", "That number is too big for me to say."),
    ("what is (2 + 3) * 4", "It's 20."),
    ("can you tell me what 1,000 times 3.5 is", "1000 times 3.5 is 3500."),
    ("Convert 5 miles to kilometers.", "5 miles is 8.05 kilometers."),
    ("How many feet are in a mile?", "1 mile is 5280 feet."),
    ("What is 100 Fahrenheit in Celsius", "100 degrees Fahrenheit is 37.78 degrees Celsius."),
    ("convert 5 miles to kilograms", "I can't convert miles to kilograms."),
    ("Repeat after me: The Quick Brown Fox!", "The Quick Brown Fox!"),
    ("repeat after me what time is it", "what time is it"),
    ("Hello!", "Hello! How can I help?"),
    ("good morning", "Good morning! How can I help?"),
    ("Thank you so much.", "You're welcome."),
    ("Switch to detailed mode.", "Okay, detailed mode."),
    ("please use the faster mode", "Okay, faster mode."),
    ("planning mode", "I'm already in planning mode."),
    ("switch to turbo mode", "I don't know a turbo mode. I have faster, planning and detailed modes."),
    ("what mode are you in", "I'm in planning mode."),
])
def test_answers(text, expected):
    found = ask(text)
    assert found is not None and found.text == expected


@pytest.mark.parametrize("text", [
    "What is the capital of France?", "What's the weather today?", "Tell me a joke", "what is 5",
    "What is the time complexity of quicksort?", "how many people live in Paris", "what is 3 plus",
    "Who won the game yesterday", "what is twenty", "convert this recipe to vegan", "",
    "hello, can you explain how tides work?", "thanks, now tell me about Mars", "x" * 5000,
])
def test_everything_else_is_for_the_model(text):
    assert ask(text) is None


def test_time_answers_are_marked_time_dependent_and_mode_switches_carry_the_mode():
    assert ask("what time is it").time_dependent and not ask("what is 2 plus 2").time_dependent
    assert ask("switch to faster mode").set_mode == "faster"
    assert ask("switch to turbo mode").set_mode is None


def test_what_can_you_do_names_the_modes():
    text = ask("What can you do?").text
    assert "time" in text and "faster, planning or detailed mode" in text


def test_hostile_inputs_stay_fast_and_never_raise():
    texts = ["what is " + "(" * 200 + "1", "what is " + " plus ".join(["9"] * 200), "what is 9 ^ 9 ^ 9 ^ 9",
             "what is " + "nine " * 100, "convert " + "9" * 300 + " miles to km", "what is 1e308 times 1e308",
             "what is \x00 plus \u202e 2", "repeat after me " + "\n" * 10, "what is -" * 50 + "1"]
    started = time.perf_counter()
    for text in texts:
        ask(text)
    assert time.perf_counter() - started < 1.0  # generous: each is microseconds
