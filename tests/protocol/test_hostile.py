"""Hostile clients against a real server process: each bad input class gets an
`error` event or a clean close, the process stays up, and other clients are served.
"""

import asyncio
import json
import socket
import struct
import time

import psutil
import pytest
from wyoming.error import Error
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStop

from tests.conftest import tts_args
from tests.support.client import WyomingClient
from tests.support.processes import ServerProcess


async def assert_still_serving(server) -> None:
    assert server.alive
    client = await WyomingClient.connect(server.host, server.port)
    await client.send(Synthesize(text="Still here.").event())
    assert (await client.read_until("audio-stop", timeout=20))[0].type == "audio-start"
    await client.close()


async def error_then_close(server, raw: bytes) -> Error:
    client = await WyomingClient.connect(server.host, server.port)
    await client.send_raw(raw)
    event = await client.read(timeout=10)
    assert event is not None and event.type == "error", event
    assert await client.closed()
    return Error.from_event(event)


BAD_HEADERS = {
    "not json": (b"this is not json\n", "bad-event"),
    "invalid utf-8": (b'{"type": "\xff\xfe"}\n', "bad-event"),
    "json array": (b"[1, 2, 3]\n", "bad-event"),
    "json string": (b'"synthesize"\n', "bad-event"),
    "json null": (b"null\n", "bad-event"),
    "missing type": (b'{"data": {}}\n', "bad-event"),
    "type not a string": (b'{"type": 42}\n', "bad-event"),
    "empty type": (b'{"type": ""}\n', "bad-event"),
    "data not an object": (b'{"type": "synthesize", "data": [1]}\n', "bad-event"),
    "negative data_length": (b'{"type": "synthesize", "data_length": -5}\n', "bad-event"),
    "negative payload_length": (b'{"type": "audio-chunk", "payload_length": -1}\n', "bad-event"),
    "float payload_length": (b'{"type": "audio-chunk", "payload_length": 1.5}\n', "bad-event"),
    "string payload_length": (b'{"type": "audio-chunk", "payload_length": "10"}\n', "bad-event"),
    "bool data_length": (b'{"type": "synthesize", "data_length": true}\n', "bad-event"),
    "huge payload_length": (b'{"type": "audio-chunk", "payload_length": 1000000000000}\n', "too-large"),
    "payload over limit": (b'{"type": "audio-chunk", "payload_length": 4194305}\n', "too-large"),
    "data over limit": (b'{"type": "synthesize", "data_length": 1048577}\n', "too-large"),
    "extra data not an object": (b'{"type": "synthesize", "data_length": 3}\n[1]', "bad-event"),
    "deeply nested": (b'{"type": "x", "data": {"a": ' + b"[" * 20000 + b"]" * 20000 + b"}}\n", "bad-event"),
    "empty line": (b"\n", "bad-event"),
}


@pytest.mark.parametrize("name", list(BAD_HEADERS))
async def test_bad_header_gets_error_and_close(tts_server, name):
    raw, code = BAD_HEADERS[name]
    error = await error_then_close(tts_server, raw)
    assert error.code == code
    await assert_still_serving(tts_server)


async def test_header_line_over_the_limit(tts_server):
    error = await error_then_close(tts_server, b'{"type": "' + b"x" * (70 * 1024) + b'"}\n')
    assert error.code == "too-large"
    await assert_still_serving(tts_server)


async def test_endless_header_without_newline_is_cut_off(tts_server):
    client = await WyomingClient.connect(tts_server.host, tts_server.port)
    with pytest.raises((ConnectionError, AssertionError)):
        for _ in range(200):  # 200 × 64 KiB and never a newline
            await client.send_raw(b"x" * 65536)
        raise AssertionError("server kept reading")
    await assert_still_serving(tts_server)


async def test_truncated_payload_then_hangup(tts_server):
    client = await WyomingClient.connect(tts_server.host, tts_server.port)
    await client.send_raw(b'{"type": "audio-chunk", "payload_length": 1000}\n' + b"\0" * 10)
    await client.close()
    await assert_still_serving(tts_server)


@pytest.mark.parametrize(
    "data, code",
    [
        ({"text": ""}, "empty-text"),
        ({"text": "   \n\t "}, "empty-text"),
        ({"text": "\x00\x01\x02\x1b[31m"}, None),  # control characters are dropped, "[31m" is spoken
        ({"text": 42}, "bad-text"),
        ({"text": None}, "bad-text"),
        ({"text": ["a"]}, "bad-text"),
        ({"text": "Hi.", "voice": "joe"}, "bad-voice"),
        ({"text": "Hi.", "voice": {"name": 7}}, "bad-voice"),
        ({"text": "Hi.", "voice": {"name": "x" * 1000}}, "bad-voice"),
        ({"text": "Hi.", "voice": {"name": "../../etc/passwd"}}, "unknown-voice"),
        ({}, "bad-text"),
    ],
)
async def test_bad_synthesize_requests(tts_server, data, code):
    client = await WyomingClient.connect(tts_server.host, tts_server.port)
    await client.send_header({"type": "synthesize", "data": data})
    event = await client.read(timeout=20)
    if code is None:
        assert event.type == "audio-start"
    else:
        assert event.type == "error" and Error.from_event(event).code == code
        await client.send(Synthesize(text="Recovered.").event())  # same connection still works
        assert (await client.read_until("audio-stop"))[0].type == "audio-start"
    await client.close()


