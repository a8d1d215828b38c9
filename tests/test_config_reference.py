"""The generated settings reference is complete, valid YAML and loads back to the defaults."""

import dataclasses
import subprocess
import sys

import yaml

from nexus_wyoming.config import Config, load_config
from nexus_wyoming.config_reference import print_defaults
from tests.support.processes import REPO


def keys(tree, prefix=""):
    for key, value in tree.items():
        yield prefix + key
        if isinstance(value, dict) and value:
            yield from keys(value, prefix + key + ".")


def dataclass_keys(cls, prefix=""):
    for field in dataclasses.fields(cls):
        yield prefix + field.name
        if dataclasses.is_dataclass(field.type) or dataclasses.is_dataclass(getattr(cls(), field.name)):
            yield from dataclass_keys(type(getattr(cls(), field.name)), prefix + field.name + ".")


def test_reference_lists_every_setting_and_loads_back_to_the_defaults(tmp_path):
    text = print_defaults()
    tree = yaml.safe_load(text)
    assert set(keys(tree)) == set(dataclass_keys(Config))
    reference = tmp_path / "reference.yaml"
    reference.write_text(text)
    assert load_config(reference, environ={}) == Config()


def test_reference_carries_limits_and_choices():
    text = print_defaults()
    assert "max_connections: 64  # int; >= 1; <= 100000" in text
    assert "log_format: text  # str; one of text, json" in text


def test_config_command_prints_and_validates(tmp_path):
    printed = subprocess.run([sys.executable, "-m", "nexus_wyoming", "config", "--print-defaults"],
                             capture_output=True, text=True, cwd=REPO, timeout=60)
    assert printed.returncode == 0 and printed.stdout == print_defaults()
    bad = tmp_path / "bad.yaml"
    bad.write_text("tts:\n  samples_per_chunk: -1\n")
    checked = subprocess.run([sys.executable, "-m", "nexus_wyoming", "config", "--config", str(bad)],
                             capture_output=True, text=True, cwd=REPO, timeout=60)
    assert checked.returncode == 2 and "tts.samples_per_chunk" in checked.stderr
