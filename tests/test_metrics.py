"""Histograms and counters in Prometheus text format, the /metrics server, JSON logs."""

import asyncio
import json
import logging
import math
import re
import sys

import pytest

from nexus_wyoming.logs import JsonFormatter
from nexus_wyoming.metrics import Counter, Histogram, MetricsServer, Registry, log_request

# ---------------------------------------------------------------- Histogram


def samples(lines: list[str]) -> dict[str, float]:
    """'name{labels} value' lines → {'name{labels}': value}; comments skipped."""
    out = {}
    for line in lines:
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        out[key] = float(value)
    return out


def test_histogram_buckets_are_cumulative_with_count_and_sum():
    hist = Histogram("lat_seconds", "Latency", buckets=(0.1, 0.5, 1.0))
    for value in (0.05, 0.1, 0.3, 0.5, 0.7, 2.0, 5.0):
        hist.observe(value)
    got = samples(hist.render())
    assert got == {
        'lat_seconds_bucket{le="0.1"}': 2,      # 0.05, 0.1 (bound is inclusive)
        'lat_seconds_bucket{le="0.5"}': 4,      # + 0.3, 0.5
        'lat_seconds_bucket{le="1.0"}': 5,      # + 0.7
        'lat_seconds_bucket{le="+Inf"}': 7,     # + 2.0, 5.0
        "lat_seconds_sum": pytest.approx(8.65),
        "lat_seconds_count": 7,
    }


def test_histogram_header_lines_and_order():
    hist = Histogram("x_seconds", "Some help", buckets=(1.0, 2.0))
    hist.observe(1.5)
    lines = hist.render()
    assert lines[:2] == ["# HELP x_seconds Some help", "# TYPE x_seconds histogram"]
    bucket_lines = [l for l in lines if l.startswith("x_seconds_bucket")]
    assert [re.search(r'le="([^"]+)"', l).group(1) for l in bucket_lines] == ["1.0", "2.0", "+Inf"]
    counts = [float(l.rsplit(" ", 1)[1]) for l in bucket_lines]
    assert counts == sorted(counts) == [0, 1, 1]


def test_histogram_series_per_label_set_are_separate():
    hist = Histogram("lat", "h", buckets=(1.0,))
    hist.observe(0.5, engine="piper")
    hist.observe(0.5, engine="piper")
    hist.observe(3.0, engine="cartesia")
    got = samples(hist.render())
    assert got['lat_bucket{engine="piper",le="1.0"}'] == 2
    assert got['lat_bucket{engine="piper",le="+Inf"}'] == 2
    assert got['lat_count{engine="piper"}'] == 2
    assert got['lat_sum{engine="piper"}'] == 1.0
    assert got['lat_bucket{engine="cartesia",le="1.0"}'] == 0
    assert got['lat_count{engine="cartesia"}'] == 1
    assert got['lat_sum{engine="cartesia"}'] == 3.0


def test_histogram_label_order_does_not_split_series():
    hist = Histogram("lat", "h", buckets=(1.0,))
    hist.observe(0.5, a="1", b="2")
    hist.observe(0.5, b="2", a="1")
    assert samples(hist.render())['lat_count{a="1",b="2"}'] == 2


def test_histogram_ignores_nan_but_counts_infinity_in_inf_bucket():
    hist = Histogram("lat", "h", buckets=(1.0,))
    hist.observe(float("nan"))
    assert samples(hist.render()) == {}
    hist.observe(math.inf)
    got = samples(hist.render())
    assert got['lat_bucket{le="1.0"}'] == 0 and got['lat_bucket{le="+Inf"}'] == 1 and got["lat_count"] == 1


def test_histogram_with_no_observations_renders_only_help_and_type():
    assert Histogram("lat", "h").render() == ["# HELP lat h", "# TYPE lat histogram"]


# ---------------------------------------------------------------- label escaping


@pytest.mark.parametrize("value, escaped", [
    ('say "hi"', r'say \"hi\"'),
    ("back\\slash", r"back\\slash"),
    ("two\nlines", r"two\nlines"),
    ('\\"\n', r'\\\"\n'),
    ("plain ünïcode", "plain ünïcode"),
    ("", ""),
])
def test_label_values_are_escaped(value, escaped):
    counter = Counter("c_total", "h")
    counter.inc(voice=value)
    line = counter.render()[2]
    assert line == f'c_total{{voice="{escaped}"}} 1.0'
    # The rendered exposition stays one sample per line.
    assert "\n" not in line


