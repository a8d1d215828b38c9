"""Zeroconf advertisement as `_wyoming._tcp.local.`, the type Home Assistant discovers.

Unlike `wyoming.zeroconf`, a machine without a multicast route or a LAN address only
logs a warning: the server keeps serving clients that know its address.
"""

import logging
import socket
from typing import Optional

from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

_LOGGER = logging.getLogger(__name__)
SERVICE_TYPE = "_wyoming._tcp.local."
_MDNS_GROUP = "224.0.0.251"


def lan_address() -> str:
    """The address other hosts reach us on (the one of the default route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((_MDNS_GROUP, 5353))
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def advertised_address(bind_host: str) -> str:
    """What to announce for a server bound to `bind_host`."""
    if bind_host in ("", "0.0.0.0", "::"):
        return lan_address()
    return bind_host


class Advertisement:
    """One server announced on mDNS for as long as it runs."""

    def __init__(self, name: str, port: int, host: str, properties: Optional[dict] = None) -> None:
        self.info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{name}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(host)],
            port=port,
            properties=properties or {},
            server=f"{socket.gethostname()}.local.",
        )
        interfaces = ["127.0.0.1"] if host.startswith("127.") else None
        self._zeroconf = AsyncZeroconf(ip_version=IPVersion.V4Only, interfaces=interfaces or "all")
        self.registered = False

    async def start(self) -> bool:
        """Register the service; False (and a warning) when the network does not allow it."""
        try:
            await self._zeroconf.async_register_service(self.info, allow_name_change=True)
        except (OSError, RuntimeError, ValueError) as err:
            _LOGGER.warning("zeroconf advertisement unavailable (%s); serving without it", err)
            return False
        self.registered = True
        _LOGGER.info("advertised %s on %s:%d", self.info.name, socket.inet_ntoa(self.info.addresses[0]), self.info.port)
        return True

    async def stop(self) -> None:
        """Withdraw the service so Home Assistant stops offering it."""
        if self.registered:
            await self._zeroconf.async_unregister_service(self.info)
        await self._zeroconf.async_close()


async def advertise(name: str, port: int, bind_host: str) -> Optional[Advertisement]:
    """Announce a server; None when zeroconf cannot run here."""
    try:
        ad = Advertisement(name, port, advertised_address(bind_host))
    except (OSError, ValueError) as err:
        _LOGGER.warning("zeroconf advertisement unavailable (%s); serving without it", err)
        return None
    if await ad.start():
        return ad
    await ad.stop()
    return None
