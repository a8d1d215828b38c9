"""Server-side endpointing on synthetic and spoken audio."""

import pytest

from nexus_wyoming.stt.endpoint import FRAME_MS, Endpointer, silence_for
from tests.stt.speech import BYTES_PER_SECOND, chunks, noise, silence, tone

HANGOVER_MS = 150  # WebRTC VAD still says speech this long after the voice stops


def run(audio: bytes, size: int = 3200) -> Endpointer:
    endpointer = Endpointer()
    for piece in chunks(audio, size):
        endpointer.feed(piece)
    return endpointer


def test_silence_alone_is_never_speech():
    endpointer = run(silence(3))
    assert endpointer.bursts == 0 and not endpointer.silent_for(100) and endpointer.trailing_silence_ms == 0


def test_speech_then_silence_is_measured_from_the_last_speech():
    endpointer = run(tone(1.0) + silence(0.8))
    assert endpointer.bursts == 1
    assert 1000 <= endpointer.last_speech_ms <= 1000 + HANGOVER_MS
    assert endpointer.trailing_silence_ms == endpointer.position_ms - endpointer.last_speech_ms
    assert endpointer.silent_for(500) and not endpointer.silent_for(800)


def test_silence_shorter_than_asked_is_not_an_end():
    endpointer = run(tone(1.0) + silence(0.4))
    assert endpointer.silent_for(200) and not endpointer.silent_for(500)


def test_loud_noise_counts_as_speech():
    assert run(noise(1.0) + silence(0.8)).silent_for(500)


def test_a_click_is_not_a_burst_of_speech():
    assert run(silence(0.5) + tone(0.06) + silence(1.0)).bursts == 0
    assert run(silence(0.5) + tone(0.15) + silence(1.0)).bursts == 1


def test_speech_after_a_pause_is_a_new_burst_and_resets_the_silence():
    endpointer = run(tone(0.6) + silence(0.7))
    assert endpointer.silent_for(500)
    endpointer.feed(tone(0.3))
    assert endpointer.bursts == 2 and not endpointer.silent_for(FRAME_MS)


@pytest.mark.parametrize("size", [1, 333, 961, 4001, 10 * BYTES_PER_SECOND])
def test_chunk_sizes_do_not_matter(size):
    audio = silence(0.3) + noise(0.7) + silence(0.2) + tone(0.5) + silence(0.9)
    reference, other = run(audio, size=len(audio)), run(audio, size=size)
    assert (other.bursts, other.last_speech_ms, other.trailing_silence_ms, other.position_ms) == (
        reference.bursts, reference.last_speech_ms, reference.trailing_silence_ms, reference.position_ms)


def test_spoken_command_ends_where_the_voice_stops(speaker):
    spoken = speaker.say("Turn on the kitchen lights.")
    endpointer = run(spoken + silence(1.0))
    spoken_ms = len(spoken) * 1000 // BYTES_PER_SECOND
    assert spoken_ms - 400 < endpointer.last_speech_ms <= spoken_ms + HANGOVER_MS
    assert endpointer.silent_for(800)


def test_spoken_command_is_not_ended_mid_sentence(speaker):
    endpointer = Endpointer()
    spoken = speaker.say("Turn off all the lights in the living room and lock the front door.")
    ended_during = []
    for piece in chunks(spoken):
        endpointer.feed(piece)
        ended_during.append(endpointer.silent_for(300))
    assert not any(ended_during[5:])


@pytest.mark.parametrize("sensitivity, expected", [
    (None, 500), ("default", 500), ("aggressive", 179), ("relaxed", 893), ("unknown", 500),
])
def test_vad_sensitivity_scales_the_silence_like_home_assistant(sensitivity, expected):
    assert silence_for(500, sensitivity) == expected


def test_silence_is_never_below_three_frames():
    assert silence_for(100, "aggressive") == 90
