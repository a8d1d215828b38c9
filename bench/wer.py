"""Word error rate with a normalisation that forgives how a transcript is written, not what it says.

Normalisation (applied to reference and hypothesis alike):
- Unicode NFKC, lower case, curly quotes straightened; "a.m."/"p.m." → "am"/"pm";
  "%" → "percent", "°" → "degrees", "&" → "and", "+" → "plus".
- Clock times `H:MM` or `H.MM` (two digits after the separator) → "six thirty", "seven oh five";
  ":00" → just the hour. Other decimals → "two point five".
- Ordinals "21st" → "twenty first"; integers (thousands separators allowed) → words without
  "and" ("350" → "three hundred fifty"); "a hundred" is left as said.
- Hyphens and slashes split words; every other punctuation mark is dropped, apostrophes
  included ("what's" → "whats", so a contraction only matches the same contraction).
- A few spelling variants are unified: ok → okay, alright → all right.
WER = (substitutions + deletions + insertions) / reference words, summed over a corpus.

Run `python bench/wer.py "reference" "hypothesis"` to see the normalised words and the score.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from typing import Iterable

ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))
ORDINAL_ENDINGS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}
VARIANTS = {"ok": "okay", "alright": "all right"}


def number_words(n: int) -> str:
    """Cardinal number in words, US style without "and": 350 → "three hundred fifty"."""
    if n < 20:
        return ONES[n]
    if n < 100:
        tens, rest = divmod(n, 10)
        return TENS[tens] + (f" {ONES[rest]}" if rest else "")
    for size, name in SCALES:
        if n >= size:
            high, rest = divmod(n, size)
            return f"{number_words(high)} {name}" + (f" {number_words(rest)}" if rest else "")
    raise AssertionError("unreachable")


def ordinal_words(n: int) -> str:
    """Ordinal number in words: 21 → "twenty first"."""
    words = number_words(n).split()
    last = words[-1]
    if last in ORDINAL_ENDINGS:
        words[-1] = ORDINAL_ENDINGS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _time(match: re.Match[str]) -> str:
    """`6:30` → "six thirty", `7:05` → "seven oh five", `8:00` → "eight"."""
    hour, minute = int(match.group(1)), int(match.group(2))
    if minute == 0:
        return f" {number_words(hour)} "
    if minute < 10:
        return f" {number_words(hour)} oh {ONES[minute]} "
    return f" {number_words(hour)} {number_words(minute)} "


def _decimal(match: re.Match[str]) -> str:
    """`2.5` → "two point five" (digits after the point read one by one)."""
    whole, fraction = match.group(1), match.group(2)
    return f" {number_words(int(whole))} point {' '.join(ONES[int(d)] for d in fraction)} "


def _spell_numbers(text: str) -> str:
    """Replace times, decimals, ordinals and integers written in digits by words."""
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = re.sub(r"\b(\d{1,2})[:.](\d{2})\b", _time, text)
    text = re.sub(r"\b(\d+)\.(\d+)\b", _decimal, text)
    text = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", lambda m: f" {ordinal_words(int(m.group(1)))} ", text)
    return re.sub(r"\d+", lambda m: f" {number_words(int(m.group(0)))} ", text)


def normalize(text: str) -> list[str]:
    """The words of `text` after the normalisation described in the module docstring."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"\b([ap])\.\s?m\.?(?=\W|$)", r"\1m", text)
    for symbol, word in (("%", " percent "), ("°", " degrees "), ("&", " and "), ("+", " plus ")):
        text = text.replace(symbol, word)
    text = _spell_numbers(text)
    text = re.sub(r"[-/]", " ", text)
    text = re.sub(r"[^\w\s]", "", text)
    words: list[str] = []
    for word in text.split():
        words.extend(VARIANTS.get(word, word).split())
    return words


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance over words (substitutions + deletions + insertions)."""
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        current = [i]
        for j, hyp_word in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1]


@dataclass
class WerCount:
    """Errors and reference words accumulated over a corpus."""

    errors: int = 0
    words: int = 0
    utterances: int = 0
    exact: int = 0

    def add(self, reference: str, hypothesis: str) -> int:
        """Score one utterance; returns its error count."""
        ref, hyp = normalize(reference), normalize(hypothesis)
        errors = edit_distance(ref, hyp)
        self.errors += errors
        self.words += len(ref)
        self.utterances += 1
        self.exact += errors == 0
        return errors

    @property
    def rate(self) -> float:
        """Word error rate (0.0 for an empty corpus)."""
        return self.errors / self.words if self.words else 0.0


def corpus_wer(pairs: Iterable[tuple[str, str]]) -> WerCount:
    """WER over (reference, hypothesis) pairs."""
    count = WerCount()
    for reference, hypothesis in pairs:
        count.add(reference, hypothesis)
    return count


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python bench/wer.py REFERENCE HYPOTHESIS")
    ref_words, hyp_words = normalize(sys.argv[1]), normalize(sys.argv[2])
    print("ref:", " ".join(ref_words))
    print("hyp:", " ".join(hyp_words))
    print(f"errors {edit_distance(ref_words, hyp_words)} / {len(ref_words)} words")
