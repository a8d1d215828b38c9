"""What keeps an offline model honest: a system-prompt rule, an answer for questions about
live facts it cannot know, and a guard that ends an answer before it claims a device did
something (a small model says "The kitchen light is turned on." despite the rule)."""

import re
from typing import Optional

from .skills.devices import NO_BRIDGE

OFFLINE_RULE = (
    "You run offline: you have no internet connection and no connection to the home's devices. "
    "Unless web results are given below, you do not know today's weather, news, prices, scores or "
    "anything else happening now: say you can't check that offline, never make it up. When asked to "
    "turn, switch, set, lock, open or play something in the home, say you can't control devices "
    "without a Home Assistant connection; never say it is done."
)
NO_DEVICES = NO_BRIDGE  # the device skill's own answer: one sentence for "nothing was changed"
NO_LIVE_FACTS = ("I'm offline, so I can't check live information like the weather, the news, prices or scores. "
                 "Ask me again when an internet model or web search is configured.")
WEB_RESULTS_MARK = "Web search results"
"""How the prompt introduces web results (nexus_wyoming.intent.prompt)."""

_LIVE = re.compile(
    r"\b(weather|forecast|news|headlines?|stock prices?|share prices?|exchange rates?|traffic"
    r"|(will|is) it (going to )?(rain|snow)|how (hot|cold|warm) is it"
    r"|(temperature|rain|snow|sunny|windy) (today|tonight|tomorrow|outside|right now)"
    r"|(score|who won)\b.*\b(game|match|last night|tonight|today|yesterday))",
    re.IGNORECASE,
)
_VERBS = (r"turned|switched|set|dimmed|brightened|locked|unlocked|opened|closed|started|stopped|activated"
          r"|deactivated|adjusted|changed|raised|lowered|enabled|disabled|armed|disarmed|muted|paused")
_DEVICES = (r"lights?|lamps?|heat(ing|er)?|thermostat|fans?|locks?|doors?|garage|blinds|curtains|shades|tv"
            r"|television|music|speakers?|alarm|air conditioning|a/?c|oven|kettle|vacuum|plugs?|switch(es)?")
_CLAIM = re.compile(
    rf"\bi(['’]ve| have| just|['’]ll| will| am|['’]m)( now| just| gone ahead and)?\s+({_VERBS}|turning|switching"
    rf"|setting|dimming|locking|unlocking|opening|closing|starting|stopping|adjusting|changing|playing"
    rf"|turn|switch|dim|lock|unlock|open|close|start|stop|adjust|change|play|raise|lower|mute|pause)\b"
    rf"|\b(is|are|has been|have been|now) (turned|switched) (on|off)\b"
    rf"|\b({_DEVICES})\b[^.,;!?]{{0,30}}\b(is|are|has been|have been)( now)? ({_VERBS}|on|off)\b"
    rf"|^\W*(done|ok(ay)?,? done|sure,? (turning|switching|setting))\b"
    rf"|^\W*(turning|switching|dimming|locking|unlocking|opening|closing) (on |off )?(the|your|all|it|them|that)\b",
    re.IGNORECASE,
)
_BOUNDARY = re.compile(r"[.!?;:,](?=\s)|\n")


def asks_live_facts(text: str) -> bool:
    """A question about something happening now (weather, news, scores, prices)."""
    return bool(_LIVE.search(text))


def claims_device_action(text: str) -> bool:
    """A sentence (or clause) that says a device was, or is being, changed."""
    return bool(_CLAIM.search(text))


def live_facts_answer(question: str, system_prompt: str) -> Optional[str]:
    """The honest answer to a live question when the prompt has no web results; None otherwise."""
    if asks_live_facts(question) and WEB_RESULTS_MARK not in system_prompt:
        return NO_LIVE_FACTS
    return None


class OfflineGuard:
    """Passes the answer on clause by clause; a clause that claims a device action ends it."""

    def __init__(self) -> None:
        self.buffer = ""
        self.stopped = False
        self.withheld = ""

    def add(self, text: str) -> str:
        """The text that may go out now (whole clauses), or the honest sentence that ends the answer."""
        if self.stopped:
            return ""
        self.buffer += text
        out = ""
        while (match := _BOUNDARY.search(self.buffer)) is not None:
            clause, self.buffer = self.buffer[:match.end()], self.buffer[match.end():]
            if claims_device_action(clause):
                return out + self._stop(clause)
            out += clause
        return out

    def finish(self) -> str:
        """What is left at the end of the answer."""
        if self.stopped:
            return ""
        rest, self.buffer = self.buffer, ""
        return self._stop(rest) if claims_device_action(rest) else rest

    def _stop(self, clause: str) -> str:
        self.stopped, self.withheld = True, clause + self.buffer
        self.buffer = ""
        return (" " if clause[:1].isspace() else "") + NO_DEVICES
