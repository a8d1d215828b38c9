"""Device commands that nothing here can carry out: an honest answer, never "done".

With a Home Assistant bridge (`intent.home_assistant`), HA's own agent is asked before the
skills and does what it can; a device command that reaches this skill was not done by HA
(none configured, HA unreachable, or HA declined), and the answer says so. The model never
sees such a command, so it cannot claim to have switched anything.

Recognized: "turn/switch/power on|off ...", "turn the fan off", "dim/brighten ...",
"open/close/lock/unlock the garage door/blinds/...", "set the thermostat/lights/... to 20",
"raise/lower the heating", "make it warmer", and state questions ("is the kitchen light on").
Questions about things ("what is a light year", "how do I turn off my alarm") are not.
"""

import re
from typing import Optional

from .base import SkillAnswer, SkillContext

NO_BRIDGE = "I can't control devices without a Home Assistant connection, so nothing was changed."
NO_BRIDGE_STATE = "I can't check devices without a Home Assistant connection."

_DEVICE = (r"(?:lights?|lamps?|bulbs?|fans?|heat(?:er|ing)?|thermostat|temperature|ac|a c|air ?con(?:ditioning|ditioner)?"
           r"|tv|television|plugs?|sockets?|outlets?|switch(?:es)?|blinds?|curtains?|shades?|shutters?|covers?"
           r"|garage(?: door)?|doors?|locks?|gates?|windows?|vacuum|robot|kettle|coffee (?:machine|maker)|radiators?"
           r"|boiler|dehumidifier|humidifier|purifier|sprinklers?|valves?|brightness|scene)")
_LEAD = r"(?:(?:can|could|would|will) you (?:please )?|please |i want you to |go ahead and |kindly )*"
_ON_OFF = r"(?:on|off)"
#: Up to N words naming where or which ("the living room", "back"), not "a window" nor "i left the".
_WHICH = r"(?:(?!(?:a|an|some|your|his|her|their|i|you|we|they|he|she|it)\b)[\w']+ ){{0,{n}}}"
_COMMANDS = [
    rf"^{_LEAD}(?:turn|switch|power|flip|shut) {_ON_OFF}\b.+",           # turn on the kitchen light
    rf"^{_LEAD}(?:turn|switch|power|flip|shut) .+ {_ON_OFF}$",            # turn the fan off
    rf"^{_LEAD}put (?:the |my |all (?:the )?)?{_WHICH.format(n=3)}{_DEVICE} {_ON_OFF}$",  # put the lights on
    rf"^(?:all (?:the )?|the )?{_WHICH.format(n=3)}{_DEVICE} {_ON_OFF}$",   # kitchen lights off
    rf"^{_LEAD}(?:turn|switch) (?:all|everything) {_ON_OFF}?.*",           # turn everything off
    rf"^{_LEAD}(?:dim|brighten|toggle) .+",                                # dim the lights
    rf"^{_LEAD}(?:open|close|shut|lock|unlock|raise|lower) (?:the |my |all (?:the )?)?{_WHICH.format(n=3)}{_DEVICE}\b.*",
    rf"^{_LEAD}(?:set|change|put|adjust|turn (?:up|down)) (?:the |my |all (?:the )?)?{_WHICH.format(n=3)}{_DEVICE}\b.*",
    rf"^{_LEAD}(?:turn|crank) (?:up|down) .+",                             # turn up the heating
    rf"^{_LEAD}(?:increase|decrease|raise|lower|reduce) (?:the )?{_WHICH.format(n=3)}{_DEVICE}\b.*",
    rf"^{_LEAD}(?:start|stop|run|pause) (?:the )?{_WHICH.format(n=2)}(?:vacuum|robot|fan|sprinklers?|kettle|"
    r"coffee (?:machine|maker)|dishwasher|washing machine|dryer)\b.*",
    rf"^{_LEAD}(?:activate|run|trigger) (?:the )?{_WHICH.format(n=3)}(?:scene|script|automation)\b.*",
    rf"^{_LEAD}make (?:it|the [\w' ]+) (?:warmer|cooler|colder|hotter|brighter|darker)$",
]
_COMMAND = re.compile("|".join(f"(?:{c})" for c in _COMMANDS))
_STATE = re.compile(rf"^(?:is|are) (?:the |my |all (?:the )?)?{_WHICH.format(n=3)}{_DEVICE} "
                    rf"(?:still )?(?:on|off|open|closed|shut|locked|unlocked|running)(?: right now| now)?$")
#: Asking about a thing or how to do it is a question, not a command.
_QUESTION = re.compile(r"^(?:what|what's|whats|how|why|when|where|who|which|does|do|did|should|shall|tell me|"
                       r"explain|define|describe)\b")
_NOT_A_DEVICE = re.compile(r"\bmode$")  # "turn on detailed mode" is the mode skill's


def device_request(words: str) -> Optional[str]:
    """"command", "state" (a question about a device's state), or None; `words` as `plain()` gives them."""
    if _QUESTION.match(words) or _NOT_A_DEVICE.search(words):
        return None
    if _STATE.match(words):
        return "state"
    return "command" if _COMMAND.match(words) else None


class DeviceSkill:
    """Answers a device command that no Home Assistant carried out: why not, never "done"."""

    name = "devices"

    def answer(self, text: str, words: str, context: SkillContext) -> Optional[SkillAnswer]:
        kind = device_request(words)
        if kind is None:
            return None
        if context.device_reply:
            return SkillAnswer(context.device_reply, self.name)
        return SkillAnswer(NO_BRIDGE_STATE if kind == "state" else NO_BRIDGE, self.name)
