"""Arithmetic said aloud: "what is 17 times 23", "12 divided by 5", "15 percent of 80",
"the square root of 144", "2 to the power of 10". Parsed by a small recursive-descent
parser over numbers and operator words — never `eval` — with bounded sizes, so any
input is answered in microseconds or left to the model.
"""

import math
import re
from typing import Optional

from .base import SkillAnswer, SkillContext
from .numbers import MAX_MAGNITUDE, NUMBER_WORDS, parse_number, spoken

_QUESTION = re.compile(r"^(?:what is|what's|whats|how much is|how much's|calculate|compute|work out|solve|evaluate"
                       r"|what does|what do)\s+(?P<expr>.+?)(?:\s*(?:=|equals?|make|is))?$"
                       r"|^(?:what|how much)\s+(?P<expr2>.+?)\s+(?:is|equals|makes)$")
_TOKEN = re.compile(r"\d[\d,]*(?:\.\d+)?|\.\d+|[-+*/^×÷()%x]|[a-z']+")
#: Operator phrases, longest first, and the operator each means.
_PHRASES = [
    ("to the power of", "pow"), ("raised to the power of", "pow"), ("raised to", "pow"), ("to the power", "pow"),
    ("multiplied by", "mul"), ("divided by", "div"), ("the square root of", "sqrt"), ("square root of", "sqrt"),
    ("per cent of", "pct_of"), ("percent of", "pct_of"), ("% of", "pct_of"), ("per cent", "pct"),
    ("plus", "add"), ("+", "add"), ("minus", "sub"), ("-", "sub"), ("less", "sub"), ("times", "mul"),
    ("x", "mul"), ("*", "mul"), ("×", "mul"), ("over", "div"), ("/", "div"), ("÷", "div"), ("^", "pow"),
    ("squared", "sq"), ("cubed", "cube"), ("percent", "pct"), ("%", "pct"), ("mod", "mod"), ("modulo", "mod"),
    ("(", "("), (")", ")"),
]
_WORDS = {"add": "plus", "sub": "minus", "mul": "times", "div": "divided by", "pow": "to the power of",
          "sqrt": "the square root of", "pct_of": "percent of", "pct": "percent", "sq": "squared",
          "cube": "cubed", "mod": "modulo"}
_MAX_TOKENS = 40
_MAX_EXPONENT = 64


class _NotArithmetic(Exception):
    """The words are not a calculation we can parse."""


class _Unanswerable(Exception):
    """A calculation without a speakable result (division by zero, too big)."""


class ArithmeticSkill:
    """Calculates what it can parse completely; anything else is left to the model."""

    name = "arithmetic"

    def answer(self, text: str, words: str, context: SkillContext) -> Optional[SkillAnswer]:
        match = _QUESTION.match(words)
        if match is None:
            return None
        try:
            tokens = _tokens(match.group("expr") or match.group("expr2"))
            if not any(kind == "op" and value not in ("(", ")") for kind, value in tokens):
                return None
            value = _Parser(tokens).parse()
        except _NotArithmetic:
            return None
        except _Unanswerable as err:
            return SkillAnswer(str(err), self.name)
        if any(v in ("(", ")") for _, v in tokens):  # reading it back would lose the grouping
            return SkillAnswer(f"It's {spoken(value)}.", self.name)
        echo = " ".join(spoken(v) if kind == "num" else _WORDS[v] for kind, v in tokens)  # type: ignore[index]
        return SkillAnswer(f"{echo[0].upper()}{echo[1:]} is {spoken(value)}.", self.name)


def _tokens(expr: str) -> list[tuple[str, object]]:
    """Numbers and operators; _NotArithmetic for any other word."""
    raw = _TOKEN.findall(expr)
    if len(raw) > _MAX_TOKENS * 3:
        raise _NotArithmetic
    tokens: list[tuple[str, object]] = []
    i = 0
    while i < len(raw):
        for phrase, op in _PHRASES:
            parts = phrase.split()
            if raw[i:i + len(parts)] == parts:
                tokens.append(("op", op))
                i += len(parts)
                break
        else:
            if raw[i] in ("the", "of") and i + 1 < len(raw):  # "the sum": filler before a number
                i += 1
                continue
            number = parse_number(raw, i) if (raw[i][0].isdigit() or raw[i][0] == "." or raw[i] in NUMBER_WORDS
                                              or raw[i] in ("minus", "negative")) else None
            if number is None:
                raise _NotArithmetic
            tokens.append(("num", number[0]))
            i = number[1]
    if len(tokens) > _MAX_TOKENS:
        raise _NotArithmetic
    return tokens


class _Parser:
    """expr := term (± term)*; term := power (×÷mod power)*; power := unary (^ unary | ² | ³ | %)*."""

    def __init__(self, tokens: list[tuple[str, object]]) -> None:
        self.tokens = tokens
        self.i = 0

    def parse(self) -> float:
        value = self.expr()
        if self.i != len(self.tokens):
            raise _NotArithmetic
        return _checked(value)

    def _peek(self) -> object:
        return self.tokens[self.i][1] if self.i < len(self.tokens) and self.tokens[self.i][0] == "op" else None

    def _take(self, *ops: str) -> Optional[object]:
        op = self._peek()
        if op in ops:
            self.i += 1
            return op
        return None

    def expr(self) -> float:
        value = self.term()
        while (op := self._take("add", "sub")) is not None:
            right = self.term()
            value = _checked(value + right if op == "add" else value - right)
        return value

    def term(self) -> float:
        value = self.power()
        while (op := self._take("mul", "div", "mod")) is not None:
            right = self.power()
            if op == "mul":
                value = _checked(value * right)
            elif right == 0:
                raise _Unanswerable("You can't divide by zero.")
            else:
                value = value / right if op == "div" else math.fmod(value, right)
        return value

    def power(self) -> float:
        value = self.unary()
        while (op := self._take("pow", "sq", "cube", "pct", "pct_of")) is not None:
            if op == "pow":
                exponent = self.unary()
                if abs(exponent) > _MAX_EXPONENT or (value == 0 and exponent < 0):
                    raise _Unanswerable("That number is too big for me to say.")
                value = _checked(math.pow(value, exponent)) if value >= 0 or exponent == int(exponent) else _nan()
            elif op in ("sq", "cube"):
                value = _checked(value ** (2 if op == "sq" else 3))
            elif op == "pct":
                value = value / 100
            else:
                value = _checked(value / 100 * self.unary())
        return value

    def unary(self) -> float:
        if self._take("sub") is not None:
            return -self.unary()
        if self._take("sqrt") is not None:
            value = self.unary()
            if value < 0:
                raise _Unanswerable("Negative numbers have no real square root.")
            return math.sqrt(value)
        if self._take("(") is not None:
            value = self.expr()
            if self._take(")") is None:
                raise _NotArithmetic
            return value
        if self.i < len(self.tokens) and self.tokens[self.i][0] == "num":
            self.i += 1
            return float(self.tokens[self.i - 1][1])  # type: ignore[arg-type]
        raise _NotArithmetic


def _checked(value: float) -> float:
    if math.isnan(value):
        raise _Unanswerable("That has no real answer.")
    if math.isinf(value) or abs(value) >= MAX_MAGNITUDE:
        raise _Unanswerable("That number is too big for me to say.")
    return value


def _nan() -> float:
    raise _Unanswerable("That has no real answer.")
