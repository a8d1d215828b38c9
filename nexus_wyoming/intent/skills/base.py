"""What a skill is given and what it answers; the router asks each skill in turn."""

from dataclasses import dataclass
from datetime import datetime
from typing import Optional, Protocol, Sequence

from .text import plain


@dataclass(frozen=True)
class SkillContext:
    """What a skill may need to know about the turn."""

    now: datetime
    mode: str
    modes: tuple[str, ...]
    device_reply: Optional[str] = None
    """Why Home Assistant did not carry out this turn, when it was asked (None: no bridge)."""


@dataclass(frozen=True)
class SkillAnswer:
    """A complete spoken answer."""

    text: str
    skill: str
    time_dependent: bool = False
    set_mode: Optional[str] = None
    """A mode the session switches to (by voice)."""


class Skill(Protocol):
    """Answers the requests it recognizes, instantly; None for everything else."""

    name: str

    def answer(self, text: str, words: str, context: SkillContext) -> Optional[SkillAnswer]:
        """`text` as spoken, `words` the same normalized by `plain()`."""


class SkillRouter:
    """The first skill that recognizes a request answers it."""

    def __init__(self, skills: Sequence[Skill], max_chars: int = 300) -> None:
        self.skills = list(skills)
        self.max_chars = max_chars

    def answer(self, text: str, context: SkillContext) -> Optional[SkillAnswer]:
        """A skill's answer, or None when the request is for the model (long requests always are)."""
        if len(text) > self.max_chars:
            return None
        words = plain(text)
        for skill in self.skills:
            found = skill.answer(text, words, context)
            if found is not None:
                return found
        return None
