"""Zeroconf: a started server is found as `_wyoming._tcp.local.` with its real port."""

import asyncio
import socket

from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from tests.support.processes import ServerProcess

SERVICE = "_wyoming._tcp.local."


async def lookup(name: str) -> AsyncServiceInfo:
    zeroconf = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    try:
        info = AsyncServiceInfo(SERVICE, f"{name}.{SERVICE}")
        assert await info.async_request(zeroconf.zeroconf, 5000), f"{name} not found"
        return info
    finally:
        await zeroconf.async_close()


async def test_server_is_advertised_and_withdrawn(tmp_path):
    server = ServerProcess(["tts", "--uri", "tcp://127.0.0.1:0", "--data-dir", str(tmp_path)]).start()
    try:
        assert server.wait_for_log(r"advertised nexus-tts-", timeout=15), server.log
        name = f"nexus-tts-{socket.gethostname()}"
        info = await lookup(name)
        assert info.port == server.port
        assert "127.0.0.1" in info.parsed_addresses()
        assert server.terminate() == 0
    finally:
        server.stop()


async def test_no_zeroconf_flag(tmp_path):
    server = ServerProcess(["tts", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir", str(tmp_path)]).start()
    try:
        await asyncio.sleep(0.5)
        assert "advertised" not in server.log
    finally:
        server.stop()


def test_each_set_of_addresses_has_its_own_host_name():
    from nexus_wyoming.protocol.discovery import host_name, lan_addresses

    host = socket.gethostname().split(".")[0]
    assert host_name(["127.0.0.1"]) == f"{host}-127-0-0-1.local."
    if lan_addresses():  # every server on all LAN addresses shares the plain name
        assert host_name(lan_addresses()) == f"{host}.local."
        assert host_name(lan_addresses()[:1]) != host_name(["127.0.0.1"])
