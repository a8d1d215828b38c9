"""Tests for cutting sentences into synthesis units."""

import random
import time

import pytest

from nexus_wyoming.tts.units import MIN_CLAUSE_CHARS, split_units

LONG_CLAUSES = "The quick brown fox jumps, and then the lazy dog sleeps; nobody minds: the end."

CASES = [
    # Short enough: one unit, whitespace collapsed.
    ("Hello world.", 160, None, ["Hello world."]),
    ("  Hello \n  world.  ", 160, None, ["Hello world."]),
    ("", 160, None, []),
    ("   ", 160, None, []),
    ("Exactly ten", 11, None, ["Exactly ten"]),
    # Clause boundaries first, the last one that fits.
    (LONG_CLAUSES, 40, None, ["The quick brown fox jumps,", "and then the lazy dog sleeps;", "nobody minds: the end."]),
    (LONG_CLAUSES, 60, None, ["The quick brown fox jumps, and then the lazy dog sleeps;", "nobody minds: the end."]),
    ("First part of it — second part of it here", 30, None, ["First part of it —", "second part of it here"]),
    ("First part of it - second part of it here", 30, None, ["First part of it -", "second part of it here"]),
    ("A well-known fact is here, indeed", 30, None, ["A well-known fact is here,", "indeed"]),
    ("He left (as always) without a word", 25, None, ["He left (as always)", "without a word"]),
    ('She said "yes," and walked off', 20, None, ['She said "yes,"', "and walked off"]),
    ("At 10:30 we met again, everyone", 25, None, ["At 10:30 we met again,", "everyone"]),
    # A clause too short to stand alone: cut at a word instead.
    ("Oh, this sentence goes on without a pause", 20, None, ["Oh, this sentence", "goes on without a", "pause"]),
    # Then word boundaries.
    ("one two three four five six", 10, None, ["one two", "three four", "five six"]),
    ("one two three", 3, None, ["one", "two", "thr", "ee"]),
    # Then a hard cut inside an overlong word.
    ("a" * 25, 10, None, ["a" * 10, "a" * 10, "a" * 5]),
    ("go " + "b" * 12 + " now", 5, None, ["go", "bbbbb", "bbbbb", "bb", "now"]),
    # The first unit has its own, lower, limit.
    (LONG_CLAUSES, 160, 30, ["The quick brown fox jumps,", "and then the lazy dog sleeps; nobody minds: the end."]),
    ("Well, then the whole thing went on", 160, 20, ["Well, then the whole", "thing went on"]),
    ("Short one.", 160, 48, ["Short one."]),
    ("one two three four five six", 10, 4, ["one", "two three", "four five", "six"]),
    ("one two three four five six", 10, 100, ["one two", "three four", "five six"]),
    ("Extraordinarily long first word", 160, 5, ["Extraordinarily", "long first word"]),
    ("x" * 30 + " y", 20, 5, ["x" * 5, "x" * 20, "x" * 5 + " y"]),
]


def test_table_is_big_enough() -> None:
    """The brief asks for at least 15 table cases."""
    assert len(CASES) >= 15


@pytest.mark.parametrize(("sentence", "max_chars", "first_max_chars", "expected"), CASES)
def test_split_units(sentence: str, max_chars: int, first_max_chars: int | None, expected: list[str]) -> None:
    """Each cutting rule on a small example."""
    assert split_units(sentence, max_chars, first_max_chars) == expected


def _check(sentence: str, units: list[str], max_chars: int, first_max_chars: int | None) -> None:
    """Every unit is trimmed, non-empty, within its limit, and together they give the sentence back."""
    assert all(unit and unit == unit.strip() for unit in units)
    assert all(len(unit) <= max_chars for unit in units)
    if units and first_max_chars is not None and len(units[0]) > first_max_chars:
        assert " " not in units[0]  # only a first word that is too long to cut nicely
    assert "".join("".join(units).split()) == "".join(sentence.split())
    if max(map(len, sentence.split()), default=0) <= min(max_chars, first_max_chars or max_chars):
        assert " ".join(units) == " ".join(sentence.split())


WORDS = ["a", "to", "the", "speech", "synthesis", "unit,", "clause;", "pause:", "(aside)", "—", "-", "end."]


@pytest.mark.parametrize("seed", range(40))
def test_random_text_properties(seed: int) -> None:
    """Random sentences, random limits: lengths bounded, words preserved in order."""
    rng = random.Random(seed)
    words = [rng.choice(WORDS + ["x" * rng.randint(1, 300)]) for _ in range(rng.randint(0, 400))]
    sentence = "".join(word + rng.choice([" ", "  ", "\n", "\t "]) for word in words)
    max_chars = rng.choice([1, 5, 20, 80, 160, 400])
    first_max_chars = rng.choice([None, 1, 10, 48, 1000])
    _check(sentence, split_units(sentence, max_chars, first_max_chars), max_chars, first_max_chars)


def test_clause_cut_is_the_last_that_fits() -> None:
    """With several clause boundaries in reach, the unit runs to the last of them."""
    sentence = "alpha beta gamma, delta epsilon, zeta eta theta, iota kappa lambda mu nu"
    assert split_units(sentence, 50)[0] == "alpha beta gamma, delta epsilon, zeta eta theta,"
    assert MIN_CLAUSE_CHARS <= len("alpha beta gamma,")


def test_megabyte_without_punctuation_is_fast() -> None:
    """1 MB of words splits in linear time into full-size units."""
    sentence = "word " * 200_000
    started = time.perf_counter()
    units = split_units(sentence)
    assert time.perf_counter() - started < 2
    _check(sentence, units, 160, None)
    assert all(len(unit) >= 155 for unit in units[:-1])


def test_megabyte_single_word_is_fast() -> None:
    """10 kB..1 MB without a single space is hard-cut at the limit."""
    for size in (10_000, 1_000_000):
        started = time.perf_counter()
        units = split_units("x" * size, 160, 48)
        assert time.perf_counter() - started < 2
        assert len(units[0]) == 48 and all(len(unit) == 160 for unit in units[1:-1])
        assert sum(map(len, units)) == size


@pytest.mark.parametrize(("max_chars", "first_max_chars"), [(0, None), (160, 0), (-1, 5)])
def test_invalid_limits(max_chars: int, first_max_chars: int | None) -> None:
    """Limits below one character are configuration errors."""
    with pytest.raises(ValueError):
        split_units("text", max_chars, first_max_chars)
