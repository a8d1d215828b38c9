"""Deepgram Aura over HTTP: one streamed POST per unit on a kept-alive client.

Wire format (developers.deepgram.com, "Text to Speech REST" reference, "Media Output
Settings", "Errors"): `POST /v1/speak?model=...&encoding=linear16&sample_rate=...
&container=none`, header `Authorization: Token <key>`, body `{"text": ...}`; raw PCM
streams back in the body. Errors are JSON `{err_code, err_msg, request_id}` (some
endpoints answer `{category, message, details}`); text over 2000 characters is a 413.
A 200 is spoken only once it is audio (`PcmCheck`); a 429/503 `retry-after` is kept
for the fallback chain's cool-down.
"""

import json
import logging
from typing import AsyncIterator

import httpx

from ...config import AuraSettings
from ...httpio import read_at_most, retry_after_s
from ..engine import TtsAudio, TtsError, UnknownVoiceError, VoiceInfo, VoiceRequest
from .pcm import PcmCheck, check_content_type

_LOGGER = logging.getLogger(__name__)

#: Enough of an error body to read the vendor's message, not enough to hurt.
_MAX_ERROR_BODY = 16 * 1024


class AuraEngine:
    """Streams Aura audio; one shared client so requests reuse TLS connections."""

    name = "aura"

    def __init__(self, settings: AuraSettings, api_key: str, *, timeout_s: float = 10.0) -> None:
        self._settings = settings
        self._api_key = api_key
        self._client = httpx.AsyncClient(
            headers={"Authorization": f"Token {api_key}"},
            timeout=httpx.Timeout(timeout_s),
        )

    def voices(self) -> list[VoiceInfo]:
        """The configured model, which in Aura is the voice (`aura-2-thalia-en`)."""
        model = self._settings.model
        language = model.rsplit("-", 1)[-1] if model.count("-") >= 2 else "en"
        return [VoiceInfo(name=model, languages=[language], description=f"Deepgram Aura voice {model}")]

    async def synthesize(self, text: str, voice: VoiceRequest) -> AsyncIterator[TtsAudio]:
        """Yield the response body as whole 16-bit samples while it arrives."""
        model = self._settings.model
        if voice.name and voice.name != model:
            raise UnknownVoiceError(f"Aura offers voice {model!r}, not {voice.name!r}")
        if not text.strip():
            return
        rate = self._settings.sample_rate
        params = {"model": model, "encoding": "linear16", "sample_rate": rate, "container": "none"}
        check = PcmCheck("Deepgram Aura", rate)
        try:
            async with self._client.stream("POST", self._settings.url, params=params,
                                           json={"text": text}) as response:
                if not response.is_success:
                    raise TtsError(self._redact(await _rejection(response)),
                                   retry_after_s(response.headers.get("retry-after")))
                check_content_type("Deepgram Aura", response.headers.get("content-type"))
                async for piece in response.aiter_bytes():
                    audio = check.feed(piece)
                    if audio:
                        yield TtsAudio(audio=audio, rate=rate)
                audio = check.end()
                if audio:
                    yield TtsAudio(audio=audio, rate=rate)
        except httpx.TimeoutException as err:
            raise TtsError(f"Deepgram Aura timed out ({type(err).__name__})") from err
        except httpx.HTTPError as err:
            raise TtsError(self._redact(f"Deepgram Aura request failed: {type(err).__name__}: {err}")) from err
        if check.leftover:
            _LOGGER.warning("Deepgram Aura audio ended mid-sample; dropped %d byte(s)", check.leftover)

    async def close(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


async def _rejection(response: httpx.Response) -> str:
    """A readable TtsError message from a non-2xx answer, vendor message included."""
    body, _ = await read_at_most(response, _MAX_ERROR_BODY)
    try:
        error = json.loads(body)
    except ValueError:
        error = None
    if isinstance(error, dict):
        code = error.get("err_code") or error.get("category") or error.get("error_code")
        detail = error.get("err_msg") or error.get("message") or ""
        if error.get("details"):
            detail = f"{detail} {error['details']}".strip()
        detail = ": ".join(str(part) for part in (code, detail) if part) or "no details"
    else:
        detail = body[:200].decode("utf-8", "replace").strip() or response.reason_phrase or "no details"
    return f"Deepgram Aura answered HTTP {response.status_code}: {detail}"
