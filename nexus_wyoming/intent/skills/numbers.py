"""Numbers as people say or type them: "17", "1,250.5", "twenty three", "a hundred and five",
"three point five", "minus four"; and numbers as a voice should say them back."""

import math
import re
from typing import Optional, Sequence

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 10 ** 6, "billion": 10 ** 9}
_DIGITS = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$|^\d+(?:\.\d+)?$|^\.\d+$")
NUMBER_WORDS = frozenset(_UNITS) | frozenset(_TENS) | frozenset(_SCALES) | {"a", "an", "and", "point"}
MAX_MAGNITUDE = 1e15


def parse_number(tokens: Sequence[str], start: int) -> Optional[tuple[float, int]]:
    """The number beginning at tokens[start] and the index after it, or None."""
    if start >= len(tokens):
        return None
    sign = 1.0
    if tokens[start] in ("minus", "negative") and start + 1 < len(tokens):
        sign, start = -1.0, start + 1
    token = tokens[start]
    if _DIGITS.match(token):
        return sign * float(token.replace(",", "")), start + 1
    found = _parse_words(tokens, start)
    if found is None:
        return None
    value, end = found
    return sign * value, end


def _parse_words(tokens: Sequence[str], start: int) -> Optional[tuple[float, int]]:
    """"twenty three", "one hundred and five", "a thousand", "three point one four"."""
    total, current, last, end = 0, 0, None, start
    for i in range(start, len(tokens)):
        word, following = tokens[i], tokens[i + 1] if i + 1 < len(tokens) else ""
        if word in ("a", "an") and last is None and following in _SCALES:
            current, last = 1, "unit"
        elif word in _UNITS and (last in (None, "hundred", "scale", "and") or (last == "ten" and _UNITS[word] < 10)):
            current, last = current + _UNITS[word], "unit"
        elif word in _TENS and last in (None, "hundred", "scale", "and"):
            current, last = current + _TENS[word], "ten"
        elif word == "hundred" and last == "unit" and 0 < current % 100 < 20 and current < 100:
            current, last = current * 100, "hundred"
        elif word in _SCALES and word != "hundred" and last in ("unit", "ten", "hundred"):
            total, current, last = total + current * _SCALES[word], 0, "scale"
        elif word == "and" and last in ("hundred", "scale") and (following in _UNITS or following in _TENS):
            last = "and"
            continue
        else:
            break
        end = i + 1
    if last is None:
        return None
    value = float(total + current)
    if end + 1 < len(tokens) and tokens[end] == "point":
        digits = []
        for word in tokens[end + 1:]:
            if word not in _UNITS or _UNITS[word] > 9:
                break
            digits.append(str(_UNITS[word]))
        if digits:
            value += float("0." + "".join(digits))
            end += 1 + len(digits)
    return value, end


def spoken(value: float) -> str:
    """A number as a voice should read it: integers whole, others to a few decimals."""
    if math.isnan(value) or math.isinf(value):
        return "undefined"
    if abs(value - round(value)) < 1e-9 and abs(value) < MAX_MAGNITUDE:
        return str(int(round(value)))
    magnitude = abs(value)
    decimals = 2 if magnitude >= 1 else max(2, 1 - int(math.floor(math.log10(magnitude))) + 2)
    text = f"{value:.{min(decimals, 10)}f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"
