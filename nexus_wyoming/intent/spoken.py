"""Model text made fit for a voice: markdown marks removed, links reduced to their words."""

import re

_LINK = re.compile(r"\[([^\]\n]{1,200})\]\((?:[^)\s]{1,500})\)")
_BARE_URL = re.compile(r"https?://\S+")
_MARKS = re.compile(r"(\*\*|__|\*|`+|~~)")
_LINE_START = re.compile(r"(?m)^\s*(?:#{1,6}\s+|[-*•+]\s+|>\s*)")
_SPACES = re.compile(r"\s+")


def speakable(sentence: str) -> str:
    """The sentence without markdown emphasis, headings, bullets, code ticks or URLs."""
    text = _LINK.sub(r"\1", sentence)
    text = _BARE_URL.sub("", text)
    text = _LINE_START.sub("", text)
    text = _MARKS.sub("", text)
    return _SPACES.sub(" ", text).strip()
