"""What an STT client may send, validated: `transcribe` fields and audio formats.

Every value comes from the network: types, lengths and counts are checked here so
the handler and the engines only see clean values.
"""

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Optional

from ..audio import PcmFormat
from .engine import SttRequest

MAX_NAMES = 200
MAX_NAME_CHARS = 100
MAX_LANGUAGE_CHARS = 35
SENSITIVITIES = ("default", "aggressive", "relaxed")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}([_-][A-Za-z0-9]{1,8})*")


class BadRequest(Exception):
    """The client's request cannot be served; answered with an `error` event."""

    def __init__(self, text: str, code: str) -> None:
        super().__init__(text)
        self.code = code


@dataclass(frozen=True)
class Transcribe:
    """A validated `transcribe` event."""

    request: SttRequest
    sensitivity: Optional[str] = None


def _language(value: Any) -> Optional[str]:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_LANGUAGE_CHARS or not _LANGUAGE.fullmatch(value):
        raise BadRequest("'language' must be a language code such as 'en' or 'en-US'", "bad-language")
    return value


def _names(data: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for key in ("transcript_names", "transcript_terms"):  # names first: they matter more
        values = data.get(key)
        if values is None:
            continue
        if not isinstance(values, list) or len(values) > MAX_NAMES:
            raise BadRequest(f"'{key}' must be a list of at most {MAX_NAMES} strings", "bad-names")
        for value in values:
            if not isinstance(value, str) or len(value) > MAX_NAME_CHARS:
                raise BadRequest(f"'{key}' entries must be strings of at most {MAX_NAME_CHARS} characters",
                                 "bad-names")
            clean = " ".join("".join(c for c in value if unicodedata.category(c)[0] != "C").split())
            if clean and clean not in names:
                names.append(clean)
    return names


def _sensitivity(data: dict[str, Any]) -> Optional[str]:
    """Top-level `vad_sensitivity` (wyoming >= 1.7), else the same key inside `context`."""
    value = data.get("vad_sensitivity")
    context = data.get("context")
    if value is None and isinstance(context, dict):
        value = context.get("vad_sensitivity")
    if value is None:
        return None
    if value not in SENSITIVITIES:
        raise BadRequest(f"'vad_sensitivity' must be one of {', '.join(SENSITIVITIES)}", "bad-sensitivity")
    return value


def parse_transcribe(data: dict[str, Any]) -> Transcribe:
    """The `transcribe` event's fields, validated (the model `name` is ignored)."""
    if data.get("context") is not None and not isinstance(data.get("context"), dict):
        raise BadRequest("'context' must be an object", "bad-context")
    name = data.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME_CHARS):
        raise BadRequest(f"'name' must be a string of at most {MAX_NAME_CHARS} characters", "bad-name")
    request = SttRequest(language=_language(data.get("language")), names=_names(data))
    return Transcribe(request, _sensitivity(data))


def parse_format(data: dict[str, Any]) -> PcmFormat:
    """`rate` / `width` / `channels` of audio-start or audio-chunk, checked for sanity."""
    fmt = PcmFormat(data.get("rate"), data.get("width"), data.get("channels"))  # type: ignore[arg-type]
    problem = fmt.problem()
    if problem:
        raise BadRequest(f"unusable audio format: {problem}", "bad-format")
    return fmt