@pytest.mark.parametrize("event", [SynthesizeChunk(text="Hello."), SynthesizeStop()])
async def test_stream_events_without_start(tts_server, event):
    client = await WyomingClient.connect(tts_server.host, tts_server.port)
    await client.send(event.event())
    assert Error.from_event(await client.read()).code == "no-stream"
    await client.close()


async def test_unknown_event_types_are_ignored(tts_server):
    client = await WyomingClient.connect(tts_server.host, tts_server.port)
    await client.send_header({"type": "no-such-event", "data": {"x": 1}})
    await client.send(Synthesize(text="Fine.").event())
    assert (await client.read_until("audio-stop"))[0].type == "audio-start"
    await client.close()


@pytest.fixture
def server(tmp_path, request):
    env = getattr(request, "param", {})
    process = ServerProcess(tts_args(tmp_path), env=env).start()
    yield process
    process.stop()


async def test_disconnect_mid_synthesis_stops_work(server):
    client = await WyomingClient.connect(server.host, server.port)
    await client.send(Synthesize(text="one two three four five six seven " * 300).event())
    await client.read_until("audio-chunk")
    await client.close()
    assert server.wait_for_log(r"client .* disconnected", timeout=30)
    process = psutil.Process(server.pid)
    await asyncio.sleep(1.0)  # let the unit in progress finish
    before = sum(process.cpu_times()[:2])
    await asyncio.sleep(2.0)
    assert sum(process.cpu_times()[:2]) - before < 0.5, "synthesis went on for a client that left"
    assert len(process.threads()) < 40
    await assert_still_serving(server)


async def test_connection_reset_is_one_log_line(server):
    """At most one line per reset client (none when it was reset before it was even read: a busy machine)."""
    peers = []
    for _ in range(5):
        sock = socket.create_connection((server.host, server.port))
        peers.append(f"127.0.0.1:{sock.getsockname()[1]} ")
        sock.sendall(json.dumps({"type": "synthesize", "data": {"text": "Reset me in the middle of this."}}).encode() + b"\n")
        time.sleep(0.15)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, not FIN
        sock.close()
    await assert_still_serving(server)
    await asyncio.sleep(0.5)
    assert "Traceback" not in server.log
    assert 1 <= server.log.count("disconnected") <= 5, server.log
    assert all(server.log.count(peer) <= 1 for peer in peers), server.log


@pytest.mark.parametrize("server", [{"NEXUS_LIMITS__MAX_CONNECTIONS": "2"}], indirect=True)
async def test_connections_over_the_cap_are_refused(server):
    held = [await WyomingClient.connect(server.host, server.port) for _ in range(2)]
    await asyncio.sleep(0.2)
    extra = await WyomingClient.connect(server.host, server.port)
    error = Error.from_event(await extra.read())
    assert error.code == "busy"
    assert await extra.closed()
    await held[0].send(Synthesize(text="I got in.").event())
    assert (await held[0].read_until("audio-stop"))[0].type == "audio-start"
    for client in held:
        await client.close()
    await asyncio.sleep(0.2)
    await assert_still_serving(server)


@pytest.mark.parametrize("server", [{"NEXUS_LIMITS__FIRST_EVENT_TIMEOUT_S": "0.5"}], indirect=True)
async def test_silent_and_slowloris_connections_are_closed(server):
    silent = await WyomingClient.connect(server.host, server.port)
    slow = await WyomingClient.connect(server.host, server.port)
    await slow.send_raw(b'{"type": "synth')  # half a header, then nothing
    assert await silent.closed(timeout=5)
    assert await slow.closed(timeout=5)
    await assert_still_serving(server)


@pytest.mark.parametrize("server", [{"NEXUS_LIMITS__IDLE_TIMEOUT_S": "0.5"}], indirect=True)
async def test_a_connection_idle_after_a_request_is_closed(server):
    client = await WyomingClient.connect(server.host, server.port)
    await client.send(Synthesize(text="Then nothing.").event())
    await client.read_until("audio-stop", timeout=20)
    assert await client.closed(timeout=5)


async def test_one_host_cannot_take_every_connection(server):
    """The default per-peer cap: 16 of 64; another address is still served, and the refusals log one line."""
    held = [await WyomingClient.connect(server.host, server.port) for _ in range(16)]
    await asyncio.sleep(0.2)
    for _ in range(200):
        extra = await WyomingClient.connect(server.host, server.port)
        assert Error.from_event(await extra.read(timeout=10)).code == "busy"
        await extra.close()
    other = await WyomingClient.connect(server.host, server.port, source="127.0.0.2")
    await other.send(Synthesize(text="Another host.").event())
    assert (await other.read_until("audio-stop", timeout=20))[0].type == "audio-start"
    await other.close()
    assert server.log.count("refusing 127.0.0.1:") == 1, server.log[-2000:]
    for client in held:
        await client.close()
    await asyncio.sleep(0.2)
    await assert_still_serving(server)