def test_escaped_label_in_histogram_and_le_together():
    hist = Histogram("lat", "h", buckets=(1.0,))
    hist.observe(0.5, text='a"b')
    assert 'lat_bucket{le="1.0",text="a\\"b"} 1' in hist.render()


# ---------------------------------------------------------------- Counter and Registry


def test_counter_increments_per_label_set():
    counter = Counter("fallbacks_total", "Fallbacks")
    assert counter.value(engine="a") == 0.0
    counter.inc(engine="a")
    counter.inc(engine="a")
    counter.inc(2.5, engine="b")
    counter.inc()
    assert counter.value(engine="a") == 2.0
    assert counter.value(engine="b") == 2.5
    assert counter.value() == 1.0
    got = samples(counter.render())
    assert got == {'fallbacks_total{engine="a"}': 2.0, 'fallbacks_total{engine="b"}': 2.5, "fallbacks_total": 1.0}
    assert counter.render()[:2] == ["# HELP fallbacks_total Fallbacks", "# TYPE fallbacks_total counter"]


def test_registry_returns_the_same_metric_by_name_and_renders_all():
    registry = Registry()
    first = registry.counter("a_total", "A")
    assert registry.counter("a_total", "A") is first
    hist = registry.histogram("b_seconds", "B", buckets=(1.0,))
    assert registry.histogram("b_seconds", "B") is hist
    first.inc()
    hist.observe(0.2)
    text = registry.render()
    assert text.endswith("\n")
    assert "# TYPE a_total counter\na_total 1.0\n" in text
    assert 'b_seconds_bucket{le="1.0"} 1\n' in text


# ---------------------------------------------------------------- MetricsServer


@pytest.fixture
async def server():
    registry = Registry()
    registry.counter("nexus_test_requests_total", "Requests").inc(3, kind="tts")
    metrics = MetricsServer(0, host="127.0.0.1", registry=registry)
    port = await metrics.start()
    assert port and metrics.port == port
    yield metrics
    await metrics.stop()


async def http(port: int, request: bytes, read_timeout: float = 5.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), read_timeout)
    finally:
        writer.close()


def parse_response(raw: bytes) -> tuple[int, dict, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split(" ")[1]), headers, body


