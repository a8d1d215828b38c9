"""Time, date and day of the week, from the server's clock in the configured time zone."""

import re
from typing import Optional

from .base import SkillAnswer, SkillContext

_NOW = r"(?: now| right now| at the moment)?"
_TODAY = r"(?: today)?"
_TIME = re.compile(rf"^(?:what(?:'s| is) the(?: current)? time|what time is it|what time it is|the time|"
                   rf"current time|time){_NOW}$")
_DATE = re.compile(rf"^(?:what(?:'s| is) (?:the |today's )?date|what date is it|what date it is|today's date|"
                   rf"the date|date){_TODAY}$")
_DAY = re.compile(rf"^(?:what|which) day(?: of the week)? (?:is (?:it|today)|it is){_TODAY}$"
                  r"|^what(?:'s| is) today$|^(?:what|which) day of the week$")


class ClockSkill:
    """Answers "what time is it", "what's the date", "what day is it"."""

    name = "clock"

    def answer(self, text: str, words: str, context: SkillContext) -> Optional[SkillAnswer]:
        now = context.now
        if _TIME.match(words):
            return SkillAnswer(f"It's {now.strftime('%I:%M %p').lstrip('0')}.", self.name, time_dependent=True)
        if _DATE.match(words):
            return SkillAnswer(f"Today is {now.strftime('%A, %B')} {now.day}, {now.year}.", self.name,
                               time_dependent=True)
        if _DAY.match(words):
            return SkillAnswer(f"It's {now.strftime('%A')}.", self.name, time_dependent=True)
        return None
