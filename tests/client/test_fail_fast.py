"""The client never hangs and says why it stopped, in one line: silence, HTTP, refused, unknown host."""

import http.server
import socket
import threading
import time

import pytest

from tests.client.support import ALL_INFO, FakeServer, FakeWyoming, answers, client, silent, write_silence


def commands(uri: str, wav: str) -> dict[str, list[str]]:
    """Every command that talks to one server, pointed at `uri`."""
    return {
        "describe": ["describe", uri],
        "transcribe": ["transcribe", uri, wav, "--fast"],
        "synthesize": ["synthesize", uri, "Hello."],
        "handle": ["handle", uri, "hello"],
        "pipeline": ["pipeline", "--stt", uri, "--intent", uri, "--tts", uri, wav, "--fast"],
    }


def one_line_error(result) -> str:
    """The `Error: ...` line; fails on a traceback, `Aborted!`, or anything else on stderr."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("command", ["describe", "transcribe", "synthesize", "handle", "pipeline"])
def test_a_silent_server_times_out_naming_the_wait(tmp_path, command):
    wav = str(write_silence(tmp_path / "in.wav"))
    with FakeServer(silent) as server:
        began = time.monotonic()
        result = client(*commands(server.uri, wav)[command], "--timeout", "1", timeout=30)
        assert time.monotonic() - began < 15
    assert one_line_error(result) == f"Error: {server.uri}: no info within 1 s (see --timeout)"


@pytest.mark.parametrize("command, waiting_for", [
    ("transcribe", "transcript after audio-stop"),
    ("synthesize", "audio-stop"),
    ("handle", "handled"),
    ("pipeline", "transcript after audio-stop"),
])
def test_a_server_silent_after_describe_times_out_naming_the_wait(tmp_path, command, waiting_for):
    wav = str(write_silence(tmp_path / "in.wav"))
    with FakeServer(FakeWyoming(ALL_INFO)) as server:
        result = client(*commands(server.uri, wav)[command], "--timeout", "1", timeout=30)
    assert one_line_error(result) == f"Error: {server.uri}: no {waiting_for} within 1 s (see --timeout)"


@pytest.fixture
def http_server():
    """Python's own HTTP server: it answers our JSON line with an HTML error page."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"tcp://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("command", ["describe", "synthesize", "handle"])
def test_an_http_server_is_named_as_such(http_server, command):
    result = client(*commands(http_server, "")[command], timeout=30)
    assert one_line_error(result) == f"Error: {http_server}: this is not a Wyoming server (it answered like an HTTP server)"


def test_an_http_status_line_is_named_as_such():
    with FakeServer(answers(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")) as server:
        result = client("describe", server.uri, timeout=30)
    assert one_line_error(result) == f"Error: {server.uri}: this is not a Wyoming server (it answered like an HTTP server)"


def test_another_protocol_is_not_wyoming():
    with FakeServer(answers(b"SSH-2.0-OpenSSH_9.6\r\n")) as server:
        result = client("describe", server.uri, timeout=30)
    assert one_line_error(result).startswith(f"Error: {server.uri}: this is not a Wyoming server (its first reply")


def test_connection_refused_names_the_uri():
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = client("handle", f"127.0.0.1:{port}", "hello", timeout=30)
    assert one_line_error(result) == f"Error: tcp://127.0.0.1:{port}: connection refused (is the server running, on this port?)"


def test_unknown_host_names_the_uri():
    host = ".".join(["a" * 60] * 5)  # longer than any DNS name: fails here, nothing is sent
    result = client("describe", f"tcp://{host}:10300", timeout=30)
    assert one_line_error(result) == f"Error: tcp://{host}:10300: unknown host '{host}'"
