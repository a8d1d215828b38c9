"""Hostile Wyoming input, generated from a seed: one source for tests/protocol/test_fuzz.py
and bench/fuzz.py.

A case is the bytes of one connection. `cases(server, seed)` yields a fixed battery (framing,
lengths, audio formats, text classes, nesting) and then seeded mutations of valid event
streams (bit flips, byte insertions and deletions, header field swaps) without end.
"""

import json
import math
import random
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

SERVERS = ("stt", "intent", "tts", "satellite")
_PLACEHOLDER = "\x00TEXT"
FMT = {"rate": 16000, "width": 2, "channels": 1}
TEXTS = {
    "empty": "", "whitespace": " \n\t\u00a0 ", "dots": "...", "dash": "\u2014", "parens": "()",
    "control": "\x00\x01\x07\x1b[31m\x7f", "lone-surrogate": "\ud800 and \udfff", "rtl": "\u202eمرحبا بالعالم",
    "emoji": "\U0001f44b\U0001f3fd\U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f525", "zalgo": "Z\u0334\u0321" * 300,
    "100kb": "why " * 25_000,
}
BAD_FORMATS = [
    {"rate": 0}, {"rate": -16000}, {"rate": 192_001}, {"rate": 10 ** 30}, {"rate": 16000.5}, {"rate": "16000"},
    {"rate": True}, {"rate": None}, {"width": 0}, {"width": 5}, {"width": -2}, {"width": 2 ** 63}, {"channels": 0},
    {"channels": 9}, {"channels": [1]}, {"rate": math.inf}, {"rate": math.nan},
]


@dataclass(frozen=True)
class Case:
    """One hostile connection: `raw` is sent, then the client closes its side."""

    kind: str
    name: str
    raw: bytes


def header(event_type: Any, data: Optional[dict] = None, payload: bytes = b"", inline: bool = False,
           **fields: Any) -> dict:
    """A header dict as the wire carries it; data inline (Wyoming < 1.1) or as data_length bytes."""
    head: dict[str, Any] = {"type": event_type, "version": "1.5.4"}
    if data is not None:
        if inline:
            head["data"] = data
        else:
            head["data_length"] = len(_json(data))
    if payload:
        head["payload_length"] = len(payload)
    head.update(fields)
    return head


def frame(head: dict, data: Optional[dict] = None, payload: bytes = b"") -> bytes:
    """Header line + data bytes (unless inline) + payload, exactly what a client writes."""
    extra = _json(data) if data is not None and "data" not in head else b""
    return _json(head) + b"\n" + extra + payload


def event(event_type: str, data: Optional[dict] = None, payload: bytes = b"", inline: bool = False) -> bytes:
    """One well-formed event on the wire."""
    return frame(header(event_type, data, payload, inline), data, payload)


