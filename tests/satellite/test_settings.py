"""Satellite settings: the packaged YAML, a user file, flags, validation."""

import dataclasses

import pytest
import yaml

from satellite.settings import DEFAULT_FILE, ConfigError, SatelliteSettings, load_settings


def _yaml_keys(tree) -> dict:
    return {k: _yaml_keys(v) if isinstance(v, dict) else None for k, v in tree.items()}


def test_packaged_yaml_loads_equal_to_the_dataclass_defaults():
    assert load_settings() == SatelliteSettings()


def test_packaged_yaml_names_every_setting_and_nothing_else():
    import typing

    def keys(cls):
        hints = typing.get_type_hints(cls)
        return {f.name: keys(hints[f.name]) if dataclasses.is_dataclass(hints[f.name]) else None
                for f in dataclasses.fields(cls)}

    assert _yaml_keys(yaml.safe_load(DEFAULT_FILE.read_text())) == keys(SatelliteSettings)


def test_user_file_then_flags(tmp_path):
    user = tmp_path / "mine.yaml"
    user.write_text("area: Kitchen\nfrontend:\n  end_silence_ms: 700\n  vad_mode: 2\n")
    settings = load_settings(user, {"frontend.vad_mode": 3, "name": None})
    assert settings.area == "Kitchen"
    assert settings.frontend.end_silence_ms == 700
    assert settings.frontend.vad_mode == 3  # the flag wins
    assert settings.name == "nexus-satellite"  # a flag left unset changes nothing


@pytest.mark.parametrize("text, word", [
    ("frontend:\n  vad_mode: 4\n", "maximum"),
    ("frontend:\n  vad: silero\n", "not one of"),
    ("frontend:\n  wake_word: hey_computer\n", "not one of"),
    ("audio:\n  mic_rate: fast\n", "expected int"),
    ("nonsense: 1\n", "unknown key"),
])
def test_bad_values_name_the_key(tmp_path, text, word):
    user = tmp_path / "bad.yaml"
    user.write_text(text)
    with pytest.raises(ConfigError, match=word):
        load_settings(user)


def test_the_defaults_are_a_wake_word_and_no_barge_in():
    settings = load_settings()
    assert settings.frontend.wake_word == "okay_nabu" and settings.frontend.wake_model == "okay_nabu"
    assert settings.barge_in is False  # no echo canceller: the satellite would interrupt itself


@pytest.mark.parametrize("text", ["frontend:\n  wake_word: none\n", "frontend:\n  wake_word: null\n"])
def test_every_speech_mode_is_asked_for(tmp_path, text):
    """`none`, or the `null` that config files written before the wake word default hold."""
    user = tmp_path / "speech.yaml"
    user.write_text(text)
    assert load_settings(user).frontend.wake_model is None


def test_wyoming_satellite_flags_map_onto_our_settings():
    from satellite.cli import _translated

    assert _translated({"mic_auto_gain": 5, "mic_noise_suppression": 2}) == {
        "frontend.speex_auto_gain": 1500, "frontend.speex_noise_suppression_db": -30, "frontend.speex": True}
    assert _translated({"mic_auto_gain": 0, "mic_noise_suppression": 0})["frontend.speex_noise_suppression_db"] == 0
    assert "frontend.speex" not in _translated({"mic_auto_gain": 0})
    assert _translated({"mic_noise_suppression": 4})["frontend.speex_noise_suppression_db"] == -60  # the range's end
    assert _translated({"no_wake_word": True}) == {"frontend.wake_word": "none"}
    assert _translated({"timer_finished_wav_repeat": (3, 0.5)}) == {
        "audio.timer_finished_wav_repeat": 3, "audio.timer_finished_wav_delay_s": 0.5}
    assert load_settings(None, {**_translated({"mic_auto_gain": 31, "mic_noise_suppression": 4})}).frontend.speex


def test_speex_runs_with_the_mapped_levels():
    from satellite.cli import _translated
    from satellite.frontend import Frontend

    settings = load_settings(None, _translated({"mic_auto_gain": 31, "mic_noise_suppression": 4}))
    frontend = Frontend.from_settings(settings.frontend)
    assert frontend.speex is not None
    assert len(frontend.feed(bytes(960 * 4))) == 0  # 120 ms of silence goes through
