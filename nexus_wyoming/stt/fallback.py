"""A chain of STT engines that is itself an engine: the next one takes over on failure.

An engine fails when open(), feed() or transcribe() raises, or when an engine that is
not the last gives no transcript within the timeout. The session keeps a bounded copy
of the utterance's audio while another engine could still take over, and replays all
of it into the next engine, so the user never has to repeat themselves. A failed
engine is skipped for a cool-down (as long as its provider's Retry-After when it sent one);
a busy one is not (it is only busy), nor one that heard nothing: an empty transcript from an
engine that is not the last hands the utterance on, since a provider that answers "" to
clear speech is failing and only the last engine may have the final say on silence.

Partials: only the engine in charge may report them. When an engine fails its later
partials are dropped, and the next engine's partials are withheld while the audio is
replayed into it (they would only repeat what the client has already seen); from the
next live chunk on its hypotheses flow again. Partials are full hypotheses, so the
client-facing stream (see partials.py) simply continues from what it already sent.
"""

import asyncio
import logging
import time
from typing import Optional, Sequence

from ..metrics import REGISTRY
from .engine import PartialCallback, SttBusyError, SttEngine, SttError, SttRequest, SttSession

_LOGGER = logging.getLogger(__name__)
_FALLBACKS = REGISTRY.counter("nexus_stt_fallbacks_total", "Utterances moved to the next STT engine")
REPLAY_PIECE = 32000  # replay in 1 s pieces, as a streaming engine expects
MAX_RETRY_AFTER_S = 3600.0


class EmptyTranscript(SttError):
    """An engine heard nothing: the next one gets the utterance, this one keeps its place."""


class FallbackEngine:
    """Tries each engine in order until one transcribes."""

    name = "fallback"

    def __init__(
        self, engines: Sequence[SttEngine], first_result_timeout_s: float, max_replay_bytes: int,
        cooldown_s: float = 30.0,
    ) -> None:
        if not engines:
            raise ValueError("a fallback chain needs at least one engine")
        self.engines = list(engines)
        self.first_result_timeout_s = first_result_timeout_s
        self.max_replay_bytes = max_replay_bytes
        self.cooldown_s = cooldown_s
        self._failed_until: dict[str, float] = {}

    def languages(self) -> list[str]:
        """Every engine's languages, first engine first."""
        seen: dict[str, None] = {}
        for engine in self.engines:
            seen.update(dict.fromkeys(engine.languages()))
        return list(seen)

    async def open(self, request: SttRequest, on_partial: Optional[PartialCallback] = None) -> "FallbackSession":
        """A session on the first healthy engine that opens."""
        now = time.monotonic()
        healthy = [e for e in self.engines[:-1] if self._failed_until.get(e.name, 0.0) <= now]
        session = FallbackSession(self, request, on_partial, healthy + self.engines[-1:])  # last resort: always
        await session.start()
        return session

    def failed(self, engine: SttEngine, err: BaseException) -> None:
        """Note a failure: skip the engine for a while unless it was only busy."""
        _FALLBACKS.inc(engine=engine.name)
        if not isinstance(err, (SttBusyError, EmptyTranscript)):
            retry_after = getattr(err, "retry_after_s", None)
            cooldown = self.cooldown_s if retry_after is None else min(retry_after, MAX_RETRY_AFTER_S)
            self._failed_until[engine.name] = time.monotonic() + cooldown

    def succeeded(self, engine: SttEngine) -> None:
        """The engine works again."""
        self._failed_until.pop(engine.name, None)

    async def close(self) -> None:
        """Close every engine."""
        for engine in self.engines:
            await engine.close()


