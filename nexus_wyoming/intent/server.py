"""Assembles the intent server from settings: modes, provider chains, search, skills, sessions, `info`."""

import asyncio
import logging
from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wyoming.event import Event
from wyoming.info import Attribution, HandleModel, HandleProgram, Info

from .. import __version__
from ..config import Config, ConfigError
from ..protocol.runner import run_server
from ..sessions import SessionManager
from ..status import BOARD
from .assistant import Assistant
from .embedded_loader import EmbeddedUnavailable, load_embedded
from .handler import IntentHandler
from .homeassistant import HomeAssistantAgent, check_url
from .llm import LlmProvider
from .modes import ModeBook, load_modes
from .providers.fallback import FallbackProvider
from .providers.openai import OpenAiCompatProvider
from .search.provider import SearchProvider
from .search.tavily import TavilySearch
from .skills.catalog import builtin_skills
from .spoken import first_piece_ready

_LOGGER = logging.getLogger(__name__)
ATTRIBUTION = Attribution(name="Nexus Wyoming", url="https://github.com/OHF-Voice/wyoming")
LANGUAGES = ["en"]


def build_providers(config: Config) -> dict[str, LlmProvider]:
    """Every provider that has its key (Groq, Gemini) or URL (local), by name."""
    intent = config.intent
    timeouts = {"connect_timeout_s": intent.connect_timeout_s, "stream_timeout_s": intent.stream_timeout_s}
    found: dict[str, LlmProvider] = {}
    if config.keys.groq:
        found["groq"] = OpenAiCompatProvider("groq", intent.groq.url, config.keys.groq, intent.groq.model,
                                             intent.groq.reasoning_effort, **timeouts, paid=True)
    if config.keys.google:
        found["gemini"] = OpenAiCompatProvider("gemini", intent.gemini.url, config.keys.google, intent.gemini.model,
                                               intent.gemini.reasoning_effort, **timeouts, paid=True)
    if intent.local.url:
        found["local"] = OpenAiCompatProvider("local", intent.local.url, None, intent.local.model,
                                              intent.local.reasoning_effort, **timeouts)
    return found


def build_chains(config: Config, book: ModeBook, providers: dict[str, LlmProvider]) -> dict[str, FallbackProvider]:
    """One fallback chain per mode, over the providers it lists that are configured."""
    intent = config.intent
    chains = {}
    for name, mode in book.modes.items():
        members = [providers[p] for p in mode.providers if p in providers]
        chains[name] = FallbackProvider(members, intent.first_token_timeout_s, intent.stream_timeout_s,
                                        intent.provider_cooldown_s, intent.token_stall_timeout_s, first_piece_ready)
    return chains


def offline_providers(providers: dict[str, LlmProvider]) -> dict[str, LlmProvider]:
    """The providers whose calls cost nothing (a local server): the chain of a peer over its paid rate."""
    return {name: p for name, p in providers.items() if not p.paid}


async def embedded_provider(config: Config, book: ModeBook) -> dict[str, LlmProvider]:
    """The embedded LLM, loaded before the port opens; none (and a status page problem) when it cannot be."""
    try:
        embedded = await asyncio.to_thread(load_embedded, config, book)
    except EmbeddedUnavailable as err:
        problem = f"embedded llm unavailable: {err}"
        _LOGGER.error("%s", problem)
        BOARD.add_check(lambda: problem)
        return {}
    return {"embedded": embedded} if embedded is not None else {}


def build_search(config: Config) -> Optional[SearchProvider]:
    """Tavily when its key is set."""
    if not config.keys.tavily:
        _LOGGER.info("web search off: no TAVILY_API_KEY")
        return None
    tavily = config.intent.tavily
    return TavilySearch(tavily.url, config.keys.tavily, tavily.max_results, tavily.search_depth, tavily.timeout_s)


def home_assistant_url(config: Config) -> Optional[str]:
    """The checked `intent.home_assistant.url`, None without one; ConfigError for a bad URL or no HA_TOKEN."""
    url = config.intent.home_assistant.url
    if not url:
        return None
    try:
        check_url(url)
    except ValueError as err:
        raise ConfigError(f"intent.home_assistant.url: {err}") from err
    if not config.keys.home_assistant:
        raise ConfigError("intent.home_assistant.url is set but HA_TOKEN (keys.home_assistant) is not: "
                          "create a long-lived access token in your Home Assistant profile")
    return url


def build_home_assistant(config: Config) -> Optional[HomeAssistantAgent]:
    """HA's own agent, asked first each turn, when `intent.home_assistant.url` and HA_TOKEN are set."""
    url = home_assistant_url(config)
    if url is None:
        _LOGGER.info("home assistant bridge off: no intent.home_assistant.url (device commands are declined)")
        return None
    settings = config.intent.home_assistant
    _LOGGER.info("home assistant bridge: %s (agent conversation.home_assistant) is asked first", url)
    return HomeAssistantAgent(url, config.keys.home_assistant or "", settings.timeout_s, settings.retry_s)


def timezone_of(name: Optional[str]):
    """The configured zone for time answers; None = the server's local time."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ConfigError(f"intent.timezone: unknown time zone {name!r}") from err


def info_event(book: ModeBook) -> Event:
    """What `describe` answers: one handle program, one model per mode."""
    models = [HandleModel(name=name, attribution=ATTRIBUTION, installed=True, description=mode.description or name,
                          version=__version__, languages=LANGUAGES) for name, mode in book.modes.items()]
    program = HandleProgram(
        name="nexus-intent",
        description="Nexus Wyoming conversation agent: offline skills, LLM with fallback, web search",
        attribution=ATTRIBUTION, installed=True, version=__version__, models=models,
        supports_handled_streaming=True,
    )
    return Info(handle=[program]).event()


def sessions_problem(sessions: SessionManager) -> Optional[str]:
    """Why memory is degraded, for the status page; None when Redis and the history store answer."""
    if sessions.store_outage.down:
        return "history store down: answering without history"
    if sessions.redis is not None and sessions.redis.outage.down:
        return "redis down: using the history store only"
    return None


async def serve_intent(config: Config, uri: str) -> None:
    """Load modes, open the session store, then serve until stopped."""
    book = load_modes(config.intent)
    tz = timezone_of(config.intent.timezone)
    home_assistant = build_home_assistant(config)
    providers = build_providers(config)
    providers.update(await embedded_provider(config, book))
    chains = build_chains(config, book, providers)
    for name, chain in chains.items():
        _LOGGER.info("mode %s: llm providers %s", name, ", ".join(p.name for p in chain.providers) or "none")
    offline = build_chains(config, book, offline_providers(providers))
    search = build_search(config)
    sessions = SessionManager.from_config(config)
    await sessions.start()
    BOARD.add_check(lambda: sessions_problem(sessions))
    sessions.start_retention()
    assistant = Assistant(config.intent, book, chains, builtin_skills(), sessions, search, tz, offline,
                          home_assistant=home_assistant)
    info = info_event(book)

    async def close() -> None:
        for provider in providers.values():
            await provider.close()
        if search is not None:
            await search.close()
        if home_assistant is not None:
            await home_assistant.close()
        await sessions.close()

    await run_server(config, "intent", uri,
                     lambda conn: IntentHandler(conn, assistant, sessions, config.intent, info), on_stop=close)
