"""Transcript validation and the Wyoming shape of a reply."""

import pytest
from wyoming.handle import Handled, HandledChunk, NotHandled

from nexus_wyoming.intent.assistant import Final, Sentence
from nexus_wyoming.intent.reply import ReplyWriter
from nexus_wyoming.intent.request import BadRequest, parse_transcript
from nexus_wyoming.protocol.server import ClientGone

MODES = ("faster", "planning", "detailed")


def test_home_assistant_2025_4_transcript():
    request = parse_transcript({"text": "Turn it up", "context": {"conversation_id": "01JABC"}}, MODES)
    assert (request.text, request.conversation_id, request.device, request.mode) == (
        "Turn it up", "01JABC", None, None)
    assert request.conversation_given and request.reply_context() == {"conversation_id": "01JABC"}


def test_newer_home_assistant_ids_and_our_mode():
    data = {"text": " hi\n\tthere\x00\u200b ", "language": "en",
            "context": {"conversation_id": "c", "device_id": "d", "satellite_id": "assist_satellite.kitchen",
                        "mode": "faster"}}
    request = parse_transcript(data, MODES)
    assert request.text == "hi there" and request.device == "assist_satellite.kitchen"
    assert request.mode == "faster" and request.language == "en"


@pytest.mark.parametrize("data, code", [
    ({"text": 42}, "bad-text"), ({"text": None}, "bad-text"), ({}, "bad-text"), ({"text": ["a"]}, "bad-text"),
    ({"text": "hi", "context": {"mode": "turbo"}}, "unknown-mode"),
    ({"text": "hi", "context": {"mode": {"$gt": ""}}}, "unknown-mode"),
])
def test_bad_requests(data, code):
    with pytest.raises(BadRequest) as caught:
        parse_transcript(data, MODES)
    assert caught.value.code == code


@pytest.mark.parametrize("context", [
    "not an object", ["list"], 7, None,
    {"conversation_id": {"nested": True}, "device_id": "x" * 1000, "satellite_id": "\x00\x01"},
    {"conversation_id": "a\nb", "language": {"x": 1}},
    {"conversation_id": "x" * 129}, {"conversation_id": "a b"}, {"conversation_id": "nexus:v1:*"},
    {"conversation_id": "", "device_id": "conversation:01HA"},
])
def test_hostile_context_is_ignored_not_fatal(context):
    request = parse_transcript({"text": "hello", "context": context, "language": ["en"]}, MODES)
    assert request.text == "hello" and request.language is None and request.device is None
    assert len(request.conversation_id) == 32  # a fresh id instead of the unusable one
    assert not request.conversation_given


class Recorder:
    def __init__(self, gone_after: int = 10 ** 6) -> None:
        self.events = []
        self.gone_after = gone_after

    async def write(self, event) -> None:
        if len(self.events) >= self.gone_after:
            raise ClientGone("peer")
        self.events.append(event)


async def test_streamed_reply_chunks_join_to_the_handled_text():
    recorder = Recorder()
    writer = ReplyWriter(recorder.write, {"conversation_id": "c"}, stream=True)
    for part in (Sentence("Hello there."), Sentence("How are you?"), Final("Hello there. How are you?", True)):
        await writer.send(part)
    types = [e.type for e in recorder.events]
    assert types == ["handled-start", "handled-chunk", "handled-chunk", "handled", "handled-stop"]
    chunks = [HandledChunk.from_event(e).text for e in recorder.events if e.type == "handled-chunk"]
    handled = Handled.from_event(recorder.events[3])
    assert "".join(chunks) == handled.text and handled.context == {"conversation_id": "c"}
    assert recorder.events[0].data == {"context": {"conversation_id": "c"}}


async def test_without_streaming_only_handled_is_sent():
    recorder = Recorder()
    writer = ReplyWriter(recorder.write, {}, stream=False)
    for part in (Sentence("Hello."), Final("Hello.", True)):
        await writer.send(part)
    assert [e.type for e in recorder.events] == ["handled"]


async def test_not_handled_and_a_client_gone_after_handled():
    recorder = Recorder()
    await ReplyWriter(recorder.write, {}, stream=True).send(Final("I need an internet model.", False))
    assert NotHandled.from_event(recorder.events[0]).text == "I need an internet model."
    recorder = Recorder(gone_after=3)  # an HA 2025.4 client closes right after `handled`
    writer = ReplyWriter(recorder.write, {}, stream=True)
    for part in (Sentence("Hi."), Final("Hi.", True)):
        await writer.send(part)
    assert [e.type for e in recorder.events] == ["handled-start", "handled-chunk", "handled"]
