"""The metrics/status port binds where the Wyoming port does, unless --metrics-host says otherwise."""

import re
import socket

import pytest

from tests.support.processes import ServerProcess


def bound_host(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port` (from /proc/net/tcp)."""
    hosts = set()
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            hosts.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return hosts


@pytest.mark.parametrize("uri_host, extra, expected", [
    ("127.0.0.1", [], "127.0.0.1"),
    ("0.0.0.0", [], "0.0.0.0"),
    ("127.0.0.1", ["--metrics-host", "0.0.0.0"], "0.0.0.0"),
])
def test_metrics_bind_host(tmp_path, uri_host, extra, expected):
    server = ServerProcess(["tts", "--uri", f"tcp://{uri_host}:0", "--no-zeroconf", "--data-dir", str(tmp_path),
                            "--metrics-port", "0", *extra]).start()  # port 0: the server picks a free one
    try:
        assert server.wait_for_log(rf"metrics on http://{re.escape(expected)}:\d+/metrics", timeout=30), server.log
        port = int(re.search(r"metrics on http://[\d.]+:(\d+)/metrics", server.log).group(1))
        assert bound_host(port) == {expected}
    finally:
        server.stop()
