"""A stand-in for `arecord` with a clock in its audio: the tone's pitch says when it was captured.

16 kHz 16-bit mono on stdout in real time; at wall-clock second t after --t0 the tone is
F0 + SLOPE × t Hz, so `captured_at` reads back from any 30 ms of it when it was heard. Like
a sound card, it never waits for a slow reader: once it is more than SLACK_S behind, what
it could not deliver is lost. --stats gets {"lost_s", "longest_write_s"} as it goes, so a
test can tell whether anything made the microphone wait.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

RATE = 16_000
CHUNK_S = 0.02
F0 = 500.0
SLOPE = 50.0  # Hz per second: 30 ms of tone places itself to a few ms
AMPLITUDE = 0.25
SLACK_S = 1.0  # what a sound card's buffer holds for a late reader


def tone(start_s: float, samples: int) -> bytes:
    """The tone from `start_s` on, phase-continuous with any earlier piece."""
    t = start_s + np.arange(samples) / RATE
    phase = 2 * np.pi * (F0 * t + SLOPE * t * t / 2)
    return (np.sin(phase) * AMPLITUDE * 32767).astype("<i2").tobytes()


def captured_at(pcm: bytes) -> float:
    """Seconds after t0 at which this piece of the tone was captured (its middle)."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    size = 1 << 16
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)), size))
    peak = int(np.argmax(spectrum[1:-1])) + 1
    left, mid, right = np.log(spectrum[peak - 1:peak + 2] + 1e-9)
    offset = 0.5 * (left - right) / (left - 2 * mid + right)  # parabolic interpolation
    return ((peak + offset) * RATE / size - F0) / SLOPE


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--t0", type=float, required=True, help="time.time() at which the tone starts at F0")
    parser.add_argument("--stats", required=True, help="JSON file rewritten with what was lost")
    args = parser.parse_args()
    step = int(RATE * CHUNK_S)
    out = sys.stdout.buffer
    slot = int((time.time() - args.t0) / CHUNK_S)
    lost = longest = 0.0
    reported = None
    while True:
        time.sleep(max(0.0, args.t0 + (slot + 1) * CHUNK_S - time.time()))
        written = time.monotonic()
        try:
            out.write(tone(slot * CHUNK_S, step))
            out.flush()
        except BrokenPipeError:
            return
        longest = max(longest, time.monotonic() - written)
        slot += 1
        behind = int((time.time() - args.t0) / CHUNK_S) - slot
        if behind * CHUNK_S > SLACK_S:  # overrun: this audio was never heard by anyone
            lost += behind * CHUNK_S
            slot += behind
        if (lost, round(longest, 1)) != reported or slot % 25 == 0:
            reported = (lost, round(longest, 1))
            with open(args.stats + ".tmp", "w") as stats:
                json.dump({"lost_s": lost, "longest_write_s": longest}, stats)
            os.replace(args.stats + ".tmp", args.stats)


if __name__ == "__main__":
    main()
