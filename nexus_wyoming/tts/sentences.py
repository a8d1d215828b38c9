"""Smart sentence buffer: cuts streamed text (TTS chunks, LLM tokens) into sentences.

A sentence ends at a run of `.`, `!`, `?` or `…` (closing quotes and brackets
right after it belong to the sentence) followed by whitespace, at a blank line,
or at the end of the text. A single `.` is not an end after an abbreviation
(`Mr.`, `e.g.`), an initial (`J. R. R. Tolkien`) or a list number at the start
of a line (`1. Preheat...`); inside numbers, URLs, e-mail addresses and paths a
`.` is never followed by whitespace, so those need no rule of their own.

Ambiguous cases lean towards *not* cutting: for speech a missed end only makes
one sentence longer, while a wrong cut puts a pause in the middle of a name.
Abbreviations that usually close a sentence (`etc.`, `Inc.`, `a.m.`) end one
only when the next word starts with an uppercase letter (or nothing follows);
`No.`, `Vol.`, `Jan.`... end one unless a digit follows. Those two need the
next non-space character, so the buffer waits for it.

Streaming gives exactly the result of splitting the whole text at once: a
decision that depends on text not received yet is put off, never guessed, and
scanning resumes where it stopped, so the work is linear in the input.
A sentence never exceeds `max_chars`: without an end in time it is cut at the
last whitespace (or hard, inside a very long word).
"""

import re

from .units import CLAUSE_END

#: Abbreviations that introduce what follows (a name, a number, an example): never a sentence end.
#: Single letters and letters joined by dots (`J.`, `U.S.`, `e.g.`, `i.e.`) are treated the same way by rule.
PREFIX_ABBREVIATIONS = frozenset(
    {
        "mr.", "mrs.", "ms.", "mx.", "dr.", "prof.", "st.", "mt.", "ft.", "rev.", "hon.", "gov.",
        "sen.", "pres.", "gen.", "col.", "lt.", "capt.", "sgt.", "vs.", "cf.", "approx.", "ca.",
        "dept.", "univ.", "ave.", "blvd.",
    }
)

#: Abbreviations that often close a sentence: an end only when the next word is capitalised.
SUFFIX_ABBREVIATIONS = frozenset(
    {"etc.", "inc.", "ltd.", "co.", "corp.", "bros.", "jr.", "sr.", "esq.", "a.m.", "p.m."}
)

#: Abbreviations written before a number (`No. 5`, `Jan. 3`): an end unless a digit follows.
NUMBER_ABBREVIATIONS = frozenset(
    {
        "no.", "nos.", "nr.", "vol.", "pp.", "fig.", "ch.", "jan.", "feb.", "mar.", "apr.", "jun.",
        "jul.", "aug.", "sep.", "sept.", "oct.", "nov.", "dec.",
    }
)

_CANDIDATE = re.compile(r"[.!?…]|\n")
_CLOSERS = "\"'”’»)]}"
_TERMINATOR_RUN = re.compile(f"[.!?…]+[{re.escape(_CLOSERS)}]*")
_BLANK_LINE = re.compile(r"\n[^\S\n]*(\n)?")
_NON_SPACE = re.compile(r"\S")
_DOTTED_LETTERS = re.compile(r"(?:[^\W\d_]\.)*[^\W\d_]")
_OPENERS = "\"'“‘«([{"