async def test_get_metrics_returns_the_exposition(server):
    raw = await http(server.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = parse_response(raw)
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    assert int(headers["content-length"]) == len(body)
    assert b'nexus_test_requests_total{kind="tts"} 3.0' in body
    assert b"# TYPE nexus_test_requests_total counter" in body


async def test_get_metrics_with_query_string(server):
    status, _, body = parse_response(await http(server.port, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"))
    assert status == 200 and b"nexus_test_requests_total" in body


@pytest.mark.parametrize("request_bytes", [
    b"GET / HTTP/1.1\r\n\r\n",
    b"GET /metricsx HTTP/1.1\r\n\r\n",
    b"GET /other HTTP/1.1\r\n\r\n",
    b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    b"HEAD /metrics HTTP/1.1\r\n\r\n",
])
async def test_other_paths_and_methods_are_404(server, request_bytes):
    status, _, body = parse_response(await http(server.port, request_bytes))
    assert status == 404
    assert b"nexus_test_requests_total" not in body


@pytest.mark.parametrize("garbage", [
    b"\x00\xff\xfe garbage\r\n\r\n",
    b"GARBAGE\r\n\r\n",
    b"\r\n\r\n",
    b"GET\r\n\r\n",
    b"x" * 20000,                          # no end of headers, past the reader's limit
    b"GET /metrics HTTP/1.1\r\n",          # partial request, then the client closes
    b"",
])
async def test_garbage_requests_do_not_break_the_server(server, garbage):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(garbage)
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        await asyncio.wait_for(reader.read(), 5.0)
    except ConnectionError:
        pass  # the server may reset a client it gave up on; it must not die
    writer.close()
    # Still serving.
    status, _, body = parse_response(await http(server.port, b"GET /metrics HTTP/1.1\r\n\r\n"))
    assert status == 200 and b"nexus_test_requests_total" in body


async def test_silent_client_does_not_block_other_clients(server):
    # A client that connects and sends half a request then nothing.
    _, slow_writer = await asyncio.open_connection("127.0.0.1", server.port)
    slow_writer.write(b"GET /met")
    await slow_writer.drain()
    others = [http(server.port, b"GET /metrics HTTP/1.1\r\n\r\n", read_timeout=2.0) for _ in range(5)]
    for raw in await asyncio.gather(*others):
        assert parse_response(raw)[0] == 200
    slow_writer.close()
    await asyncio.sleep(0.05)
    status, _, _ = parse_response(await http(server.port, b"GET /metrics HTTP/1.1\r\n\r\n"))
    assert status == 200


async def test_stop_closes_the_listener():
    metrics = MetricsServer(0, host="127.0.0.1", registry=Registry())
    port = await metrics.start()
    await metrics.stop()
    await asyncio.sleep(0.05)
    with pytest.raises(OSError):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()


# ---------------------------------------------------------------- request log lines


def test_log_request_writes_one_json_line_without_none_fields(caplog):
    caplog.set_level(logging.INFO, logger="nexus_wyoming.requests")
    log_request("tts", engine="piper", chars=12, first_audio_s=0.25, error=None, voice=None)
    records = [r for r in caplog.records if r.name == "nexus_wyoming.requests"]
    assert len(records) == 1
    message = records[0].getMessage()
    assert "\n" not in message
    assert json.loads(message) == {"request": "tts", "engine": "piper", "chars": 12, "first_audio_s": 0.25}


def test_log_request_keeps_falsy_but_not_none_and_serialises_odd_values(caplog):
    caplog.set_level(logging.INFO, logger="nexus_wyoming.requests")
    log_request("stt", words=0, partial=False, text="", device="kitchen\n\"pi\"", engines={"a"})
    entry = json.loads(caplog.records[-1].getMessage())
    assert entry["words"] == 0 and entry["partial"] is False and entry["text"] == ""
    assert entry["device"] == 'kitchen\n"pi"'
    assert entry["engines"] == "{'a'}"   # default=str: never a crash on a non-JSON value


# ---------------------------------------------------------------- JsonFormatter


def make_record(name: str, message: str, level=logging.INFO, args=(), exc_info=None) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, args, exc_info)


def test_json_formatter_plain_message():
    entry = json.loads(JsonFormatter().format(make_record("nexus_wyoming.tts", "hello %s", args=("world",))))
    assert entry["message"] == "hello world"
    assert entry["level"] == "info"
    assert entry["logger"] == "nexus_wyoming.tts"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    assert "exception" not in entry


def test_json_formatter_merges_request_json_instead_of_quoting_it():
    line = JsonFormatter().format(make_record("nexus_wyoming.requests", json.dumps({"request": "tts", "chars": 5})))
    entry = json.loads(line)
    assert entry["request"] == "tts" and entry["chars"] == 5
    assert "message" not in entry
    assert entry["logger"] == "nexus_wyoming.requests"


def test_json_formatter_quotes_brace_messages_from_other_loggers():
    entry = json.loads(JsonFormatter().format(make_record("other", '{"request": "x"}')))
    assert entry["message"] == '{"request": "x"}' and "request" not in entry


def test_json_formatter_renders_exceptions():
    try:
        raise ValueError("boom")
    except ValueError:
        record = make_record("nexus_wyoming.tts", "failed", level=logging.ERROR, exc_info=sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "error" and entry["message"] == "failed"
    assert "Traceback" in entry["exception"] and "ValueError: boom" in entry["exception"]


def test_json_formatter_end_to_end_through_log_request(caplog):
    caplog.set_level(logging.INFO, logger="nexus_wyoming.requests")
    log_request("intent", mode="faster", total_s=1.5, skipped=None)
    entry = json.loads(JsonFormatter().format(caplog.records[-1]))
    assert entry["request"] == "intent" and entry["mode"] == "faster" and entry["total_s"] == 1.5
    assert "skipped" not in entry and entry["level"] == "info"
