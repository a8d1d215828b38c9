"""Partial hypotheses become append-only transcript-chunk events, in order."""

import asyncio

from nexus_wyoming.stt.partials import StablePrefix, TranscriptStream


def feed(hypotheses: list[str]) -> list[str]:
    stable = StablePrefix()
    return [stable.update(h) for h in hypotheses]


def test_a_word_is_sent_once_two_hypotheses_agree():
    assert feed(["turn", "turn on", "turn on the", "turn on the kitchen"]) == ["", "turn", " on", " the"]


def test_revised_last_words_are_not_sent():
    assert feed(["on on", "on on the kitch", "on on the kitchen", "on on the kitchen lights"]) == [
        "", "on on", " the", " kitchen"]


def test_sent_words_are_never_taken_back():
    stable = StablePrefix()
    for hypothesis in ["are all", "are all", "on on the", "on on the kitchen"]:
        stable.update(hypothesis)
    assert stable.sent == ["are", "all", "the"]  # only words beyond what was sent are appended


def test_a_fresh_hypothesis_after_a_fallback_does_not_repeat_text():
    stable = StablePrefix()
    texts = [stable.update(h) for h in ["turn on the", "turn on the kitchen", "turn", "turn on", "turn on the kitchen",
                                        "turn on the kitchen lights", "turn on the kitchen lights now"]]
    assert "".join(texts) == "turn on the kitchen lights"


class Recorder:
    def __init__(self) -> None:
        self.events = []

    async def write(self, event) -> None:
        await asyncio.sleep(0)
        self.events.append((event.type, dict(event.data or {})))


async def test_stream_order_start_chunks_transcript_stop():
    out = Recorder()
    stream = TranscriptStream(out.write, "en")
    for hypothesis in ["turn", "turn on", "turn on the", "turn on the light"]:
        stream.partial(hypothesis)
        await asyncio.sleep(0.01)
    await stream.finish("Turn on the lights.")
    assert [t for t, _ in out.events] == [
        "transcript-start", "transcript-chunk", "transcript-chunk", "transcript-chunk", "transcript", "transcript-stop"]
    assert "".join(d["text"] for t, d in out.events if t == "transcript-chunk") == "turn on the"
    assert out.events[-2] == ("transcript", {"text": "Turn on the lights.", "language": "en"})


async def test_partials_piling_up_are_merged():
    out = Recorder()
    stream = TranscriptStream(out.write, None)
    for hypothesis in ["a", "a b", "a b c", "a b c d"]:
        stream.partial(hypothesis)  # no await: the writer has not run yet
    await asyncio.sleep(0.01)
    await stream.finish("a b c d")
    chunks = [d["text"] for t, d in out.events if t == "transcript-chunk"]
    assert chunks == ["a b c"]


async def test_unsent_partials_give_way_to_the_transcript():
    out = Recorder()
    stream = TranscriptStream(out.write, None)
    stream.partial("a b")
    stream.partial("a b c")
    await stream.finish("a b c")  # the final text supersedes what was not sent yet
    assert [t for t, _ in out.events] == ["transcript"]


async def test_without_partials_only_the_transcript_is_sent():
    out = Recorder()
    stream = TranscriptStream(out.write, None)
    stream.partial("one")  # a single hypothesis is not stable yet
    await stream.finish("one")
    assert out.events == [("transcript", {"text": "one"})]


async def test_closed_stream_sends_nothing_more():
    out = Recorder()
    stream = TranscriptStream(out.write, None)
    await stream.close()
    stream.partial("a b")
    stream.partial("a b c")
    await asyncio.sleep(0.01)
    assert out.events == []