class SentenceBuffer:
    """Collects streamed text and hands out each sentence as soon as it is certainly complete."""

    def __init__(self, max_chars: int = 2000) -> None:
        if max_chars < 1:
            raise ValueError("max_chars must be at least 1")
        self.max_chars = max_chars
        self._pending = ""  # text not handed out yet; never starts with whitespace
        self._scan = 0  # offset in _pending before which no sentence end can be found

    def add(self, text: str) -> list[str]:
        """Append streamed text; return the sentences it completes (stripped, non-empty)."""
        return self._take(self._pending + text, final=False)

    def flush(self) -> list[str]:
        """End of text: return the rest as sentences and start afresh."""
        return self._take(self._pending, final=True)

    def take_opening(self, min_chars: int, max_chars: int) -> str | None:
        """The start of the pending sentence, if it can be spoken on its own already.

        That is the text up to its first clause boundary (at least `min_chars` in; one
        past `max_chars` only once that much is pending), or, once more than `max_chars`
        are pending without one, up to the last word break within `max_chars`. Speech
        can then start while the first sentence of a slow stream (LLM tokens) is still
        arriving; the rest comes out of add() as usual.
        """
        pending = self._pending
        cut = next((m.end() for m in CLAUSE_END.finditer(pending) if m.end() >= min_chars), None)
        if cut is not None and cut > max_chars >= len(pending):
            cut = None
        if cut is None and len(pending) > max_chars:
            space = pending.rfind(" ", min_chars, max_chars + 1)
            cut = space if space != -1 else None
        if cut is None:
            return None
        rest = pending[cut:].lstrip()
        self._pending, self._scan = rest, max(0, self._scan - (len(pending) - len(rest)))
        return pending[:cut].strip()

    def _take(self, text: str, final: bool) -> list[str]:
        """Cut every sentence that can be decided now; keep the rest pending."""
        sentences: list[str] = []
        start = _skip_space(text, 0)
        pos = max(self._scan, start)
        while True:
            limit = start + self.max_chars
            end, pos = _next_end(text, start, pos, limit, final)
            if end is None:
                if len(text) <= limit:
                    break
                end = _break_point(text, start, limit)
            sentences.append(text[start:end].rstrip())
            start = pos = _skip_space(text, end)
        if final:
            if start < len(text):
                sentences.append(text[start:].rstrip())
            self._pending, self._scan = "", 0
        else:
            self._pending, self._scan = text[start:], pos - start
        return sentences


def split_sentences(text: str, max_chars: int = 2000) -> list[str]:
    """Split a whole text into sentences, exactly as streaming it through a SentenceBuffer would."""
    buffer = SentenceBuffer(max_chars)
    return buffer.add(text) + buffer.flush()


def _next_end(text: str, start: int, pos: int, limit: int, final: bool) -> tuple[int | None, int]:
    """First sentence end in text[pos:limit] for a sentence starting at `start`, and where to search next.

    The end is None when there is none, or when deciding needs text not received yet
    (then the search resumes at that candidate). Lookahead never goes past `limit`:
    beyond it the sentence is cut at `limit` anyway, with the same result.
    """
    while (candidate := _CANDIDATE.search(text, pos, limit)) is not None:
        i = candidate.start()
        if text[i] == "\n":
            blank = _BLANK_LINE.match(text, i, limit + 1)
            if blank.group(1) or blank.end() > limit or (final and blank.end() == len(text)):
                return i, i
            if blank.end() == len(text):
                return None, i
            pos = i + 1
            continue
        end = _TERMINATOR_RUN.match(text, i, limit + 1).end()
        if end > limit:
            return None, i
        if end == len(text):
            return (end, end) if final else (None, i)
        if text[end].isspace():
            verdict = _is_end(text, start, i, end, limit, final)
            if verdict is None:
                return None, i
            if verdict:
                return end, end
        pos = end
    return None, min(limit, len(text))


def _is_end(text: str, start: int, i: int, end: int, limit: int, final: bool) -> bool | None:
    """Whether the terminator run text[i:end], followed by whitespace, ends the sentence; None: wait."""
    if text[i:end].rstrip(_CLOSERS) != ".":
        return True
    word_start = i
    while word_start > start and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:i].lstrip(_OPENERS)
    key = word.lower() + "."
    if key in SUFFIX_ABBREVIATIONS or key in NUMBER_ABBREVIATIONS:
        following = _next_initial(text, end, limit, final)
        if following is None:
            return None
        if key in SUFFIX_ABBREVIATIONS:
            return following == "" or following.isupper()
        return not following.isdigit()
    if key in PREFIX_ABBREVIATIONS or _DOTTED_LETTERS.fullmatch(word):
        return False
    if word.isdigit() and (word_start == start or text[word_start - 1] == "\n"):
        return False
    return True


def _next_initial(text: str, end: int, limit: int, final: bool) -> str | None:
    """First non-space character from `end`; '' when nothing follows within reach, None when not received yet."""
    found = _NON_SPACE.search(text, end, limit + 1)
    if found is not None:
        return found.group()
    return "" if final or len(text) > limit else None


def _break_point(text: str, start: int, limit: int) -> int:
    """Where to cut a sentence that found no end within `limit`: the last whitespace, else `limit`."""
    for i in range(limit, start, -1):
        if text[i].isspace():
            return i
    return limit


def _skip_space(text: str, i: int) -> int:
    """Index of the first non-whitespace character at or after i (len(text) if none)."""
    found = _NON_SPACE.search(text, i)
    return len(text) if found is None else found.start()