def _json(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


def tone(seconds: float, rate: int = 16000) -> bytes:
    """A 220 Hz tone, 16-bit mono."""
    samples = (int(8000 * math.sin(2 * math.pi * 220 * i / rate)) for i in range(int(seconds * rate)))
    return b"".join(s.to_bytes(2, "little", signed=True) for s in samples)


AUDIO = tone(0.3)


def audio_in(audio: bytes = AUDIO, piece: int = 3200, **fmt: Any) -> list[tuple[str, dict, bytes]]:
    """audio-start, audio-chunks, audio-stop as (type, data, payload)."""
    fmt = {**FMT, **fmt}
    chunks = [("audio-chunk", fmt, audio[i:i + piece]) for i in range(0, len(audio), piece)]
    return [("audio-start", fmt, b""), *chunks, ("audio-stop", {}, b"")]


def valid_streams(server: str) -> list[list[tuple[str, dict, bytes]]]:
    """Requests a real client makes, per server; mutations start from these."""
    if server == "stt":
        return [[("describe", {}, b""), ("transcribe", {"language": "en"}, b""), *audio_in()],
                [("transcribe", {"language": "en", "transcript_names": ["Kitchen"]}, b""), *audio_in(piece=333)]]
    if server == "tts":
        return [[("synthesize", {"text": "Hello there."}, b"")],
                [("synthesize-start", {}, b""), ("synthesize-chunk", {"text": "Hi. "}, b""),
                 ("synthesize", {"text": "Hi. "}, b""), ("synthesize-stop", {}, b"")]]
    if server == "intent":
        return [[("transcript", {"text": "what is 2 plus 2", "context": {"conversation_id": "fuzz"}}, b"")],
                [("describe", {}, b""), ("transcript", {"text": "what time is it", "language": "en"}, b"")]]
    return [[("ping", {"text": "x"}, b""), ("run-satellite", {}, b""), ("transcript", {"text": "hi"}, b""),
             ("synthesize", {"text": "Hello."}, b""), *audio_in(rate=22050)],
            [("describe", {}, b""), ("timer-started", {"id": "t", "total_seconds": 5}, b""),
             ("timer-finished", {"id": "t"}, b""), ("pause-satellite", {}, b"")]]


def text_events(server: str) -> Callable[[str], list[tuple[str, dict, bytes]]]:
    """Where `server` reads free text."""
    if server == "stt":
        return lambda text: [("transcribe", {"language": text[:200], "transcript_names": [text]}, b""),
                             *audio_in()]
    if server == "tts":
        return lambda text: [("synthesize", {"text": text}, b"")]
    if server == "intent":
        return lambda text: [("transcript", {"text": text, "context": {"conversation_id": text[:300]}}, b"")]
    return lambda text: [("transcript", {"text": text}, b""), ("synthesize", {"text": text}, b"")]


def encode(events: list[tuple[str, dict, bytes]], rng: Optional[random.Random] = None) -> bytes:
    """The stream on the wire; with `rng`, data goes inline or as data_length at random."""
    return b"".join(event(t, d, p, inline=bool(rng and rng.random() < 0.3)) for t, d, p in events)


def fixed(server: str) -> Iterator[Case]:
    """The battery every run starts with."""
    start = encode([("transcribe", {}, b"")]) if server == "stt" else b""
    framing = {
        "not-json": b"this is not json\n", "invalid-utf8": b'{"type": "\xff\xfe"}\n', "array": b"[1, 2, 3]\n",
        "string": b'"synthesize"\n', "null": b"null\n", "number": b"42\n", "missing-type": b'{"data": {}}\n',
        "type-number": b'{"type": 42}\n', "type-empty": b'{"type": ""}\n',
        "type-long": _json({"type": "x" * 500}) + b"\n", "empty-line": b"\n", "crlf-only": b"\r\n",
        "nul-bytes": b"\0" * 64 + b"\n", "data-array": b'{"type": "ping", "data": [1]}\n',
        "data-string": b'{"type": "ping", "data": "x"}\n', "extra-data-array": b'{"type": "ping", "data_length": 3}\n[1]',
        "extra-data-not-json": b'{"type": "ping", "data_length": 5}\nhello',
        "mid-header": b'{"type": "audio-ch', "mid-data": b'{"type": "ping", "data_length": 100}\n{"text": "',
        "mid-payload": _json({"type": "audio-chunk", "data": FMT, "payload_length": 1000}) + b"\n" + bytes(10),
        "length-short": _json({"type": "audio-chunk", "data": FMT, "payload_length": 4}) + b"\n" + bytes(40) + b"\n",
        "length-into-next": _json({"type": "ping", "data_length": 40}) + b"\n" + event("ping", {"text": "a"}),
        "two-headers-one-line": b'{"type": "ping"}{"type": "ping"}\n',
        "header-line-64k": b'{"type": "' + b"x" * 70_000 + b'"}\n',
        "no-newline-1mb": b"x" * (1024 * 1024), "duplicate-keys": b'{"type": "ping", "type": "describe"}\n',
    }
    for name, raw in framing.items():
        yield Case("framing", name, raw)
    lengths = [-1, -(2 ** 63), 1.5, 1e400, "10", True, None, [], {}, 2 ** 31, 2 ** 63, 2 ** 64, 10 ** 30, 4 * 1024 * 1024 + 1]
    for key in ("data_length", "payload_length"):
        for value in lengths:
            raw = _json({"type": "audio-chunk", "data": FMT, key: value}).replace(b"Infinity", b"1e400")
            yield Case("lengths", f"{key}={str(value)[:16]}", raw + b"\n" + bytes(64))
    yield Case("lengths", "nan", b'{"type": "audio-chunk", "payload_length": NaN}\n')
    for fmt in BAD_FORMATS:
        bad = {**FMT, **fmt}
        name = ",".join(f"{k}={str(v)[:12]}" for k, v in fmt.items())
        yield Case("audio", f"start {name}", start + encode([("audio-start", bad, b""), *audio_in()[1:]]))
        yield Case("audio", f"chunk {name}", start + encode(audio_in()[:2] + [("audio-chunk", bad, b"\0" * 4)]
                                                             + audio_in()[2:]))
    for size in (1, 3, 333, 4097):
        yield Case("audio", f"odd size {size}", start + encode(audio_in(AUDIO[:size * 7], piece=size)))
    yield Case("audio", "chunk without start", start + encode(audio_in()[1:]))
    yield Case("audio", "stop without start", start + encode([("audio-stop", {}, b"")]))
    yield Case("audio", "chunk no format", start + encode([("audio-chunk", {}, AUDIO[:3200]), ("audio-stop", {}, b"")]))
    yield Case("audio", "empty chunks", start + encode([audio_in()[0]] + [("audio-chunk", FMT, b"")] * 50
                                                       + [audio_in()[-1]]))
    yield Case("audio", "8-bit stereo 44.1k", start + encode(audio_in(bytes(8820), rate=44100, width=1, channels=2)))
    yield Case("audio", "4 MiB chunk", start + encode(audio_in(bytes(4 * 1024 * 1024), piece=4 * 1024 * 1024)))
    texts = text_events(server)
    for name, text in TEXTS.items():
        yield Case("text", name, encode(texts(text)))
    for value in (b"42", b"null", b'["a"]', b'{"a": 1}', b"true"):
        yield Case("text", f"not a string: {value.decode()}", _spliced(server, value))
    for depth in (64, 1000, 100_000):
        nested = b"[" * depth + b"]" * depth
        yield Case("nesting", f"data depth {depth}", b'{"type": "ping", "data": {"a": ' + nested + b"}}\n")
        yield Case("nesting", f"text depth {depth}", _spliced(server, b'{"a": ' + nested + b"}"))
    yield Case("nesting", "10k keys", encode([("ping", {f"k{i}": i for i in range(10_000)}, b"")]))
    yield Case("nesting", "context depth 500", _spliced(server, b'"hi", "context": ' + b'{"a": ' * 500 + b"1" + b"}" * 500))


def _spliced(server: str, value: bytes) -> bytes:
    """The server's text request with raw JSON `value` in place of its first text field."""
    (kind, data, _), *rest = text_events(server)(_PLACEHOLDER)
    spliced = json.dumps({k: v for k, v in data.items() if k != "context"}).encode().replace(
        json.dumps(_PLACEHOLDER).encode(), value, 1)
    return frame({"type": kind, "data_length": len(spliced)}) + spliced + encode(rest)


def mutation(server: str, rng: random.Random) -> Case:
    """A valid stream of `server` with 1-4 random mutations."""
    events = [list(e) for e in rng.choice(valid_streams(server))]
    names = []
    heads = [header(t, d, p, inline=rng.random() < 0.3) for t, d, p in events]
    for _ in range(rng.randint(0, 2)):
        swap = rng.choice(("type", "data_length", "payload_length", "swap-types"))
        i = rng.randrange(len(heads))
        if swap == "swap-types":
            j = rng.randrange(len(heads))
            heads[i]["type"], heads[j]["type"] = heads[j]["type"], heads[i]["type"]
        else:
            other = rng.choice(("type", "data_length", "payload_length"))
            heads[i][swap], heads[i][other] = heads[i].get(other), heads[i].get(swap)
        names.append(f"swap {swap}@{i}")
    raw = bytearray(b"".join(frame(h, d, p) for h, (_, d, p) in zip(heads, events)))
    for _ in range(rng.randint(1, 4)):
        op, at = rng.choice(("flip", "insert", "delete", "truncate")), rng.randrange(max(1, len(raw)))
        if op == "flip" and raw:
            raw[at] ^= 1 << rng.randrange(8)
        elif op == "insert":
            raw[at:at] = bytes(rng.choice(b'\n{}"0\xff\x00') for _ in range(rng.randint(1, 8)))
        elif op == "delete":
            del raw[at:at + rng.randint(1, 16)]
        elif op == "truncate":
            del raw[at:]
        names.append(f"{op}@{at}")
    return Case("mutation", " ".join(names), bytes(raw))


def cases(server: str, seed: int) -> Iterator[Case]:
    """The fixed battery, then mutations from `seed` (the same seed gives the same cases)."""
    yield from fixed(server)
    rng = random.Random(f"{server}:{seed}")
    while True:
        yield mutation(server, rng)
