"""The status page in headless Chromium: rows merged across the three servers, bars drawn, text escaped.

First against in-process metrics servers holding hand-made records (every merge case, a
hostile device id, a broken script), then against `nexus-wyoming serve` after one real
turn through STT, intent and TTS.
"""

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest

import nexus_wyoming.status_page as status_page
from nexus_wyoming.metrics import MetricsServer, Registry
from nexus_wyoming.status import StatusBoard, StatusReport
from tests.intent.server_support import NO_EMBEDDED_LLM
from tests.support.browser import dump_dom, png_colours, screenshot
from tests.support.processes import REPO, ServerProcess

HOSTILE = "<img src=x onerror=alert(1)>"


@dataclass
class Row:
    """One drawn turn: the stages with a bar, the values written next to them, the chips."""

    bars: set = field(default_factory=set)
    values: list = field(default_factory=list)
    chips: list = field(default_factory=list)
    failed: bool = False


class StatusDom(HTMLParser):
    """Devices (the heading text) → drawn rows, read from the DOM Chromium dumped."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.devices: dict[str, list[Row]] = {}
        self._device, self._text, self._capture = None, "", None
        self.feed(dom)

    def handle_starttag(self, tag, attrs):
        cls = (dict(attrs).get("class") or "").split()
        if tag == "h3" and self._capture is None and self._device == "":
            self._capture, self._text = "device", ""
        elif tag == "span" and self._capture == "device":
            self._device, self._capture = self._text, None
            self.devices[self._device] = []
        elif tag == "section" and "device" in cls:
            self._device = ""
        elif tag == "div" and "turn" in cls and self._device:
            self.devices[self._device].append(Row(failed="failed" in cls))
        elif tag == "rect" and "bar" in cls:
            self.devices[self._device][-1].bars.add(next(c[2:] for c in cls if c.startswith("s-")))
        elif (tag == "text" and "value" in cls) or (tag == "span" and "chip" in cls):
            self._capture, self._text = ("values" if tag == "text" else "chips"), ""

    def handle_data(self, data):
        if self._capture:
            self._text += data

    def handle_endtag(self, tag):
        if self._capture in ("values", "chips") and tag in ("text", "span"):
            getattr(self.devices[self._device][-1], self._capture).append(self._text)
            self._capture = None


# ---------------------------------------------------------------- hand-made records


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def three_servers():
    """stt, intent and tts metrics servers in this process, each naming the other two (and a dead peer)."""
    clock = Clock()
    boards = {kind: StatusBoard(clock=clock) for kind in ("stt", "intent", "tts")}
    servers = {kind: MetricsServer(0, host="127.0.0.1", registry=Registry()) for kind in boards}
    for server in servers.values():
        await server.start()
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    for kind, server in servers.items():
        peers = [f":{other.port}" for name, other in servers.items() if name != kind] + [f":{dead.getsockname()[1]}"]
        server.status = StatusReport(kind, "9.9.9", peers, boards[kind])
    yield clock, boards, servers
    for server in servers.values():
        await server.stop()
    dead.close()


def fill(clock: Clock, boards: dict) -> None:
    """Every case of the merge rule, 10 s apart so no case reaches into another."""
    start = clock.now - 60

    def record(kind: str, ended: float, duration: float, **fields) -> None:
        clock.now = start + ended
        boards[kind].record(kind, duration, **fields)

    # 1. one whole turn: transcript 0.2 s before the intent turn, TTS text 0.9 s into it
    record("stt", 2.0, 1.5, provider="whisper", early=True, stages={"stt": 180})
    record("intent", 3.7, 1.5, device="kitchen", provider="groq", mode="planning", route="llm",
           stages={"search": 420, "llm_first_token": 260, "total": 1500})
    record("tts", 4.6, 1.5, provider="piper", stages={"tts_first_audio": 140})
    # 2. a transcript 5 s before the next intent turn is not part of it
    record("stt", 10.0, 1.0, provider="whisper", stages={"stt": 75})
    record("intent", 15.1, 0.1, device="hall", route="skill:time", stages={"total": 20})
    # 3. both sides name a device and they differ: two rows, though 1 s apart
    record("intent", 25.1, 0.1, device="office", route="skill:date", stages={"total": 30})
    record("tts", 26.5, 0.4, device="garage", provider="piper", stages={"tts_first_audio": 95})
    # 4. a hostile device id, and a TTS failure of ours joined to its turn
    record("intent", 35.1, 0.1, device=HOSTILE, route="skill:time", stages={"total": 15})
    record("tts", 35.6, 0.3, ok=False, error="synthesis-failed")
    clock.now = start + 60


async def test_rows_are_merged_by_the_documented_rule_and_every_string_is_escaped(three_servers, tmp_path):
    clock, boards, servers = three_servers
    fill(clock, boards)
    dom = await dump_dom(f"http://127.0.0.1:{servers['intent'].port}/", tmp_path / "profile")
    page = StatusDom(dom)
    assert set(page.devices) == {"kitchen", "hall", "office", "garage", HOSTILE, "unknown device"}, dom[-3000:]
    (whole,) = page.devices["kitchen"]
    assert whole.bars == {"stt", "search", "llm_first_token", "tts_first_audio"}
    assert whole.values == ["180 ms", "420 ms", "260 ms", "140 ms"]
    assert whole.chips == ["STT whisper · early decode", "intent groq · planning", "turn 1500 ms", "TTS piper"]
    assert [r.bars for r in page.devices["unknown device"]] == [{"stt"}]  # too early for the hall turn
    assert [r.bars for r in page.devices["hall"]] == [set()] and page.devices["hall"][0].chips[0] == "intent skill time"
    assert [r.bars for r in page.devices["garage"]] == [{"tts_first_audio"}]
    (hostile,) = page.devices[HOSTILE]
    assert hostile.failed and "tts error: synthesis-failed" in hostile.chips
    assert "<img" not in dom and "&lt;img src=x onerror=alert(1)&gt;" in dom
    assert dom.count('class="card"') == 4 and ">unreachable<" in dom  # three servers and the dead peer
    assert dom.count(">degraded<") == 1 and dom.count(">ok<") == 2  # tts: 1 of 3 requests failed


async def test_a_broken_script_leaves_no_rows(three_servers, tmp_path, monkeypatch):
    clock, boards, servers = three_servers
    fill(clock, boards)
    broken = status_page._PAGE.replace(b"function merge(turns) {", b"function merge(turns) { throw 1;")
    monkeypatch.setattr(status_page, "_PAGE", broken)
    dom = await dump_dom(f"http://127.0.0.1:{servers['stt'].port}/", tmp_path / "profile")
    assert StatusDom(dom).devices == {}


# ---------------------------------------------------------------- one real turn through `serve`


def free_ports(count: int) -> int:
    """A base port with `count` free ports from it."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65000:
            continue
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("0.0.0.0", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port range")


def client(*args: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "nexus_wyoming", "client", *args, "--json"],
                            capture_output=True, text=True, cwd=REPO, timeout=180)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`nexus-wyoming serve --metrics-port BASE` with the three servers on free ports."""
    base = free_ports(3)
    uris = {f"NEXUS_{kind.upper()}__URI": "tcp://127.0.0.1:0" for kind in ("stt", "intent", "tts")}
    data = tmp_path_factory.mktemp("serve")
    supervisor = ServerProcess(["serve", "--no-zeroconf", "--data-dir", str(data), "--metrics-port", str(base)],
                               env={**uris, **NO_EMBEDDED_LLM}).start(timeout=180)  # skills only: no LLM bar
    try:
        pattern = r"nexus-wyoming (stt|intent|tts) listening on tcp://([\d.]+):(\d+)"
        deadline = time.monotonic() + 240
        while len(set(re.findall(pattern, supervisor.log))) < 3 or supervisor.log.count("status page on") < 3:
            assert time.monotonic() < deadline and supervisor.alive, supervisor.log
            time.sleep(0.1)
        uris = {kind: f"tcp://{host}:{port}" for kind, host, port in re.findall(pattern, supervisor.log)}
        yield base, uris, supervisor
    finally:
        supervisor.terminate()


async def test_serve_status_page_shows_a_real_turn_merged_across_the_three_servers(served, tmp_path):
    base, uris, supervisor = served
    question = tmp_path / "question.wav"
    client("synthesize", uris["tts"], "What is seventeen times twenty three?", "-o", str(question))
    turn = client("pipeline", "--stt", uris["stt"], "--intent", uris["intent"], "--tts", uris["tts"], str(question),
                  "--device-id", "kitchen", "--fast")
    assert turn["transcript"] and turn["reply"], turn  # what was heard and answered is the STT's and skills' business
    client("handle", uris["intent"], "what time is it", "--device-id", HOSTILE)

    for offset, kind in enumerate(("stt", "intent", "tts")):
        with urllib.request.urlopen(f"http://127.0.0.1:{base + offset}/api/status", timeout=10) as response:
            status = json.loads(response.read())
            assert response.headers["Access-Control-Allow-Origin"] is None  # no Origin: no page asked
        assert status["server"] == kind and status["health"]["status"] == "ok" and status["turns"], status
        assert sorted(status["peers"]) == sorted(f":{base + n}" for n in range(3) if n != offset)

    dom = await dump_dom(f"http://127.0.0.1:{base}/", tmp_path / "profile")  # the STT server's page
    page = StatusDom(dom)
    (kitchen,) = page.devices["kitchen"]
    assert kitchen.bars == {"stt", "tts_first_audio"}, dom[-3000:]  # an offline skill: no search, no LLM
    assert [c.split(" ")[0] for c in kitchen.chips] == ["STT", "intent", "turn", "TTS"]
    assert "TTS piper" in kitchen.chips and kitchen.chips[0].startswith("STT whisper")
    assert [r.bars for r in page.devices["unknown device"]] == [{"tts_first_audio"}]  # the question we synthesized
    assert len(page.devices[HOSTILE]) == 1 and "<img" not in dom
    assert dom.count('class="card"') == 3 and ">unreachable<" not in dom

    shot = await screenshot(f"http://127.0.0.1:{base + 1}/", tmp_path / "profile2", tmp_path / "status.png")
    width, height, colours = png_colours(shot)
    assert (width, height) == (1280, 900) and colours > 50, colours
    assert supervisor.alive
