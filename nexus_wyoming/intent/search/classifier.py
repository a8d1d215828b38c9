"""Whether a question needs fresh facts from the web: its words meet a keyword set.

Words are normalized the same way on both sides (NFKC, case-folded, letters and
digits only), and a plural also matches its singular ("prices" → "price"), so the
decision is a set intersection and costs microseconds.
"""

import re
import unicodedata
from typing import Iterable

_WORD = re.compile(r"[^\W_]+")


def words_of(text: str) -> set[str]:
    """The normalized words of a text, plural forms with their singulars."""
    words = set(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))
    return words | {w[:-1] for w in words if len(w) > 3 and w.endswith("s") and not w.endswith("ss")}


class KeywordClassifier:
    """Says yes when the query shares a word with the keyword set."""

    def __init__(self, keywords: Iterable[str]) -> None:
        self.keywords = frozenset(w for k in keywords for w in _WORD.findall(unicodedata.normalize("NFKC", k).casefold()))

    def needs_search(self, text: str) -> bool:
        """True when a keyword occurs in the text."""
        return not self.keywords.isdisjoint(words_of(text))
