"""The built-in skills, in the order they are asked."""

from .arithmetic import ArithmeticSkill
from .base import SkillRouter
from .chat import ChatSkill
from .clock import ClockSkill
from .devices import DeviceSkill
from .modes import ModeSkill
from .units import UnitSkill


def builtin_skills() -> SkillRouter:
    """Small talk and "repeat after me" first (so their words are never calculated), modes before
    device commands ("turn on detailed mode"), then the rest."""
    return SkillRouter([ChatSkill(), ModeSkill(), DeviceSkill(), ClockSkill(), UnitSkill(), ArithmeticSkill()])
