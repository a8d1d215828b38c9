"""Requests as skills read them: lower case, plain apostrophes, no politeness around the point."""

import re
import unicodedata

_LEAD_INS = re.compile(
    r"^(?:(?:hey|ok|okay|so|um|uh|please|nexus)\b[\s,]*"
    r"|(?:can|could|would|will) you (?:please )?(?:tell me|say)\b\s*"
    r"|(?:do you know|tell me|i want to know|i'd like to know)\b\s*)+"
)
_TRAILERS = re.compile(r"(?:[\s,]+(?:please|thanks|thank you|nexus))+$")


def plain(text: str) -> str:
    """Case-folded, apostrophes unified, hyphenated words split, outer punctuation and polite lead-ins removed."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("’", "'").replace("‘", "'")
    text = re.sub(r"(?<=[^\W\d_])-(?=[^\W\d_])", " ", text)  # "twenty-five" → "twenty five"
    text = " ".join(text.split()).strip(" ?!.,;:")
    previous = None
    while previous != text:
        previous = text
        text = _TRAILERS.sub("", _LEAD_INS.sub("", text)).strip(" ?!.,;:")
    return text
