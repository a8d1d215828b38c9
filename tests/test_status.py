"""The recent-requests board, `/api/status` and the status page's HTTP side (headers, policy, 404s)."""

import asyncio
import base64
import hashlib
import json
import re

import pytest

from nexus_wyoming.metrics import MetricsServer, Registry
from nexus_wyoming.status import CAPACITY, HEALTH_WINDOW_S, StatusBoard, StatusReport, parse_peers
from nexus_wyoming.status_page import page

HOSTILE = "<img src=x onerror=alert(1)>"


class Clock:
    """A settable Unix clock."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- the board


def test_a_record_keeps_times_stages_and_details_and_drops_none():
    clock = Clock()
    board = StatusBoard(clock=clock)
    turn = board.record("intent", 1.5, device="kitchen", provider="groq", fallbacks=1, mode="planning",
                        cache_hit=False, route=None, stages={"search": None, "llm_first_token": 212.345, "total": 1500})
    assert (turn.server, turn.started, turn.ended) == ("intent", clock.now - 1.5, clock.now)
    assert turn.stages == {"llm_first_token": 212.3, "total": 1500.0}
    assert turn.details == {"mode": "planning", "cache_hit": False}
    assert (turn.device, turn.provider, turn.fallbacks, turn.ok, turn.error) == ("kitchen", "groq", 1, True, None)
    assert re.fullmatch(r"intent-\d+-1", turn.id) and board.record("intent").id.endswith("-2")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -3.0, "12", True, None])
def test_unusable_stage_values_are_left_out(value):
    turn = StatusBoard().record("tts", stages={"tts_first_audio": value, "ok": 5})
    assert turn.stages == {"ok": 5.0}


@pytest.mark.parametrize("device", ["x" * 129, "bell\x07", "", 42, ["kitchen"], {"a": 1}])
def test_device_ids_that_are_not_short_printable_strings_are_dropped(device):
    assert StatusBoard().record("tts", device=device).device is None


def test_a_hostile_but_printable_device_id_is_kept_verbatim_for_the_page_to_escape():
    assert StatusBoard().record("intent", device=HOSTILE).device == HOSTILE


def test_details_keep_only_short_scalars():
    turn = StatusBoard().record("stt", early=True, n=3, name="x" * 65, obj={"a": 1}, lst=[1], nan=float("nan"))
    assert turn.details == {"early": True, "n": 3.0}


def test_the_board_is_bounded_and_newest_first():
    board = StatusBoard(capacity=5)
    for n in range(12):
        board.record("tts", chars=n)
    assert [t.details["chars"] for t in board.turns()] == [11, 10, 9, 8, 7]
    assert StatusBoard()._turns.maxlen == CAPACITY


def test_health_is_ok_until_a_check_errors_or_fallbacks_happen_then_recovers_after_the_window():
    clock = Clock()
    board = StatusBoard(clock=clock)
    board.record("intent", provider="groq")
    assert board.health() == {"status": "ok", "reasons": []}
    redis_down = [True]
    board.add_check(lambda: "redis down" if redis_down[0] else None)
    board.record("intent", ok=False, error="llm-failed")
    board.record("intent", provider="gemini", fallbacks=1)
    health = board.health()
    assert health["status"] == "degraded"
    assert health["reasons"] == ["redis down", "1 of 3 requests failed in the last 5 min (llm-failed)",
                                 "provider fallbacks in 1 of 3 requests in the last 5 min"]
    redis_down[0] = False
    clock.now += HEALTH_WINDOW_S + 1
    assert board.health() == {"status": "ok", "reasons": []}


def test_a_broken_health_check_reads_as_degraded_not_as_a_crash():
    board = StatusBoard()
    board.add_check(lambda: 1 / 0)
    assert board.health() == {"status": "degraded", "reasons": ["health check failed: ZeroDivisionError"]}


def test_provider_in_use_is_the_latest_successful_one_with_recent_counts():
    board = StatusBoard()
    board.record("intent", provider="groq")
    board.record("intent", provider="gemini")
    board.record("intent", provider="groq", ok=False, error="llm-failed")
    board.record("intent")  # a skill answer: no provider
    assert board.providers() == ("gemini", {"groq": 2, "gemini": 1})


# ---------------------------------------------------------------- peers


def test_peers_accept_ports_and_base_urls():
    assert parse_peers([":10401", " http://pi.local:10402/ ", "https://[::1]:9"]) == \
        [":10401", "http://pi.local:10402", "https://[::1]:9"]
    assert parse_peers([]) == []


@pytest.mark.parametrize("peer", [":0", ":70000", "10401", "javascript:alert(1)", "http://x/y", "ftp://x",
                                  "http://a b", ":12ab", ""])
def test_bad_peers_are_refused(peer):
    with pytest.raises(ValueError, match="status_peers"):
        parse_peers([peer])


# ---------------------------------------------------------------- the JSON


def test_the_report_has_server_version_uptime_health_provider_peers_and_turns():
    clock = Clock()
    board = StatusBoard(clock=clock)
    board.record("intent", 0.8, device=HOSTILE, provider="groq", stages={"total": 800})
    clock.now += 42
    data = StatusReport("intent", "1.2.3", [":10402"], board).to_json()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert {k: data[k] for k in ("server", "version", "uptime_s", "provider", "peers", "now")} == {
        "server": "intent", "version": "1.2.3", "uptime_s": 42.0, "provider": "groq", "peers": [":10402"],
        "now": clock.now}
    assert data["health"] == {"status": "ok", "reasons": []} and data["providers_recent"] == {"groq": 1}
    (turn,) = data["turns"]
    assert turn["device"] == HOSTILE and turn["stages"] == {"total": 800.0}
    assert turn["ended"] - turn["started"] == pytest.approx(0.8)


# ---------------------------------------------------------------- over HTTP


async def http(port: int, request: bytes) -> tuple[int, dict, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    raw = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    return int(status_line.split()[1]), {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}, body


@pytest.fixture
async def served():
    registry = Registry()
    registry.counter("nexus_test_total", "Test").inc(2)
    board = StatusBoard()
    board.record("tts", 0.4, device=HOSTILE, provider="piper", stages={"tts_first_audio": 180})
    metrics = MetricsServer(0, host="127.0.0.1", registry=registry,
                            status=StatusReport("tts", "0.1.0", [":1"], board))
    await metrics.start()
    yield metrics
    await metrics.stop()


async def test_api_status_is_json_readable_by_a_sibling_page_on_the_same_host(served):
    request = b"GET /api/status?x=1 HTTP/1.1\r\nHost: kitchen.local:9102\r\nOrigin: http://kitchen.local:9100\r\n\r\n"
    status, headers, body = await http(served.port, request)
    assert status == 200 and headers["content-type"] == "application/json; charset=utf-8"
    assert headers["access-control-allow-origin"] == "http://kitchen.local:9100"
    assert int(headers["content-length"]) == len(body)
    data = json.loads(body)
    assert data["server"] == "tts" and data["turns"][0]["device"] == HOSTILE and data["provider"] == "piper"


@pytest.mark.parametrize("origin", [b"http://evil.example", b"http://kitchen.local.evil.example:9100", b"null",
                                    b"http://kitchen.local:9100/x", b""])
async def test_api_status_is_not_readable_by_other_web_pages(served, origin):
    request = b"GET /api/status HTTP/1.1\r\nHost: kitchen.local:9102\r\n" + (
        b"Origin: " + origin + b"\r\n" if origin else b"") + b"\r\n"
    status, headers, _ = await http(served.port, request)
    assert status == 200 and "access-control-allow-origin" not in headers and headers["vary"] == "Origin"


async def test_the_page_is_self_contained_and_allows_only_its_own_script(served):
    status, headers, body = await http(served.port, b"GET / HTTP/1.1\r\n\r\n")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8" and body == page()
    html = body.decode()
    assert not re.search(r"""(src|href)\s*=|@import|url\(""", html.split("<script>")[0])  # nothing loaded from anywhere
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    (script,) = re.findall(r"<script>(.*?)</script>", html, re.S)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = headers["content-security-policy"]
    assert f"script-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script
    assert "3 s" in html and "device" in html  # the merge rule is written on the page


async def test_metrics_are_unchanged_next_to_the_status_page(served):
    status, headers, body = await http(served.port, b"GET /metrics HTTP/1.1\r\n\r\n")
    assert status == 200 and headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert b"nexus_test_total 2.0" in body and "access-control-allow-origin" not in headers


@pytest.mark.parametrize("request_bytes", [b"POST / HTTP/1.1\r\n\r\n", b"GET /api/statusx HTTP/1.1\r\n\r\n",
                                           b"GET /index.html HTTP/1.1\r\n\r\n", b"HEAD /api/status HTTP/1.1\r\n\r\n"])
async def test_other_requests_are_404(served, request_bytes):
    assert (await http(served.port, request_bytes))[0] == 404


async def test_without_a_status_report_there_is_no_page():
    metrics = MetricsServer(0, host="127.0.0.1", registry=Registry())
    await metrics.start()
    try:
        assert (await http(metrics.port, b"GET / HTTP/1.1\r\n\r\n"))[0] == 404
        assert (await http(metrics.port, b"GET /api/status HTTP/1.1\r\n\r\n"))[0] == 404
    finally:
        await metrics.stop()


# ---------------------------------------------------------------- what the servers record


def test_an_intent_turn_records_its_stages_provider_and_mode():
    from nexus_wyoming.intent.turnlog import TurnStats
    from nexus_wyoming.status import BOARD

    stats = TurnStats(mode="planning", route="llm", handled=True, device="kitchen", cache="miss", search="ok",
                      search_ms=310.0)
    stats.llm_started = stats.started
    stats.token("gemini", "Hello", 1, None)
    stats.record("127.0.0.1:1")
    turn = BOARD.turns()[0]
    assert (turn.server, turn.device, turn.provider, turn.fallbacks, turn.ok) == ("intent", "kitchen", "gemini", 1, True)
    assert turn.details == {"mode": "planning", "route": "llm", "cache_hit": False}
    assert set(turn.stages) == {"search", "llm_first_token", "total"}  # no sentence was sent
    assert turn.stages["search"] == 310.0 and turn.stages["total"] >= turn.stages["llm_first_token"] >= 0


@pytest.mark.parametrize("route, handled, gone, error", [
    ("llm-failed", False, False, "llm-failed"), ("", None, False, "internal"), ("llm", None, True, None)])
def test_an_intent_turn_that_failed_on_our_side_is_an_error(route, handled, gone, error):
    from nexus_wyoming.intent.turnlog import TurnStats
    from nexus_wyoming.status import BOARD

    TurnStats(route=route, handled=handled, client_gone=gone).record("peer")
    turn = BOARD.turns()[0]
    assert (turn.ok, turn.error) == (error is None, error)
