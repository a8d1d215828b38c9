"""Does a 48 kHz microphone cost words? WER of our STT server fed 16 kHz, and 48 kHz with kitchen whine.

Each spoken command of the corpus (bench/corpus.py, 16 kHz) is sent three ways, interleaved:
1. as is, at 16 kHz;
2. at 48 kHz (soxr VHQ up from 16 kHz) plus what a 48 kHz USB mic in a kitchen picks up above
   8 kHz: a 12 kHz and a 17 kHz tone at -20 dBFS each and 9-20 kHz noise at -30 dBFS RMS,
   through the whole utterance and its trailing silence. The client says `rate: 48000`; the
   server converts (nexus_wyoming.audio.PcmConverter, soxr);
3. the same 48 kHz audio converted to 16 kHz on the client by the old converter (linear
   interpolation, no low-pass: re-implemented here only for the comparison) and sent at 16 kHz.
The whine is inaudible to a 16 kHz recogniser once properly filtered; linear interpolation folds
it into the speech band (12 kHz → 4 kHz, 17 kHz → 1 kHz, the noise over 0-7 kHz).

Run from the repo root:
  .venv/bin/python bench/resample_wer.py [--limit N] [--fast] [--ours-uri tcp://HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Optional

import numpy as np
import soxr
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import async_read_event, async_write_event

try:
    from . import corpus
    from ._wyoming_client import parse_tcp_uri
    from .stt import OURS_DATA_DIR, ours_process
    from .tts import machine_line
    from .wer import WerCount
except ImportError:  # run as a script: python bench/resample_wer.py
    import corpus
    from _wyoming_client import parse_tcp_uri
    from stt import OURS_DATA_DIR, ours_process
    from tts import machine_line
    from wer import WerCount

HI_RATE, RATE = 48000, 16000
CHUNK_S, SILENCE_S = 0.1, 0.7
VARIANTS = ("16 kHz as recorded", "48 kHz + whine, server converts (soxr)", "48 kHz + whine, old linear interpolation")


def whine(n: int, seed: int) -> np.ndarray:
    """12 kHz + 17 kHz tones at -20 dBFS each and 9-20 kHz noise at -30 dBFS RMS, at 48 kHz."""
    t = np.arange(n) / HI_RATE
    tones = 0.1 * np.sin(2 * np.pi * 12000 * t) + 0.1 * np.sin(2 * np.pi * 17000 * t + 1.0)
    spectrum = np.fft.rfft(np.random.default_rng(seed).normal(0, 1, n))
    freqs = np.fft.rfftfreq(n, 1 / HI_RATE)
    spectrum[(freqs < 9000) | (freqs > 20000)] = 0
    noise = np.fft.irfft(spectrum, n)
    noise *= 10 ** (-30 / 20) / np.sqrt(np.mean(noise ** 2))
    return tones + noise


def to_48k(pcm16k: bytes, seed: int) -> bytes:
    """The utterance and its trailing silence at 48 kHz, with the whine added."""
    x = np.frombuffer(pcm16k + bytes(int(RATE * SILENCE_S) * 2), "<i2").astype(np.float64) / 32768
    up = soxr.resample(x, RATE, HI_RATE, quality="VHQ")
    return _int16(up + whine(len(up), seed))


def linear_16k(pcm48k: bytes) -> bytes:
    """The old PcmConverter: linear interpolation between neighbours, no low-pass (one call)."""
    x = np.frombuffer(pcm48k, "<i2").astype(np.float64) / 32768
    times = np.arange(0.0, len(x) - 1, HI_RATE / RATE)
    return _int16(np.interp(times, np.arange(len(x)), x))


def _int16(x: np.ndarray) -> bytes:
    return np.clip(np.round(x * 32768), -32768, 32767).astype("<i2").tobytes()


async def transcribe(uri: str, pcm: bytes, rate: int, realtime: bool) -> str:
    """One utterance on a fresh connection at `rate`: 100 ms chunks, then `audio-stop`; the transcript."""
    host, port = parse_tcp_uri(uri)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        await async_write_event(Transcribe(language="en").event(), writer)
        await async_write_event(AudioStart(rate, 2, 1).event(), writer)
        step = int(rate * CHUNK_S) * 2
        start = time.perf_counter()
        for i, offset in enumerate(range(0, len(pcm), step)):
            if realtime and (delay := start + i * CHUNK_S - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            await async_write_event(AudioChunk(rate, 2, 1, pcm[offset:offset + step]).event(), writer)
        await async_write_event(AudioStop().event(), writer)
        while True:
            event = await asyncio.wait_for(async_read_event(reader), 120)
            if event is None:
                raise ConnectionError("closed before transcript")
            if Error.is_type(event.type):
                raise RuntimeError(Error.from_event(event).text)
            if Transcript.is_type(event.type):
                return Transcript.from_event(event).text or ""
    finally:
        writer.close()


async def run(uri: str, utts: list[corpus.Utterance], realtime: bool) -> dict[str, tuple[WerCount, list[float]]]:
    """Every utterance in the three variants, rotating which goes first; WER and load per variant."""
    results = {v: (WerCount(), []) for v in VARIANTS}
    for i, utt in enumerate(utts):
        pcm16 = utt.pcm()
        hi = to_48k(pcm16, seed=i)
        sends = {VARIANTS[0]: (pcm16 + bytes(int(RATE * SILENCE_S) * 2), RATE),
                 VARIANTS[1]: (hi, HI_RATE), VARIANTS[2]: (linear_16k(hi), RATE)}
        order = VARIANTS[i % 3:] + VARIANTS[:i % 3]
        heard = {}
        for variant in order:
            pcm, rate = sends[variant]
            heard[variant] = await transcribe(uri, pcm, rate, realtime)
            count, loads = results[variant]
            count.add(utt.text, heard[variant])
            loads.append(os.getloadavg()[0])
        print(f"[{i + 1}/{len(utts)}] {utt.text!r}: " + " | ".join(repr(heard[v]) for v in VARIANTS), file=sys.stderr)
    return results


def render(results: dict[str, tuple[WerCount, list[float]]]) -> str:
    lines = ["| input | WER | errors / words | exact utterances | load avg (1 min) |", "|---|---|---|---|---|"]
    for variant, (count, loads) in results.items():
        lines.append(f"| {variant} | {count.rate * 100:.1f} % | {count.errors} / {count.words} | "
                     f"{count.exact} / {count.utterances} | {min(loads):.1f}–{max(loads):.1f} |")
    return "\n".join(lines)


async def amain(args: argparse.Namespace) -> None:
    utts = corpus.build()[: args.limit]
    async with AsyncExitStack() as stack:
        uri = args.ours_uri
        if not uri:
            uri = (await stack.enter_async_context(ours_process(args.ours_data_dir, {}))).uri
        results = await run(uri, utts, realtime=not args.fast)
    print(machine_line())
    print(f"{len(utts)} utterances, {'as fast as the server reads' if args.fast else 'real-time pace'}, "
          f"100 ms chunks, {SILENCE_S} s trailing silence\n")
    print(render(results))


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=None, help="only the first N utterances")
    p.add_argument("--fast", action="store_true", help="send audio as fast as the server reads it")
    p.add_argument("--ours-uri", help="use our server already running at tcp://HOST:PORT")
    p.add_argument("--ours-data-dir", type=Path, default=OURS_DATA_DIR, help="data dir of the server this starts")
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(amain(parse_args()))
