"""One turn, start to finish: Home Assistant, skills, response cache, web search, the LLM chain, memory.

With a Home Assistant bridge, HA's own agent is offered the text first: what it did or
answered is the turn; otherwise the skills see why (a device command is told HA did not
do it, never "done"), and the rest goes on as without a bridge. A question for the web
search starts its search next, before the session loads, so the two overlap.

`Assistant.reply()` yields `Sentence`s as soon as each is complete (the first may be
an opening clause, so speech can start early) and ends with one `Final`: the whole
reply and whether it was handled. The turn is committed to the session store before
the `Final` is yielded, so a reply the client has seen is never lost. This module
knows nothing about Wyoming.

Bounds: the LLM chain has `turn_budget_s` to produce a first sentence, else the turn
is the spoken apology (`not-handled`, not stored, like every answer nothing could
give); the whole reply has `max_reply_s`, `max_reply_chars` and the mode's
`max_tokens`. Per peer, turns beyond `max_turns_per_minute_per_peer` get a spoken
"busy" (`not-handled`, not stored), and paid calls (cloud LLM, web search) beyond
`max_paid_calls_per_minute_per_peer` give way to the offline path.
"""

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import AsyncIterator, Mapping, Optional, Union

from ..config import IntentSettings
from ..sessions import USER, Session, SessionManager, cache_key, cacheable
from ..tts.sentences import split_sentences
from .homeassistant import HaReply, HomeAssistantAgent
from .llm import LlmError, LlmProvider, LlmRequest
from .modes import Mode, ModeBook
from .prompt import build_messages
from .request import TurnRequest
from .search.classifier import KeywordClassifier
from .search.policy import SKIPPED, PendingSearch, SearchOutcome
from .search.provider import SearchProvider
from .ratelimit import RateLimiter
from .skills.base import SkillContext, SkillRouter
from .spoken import SpokenReply
from .turnlog import TurnStats
from .volatility import TIME, VARIED, volatility

_LOGGER = logging.getLogger(__name__)

DIDNT_CATCH = "Sorry, I didn't catch that."
TOO_LONG = "That was too long for me. Please ask in a few words."
NO_MODEL = "I need an internet model for that, and none is configured."
UNREACHABLE = "Sorry, I can't reach my language model right now. Please try again in a moment."
NO_ANSWER = "Sorry, I don't have an answer for that."
CUT_SHORT = "Sorry, I lost my connection there."
BUSY = "I'm getting too many requests right now. Please try again in a minute."
MODEL_BUSY = "I'm still answering other questions. Please ask again in a moment."
PAID_LIMIT = "I've asked my internet model too often just now. Please try again in a minute."


@dataclass(frozen=True)
class Sentence:
    """A piece of the reply that can be spoken now."""

    text: str


@dataclass(frozen=True)
class Final:
    """The whole reply; `handled` False means nothing could answer (the text says why)."""

    text: str
    handled: bool


ReplyPart = Union[Sentence, Final]


