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
