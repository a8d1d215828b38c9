"""Switching the response mode by voice: "switch to detailed mode", "what mode are you in"."""

import re
from typing import Optional

from .base import SkillAnswer, SkillContext

_SWITCH = re.compile(r"^(?:(?:switch|change|go|set|move|turn)(?: it| yourself)?(?: back)?(?: over)?"
                     r"(?: (?:to|into|on))?|use|enable|activate|start|enter)(?: the)? (?P<mode>[\w-]+) mode$"
                     r"|^(?P<bare>[\w-]+) mode(?: on)?$")
_WHICH = re.compile(r"^(?:what|which) mode (?:are you in|is (?:on|active|this))$|^what(?:'s| is) the(?: current)? mode$")


class ModeSkill:
    """Sets the session's mode (the caller stores it) or says which one is active."""

    name = "mode"

    def answer(self, text: str, words: str, context: SkillContext) -> Optional[SkillAnswer]:
        if _WHICH.match(words):
            return SkillAnswer(f"I'm in {context.mode} mode.", self.name)
        match = _SWITCH.match(words)
        if match is None:
            return None
        wanted = match.group("mode") or match.group("bare")
        if wanted in ("fast", "quick"):
            wanted = "faster" if "faster" in context.modes else wanted
        if wanted not in context.modes:
            names = ", ".join(context.modes[:-1]) + f" and {context.modes[-1]}"
            return SkillAnswer(f"I don't know a {wanted} mode. I have {names} modes.", self.name)
        if wanted == context.mode:
            return SkillAnswer(f"I'm already in {wanted} mode.", self.name, set_mode=wanted)
        return SkillAnswer(f"Okay, {wanted} mode.", self.name, set_mode=wanted)
