"""Lists `_wyoming._tcp.local.` services on the network and what each one serves."""

import asyncio
import logging
import socket
from dataclasses import dataclass, field
from typing import Optional

from zeroconf import ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from ..protocol.discovery import SERVICE_TYPE, open_zeroconf
from .actions import ClientError, describe, programs
from .connection import DEFAULT_TIMEOUT_S

_LOGGER = logging.getLogger(__name__)

@dataclass
class Found:
    """One advertised server."""

    name: str
    host: str
    port: int
    serves: list[str] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)
    error: Optional[str] = None


async def discover(seconds: float = 3.0, interface: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT_S) -> list[Found]:
    """Browse for `seconds`, then `describe` every server found; none (and a warning) without mDNS."""
    try:
        found = await _browse(seconds, interface)
    except Exception as err:  # noqa: BLE001  (no multicast here: nothing found, not a crash)
        _LOGGER.warning("zeroconf browsing unavailable (%s: %s)", type(err).__name__, err)
        return []
    await asyncio.gather(*(_describe(f, timeout) for f in found))
    return found


async def _browse(seconds: float, interface: Optional[str]) -> list[Found]:
    zeroconf = open_zeroconf(interface)
    names: set[str] = set()

    def on_change(zeroconf, service_type, name, state_change) -> None:
        if state_change is not ServiceStateChange.Removed:
            names.add(name)

    browser = AsyncServiceBrowser(zeroconf.zeroconf, SERVICE_TYPE, handlers=[on_change])
    try:
        await asyncio.sleep(seconds)
        return [f for f in await asyncio.gather(*(_resolve(zeroconf, n) for n in sorted(names))) if f]
    finally:
        await browser.async_cancel()
        await zeroconf.async_close()


async def _resolve(zeroconf: AsyncZeroconf, name: str) -> Optional[Found]:
    info = AsyncServiceInfo(SERVICE_TYPE, name)
    if not await info.async_request(zeroconf.zeroconf, 3000) or not info.addresses or info.port is None:
        return None
    return Found(name.removesuffix("." + SERVICE_TYPE), socket.inet_ntoa(info.addresses[0]), info.port)


async def _describe(found: Found, timeout: float) -> None:
    try:
        info = (await describe(f"tcp://{found.host}:{found.port}", timeout)).values["info"]
    except ClientError as err:
        found.error = str(err)
        return
    for kind, offered in programs(info).items():
        found.serves.append(kind)
        found.programs += [str(p.get("name")) for p in offered]