class Assistant:
    """Answers turns; shared by all connections of one server."""

    def __init__(self, settings: IntentSettings, book: ModeBook, chains: Mapping[str, LlmProvider],
                 skills: SkillRouter, sessions: SessionManager, search: Optional[SearchProvider] = None,
                 timezone: Optional[tzinfo] = None, offline: Optional[Mapping[str, LlmProvider]] = None,
                 home_assistant: Optional[HomeAssistantAgent] = None) -> None:
        self.settings = settings
        self.book = book
        self.chains = chains
        self.offline = offline or {}
        """Per mode, the chain without paid providers: what a peer over its paid-call rate gets."""
        self.skills = skills
        self.sessions = sessions
        self.search = search
        self.home_assistant = home_assistant
        """HA's own agent, asked first (device control); None without `intent.home_assistant`."""
        self.classifier = KeywordClassifier(settings.search_keywords)
        self.timezone = timezone
        self.turn_limit = RateLimiter(settings.max_turns_per_minute_per_peer)
        self.paid_limit = RateLimiter(settings.max_paid_calls_per_minute_per_peer)

    def now(self) -> datetime:
        """The time for skills and the prompt, in the configured zone."""
        return datetime.now(self.timezone) if self.timezone else datetime.now().astimezone()

    async def reply(self, request: TurnRequest, stats: TurnStats) -> AsyncIterator[ReplyPart]:
        """The reply to one turn, sentence by sentence, then a Final."""
        stats.chars_in, stats.device, stats.conversation_id = len(request.text), request.device, request.conversation_id
        if not self.turn_limit.allow(request.peer):
            stats.route = "busy"
            yield Final(BUSY, handled=False)
            return
        if not request.text:
            stats.route = "refused"
            yield Final(DIDNT_CATCH, handled=False)
            return
        if len(request.text) > self.settings.max_text_chars:
            stats.route = "refused"
            yield Final(TOO_LONG, handled=False)
            return
        ha = await self._ask_home_assistant(request, stats)  # HA needs no session; a search it answers is not paid
        pending = None if ha is not None and ha.handled else self._early_search(request)
        try:
            session = await self.sessions.begin_turn(request.device, conversation=request.conversation_id,
                                                     from_client=request.conversation_given)
            mode = self.book.pick(request.mode, session.mode, request.device)
            stats.mode = mode.name
            if ha is not None and ha.handled:
                stats.route = "home-assistant"
                yield await self._commit(session, request, ha.speech, stats)
                return
            skill = self.skills.answer(request.text, SkillContext(self.now(), mode.name, self.book.names,
                                                                  ha.refusal if ha is not None else None))
            if skill is not None:
                stats.route = f"skill:{skill.skill}"
                if skill.set_mode:
                    session.mode = skill.set_mode
                yield await self._commit(session, request, skill.text, stats)
                return
            async for part in self._answer(session, mode, request, stats, pending):
                yield part
        finally:
            if pending is not None:
                await pending.cancel()  # a no-op once it is done; else no search outlives its turn

    def _early_search(self, request: TurnRequest) -> Optional[PendingSearch]:
        """The web search, started before the session loads when the turn will want it, else None.

        Judged by the mode the request or its device asks for (the session's own mode is not
        known yet: a session switched to a mode without search cancels it), and never for a
        request a skill answers ("what day is it today") or that no model could answer.
        """
        if self.search is None or not self.classifier.needs_search(request.text):
            return None
        mode = self.book.pick(request.mode, None, request.device)
        if mode.search == "off" or not self.chains[mode.name].available_for(
                LlmRequest((), mode.max_tokens, mode.models)):
            return None
        if self.skills.answer(request.text, SkillContext(self.now(), mode.name, self.book.names)) is not None:
            return None
        return PendingSearch(self.search, request.text) if self.paid_limit.allow(request.peer) else None

    async def _ask_home_assistant(self, request: TurnRequest, stats: TurnStats) -> Optional[HaReply]:
        """HA's answer when a bridge is configured (it may have done or declined the turn); else None."""
        if self.home_assistant is None:
            return None
        ha = await self.home_assistant.ask(request.text, request.language, request.conversation_id)
        stats.home_assistant, stats.home_assistant_ms = ha.status, ha.ms
        return ha

    async def _answer(self, session: Session, mode: Mode, request: TurnRequest, stats: TurnStats,
                      pending: Optional[PendingSearch] = None) -> AsyncIterator[ReplyPart]:
        wants_search = (mode.search != "off" and self.search is not None
                        and self.classifier.needs_search(request.text))
        turns = sum(1 for m in session.history if m.role == USER)
        key = cache_key(mode.name, request.text, session.context)
        use_cache = self._cacheable(request.text, turns)
        if use_cache:
            cached = await self.sessions.cached(key)
            stats.cache = "hit" if cached else "miss"
            if cached:
                stats.route = "cache"
                for sentence in split_sentences(cached):
                    stats.sentence_sent()
                    yield Sentence(sentence)
                yield await self._commit(session, request, cached, stats)
                return
        chain, refused = self._chain(mode, request.peer)
        if chain is None or not chain.available_for(LlmRequest((), mode.max_tokens, mode.models)):
            stats.route = "paid-limit" if refused else "no-model"
            yield Final(PAID_LIMIT if refused else NO_MODEL, handled=False)
            return
        if pending is not None and (refused or not wants_search):
            await pending.cancel()  # offline, or the session's mode does not search
            pending = None
        searched = wants_search and not refused and (pending is not None or self.paid_limit.allow(request.peer))
        outcome = await self._search(request.text, mode, stats, pending, chain) if searched else SKIPPED
        history = [(m.role, m.text) for m in session.history]
        now = None if use_cache else self.now()  # an answer that may be replayed must not see the clock
        messages = build_messages(mode, request.text, now, history, session.context, outcome.results)
        llm_request = LlmRequest(messages, mode.max_tokens, mode.models, mode.temperature)
        reply = SpokenReply(self.settings.max_reply_chars, mode.max_tokens)
        failure: Optional[BaseException] = None
        async for part in self._stream(chain, llm_request, stats, reply):
            if isinstance(part, BaseException):
                failure = part
            else:
                yield part
        if not reply.spoken:
            busy = isinstance(failure, LlmError) and failure.busy
            stats.route = "llm-busy" if busy else "llm-failed" if failure else "llm-empty"
            yield Final(MODEL_BUSY if busy else UNREACHABLE if failure else NO_ANSWER, handled=False)
            return
        stats.route = "llm-partial" if failure else "llm-capped" if reply.full else "llm"
        final = await self._commit(session, request, reply.text, stats, partial=failure is not None)
        if use_cache and not failure and not outcome.used:
            await self.sessions.store_response(key, reply.text)
        yield final

    def _cacheable(self, text: str, history_turns: int) -> bool:
        """Whether this turn's LLM answer may come from, or go to, the response cache (see `cacheable`)."""
        why = volatility(text)
        live = self.classifier.needs_search(text)  # a question for the web search, searched or not
        return self.sessions.responses.enabled and cacheable(
            history_turns=history_turns, used_search=live, time_dependent=why == TIME, varied=why == VARIED)

    def _chain(self, mode: Mode, peer: str) -> tuple[Optional[LlmProvider], bool]:
        """The mode's chain, or its offline one (if any) when the peer is over its paid-call rate (then True)."""
        chain = self.chains[mode.name]
        if not chain.paid or self.paid_limit.allow(peer):
            return chain, False
        _LOGGER.warning("peer %s is over its paid-call rate: answering offline", peer)
        return self.offline.get(mode.name), True

    async def _stream(self, chain: LlmProvider, llm_request: LlmRequest, stats: TurnStats,
                      reply: SpokenReply) -> AsyncIterator[Union[Sentence, BaseException]]:
        """Sentences as the model writes them, within the turn's bounds; a failure is yielded last.

        The chain has `turn_budget_s` for a first sentence (or its own, if longer: a chain
        ending in the embedded model), the reply `max_reply_s` in all;
        a failure after text has been spoken ends the reply with an apology.
        """
        loop = asyncio.get_running_loop()
        stats.llm_started = time.perf_counter()
        started = loop.time()
        deadline = started + max(self.settings.turn_budget_s, getattr(chain, "turn_budget_s", 0.0))
        failure: Optional[BaseException] = None
        try:
            async with contextlib.aclosing(chain.stream(llm_request)) as chunks:
                while not reply.full:
                    async with asyncio.timeout_at(deadline):
                        chunk = await anext(chunks, None)
                    if chunk is None:
                        break
                    stats.token(chunk.provider, chunk.text, chunk.fallbacks, chunk.completion_tokens, chunk.at)
                    for piece in reply.add(chunk.text):
                        deadline = started + self.settings.max_reply_s
                        stats.sentence_sent()
                        yield Sentence(piece)
        except (LlmError, TimeoutError) as err:
            failure = err
            if isinstance(err, LlmError):
                stats.fallbacks = max(stats.fallbacks, err.fallbacks)
            _LOGGER.warning("llm reply %s: %s", "cut short" if reply.spoken else "failed",
                            err or ("took too long" if reply.spoken else "no first sentence within the turn budget"))
        if reply.full:
            _LOGGER.info("llm reply capped at %d characters, %d pieces", reply.chars, reply.tokens)
        for piece in reply.finish():
            stats.sentence_sent()
            yield Sentence(piece)
        if failure is not None:
            if reply.spoken:
                reply.spoken.append(CUT_SHORT)
                stats.sentence_sent()
                yield Sentence(CUT_SHORT)
            yield failure

    async def _search(self, text: str, mode: Mode, stats: TurnStats, pending: Optional[PendingSearch] = None,
                      chain: Optional[LlmProvider] = None) -> SearchOutcome:
        """The results that arrived within the mode's `search_wait_ms` of the search's start; meanwhile
        the chain's first provider gets ready (`prepare`: its connection opened)."""
        assert self.search is not None
        pending = pending or PendingSearch(self.search, text)
        prepare = getattr(chain, "prepare", None)
        ready = asyncio.create_task(prepare(LlmRequest((), mode.max_tokens, mode.models))) if prepare else None
        try:
            outcome = await pending.outcome(mode.search_wait_ms / 1000)
        finally:
            await pending.cancel()  # a no-op unless this turn was cancelled meanwhile
            if ready is not None:
                ready.cancel()  # still connecting: the request connects itself
                await asyncio.gather(ready, return_exceptions=True)
        stats.search, stats.search_ms = outcome.status, outcome.ms
        return outcome

    async def _commit(self, session: Session, request: TurnRequest, text: str, stats: TurnStats,
                      partial: bool = False) -> Final:
        """Store the turn, then hand out the Final (the order the sessions rule asks for)."""
        stats.chars_out = len(text)
        stats.stored = await self.sessions.record_turn(session, request.text, text, stats.latencies(), partial)
        return Final(text, handled=True)
