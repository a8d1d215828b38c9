"""Server-side endpointing on synthetic and spoken audio."""

import pytest

from nexus_wyoming.stt.endpoint import FRAME_MS, Endpointer, silence_for
from tests.stt.speech import BYTES_PER_SECOND, chunks, noise, silence, tone

HANGOVER_MS = 150  # WebRTC VAD still says speech this long after the voice stops


def run(audio: bytes, silence_ms: int = 500, size: int = 3200) -> Endpointer:
    endpointer = Endpointer(silence_ms)
    for piece in chunks(audio, size):
        endpointer.feed(piece)
    return endpointer


def test_silence_alone_is_never_speech():
    endpointer = run(silence(3))
    assert endpointer.segments == 0 and not endpointer.ended and not endpointer.speaking


def test_speech_then_silence_ends_after_the_configured_silence():
    endpointer = run(tone(1.0) + silence(0.8))
    assert endpointer.ended and endpointer.segments == 1
    assert 1000 <= endpointer.last_speech_ms <= 1000 + HANGOVER_MS
    assert endpointer.ended_at_ms - endpointer.last_speech_ms == pytest.approx(500, abs=FRAME_MS)


def test_not_ended_before_enough_silence():
    endpointer = run(tone(1.0) + silence(0.4))
    assert endpointer.speaking and not endpointer.ended


def test_loud_noise_counts_as_speech():
    assert run(noise(1.0) + silence(0.8)).ended


def test_a_click_does_not_start_speech():
    assert run(silence(0.5) + tone(0.06) + silence(1.0)).segments == 0
    assert run(silence(0.5) + tone(0.15) + silence(1.0)).segments == 1


def test_a_short_pause_keeps_one_segment():
    endpointer = run(tone(0.6) + silence(0.3) + tone(0.6) + silence(0.1))
    assert endpointer.segments == 1 and endpointer.speaking


def test_speech_after_the_end_starts_a_new_segment():
    endpointer = run(tone(0.6) + silence(0.7))
    assert endpointer.ended
    endpointer.feed(tone(0.3))
    assert endpointer.segments == 2 and not endpointer.ended


@pytest.mark.parametrize("size", [1, 333, 961, 4001, 10 * BYTES_PER_SECOND])
def test_chunk_sizes_do_not_matter(size):
    audio = silence(0.3) + noise(0.7) + silence(0.2) + tone(0.5) + silence(0.9)
    reference, other = run(audio, size=len(audio)), run(audio, size=size)
    assert (other.segments, other.ended, other.last_speech_ms, other.ended_at_ms) == (
        reference.segments, reference.ended, reference.last_speech_ms, reference.ended_at_ms)


def test_shorter_silence_ends_sooner():
    audio = tone(0.8) + silence(0.4)
    assert run(audio, silence_ms=300).ended and not run(audio, silence_ms=500).ended


def test_spoken_command_ends_where_the_voice_stops(speaker):
    spoken = speaker.say("Turn on the kitchen lights.")
    endpointer = run(spoken + silence(1.0))
    assert endpointer.ended
    assert endpointer.segments <= 2  # the short gaps between words are not an end
    spoken_ms = len(spoken) * 1000 // BYTES_PER_SECOND
    assert spoken_ms - 400 < endpointer.last_speech_ms <= spoken_ms + HANGOVER_MS
    assert endpointer.ended_at_ms - endpointer.last_speech_ms == pytest.approx(500, abs=FRAME_MS)


def test_spoken_command_is_not_ended_mid_sentence(speaker):
    endpointer = Endpointer(500)
    spoken = speaker.say("Turn off all the lights in the living room and lock the front door.")
    ended_during = []
    for piece in chunks(spoken):
        endpointer.feed(piece)
        ended_during.append(endpointer.ended)
    assert not any(ended_during[5:])


@pytest.mark.parametrize("sensitivity, expected", [
    (None, 500), ("default", 500), ("aggressive", 179), ("relaxed", 893), ("unknown", 500),
])
def test_vad_sensitivity_scales_the_silence_like_home_assistant(sensitivity, expected):
    assert silence_for(500, sensitivity) == expected


def test_silence_is_never_below_three_frames():
    assert silence_for(100, "aggressive") == 90
