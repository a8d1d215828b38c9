"""The TTS server under load, over real TCP: clients that never read are dropped after
limits.write_stall_s, a new client's short reply is served in about its normal time
while others synthesize long texts, work beyond tts.max_pending_chars is answered
`busy`, and SIGTERM ends every reply with audio-stop."""

import asyncio
import re
import socket
import time

import pytest
from wyoming.error import Error
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart

from tests.conftest import tts_args
from tests.support.client import WyomingClient
from tests.support.processes import ServerProcess

SENTENCE = "The quick brown fox jumps over the lazy dog near the quiet river bank. "


async def reply_latency(server: ServerProcess, text: str = "Hello there.") -> float:
    """Seconds from sending `text` to its audio-stop, for a client that reads."""
    client = await WyomingClient.connect(server.host, server.port)
    began = time.perf_counter()
    await client.send(Synthesize(text=text).event())
    events = await client.read_until("audio-stop", timeout=60)
    await client.close()
    assert "audio-chunk" in [e.type for e in events]
    return time.perf_counter() - began


async def never_reading(server: ServerProcess) -> WyomingClient:
    """A client with a tiny receive window that will read nothing: the server's writes stall at once."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (server.host, server.port))
    return WyomingClient(*await asyncio.open_connection(sock=sock))


def start(tmp_path, **env: str) -> ServerProcess:
    return ServerProcess(tts_args(tmp_path), env={f"NEXUS_{k.upper()}": v for k, v in env.items()}).start()


async def test_clients_that_never_read_are_dropped_and_do_not_slow_a_new_one(tmp_path):
    server = await asyncio.to_thread(start, tmp_path, limits__write_stall_s="2")
    try:
        normal = min([await reply_latency(server) for _ in range(3)])
        silent = [await never_reading(server) for _ in range(6)]
        for client in silent:  # each asks for minutes of audio and reads none of it
            await client.send(Synthesize(text=SENTENCE * 60).event())
        await asyncio.sleep(1.0)
        loaded = sorted([await reply_latency(server) for _ in range(3)])
        assert loaded[1] < normal + 2.5, f"normal {normal:.2f} s, with 6 non-readers {loaded}"
        async with asyncio.timeout(60):  # each stalls within seconds of audio, then waits out the 2 s
            while len(re.findall(r"stopped reading for 2 s; dropping it", server.log)) < 6:
                await asyncio.sleep(0.2)
        assert await reply_latency(server) < normal + 1.0
        for client in silent:
            await client.close()
    finally:
        server.stop()


async def test_text_beyond_the_servers_pending_limit_is_busy_and_short_replies_still_served(tmp_path):
    server = await asyncio.to_thread(start, tmp_path, tts__max_pending_chars="3000")
    try:
        long_client = await WyomingClient.connect(server.host, server.port)
        await long_client.send(Synthesize(text=SENTENCE * 35).event())  # 2520 characters
        await long_client.read_until("audio-chunk")
        refused = await WyomingClient.connect(server.host, server.port)
        await refused.send(Synthesize(text=SENTENCE * 10).event())
        error = Error.from_event(await refused.read())
        assert error.code == "busy" and "3000" in error.text
        await refused.send(SynthesizeStart().event())  # a stream is held to the same limit
        await refused.send(SynthesizeChunk(text=SENTENCE * 10).event())
        assert Error.from_event(await refused.read()).code == "busy"
        await refused.close()
        assert await reply_latency(server, "Hi.") < 10
        await long_client.read_until("audio-stop", timeout=120)
        await long_client.close()
        assert await reply_latency(server, SENTENCE * 10) < 60  # room again once spoken
    finally:
        server.stop()


async def test_sigterm_ends_a_long_synthesis_after_the_current_unit_with_audio_stop(tmp_path):
    server = await asyncio.to_thread(start, tmp_path, limits__drain_timeout_s="4")
    try:
        client = await WyomingClient.connect(server.host, server.port)
        await client.send(Synthesize(text=SENTENCE * 40).event())  # minutes of audio
        await client.read_until("audio-chunk")
        began = time.perf_counter()
        server.proc.terminate()
        events = await client.read_until("audio-stop", timeout=10)
        assert time.perf_counter() - began < 4, "cut at the drain timeout, not at the unit's end"
        assert "error" not in [e.type for e in events]
        assert await asyncio.to_thread(server.proc.wait, 30) == 0
    finally:
        server.stop()


async def test_sigterm_ends_an_open_stream_with_audio_stop_and_synthesize_stopped(tmp_path):
    server = await asyncio.to_thread(start, tmp_path, limits__drain_timeout_s="4")
    try:
        client = await WyomingClient.connect(server.host, server.port)
        await client.send(SynthesizeStart().event())
        await client.send(SynthesizeChunk(text=SENTENCE * 40).event())  # and no synthesize-stop yet
        await client.read_until("audio-chunk")
        began = time.perf_counter()
        server.proc.terminate()
        events = await client.read_until("synthesize-stopped", timeout=10)
        assert time.perf_counter() - began < 4
        types = [e.type for e in events]
        assert types[-2:] == ["audio-stop", "synthesize-stopped"] and "error" not in types
        assert await client.closed()
        assert await asyncio.to_thread(server.proc.wait, 30) == 0
    finally:
        server.stop()