class FallbackSession:
    """One utterance that survives engine failures by replaying its audio."""

    def __init__(self, chain: FallbackEngine, request: SttRequest, on_partial: Optional[PartialCallback],
                 candidates: list[SttEngine]) -> None:
        self.chain = chain
        self.request = request
        self.on_partial = on_partial
        self.candidates = candidates
        self.session: Optional[SttSession] = None
        self.index = -1
        self._generation = 0
        self._replaying = False
        self._audio: Optional[bytearray] = bytearray()  # None once it outgrew max_replay_bytes
        self._fed = 0
        self._lock = asyncio.Lock()

    @property
    def engine(self) -> SttEngine:
        """The engine in charge now."""
        return self.candidates[self.index]

    def _is_last(self) -> bool:
        return self.index >= len(self.candidates) - 1

    async def start(self) -> None:
        """Open the first engine that opens."""
        async with self._lock:
            await self._advance(None)

    async def feed(self, audio: bytes) -> None:
        """Feed the engine in charge, keeping a copy while another could take over."""
        async with self._lock:
            self._fed += len(audio)
            if self._audio is not None and not self._is_last():
                if len(self._audio) + len(audio) > self.chain.max_replay_bytes:
                    self._audio = None  # too long to replay: a later failure is final
                else:
                    self._audio += audio
            try:
                await self._bounded(self._current().feed(audio))
            except (SttError, TimeoutError) as err:
                await self._advance(err)

    async def transcribe(self) -> str:
        """The transcript from the first engine that gives one."""
        while True:
            session, generation, engine = self._current(), self._generation, self.engine
            try:
                text = await self._bounded(session.transcribe())
            except (SttError, TimeoutError) as err:
                if isinstance(err, SttBusyError) and self._is_last():
                    raise  # nothing to hand over to: keep the session, a later call may get a turn
                async with self._lock:
                    if generation == self._generation:  # nobody switched engines meanwhile
                        await self._advance(err)
                continue
            self.chain.succeeded(engine)
            if not text.strip() and self._fed and self._can_hand_over():
                async with self._lock:
                    if generation == self._generation:
                        await self._advance(EmptyTranscript(f"{engine.name} heard nothing"))
                continue
            return text

    def _can_hand_over(self) -> bool:
        """Another engine could take this utterance with all of its audio."""
        return not self._is_last() and self._audio is not None

    def _current(self) -> SttSession:
        if self.session is None:
            raise SttError("every STT engine failed for this utterance")
        return self.session

    async def close(self) -> None:
        """Close the engine in charge."""
        self._generation += 1
        self._audio = None
        if self.session is not None:
            await self.session.close()

    async def _bounded(self, work):
        """Await `work`, giving up after the timeout unless this is the last engine."""
        if self._is_last():
            return await work
        async with asyncio.timeout(self.chain.first_result_timeout_s):
            return await work

    async def _advance(self, err: Optional[BaseException]) -> None:
        """Hand the utterance to the next engine that opens and takes the replay."""
        if err is not None:
            await self._retire(err)
        while True:
            if self._is_last():
                raise _as_stt_error(err) if err is not None else SttError("no STT engine available")
            if self._fed and self._audio is None:
                raise _as_stt_error(err)  # the audio is too long to replay
            self.index += 1
            self._generation += 1
            try:
                self.session = await self._bounded(self.engine.open(self.request, self._forwarder()))
                await self._replay()
                return
            except (SttError, TimeoutError) as failure:
                err = failure
                await self._retire(failure)

    async def _replay(self) -> None:
        if not self._fed:
            return
        self._replaying = True
        try:
            audio = bytes(self._audio or b"")
            for offset in range(0, len(audio), REPLAY_PIECE):
                await self._bounded(self.session.feed(audio[offset:offset + REPLAY_PIECE]))
        finally:
            self._replaying = False
        if self._is_last():
            self._audio = None  # nobody left to replay into

    async def _retire(self, err: BaseException) -> None:
        """Close the failing engine's session and remember the failure."""
        if self.index < 0:
            return
        engine, session = self.engine, self.session
        self.session = None
        if not self._is_last():
            reason = str(err) or type(err).__name__
            _LOGGER.warning("stt engine %s failed (%s); trying %s", engine.name, reason,
                            self.candidates[self.index + 1].name)
        self.chain.failed(engine, err)
        if session is not None:
            try:
                await session.close()
            except Exception:  # a broken engine must not stop the next one
                _LOGGER.debug("closing the failed %s session raised", engine.name, exc_info=True)

    def _forwarder(self) -> Optional[PartialCallback]:
        if self.on_partial is None:
            return None
        generation, forward = self._generation, self.on_partial

        def partial(text: str) -> None:
            if generation == self._generation and not self._replaying:
                forward(text)

        return partial


def _as_stt_error(err: BaseException) -> SttError:
    if isinstance(err, SttError):
        return err
    return SttError("no transcript in time")
