"""The final decode starts during the trailing silence; new speech discards it."""

import asyncio

from nexus_wyoming.stt.endpoint import Endpointer
from nexus_wyoming.stt.engine import SttBusyError
from nexus_wyoming.stt.utterance import Utterance
from tests.stt.speech import BYTES_PER_SECOND, chunks, silence, tone


class CountingSession:
    """Transcribes to 'N bytes' after a short decode; counts decodes and cancellations."""

    def __init__(self, decode_s: float = 0.05, fail_first: bool = False) -> None:
        self.audio = b""
        self.decodes = 0
        self.cancelled = 0
        self.decode_s = decode_s
        self.fail_first = fail_first
        self.closed = False

    async def feed(self, audio: bytes) -> None:
        self.audio += audio

    async def transcribe(self) -> str:
        self.decodes += 1
        snapshot = len(self.audio)
        if self.fail_first and self.decodes == 1:
            raise SttBusyError("busy")
        try:
            await asyncio.sleep(self.decode_s)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return f"{snapshot} bytes"

    async def close(self) -> None:
        self.closed = True


async def stream(utterance: Utterance, audio: bytes) -> None:
    for piece in chunks(audio):
        await utterance.feed(piece)
        await asyncio.sleep(0)


async def test_decode_starts_in_the_silence_and_is_used():
    session = CountingSession()
    utterance = Utterance(session, Endpointer(), early_silence_ms=500)
    await stream(utterance, tone(1.0) + silence(1.0))
    assert session.decodes == 1
    text = await utterance.finish()
    assert utterance.used_early and session.decodes == 1
    assert int(text.split()[0]) < len(session.audio)  # decoded before the last silence arrived
    await utterance.close()
    assert session.closed


async def test_new_speech_discards_the_early_decode():
    session = CountingSession(decode_s=0.5)
    utterance = Utterance(session, Endpointer(), early_silence_ms=300)
    await stream(utterance, tone(0.6) + silence(0.5))
    assert session.decodes == 1
    await stream(utterance, tone(0.6) + silence(0.1))
    assert session.cancelled == 1
    text = await utterance.finish()
    assert not utterance.used_early and session.decodes == 2
    assert text == f"{len(session.audio)} bytes"  # the whole utterance
    await utterance.close()


async def test_second_pause_decodes_again_and_that_result_is_used():
    session = CountingSession()
    utterance = Utterance(session, Endpointer(), early_silence_ms=300)
    await stream(utterance, tone(0.6) + silence(0.5) + tone(0.6) + silence(0.5))
    assert utterance.early_decodes == 2
    assert await utterance.finish() and utterance.used_early
    await utterance.close()


async def test_failed_early_decode_is_retried_at_the_end():
    session = CountingSession(fail_first=True)
    utterance = Utterance(session, Endpointer(), early_silence_ms=300)
    await stream(utterance, tone(0.6) + silence(0.5))
    await asyncio.sleep(0.01)
    assert await utterance.finish() == f"{len(session.audio)} bytes"
    assert not utterance.used_early and session.decodes == 2
    await utterance.close()


async def test_without_endpointing_the_decode_happens_at_the_end():
    session = CountingSession()
    utterance = Utterance(session, None, early_silence_ms=300)
    await stream(utterance, tone(0.6) + silence(1.0))
    assert session.decodes == 0
    assert await utterance.finish() == f"{int(1.6 * BYTES_PER_SECOND)} bytes"
    await utterance.close()


async def test_close_cancels_a_running_decode():
    session = CountingSession(decode_s=5)
    utterance = Utterance(session, Endpointer(), early_silence_ms=300)
    await stream(utterance, tone(0.6) + silence(0.5))
    await asyncio.sleep(0.01)
    await utterance.close()
    assert session.cancelled == 1 and session.closed


async def test_the_end_of_speech_needs_the_longer_silence():
    utterance = Utterance(CountingSession(), Endpointer(), early_silence_ms=300, end_silence_ms=700)
    await stream(utterance, tone(0.6) + silence(0.6))
    assert utterance.early_decodes == 1 and not utterance.speech_ended
    await stream(utterance, silence(0.3))
    assert utterance.speech_ended
    await utterance.close()


async def test_a_pause_shorter_than_the_end_still_discards_on_new_speech():
    session = CountingSession(decode_s=0.5)
    utterance = Utterance(session, Endpointer(), early_silence_ms=300, end_silence_ms=700)
    await stream(utterance, tone(0.6) + silence(0.5) + tone(0.5))
    assert session.cancelled == 1
    await utterance.close()
