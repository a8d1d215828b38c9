"""Device commands without a Home Assistant bridge: an honest refusal, never "done"; questions
about things are left alone; with a bridge, the reason HA gave is what is said."""

from datetime import datetime, timezone

import pytest

from nexus_wyoming.intent.homeassistant import DECLINED, NOT_ALLOWED, NOT_CONFIRMED, NOT_MATCHED, NOT_REACHED, RESTING, UNREACHABLE, HaReply
from nexus_wyoming.intent.skills.base import SkillContext
from nexus_wyoming.intent.skills.catalog import builtin_skills
from nexus_wyoming.intent.skills.devices import NO_BRIDGE, NO_BRIDGE_STATE, device_request
from nexus_wyoming.intent.skills.text import plain

NOW = datetime(2025, 3, 4, 15, 7, tzinfo=timezone.utc)
MODES = ("faster", "planning", "detailed")
ROUTER = builtin_skills()

COMMANDS = [
    "Turn on the kitchen light.", "switch off the fan", "Set the thermostat to 20", "turn the living room lights off",
    "Could you please switch on the TV?", "dim the bedroom lamp to 30 percent", "open the garage door",
    "lock the front door", "close the blinds", "turn up the heating", "lights off", "Kitchen lights on.",
    "put the lights on", "make it warmer", "set the temperature to 21 degrees", "start the robot vacuum",
    "turn everything off", "turn it off", "brighten the hallway lights", "activate the movie scene",
    "Hey, turn off all the lights please", "unlock the back door", "change the lights to blue",
    "okay nexus, switch the heater on",
]
STATES = ["Is the kitchen light on?", "are the lights still on", "is the garage door open"]
NOT_DEVICES = [
    "What is a light year?", "how do I turn off the light", "who invented the light bulb", "tell me a joke",
    "what's the temperature outside", "how does a thermostat work", "what is the speed of light",
    "set a timer for five minutes", "turn left at the lights", "the door is open", "put on a coat",
    "open a window of opportunity", "I left the lights on", "close your eyes", "who wrote hamlet",
    "what does a fan do", "why do doors squeak",
]


def context(device_reply=None) -> SkillContext:
    return SkillContext(NOW, "planning", MODES, device_reply)


@pytest.mark.parametrize("text", COMMANDS)
def test_a_device_command_without_a_bridge_is_refused_honestly(text):
    answer = ROUTER.answer(text, context())
    assert answer is not None and answer.skill == "devices", text
    assert answer.text == NO_BRIDGE
    assert "Home Assistant" in answer.text and "nothing was changed" in answer.text


@pytest.mark.parametrize("text", STATES)
def test_a_device_state_question_without_a_bridge_says_it_cannot_check(text):
    assert device_request(plain(text)) == "state"
    answer = ROUTER.answer(text, context())
    assert answer is not None and answer.text == NO_BRIDGE_STATE


@pytest.mark.parametrize("text", NOT_DEVICES)
def test_questions_about_things_are_not_device_commands(text):
    assert device_request(plain(text)) is None, text
    answer = ROUTER.answer(text, context())
    assert answer is None or answer.skill != "devices", (text, answer)


def test_mode_switching_words_stay_with_the_mode_skill():
    assert ROUTER.answer("turn on detailed mode", context()).text == "Okay, detailed mode."
    assert ROUTER.answer("switch to faster mode", context()).text == "Okay, faster mode."


def test_repeat_after_me_repeats_a_command_rather_than_refusing_it():
    assert ROUTER.answer("repeat after me turn on the light", context()).text == "turn on the light"


def test_with_a_bridge_why_home_assistant_did_not_do_it_is_said():
    aware = "Sorry, I am not aware of any area called Is the kitchen ceiling"  # HA 2025.4's own words
    declined = HaReply(DECLINED, aware, "no_valid_targets")
    assert ROUTER.answer("Is the kitchen ceiling light on?", context(declined.refusal)).text == NOT_MATCHED
    unmatched = HaReply(DECLINED, "Sorry, I couldn't understand that", "no_intent_match")
    assert ROUTER.answer("make it warmer", context(unmatched.refusal)).text == NOT_MATCHED
    for status in (UNREACHABLE, RESTING):
        assert ROUTER.answer("switch off the fan", context(HaReply(status, code="connect").refusal)).text == NOT_REACHED
        assert ROUTER.answer("switch off the fan", context(HaReply(status, code="auth").refusal)).text == NOT_ALLOWED
    assert all("nothing was changed" in text for text in (NOT_MATCHED, NOT_REACHED, NOT_ALLOWED))
    # too slow: HA had the command and may still do it, so "nothing was changed" would not be true
    assert ROUTER.answer("switch off the fan", context(HaReply(UNREACHABLE, code="timeout").refusal)).text \
        == NOT_CONFIRMED
    assert ROUTER.answer("switch off the fan", context(HaReply(RESTING, code="timeout").refusal)).text == NOT_REACHED
    assert ROUTER.answer("what is 17 times 23", context(NOT_REACHED)).text == "17 times 23 is 391."
