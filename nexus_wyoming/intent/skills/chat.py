"""Small talk that needs no model: greetings, thanks, "repeat after me", "what can you do"."""

import re
from typing import Optional

from .base import SkillAnswer, SkillContext

_GREETING = re.compile(r"^(?:hi|hello|hey|hiya|howdy|greetings|good (?P<part>morning|afternoon|evening|day))"
                       r"(?: there| again| everyone)?$")
_THANKS = re.compile(r"^(?:thanks|thank you|thank you very much|thank you so much|thanks a lot|many thanks|cheers|"
                     r"thx|ta)(?: (?:a lot|so much|very much))?$")
_HOW_ARE_YOU = re.compile(r"^how are you(?: doing| today)?$|^how's it going$")
_REPEAT = re.compile(r"^\W*(?:(?:ok(?:ay)?|please|hey)\W+)*(?:repeat|say) after me\W*(?P<text>\S.*)$",
                     re.IGNORECASE | re.DOTALL)
_HELP = re.compile(r"^(?:what can you do|what else can you do|what are you able to do|what do you do|"
                   r"what can i ask(?: you)?|what can i say|help|help me|what are your skills)$")
MAX_REPEAT_CHARS = 300


def capabilities(modes: tuple[str, ...]) -> str:
    """The spoken answer to "what can you do"."""
    names = ", ".join(modes[:-1]) + f" or {modes[-1]}" if len(modes) > 1 else "".join(modes)
    return ("I can tell you the time, the date and the day, do arithmetic, convert units, and repeat after you. "
            "With an internet model I can answer questions and look things up on the web. "
            f"To change how I answer, say switch to {names} mode.")


class ChatSkill:
    """Greets, thanks, repeats, and says what it can do."""

    name = "chat"

    def answer(self, text: str, words: str, context: SkillContext) -> Optional[SkillAnswer]:
        repeat = _REPEAT.match(text.strip())
        if repeat:
            said = " ".join(repeat.group("text").split())[:MAX_REPEAT_CHARS]
            return SkillAnswer(said, self.name)
        greeting = _GREETING.match(words)
        if greeting:
            part = greeting.group("part")
            return SkillAnswer(f"Good {part}! How can I help?" if part else "Hello! How can I help?", self.name)
        if _THANKS.match(words):
            return SkillAnswer("You're welcome.", self.name)
        if _HOW_ARE_YOU.match(words):
            return SkillAnswer("I'm doing well, thanks for asking. How can I help?", self.name)
        if _HELP.match(words):
            return SkillAnswer(capabilities(context.modes), self.name)
        return None
