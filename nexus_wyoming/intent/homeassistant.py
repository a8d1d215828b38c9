"""Home Assistant's own conversation agent, offered each turn first: device control through HA.

`POST {url}/api/conversation/process` with `{"text", "language"?, "conversation_id",
"agent_id": "conversation.home_assistant"}` and `Authorization: Bearer <long-lived token>`.
HA answers `{"response": {"response_type", "speech": {"plain": {"speech"}}, "data": {"code"?}},
"conversation_id"}`: `action_done` (it did something) and `query_answer` (it read a state)
are its turn, spoken as HA said them; `error` (`no_intent_match`, `no_valid_targets`, ...)
leaves the turn to us.

No loop: the agent asked is always HA's built-in one, which matches sentences against HA's
own intents and never calls a Wyoming agent, so an HA pipeline that uses *our* agent may
ask it again safely. HA down, slow (`timeout_s`), or refusing the token never fails a turn:
the turn goes on without HA, and the failure is logged at most once per kind and 5 minutes.
HA is then not asked again for `retry_s`, except after one slow answer (HA's first turn
after its start loads its sentences, about 1 s): only a second one in a row rests it.
"""

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

import httpx

from ..httpio import read_at_most
from ..throttle import ThrottledLog

_LOGGER = logging.getLogger(__name__)
_LOG = ThrottledLog(_LOGGER, every_s=300.0)

AGENT_ID = "conversation.home_assistant"
"""HA's built-in agent: never ours, so asking it cannot come back to us."""
DONE = ("action_done", "query_answer")
HANDLED, DECLINED, UNREACHABLE, RESTING = "handled", "declined", "unreachable", "resting"
NOT_REACHED = "I can't reach Home Assistant right now, so nothing was changed."
NOT_MATCHED = "Home Assistant didn't find a device for that, so nothing was changed."
NOT_ALLOWED = "Home Assistant refused my access token, so nothing was changed."
NOT_CONFIRMED = "Home Assistant didn't answer in time, so I can't tell whether that was done."
_MAX_BODY_BYTES = 256 * 1024
_MAX_SPEECH_CHARS = 2000


@dataclass(frozen=True)
class HaReply:
    """What asking HA came to: `status` is HANDLED, DECLINED, UNREACHABLE or RESTING (not asked)."""

    status: str
    speech: str = ""
    code: str = ""
    """HA's error code when it declined (`no_intent_match`, `no_valid_targets`, ...); why HA could
    not be asked otherwise (`connect`, `timeout`, `auth`, `status`, `answer`)."""
    ms: Optional[float] = None

    @property
    def handled(self) -> bool:
        return self.status == HANDLED

    @property
    def refusal(self) -> str:
        """What to say to a device command HA did not carry out.

        Not HA's own error speech: its sentence matcher reads "is the kitchen ceiling light on"
        as "Sorry, I am not aware of any area called Is the kitchen ceiling" (HA 2025.4).
        """
        if self.status == DECLINED:
            return NOT_MATCHED
        if self.status == UNREACHABLE and self.code == "timeout":
            return NOT_CONFIRMED  # HA had the request: it may still carry it out
        return NOT_ALLOWED if self.code == "auth" else NOT_REACHED


class HaUnreachable(Exception):
    """HA could not be asked (connection, timeout, HTTP status, not HA's JSON)."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind


def check_url(url: str) -> str:
    """The base URL without a trailing slash; ValueError unless http(s)://host[:port][/path]."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"{url!r} is not an http:// or https:// URL of Home Assistant")
    return url.rstrip("/")


