"""A stand-in for `arecord`: raw PCM on stdout at real-time pace, as a mic command would.

Silence until the file named by --go exists, then the WAV (once per --go file: it is
deleted), then silence again; --exit-after makes it die like a flaky sound card.
"""

import argparse
import os
import sys
import time
import wave

CHUNK_S = 0.02


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wav", required=True)
    parser.add_argument("--go", help="play the WAV once this file exists (then delete it)")
    parser.add_argument("--exit-after", type=float, default=0.0, help="exit with code 3 after this many seconds")
    args = parser.parse_args()
    with wave.open(args.wav, "rb") as wav:
        rate, frame = wav.getframerate(), wav.getsampwidth() * wav.getnchannels()
        speech = wav.readframes(wav.getnframes())
    step = int(rate * CHUNK_S) * frame
    out = sys.stdout.buffer
    pending = b"" if args.go else speech
    start = time.monotonic()
    sent = 0
    while not args.exit_after or time.monotonic() - start < args.exit_after:
        if not pending and args.go and os.path.exists(args.go):
            os.unlink(args.go)
            pending = speech
        chunk, pending = (pending[:step], pending[step:]) if pending else (bytes(step), b"")
        chunk += bytes(step - len(chunk))
        try:
            out.write(chunk)
            out.flush()
        except BrokenPipeError:
            return
        sent += 1
        time.sleep(max(0.0, start + sent * CHUNK_S - time.monotonic()))
    sys.exit(3)


if __name__ == "__main__":
    main()
