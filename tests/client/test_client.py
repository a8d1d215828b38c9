"""`nexus-wyoming client` against real servers: tables, JSON, WAV output, errors."""

import json
import wave

import numpy as np
import pytest

from tests.client.support import PCM, client, riff
from tests.intent.server_support import NO_EMBEDDED_LLM
from tests.support.processes import ServerProcess


@pytest.fixture(scope="module")
def tts(tmp_path_factory):
    server = ServerProcess(["tts", "--uri", "tcp://127.0.0.1:0", "--data-dir", str(tmp_path_factory.mktemp("tts"))]).start()
    yield server
    server.stop()


def uri(server) -> str:
    return f"tcp://{server.host}:{server.port}"


def test_describe_table_and_json(tts):
    table = client("describe", uri(tts))
    assert table.returncode == 0 and "nexus-tts" in table.stdout and "en_US-joe-medium" in table.stdout
    data = json.loads(client("describe", uri(tts), "--json").stdout)
    assert data["info"]["tts"][0]["supports_synthesize_streaming"] is True


@pytest.mark.parametrize("stream", [False, True])
def test_synthesize_writes_a_wav_with_timings(tts, tmp_path, stream):
    out = tmp_path / "out.wav"
    args = ["synthesize", f"{tts.host}:{tts.port}", "Hello there. This is a test.", "-o", str(out), "--json"]
    result = client(*args, *(["--stream"] if stream else []))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert 0 < data["timings_ms"]["first audio"] < data["timings_ms"]["synthesize-stopped" if stream else "audio-stop"]
    with wave.open(str(out)) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (22050, 2, 1)
        assert abs(wav.getnframes() / 22050 - data["audio_s"]) < 0.01 and data["audio_s"] > 1.0


def test_server_error_is_reported_with_exit_1(tts):
    result = client("synthesize", uri(tts), "Hi.", "--voice", "no-such-voice")
    assert result.returncode == 1 and result.stderr.startswith(f"Error: {uri(tts)}: server error: ") and "unknown-voice" in result.stderr


def test_discover_lists_the_advertised_server(tts):
    assert tts.wait_for_log("advertised", timeout=15)
    found = json.loads(client("discover", "--seconds", "2", "--interface", "127.0.0.1", "--json").stdout)
    mine = [f for f in found if f["port"] == tts.port]
    assert mine and mine[0]["serves"] == ["tts"] and mine[0]["programs"] == ["nexus-tts"]


def test_transcribe_prints_partials_and_transcript(tts, tmp_path):
    speech = tmp_path / "speech.wav"
    assert client("synthesize", uri(tts), "Turn on the kitchen lights.", "-o", str(speech)).returncode == 0
    with wave.open(str(speech)) as wav:  # as a 24-bit WAVE_FORMAT_EXTENSIBLE file, which Python's `wave` refuses
        samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype("<i4") << 8
        low_three_bytes = samples.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
        extensible = tmp_path / "speech-24.wav"
        extensible.write_bytes(riff(PCM, 24, 1, wav.getframerate(), low_three_bytes, extensible=True))
    stt = ServerProcess(["stt", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir", str(tmp_path / "stt")]).start(timeout=180)
    try:
        result = client("transcribe", uri(stt), str(speech), "--json")
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert "kitchen" in data["text"].lower()
        assert data["audio_stop_to_transcript_ms"] >= 0
        assert data["timings_ms"]["transcript"] >= data["timings_ms"]["audio-stop sent"]
        table = client("transcribe", uri(stt), str(extensible))
        assert table.returncode == 0, table.stderr
        live, _, rows = table.stdout.partition("transcribe\n")
        assert "kitchen" in rows.lower()
        so_far = [line.removeprefix("partial: ") for line in live.splitlines()]  # printed as they came
        assert len(so_far) == sum(row.strip().startswith("partial @") for row in rows.splitlines())
        assert all(later.startswith(earlier) for earlier, later in zip(so_far, so_far[1:]))
    finally:
        stt.stop()


@pytest.mark.parametrize("command, wanted", [("transcribe", "asr"), ("handle", "handle or intent"), ("pipeline", "asr")])
def test_the_wrong_kind_of_server_is_named_at_once(tts, tmp_path, command, wanted):
    speech = tmp_path / "speech.wav"
    assert client("synthesize", uri(tts), "Hello.", "-o", str(speech)).returncode == 0
    args = {"transcribe": ["transcribe", uri(tts), str(speech)], "handle": ["handle", uri(tts), "hello"],
            "pipeline": ["pipeline", "--stt", uri(tts), "--intent", uri(tts), "--tts", uri(tts), str(speech)]}[command]
    result = client(*args, timeout=30)
    assert (result.returncode, result.stderr) == (1, f"Error: {uri(tts)} serves tts, not {wanted}\n")


def test_handle_and_a_whole_pipeline_turn(tts, tmp_path):
    intent = ServerProcess(["intent", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir", str(tmp_path / "intent")],
                           env=NO_EMBEDDED_LLM).start()  # skills answer these turns
    stt = ServerProcess(["stt", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", "--data-dir", str(tmp_path / "stt")]).start(timeout=180)
    try:
        answer = client("handle", uri(intent), "what is 17 times 23", "--device-id", "kitchen", "--json")
        assert answer.returncode == 0, answer.stderr
        assert "391" in json.loads(answer.stdout)["text"]
        speech = tmp_path / "question.wav"
        # a phrase Whisper hears reliably from Piper (Piper's prosody varies run to run)
        assert client("synthesize", uri(tts), "What time is it?", "-o", str(speech)).returncode == 0
        reply = tmp_path / "reply.wav"
        turn = client("pipeline", "--stt", uri(stt), "--intent", uri(intent), "--tts", uri(tts), str(speech),
                      "-o", str(reply), "--device-id", "kitchen", "--fast", "--json")
        assert turn.returncode == 0, turn.stderr
        data = json.loads(turn.stdout)
        assert "time" in data["transcript"].lower(), data
        assert any(ch.isdigit() for ch in data["reply"]), data  # the clock skill answered
        timings = data["timings_ms"]
        assert timings["transcript"] <= timings["intent handled"] <= timings["tts synthesize-stopped"]
        assert timings["tts first audio"] < timings["tts synthesize-stopped"]
        with wave.open(str(reply)) as wav:
            assert wav.getnframes() / wav.getframerate() > 0.5
    finally:
        intent.stop()
        stt.stop()
