"""A stand-in for `arecord`: raw PCM on stdout at real-time pace, as a mic command would.

Silence until the file named by --go exists, then the next WAV (once per --go file: it is
deleted; several --wav play in turn), then silence again; without --go every WAV plays
once; --exit-after makes it die like a flaky sound card.
"""

import argparse
import os
import sys
import time
import wave

CHUNK_S = 0.02


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wav", required=True, action="append", help="16-bit WAV files of one format")
    parser.add_argument("--go", help="play the WAV once this file exists (then delete it)")
    parser.add_argument("--exit-after", type=float, default=0.0, help="exit with code 3 after this many seconds")
    args = parser.parse_args()
    speeches = []
    for path in args.wav:
        with wave.open(path, "rb") as wav:
            rate, frame = wav.getframerate(), wav.getsampwidth() * wav.getnchannels()
            speeches.append(wav.readframes(wav.getnframes()))
    step = int(rate * CHUNK_S) * frame
    out = sys.stdout.buffer
    pending = b"" if args.go else b"".join(speeches)
    played = 0
    start = time.monotonic()
    sent = 0
    while not args.exit_after or time.monotonic() - start < args.exit_after:
        if not pending and args.go and os.path.exists(args.go):
            os.unlink(args.go)
            pending = speeches[played % len(speeches)]
            played += 1
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
