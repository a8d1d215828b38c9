"""Partial transcripts reach the screen as they arrive, not with the final table; --json stays one document."""

import json
import subprocess
import sys
import threading

from wyoming.event import Event

from tests.client.support import ASR_INFO, FakeServer, FakeWyoming, client, write_silence
from tests.support.processes import REPO


def partial_then_transcript(held: threading.Event) -> FakeWyoming:
    """An ASR that streams two partial pieces with the first audio and holds the transcript until `held` is set."""
    return FakeWyoming(ASR_INFO, replies={
        "audio-chunk": [Event("transcript-start"), Event("transcript-chunk", {"text": "turn on"}),
                        Event("transcript-chunk", {"text": " the"})],
        "audio-stop": [Event("transcript", {"text": "turn on the lights"}), Event("transcript-stop")],
    }, holds={"audio-stop": held})


def test_a_partial_is_printed_before_the_transcript_exists(tmp_path):
    wav = write_silence(tmp_path / "in.wav")
    printed = threading.Event()
    with FakeServer(partial_then_transcript(printed)) as server:
        proc = subprocess.Popen([sys.executable, "-m", "nexus_wyoming", "client", "transcribe", server.uri, str(wav),
                                 "--fast", "--timeout", "10"], stdout=subprocess.PIPE, text=True, cwd=REPO)
        live = [proc.stdout.readline(), proc.stdout.readline()]  # the server holds the transcript until these are read
        printed.set()
        rest, _ = proc.communicate(timeout=30)
    assert live == ["partial: turn on\n", "partial: turn on the\n"]  # the text so far, piece by piece
    assert proc.returncode == 0 and "turn on the lights" in rest and "partial:" not in rest


def test_json_output_is_one_document_with_the_partials(tmp_path):
    wav = write_silence(tmp_path / "in.wav")
    released = threading.Event()
    released.set()
    with FakeServer(partial_then_transcript(released)) as server:
        result = client("transcribe", server.uri, str(wav), "--fast", "--json", timeout=30)
    data = json.loads(result.stdout)
    assert result.returncode == 0 and data["text"] == "turn on the lights"
    assert [p["text"] for p in data["partials"]] == ["turn on", " the"]


def test_the_pipeline_prints_its_partials_too(tmp_path):
    wav = write_silence(tmp_path / "in.wav")
    released = threading.Event()
    released.set()
    agent = FakeWyoming({"handle": [{"name": "fake-agent"}]}, replies={"transcript": [Event("handled", {"text": "Done."})]})
    audio = {"rate": 16000, "width": 2, "channels": 1}
    speaker = FakeWyoming({"tts": [{"name": "fake-tts"}]}, replies={"synthesize-stop": [
        Event("audio-start", audio), Event("audio-chunk", audio, payload=bytes(3200)), Event("audio-stop"), Event("synthesize-stopped"),
    ]})
    with FakeServer(partial_then_transcript(released)) as stt, FakeServer(agent) as intent, FakeServer(speaker) as tts:
        result = client("pipeline", "--stt", stt.uri, "--intent", intent.uri, "--tts", tts.uri, str(wav), "--fast", timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("partial: turn on\npartial: turn on the\npipeline\n") and "Done." in result.stdout