class HomeAssistantAgent:
    """A client of HA's conversation API sharing one connection pool across turns."""

    def __init__(self, url: str, token: str, timeout_s: float = 3.0, retry_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url = check_url(url) + "/api/conversation/process"
        self.retry_s = retry_s
        self.clock = clock
        self.resting_until = 0.0
        self.failure = ""
        """The kind of HA's last failure, while it rests."""
        self.timeouts = 0
        """Slow answers in a row."""
        self._client = httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"},
                                         timeout=httpx.Timeout(timeout_s), follow_redirects=False)

    def body(self, text: str, language: Optional[str], conversation_id: str) -> dict[str, Any]:
        """The JSON request body (no language: HA's own)."""
        body = {"text": text, "conversation_id": conversation_id, "agent_id": AGENT_ID}
        if language:
            body["language"] = language
        return body

    async def ask(self, text: str, language: Optional[str], conversation_id: str) -> HaReply:
        """HA's answer, or why there is none; never raises for HA's failures."""
        if self.clock() < self.resting_until:
            return HaReply(RESTING, code=self.failure)
        started = time.perf_counter()
        try:
            payload = await self._post(self.body(text, language, conversation_id))
        except HaUnreachable as err:
            self.timeouts = self.timeouts + 1 if err.kind == "timeout" else 0
            if err.kind != "timeout" or self.timeouts > 1:
                self.resting_until, self.failure = self.clock() + self.retry_s, err.kind
                _LOG.warning(f"ha-{err.kind}", "home assistant not asked for %g s: %s", self.retry_s, err)
            else:
                _LOG.warning("ha-slow", "home assistant slow, asked again next turn: %s", err)
            return HaReply(UNREACHABLE, code=err.kind, ms=_ms_since(started))
        self.resting_until, self.failure, self.timeouts = 0.0, "", 0
        status, speech, code = _reading(payload)
        return HaReply(status, speech, code, _ms_since(started))

    async def _post(self, body: dict[str, Any]) -> Any:
        try:
            async with self._client.stream("POST", self.url, json=body) as response:
                raw, more = await read_at_most(response, _MAX_BODY_BYTES)
        except httpx.ConnectTimeout as err:  # nothing at that address answers: as good as down
            raise HaUnreachable("connect", f"{self.url}: no connection in time") from err
        except httpx.TimeoutException as err:
            raise HaUnreachable("timeout", f"no answer from {self.url} in time ({type(err).__name__})") from err
        except httpx.HTTPError as err:
            raise HaUnreachable("connect", f"{self.url}: {type(err).__name__}: {err}") from err
        if response.status_code in (401, 403):
            raise HaUnreachable("auth", f"{self.url} refused the token (HTTP {response.status_code}): "
                                "set HA_TOKEN to a long-lived access token")
        if response.status_code != 200:
            raise HaUnreachable("status", f"{self.url}: HTTP {response.status_code}")
        if more:
            raise HaUnreachable("answer", f"{self.url}: answer larger than {_MAX_BODY_BYTES} bytes")
        try:
            return json.loads(raw)
        except ValueError as err:
            raise HaUnreachable("answer", f"{self.url}: the answer is not JSON") from err

    async def close(self) -> None:
        await self._client.aclose()


def _reading(payload: Any) -> tuple[str, str, str]:
    """(HANDLED or DECLINED, HA's speech, its error code) from `/api/conversation/process`'s answer.

    An `action_done` without speech still happened: it is spoken as "Done." rather than left to us.
    """
    response = _field(payload, "response")
    speech = _field(response, "speech", "plain", "speech")
    speech = " ".join(speech.split())[:_MAX_SPEECH_CHARS] if isinstance(speech, str) else ""
    code = _field(response, "data", "code")
    kind = _field(response, "response_type")
    if kind == "action_done":
        return HANDLED, speech or "Done.", ""
    if kind == "query_answer" and speech:
        return HANDLED, speech, ""
    return DECLINED, speech, code[:64] if isinstance(code, str) else ""


def _field(tree: Any, *path: str) -> Any:
    """tree[path[0]][path[1]]...; None where a step is not an object or lacks the key."""
    for key in path:
        tree = tree.get(key) if isinstance(tree, dict) else None
    return tree


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
