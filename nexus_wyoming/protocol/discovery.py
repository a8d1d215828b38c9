"""Zeroconf advertisement as `_wyoming._tcp.local.`, the type Home Assistant discovers.

Like `wyoming.zeroconf`, the service is announced on every interface, so a Home Assistant
on the same host hears a server bound to 127.0.0.1 (it leaves loopback out of the
interfaces it listens on). Unlike it, nothing zeroconf raises takes a server down: a
machine without multicast only logs a warning and serves clients that know its address.
"""

import ipaddress
import logging
import socket
from typing import Optional

import ifaddr
from zeroconf import InterfaceChoice, IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

_LOGGER = logging.getLogger(__name__)
SERVICE_TYPE = "_wyoming._tcp.local."
_MDNS_GROUP = "224.0.0.251"


def open_zeroconf(interface: Optional[str] = None) -> AsyncZeroconf:
    """IPv4 mDNS on every interface (or one address), as Home Assistant listens."""
    interfaces = [interface] if interface else InterfaceChoice.All
    return AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)


def default_route_address() -> Optional[str]:
    """The address of the interface other hosts most likely reach us on."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((_MDNS_GROUP, 5353))
            return probe.getsockname()[0]
        except OSError:
            return None


def lan_addresses() -> list[str]:
    """Every non-loopback IPv4 address of this host, the default route's first."""
    found = [ip.ip for adapter in ifaddr.get_adapters() for ip in adapter.ips
             if isinstance(ip.ip, str) and not ipaddress.IPv4Address(ip.ip).is_loopback
             and not ipaddress.IPv4Address(ip.ip).is_link_local]
    first = default_route_address()
    ordered = [first] if first in found else []
    return ordered + [address for address in dict.fromkeys(found) if address not in ordered]


def advertised_addresses(bind_host: str) -> list[str]:
    """What to announce for a server bound to `bind_host`: where clients can connect."""
    if bind_host in ("", "0.0.0.0", "::"):
        return lan_addresses() or ["127.0.0.1"]
    return [bind_host]


def host_name(addresses: list[str]) -> str:
    """The mDNS host whose address records these are: one host name per set of addresses.

    Records of one host name are merged by listeners, so a server bound to 127.0.0.1 beside
    one bound to 0.0.0.0 under the same name would get the LAN address too (Home Assistant
    then connects there and fails). Every server on all LAN addresses shares the plain name.
    """
    host = socket.gethostname().split(".")[0] or "nexus"
    if addresses == lan_addresses():
        return f"{host}.local."
    return f"{host}-{addresses[0].replace('.', '-')}.local."


class Advertisement:
    """One server announced on mDNS for as long as it runs."""

    def __init__(self, name: str, port: int, addresses: list[str], properties: Optional[dict] = None) -> None:
        self.info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{name}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(address) for address in addresses],
            port=port,
            properties=properties or {},
            server=host_name(addresses),
        )
        self._zeroconf = open_zeroconf()
        self.registered = False

    async def start(self) -> None:
        """Register the service (raises what zeroconf raises)."""
        await self._zeroconf.async_register_service(self.info, allow_name_change=True)
        self.registered = True
        _LOGGER.info("advertised %s on %s:%d", self.info.name, ", ".join(self.info.parsed_addresses()),
                     self.info.port)

    async def stop(self) -> None:
        """Withdraw the service so Home Assistant stops offering it."""
        try:
            if self.registered:
                await self._zeroconf.async_unregister_service(self.info)
            await self._zeroconf.async_close()
        except Exception as err:  # noqa: BLE001  (withdrawing is best effort at shutdown)
            _LOGGER.debug("zeroconf withdrawal failed: %s", err)


async def advertise(name: str, port: int, bind_host: str) -> Optional[Advertisement]:
    """Announce a server; None (and one warning) when zeroconf cannot run here."""
    ad: Optional[Advertisement] = None
    try:
        ad = Advertisement(name, port, advertised_addresses(bind_host))
        await ad.start()
        return ad
    except Exception as err:  # noqa: BLE001  (discovery is a convenience: never a reason to stop serving)
        _LOGGER.warning("zeroconf advertisement unavailable (%s: %s); serving without it", type(err).__name__, err)
        if ad is not None:
            await ad.stop()
        return None
