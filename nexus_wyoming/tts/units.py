"""Cut one sentence into synthesis units short enough for a neural voice.

Piper's memory and time grow faster than the length of the text it is given
(measured: 120 chars → +70 MB RSS, 600 → +400 MB, 2400 → +1.7 GB and 12 s), so
a long sentence is spoken as several units. Cuts go where a reader would pause:
the last clause boundary (`,` `;` `:` `)` or a spaced dash) that keeps the unit
within the limit, else the last space, and only a single "word" longer than the
limit is cut inside. The first unit may have a lower limit so audio starts early.

Whitespace inside the sentence is collapsed to single spaces (the voice ignores
it), so `" ".join(units)` gives back the sentence's words in order, except that
a word longer than the limit comes back in pieces.
"""

import re
import unicodedata

#: A clause boundary is only used if the unit it ends has at least this many characters;
#: a shorter one ("Well,") is cut at a word instead, which sounds less choppy.
MIN_CLAUSE_CHARS = 12

#: Punctuation after which a reader pauses, with any closing quotes or brackets, then a space.
CLAUSE_END = re.compile(r"(?:[,;:)\]]|(?<= )[—–-])[\"'”’»)\]]*(?= )")


def split_units(sentence: str, max_chars: int = 160, first_max_chars: int | None = None) -> list[str]:
    """Split a sentence into units of at most `max_chars` (the first at most `first_max_chars`)."""
    if max_chars < 1 or (first_max_chars is not None and first_max_chars < 1):
        raise ValueError("max_chars and first_max_chars must be at least 1")
    text = " ".join(sentence.split())
    units: list[str] = []
    pos = 0
    cap = max_chars if first_max_chars is None else min(first_max_chars, max_chars)
    while len(text) - pos > cap:
        end, pos_next = _cut(text, pos, cap, max_chars)
        units.append(text[pos:end])
        pos, cap = pos_next, max_chars
    if pos < len(text):
        units.append(text[pos:])
    return units


def _cut(text: str, pos: int, cap: int, max_chars: int) -> tuple[int, int]:
    """Where the unit starting at `pos` ends, and where the next one starts."""
    clause = None
    for match in CLAUSE_END.finditer(text, pos, pos + cap + 1):
        if match.end() - pos >= MIN_CLAUSE_CHARS:
            clause = match.end()
    if clause is not None:
        return clause, clause + 1
    space = text.rfind(" ", pos + 1, pos + cap + 1)
    if space == -1:
        # A first word longer than a lower first limit stays whole: cutting it would garble it.
        space = text.find(" ", pos + cap + 1, pos + max_chars + 1)
    if space != -1:
        return space, space + 1
    return pos + cap, pos + cap


def speakable(text: str) -> bool:
    """Whether text has anything a voice can say: a letter, digit or symbol (`$`, `%`).

    Punctuation alone ("...", "—", "()") gives an engine nothing to say: Piper answers
    no audio at all, a cloud engine an empty answer that would count as its failure.
    """
    return any(unicodedata.category(ch)[0] in "LNS" for ch in text)
