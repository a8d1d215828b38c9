"""Which STT / intent / TTS servers standalone mode uses, and whether each is reachable.

URIs come from flags or zeroconf (`_wyoming._tcp.local.`, then `describe` each). A
server that fails is marked down and probed again with growing pauses; turns in the
meantime get the local error tone at once instead of waiting for a timeout.
"""

import asyncio
import logging
from dataclasses import dataclass
from typing import Optional

from nexus_wyoming.client.actions import ClientError, describe
from nexus_wyoming.client.discover import discover

from .settings import StandaloneSettings

_LOGGER = logging.getLogger(__name__)

#: role → the `info` keys that say a server can fill it
ROLES = {"stt": ("asr",), "intent": ("handle", "intent"), "tts": ("tts",)}


class ServerDown(Exception):
    """A server could not be reached or broke off; the turn cannot go on."""

    def __init__(self, role: str, reason: str) -> None:
        super().__init__(f"{role} server unavailable: {reason}")
        self.role = role
        self.reason = reason


@dataclass
class Server:
    """One role's server: where it is, whether it answers, whether it streams."""

    role: str
    uri: Optional[str]
    fixed: bool
    up: bool = False
    streaming: bool = False
    name: str = "?"


class Servers:
    """The three servers and their health."""

    def __init__(self, settings: StandaloneSettings) -> None:
        self.settings = settings
        given = {"stt": settings.stt_uri, "intent": settings.intent_uri, "tts": settings.tts_uri}
        self.by_role = {role: Server(role, uri, fixed=uri is not None) for role, uri in given.items()}
        self._probes: dict[str, asyncio.Task] = {}
        self.changed = asyncio.Event()

    def __getitem__(self, role: str) -> Server:
        return self.by_role[role]

    async def start(self) -> None:
        """Find and check every server once; the missing ones are retried in the background."""
        await self._discover()
        await asyncio.gather(*(self._check(server) for server in self.by_role.values()))
        for server in self.by_role.values():
            if not server.up:
                self._probe(server.role)

    def down(self) -> list[str]:
        """Roles that cannot serve a turn right now."""
        return [role for role, server in self.by_role.items() if not server.up]

    def failed(self, role: str, reason: str) -> None:
        """A turn found `role` unreachable: mark it down and start probing it."""
        server = self.by_role[role]
        if server.up:
            _LOGGER.warning("%s server %s is down: %s", role, server.uri, reason)
        server.up = False
        self._probe(role)

    async def close(self) -> None:
        """Stop probing."""
        for task in self._probes.values():
            task.cancel()
        await asyncio.gather(*self._probes.values(), return_exceptions=True)

    def _probe(self, role: str) -> None:
        task = self._probes.get(role)
        if task is None or task.done():
            self._probes[role] = asyncio.create_task(self._retry(self.by_role[role]), name=f"probe-{role}")

    async def _retry(self, server: Server) -> None:
        delay = self.settings.retry_min_s
        while not server.up:
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.retry_max_s)
            if not server.fixed:
                await self._discover()
            if await self._check(server):
                _LOGGER.info("%s server %s is reachable again", server.role, server.uri)
                self.changed.set()

    async def _check(self, server: Server) -> bool:
        if server.uri is None:
            return False
        try:
            async with asyncio.timeout(self.settings.connect_timeout_s + 2.0):
                info = (await describe(server.uri)).values["info"]
        except (ClientError, OSError, TimeoutError, ValueError) as err:
            _LOGGER.warning("%s server %s: %s", server.role, server.uri, err or type(err).__name__)
            return False
        programs = [p for key in ROLES[server.role] for p in (info.get(key) or []) if isinstance(p, dict)]
        if not programs:
            _LOGGER.warning("%s server %s does not serve %s", server.role, server.uri, "/".join(ROLES[server.role]))
            return False
        program = programs[0]
        server.name = str(program.get("name"))
        server.streaming = bool(program.get("supports_synthesize_streaming") or program.get("supports_handled_streaming")
                                or program.get("supports_transcript_streaming"))
        server.up = True
        return True

    async def _discover(self) -> None:
        """Fill roles without a fixed URI from zeroconf; our own servers first."""
        if all(s.fixed for s in self.by_role.values()):
            return
        found = await discover(self.settings.discovery_s, self.settings.discovery_interface)
        found.sort(key=lambda f: (not f.name.startswith("nexus-"), f.name))
        for server in self.by_role.values():
            if server.fixed:
                continue
            match = next((f for f in found if any(k in f.serves for k in ROLES[server.role])), None)
            if match is not None and server.uri != f"tcp://{match.host}:{match.port}":
                server.uri = f"tcp://{match.host}:{match.port}"
                _LOGGER.info("found %s server %s at %s", server.role, match.name, server.uri)
