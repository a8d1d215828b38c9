"""Unit conversions: "convert 5 miles to kilometers", "how many feet are in a mile",
"what is 100 fahrenheit in celsius", "2 cups in milliliters". Linear units by a factor
to a base unit per dimension; temperatures by their formulas. US customary volumes."""

import re
from dataclasses import dataclass
from typing import Optional

from .base import SkillAnswer, SkillContext
from .numbers import parse_number, spoken


@dataclass(frozen=True)
class Unit:
    """A unit: its dimension, its size in the dimension's base unit, how to say it."""

    dimension: str
    factor: float
    singular: str
    plural: str


def _units() -> dict[str, Unit]:
    table: dict[str, Unit] = {}

    def add(dimension: str, factor: float, singular: str, plural: str, *aliases: str) -> None:
        unit = Unit(dimension, factor, singular, plural)
        for name in (singular, plural, *aliases):
            table[name] = unit

    add("length", 0.001, "millimeter", "millimeters", "mm", "millimetre", "millimetres")
    add("length", 0.01, "centimeter", "centimeters", "cm", "centimetre", "centimetres")
    add("length", 1.0, "meter", "meters", "m", "metre", "metres")
    add("length", 1000.0, "kilometer", "kilometers", "km", "kilometre", "kilometres", "kilometer's")
    add("length", 0.0254, "inch", "inches", "in")
    add("length", 0.3048, "foot", "feet", "ft")
    add("length", 0.9144, "yard", "yards", "yd")
    add("length", 1609.344, "mile", "miles", "mi")
    add("mass", 0.001, "milligram", "milligrams", "mg")
    add("mass", 1.0, "gram", "grams", "g")
    add("mass", 1000.0, "kilogram", "kilograms", "kg", "kilo", "kilos")
    add("mass", 28.349523125, "ounce", "ounces", "oz")
    add("mass", 453.59237, "pound", "pounds", "lb", "lbs")
    add("mass", 6350.29318, "stone", "stone", "stones")
    add("volume", 0.001, "milliliter", "milliliters", "ml", "millilitre", "millilitres")
    add("volume", 1.0, "liter", "liters", "l", "litre", "litres")
    add("volume", 0.00492892159375, "teaspoon", "teaspoons", "tsp")
    add("volume", 0.01478676478125, "tablespoon", "tablespoons", "tbsp")
    add("volume", 0.0295735295625, "fluid ounce", "fluid ounces", "fl oz")
    add("volume", 0.2365882365, "cup", "cups")
    add("volume", 0.473176473, "pint", "pints")
    add("volume", 0.946352946, "quart", "quarts")
    add("volume", 3.785411784, "gallon", "gallons", "gal")
    add("speed", 1.0, "kilometer per hour", "kilometers per hour", "km/h", "kph", "kmh",
        "kilometres per hour", "kilometre per hour")
    add("speed", 1.609344, "mile per hour", "miles per hour", "mph")
    add("speed", 3.6, "meter per second", "meters per second", "m/s", "metres per second")
    add("time", 1.0, "second", "seconds", "s", "sec", "secs")
    add("time", 60.0, "minute", "minutes", "min", "mins")
    add("time", 3600.0, "hour", "hours", "h", "hr", "hrs")
    add("time", 86400.0, "day", "days")
    add("time", 604800.0, "week", "weeks")
    for name in ("celsius", "degrees celsius", "degree celsius", "centigrade", "c"):
        table[name] = Unit("temperature", 0.0, "degree Celsius", "degrees Celsius")
    for name in ("fahrenheit", "degrees fahrenheit", "degree fahrenheit", "f"):
        table[name] = Unit("temperature", 1.0, "degree Fahrenheit", "degrees Fahrenheit")
    for name in ("kelvin", "kelvins", "k"):
        table[name] = Unit("temperature", 2.0, "kelvin", "kelvin")
    return table


UNITS = _units()
_UNIT = "|".join(sorted((re.escape(n) for n in UNITS), key=len, reverse=True))
_AMOUNT = r"(?P<amount>[\w.,\- ]+?)"
_PATTERNS = [
    re.compile(rf"^(?:convert |what(?:'s| is) |how much is |how many \S+ (?:is|are) )?{_AMOUNT} ?(?:degrees? )?"
               rf"(?P<src>{_UNIT}) (?:to|in|into|as) (?:degrees? )?(?P<dst>{_UNIT})$"),
    re.compile(rf"^how many (?P<dst>{_UNIT}) (?:are |is )?(?:there )?(?:in|to) {_AMOUNT} ?(?P<src>{_UNIT})$"),
]


class UnitSkill:
    """Converts between units of one dimension."""

    name = "units"

    def answer(self, text: str, words: str, context: SkillContext) -> Optional[SkillAnswer]:
        for pattern in _PATTERNS:
            match = pattern.match(words)
            if match is None:
                continue
            amount = _amount(match.group("amount"))
            src, dst = UNITS[match.group("src")], UNITS[match.group("dst")]
            if amount is None:
                continue
            if src.dimension != dst.dimension:
                return SkillAnswer(f"I can't convert {src.plural} to {dst.plural}.", self.name)
            value = _convert(amount, src, dst)
            return SkillAnswer(f"{spoken(amount)} {_say(src, amount)} is {spoken(value)} {_say(dst, value)}.",
                               self.name)
        return None


def _amount(text: str) -> Optional[float]:
    """The quantity before the unit: a number, number words, or "a"/"an"."""
    tokens = re.sub(r"^-\s*", "minus ", text.strip()).split()
    if tokens in (["a"], ["an"]):
        return 1.0
    found = parse_number(tokens, 0) if tokens else None
    return found[0] if found is not None and found[1] == len(tokens) else None


def _convert(amount: float, src: Unit, dst: Unit) -> float:
    if src.dimension != "temperature":
        return amount * src.factor / dst.factor
    celsius = {0.0: amount, 1.0: (amount - 32) * 5 / 9, 2.0: amount - 273.15}[src.factor]
    return {0.0: celsius, 1.0: celsius * 9 / 5 + 32, 2.0: celsius + 273.15}[dst.factor]


def _say(unit: Unit, value: float) -> str:
    return unit.singular if abs(value) == 1 else unit.plural
