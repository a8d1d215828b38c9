"""Config loading: defaults, files, environment, overrides, and errors that say where."""

import dataclasses
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import yaml

from nexus_wyoming.config import (
    DEFAULT_FILE,
    Config,
    ConfigError,
    Keys,
    load_config,
)

REPO = Path(__file__).resolve().parents[1]
CLI = REPO / ".venv" / "bin" / "nexus-wyoming"


def write(tmp_path: Path, text: str, name: str = "user.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(user_file=None, overrides=None, environ=None) -> Config:
    """Load with an explicit environment so the test runner's variables never leak in."""
    return load_config(user_file, overrides, environ={} if environ is None else environ)


def config_error(*args, **kwargs) -> str:
    with pytest.raises(ConfigError) as caught:
        load(*args, **kwargs)
    return str(caught.value)


# ---------------------------------------------------------------- the shipped default file


def test_default_file_loads_equal_to_dataclass_defaults():
    assert DEFAULT_FILE.is_file()
    assert load() == Config()


def _field_tree(cls: type) -> dict:
    hints = typing.get_type_hints(cls)
    return {
        f.name: _field_tree(hints[f.name]) if dataclasses.is_dataclass(hints[f.name]) else None
        for f in dataclasses.fields(cls)
    }


def _yaml_tree(node: dict) -> dict:
    return {k: _yaml_tree(v) if isinstance(v, dict) else None for k, v in node.items()}


def test_default_file_names_every_setting_and_nothing_else():
    shipped = yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))
    assert _yaml_tree(shipped) == _field_tree(Config)


# ---------------------------------------------------------------- merging sources


def test_user_file_overrides_default_and_keeps_the_rest(tmp_path):
    user = write(tmp_path, "tts:\n  samples_per_chunk: 512\n  piper:\n    threads: 3\nlog_format: json\n")
    config = load(user)
    assert config.tts.samples_per_chunk == 512
    assert config.tts.piper.threads == 3
    assert config.log_format == "json"
    # Siblings not named in the user file keep their defaults.
    assert config.tts.engines == Config().tts.engines
    assert config.tts.piper.voice == Config().tts.piper.voice
    assert config.limits == Config().limits


def test_empty_user_file_is_the_defaults(tmp_path):
    assert load(write(tmp_path, "# nothing here\n")) == Config()


@pytest.mark.parametrize(
    "variable, value, path, expected",
    [
        ("NEXUS_TTS__SAMPLES_PER_CHUNK", "512", "tts.samples_per_chunk", 512),
        ("NEXUS_TTS__FIRST_AUDIO_TIMEOUT_S", "0.5", "tts.first_audio_timeout_s", 0.5),
        ("NEXUS_TTS__FIRST_AUDIO_TIMEOUT_S", "3", "tts.first_audio_timeout_s", 3.0),
        ("NEXUS_DEBUG", "true", "debug", True),
        ("NEXUS_ZEROCONF", "false", "zeroconf", False),
        ("NEXUS_TTS__ENGINES", "piper", "tts.engines", ["piper"]),
        ("NEXUS_TTS__ENGINES", "aura, piper", "tts.engines", ["aura", "piper"]),
        ("NEXUS_TTS__ENGINES", "[cartesia, piper]", "tts.engines", ["cartesia", "piper"]),
        ("NEXUS_METRICS_PORT", "9100", "metrics_port", 9100),
        ("NEXUS_METRICS_PORT", "null", "metrics_port", None),
        ("NEXUS_TTS__PIPER__LENGTH_SCALE", "1.25", "tts.piper.length_scale", 1.25),
        ("NEXUS_TTS__PIPER__LENGTH_SCALE", "", "tts.piper.length_scale", None),
        ("NEXUS_DATA_DIR", "/srv/nexus", "data_dir", "/srv/nexus"),
        ("NEXUS_TTS__URI", "tcp://127.0.0.1:1234", "tts.uri", "tcp://127.0.0.1:1234"),
        # A str field keeps the text as written, even when YAML would read a date or number.
        ("NEXUS_TTS__CARTESIA__VERSION", "2024-06-10", "tts.cartesia.version", "2024-06-10"),
        ("NEXUS_TTS__PIPER__VOICE", "123", "tts.piper.voice", "123"),
    ],
)
def test_environment_variables_override(variable, value, path, expected):
    config = load(environ={variable: value})
    node = config
    for part in path.split("."):
        node = getattr(node, part)
    assert node == expected
    assert type(node) is type(expected)


def test_environment_null_sets_an_optional_set_by_a_file_back_to_none(tmp_path):
    user = write(tmp_path, "metrics_port: 9100\n")
    assert load(user).metrics_port == 9100
    assert load(user, environ={"NEXUS_METRICS_PORT": "null"}).metrics_port is None


@pytest.mark.parametrize("variable, key", [
    ("CARTESIA_API_KEY", "cartesia"),
    ("DEEPGRAM_API_KEY", "deepgram"),
    ("GROQ_API_KEY", "groq"),
    ("GOOGLE_API_KEY", "google"),
    ("TAVILY_API_KEY", "tavily"),
])
def test_provider_key_variables_fill_keys(variable, key):
    config = load(environ={variable: "sk-123"})
    assert getattr(config.keys, key) == "sk-123"
    others = {f.name for f in dataclasses.fields(Keys)} - {key}
    assert all(getattr(config.keys, other) is None for other in others)


def test_empty_provider_key_variable_does_not_clear_a_file_key(tmp_path):
    user = write(tmp_path, "keys:\n  cartesia: from-file\n")
    assert load(user, environ={"CARTESIA_API_KEY": ""}).keys.cartesia == "from-file"
    assert load(user, environ={"CARTESIA_API_KEY": "from-env"}).keys.cartesia == "from-env"


@pytest.mark.parametrize("environ", [
    {"NEXUS_KEYS__CARTESIA": "nexus-var", "CARTESIA_API_KEY": "provider-var"},
    {"CARTESIA_API_KEY": "provider-var", "NEXUS_KEYS__CARTESIA": "nexus-var"},
], ids=["nexus-var-first", "provider-var-first"])
def test_provider_variable_beats_nexus_variable_whatever_the_environment_order(environ):
    # config.py's docstring: "... NEXUS_SECTION__KEY variables, the providers' usual key
    # variables, CLI flags" with later winning. The order of os.environ must not matter.
    assert load(environ=environ).keys.cartesia == "provider-var"


def test_precedence_default_then_file_then_environment_then_overrides(tmp_path):
    user = write(tmp_path, "tts:\n  samples_per_chunk: 512\n  max_unit_chars: 200\n  first_unit_chars: 30\n")
    environ = {"NEXUS_TTS__SAMPLES_PER_CHUNK": "256", "NEXUS_TTS__MAX_UNIT_CHARS": "300"}
    config = load(user, overrides={"tts.samples_per_chunk": 128}, environ=environ)
    assert config.tts.samples_per_chunk == 128      # overrides beat the environment
    assert config.tts.max_unit_chars == 300         # the environment beats the file
    assert config.tts.first_unit_chars == 30        # the file beats the default
    assert config.tts.max_text_chars == Config().tts.max_text_chars  # default


def test_overrides_are_dotted_and_typed():
    config = load(overrides={"tts.uri": "tcp://127.0.0.1:0", "zeroconf": False, "data_dir": "/x"})
    assert (config.tts.uri, config.zeroconf, config.data_dir) == ("tcp://127.0.0.1:0", False, "/x")


# ---------------------------------------------------------------- errors name key and source


def test_unknown_top_level_key_names_key_and_file(tmp_path):
    user = write(tmp_path, "colour: blue\n")
    message = config_error(user)
    assert "colour" in message and "unknown key" in message and str(user) in message


def test_unknown_nested_key_names_dotted_key_and_file(tmp_path):
    user = write(tmp_path, "tts:\n  piper:\n    speed: 2\n")
    message = config_error(user)
    assert "tts.piper.speed" in message and str(user) in message


@pytest.mark.parametrize("yaml_text, key", [
    ("tts:\n  samples_per_chunk: lots\n", "tts.samples_per_chunk"),       # str for int
    ("tts:\n  samples_per_chunk: true\n", "tts.samples_per_chunk"),       # bool for int
    ("limits:\n  max_connections: 1.5\n", "limits.max_connections"),      # float for int
    ("tts:\n  uri: [a, b]\n", "tts.uri"),                                 # list for str
    ("debug: {x: 1}\n", "debug"),                                        # mapping for scalar
    ("tts:\n  first_audio_timeout_s: soon\n", "tts.first_audio_timeout_s"),  # str for float
    ("debug: yes please\n", "debug"),                                     # str for bool
    ("tts:\n  engines: 5\n", "tts.engines"),                              # int for list
    ("tts:\n  engines: [piper, 7]\n", "tts.engines[1]"),                  # bad list item type
    ("tts: 5\n", "tts"),                                                  # scalar for a section
    ("limits: [1, 2]\n", "limits"),                                       # list for a section
    ("tts:\n  cartesia:\n    version: 2025-04-16\n", "tts.cartesia.version"),  # YAML date for str
])
def test_wrong_type_names_key_and_file(tmp_path, yaml_text, key):
    user = write(tmp_path, yaml_text)
    message = config_error(user)
    assert message.startswith(key + ":"), message
    assert str(user) in message


@pytest.mark.parametrize("yaml_text, key, word", [
    ("tts:\n  samples_per_chunk: 63\n", "tts.samples_per_chunk", "minimum"),
    ("tts:\n  samples_per_chunk: 65537\n", "tts.samples_per_chunk", "maximum"),
    ("limits:\n  max_header_bytes: 255\n", "limits.max_header_bytes", "minimum"),
    ("limits:\n  idle_timeout_s: 0.0\n", "limits.idle_timeout_s", "minimum"),
    ("metrics_port: 65536\n", "metrics_port", "maximum"),
    ("metrics_port: -1\n", "metrics_port", "minimum"),
    ("tts:\n  piper:\n    length_scale: 0.01\n", "tts.piper.length_scale", "minimum"),
    ("tts:\n  cartesia:\n    sample_rate: 96000\n", "tts.cartesia.sample_rate", "maximum"),
])
def test_out_of_range_names_key_bound_and_file(tmp_path, yaml_text, key, word):
    user = write(tmp_path, yaml_text)
    message = config_error(user)
    assert message.startswith(key + ":") and word in message and str(user) in message


@pytest.mark.parametrize("yaml_text, key", [
    ("tts:\n  first_audio_timeout_s: .nan\n", "tts.first_audio_timeout_s"),
    ("tts:\n  piper:\n    length_scale: .nan\n", "tts.piper.length_scale"),
])
def test_nan_is_outside_every_range(tmp_path, yaml_text, key):
    # NaN compares False with both bounds, so a plain `< min` / `> max` check lets it through.
    user = write(tmp_path, yaml_text)
    message = config_error(user)
    assert message.startswith(key + ":") and str(user) in message


def test_bounds_themselves_are_accepted(tmp_path):
    user = write(tmp_path, "tts:\n  samples_per_chunk: 64\n  max_parallel_syntheses: 64\nmetrics_port: 0\n")
    config = load(user)
    assert (config.tts.samples_per_chunk, config.tts.max_parallel_syntheses, config.metrics_port) == (64, 64, 0)


@pytest.mark.parametrize("yaml_text, key, value", [
    ("log_format: xml\n", "log_format", "'xml'"),
    ("tts:\n  aura:\n    sample_rate: 22050\n", "tts.aura.sample_rate", "22050"),
    ("tts:\n  engines: [piper, espeak]\n", "tts.engines[1]", "'espeak'"),
    ("tts:\n  engines: [festival]\n", "tts.engines[0]", "'festival'"),
])
def test_bad_choice_names_key_value_and_file(tmp_path, yaml_text, key, value):
    user = write(tmp_path, yaml_text)
    message = config_error(user)
    assert message.startswith(key + ":") and value in message and str(user) in message


@pytest.mark.parametrize("environ, key", [
    ({"NEXUS_TTS__SAMPLES_PER_CHUNK": "many"}, "tts.samples_per_chunk"),
    ({"NEXUS_TTS__SAMPLES_PER_CHUNK": "1"}, "tts.samples_per_chunk"),
    ({"NEXUS_DEBUG": "maybe"}, "debug"),
    ({"NEXUS_TTS__SPEED": "2"}, "tts.speed"),
    ({"NEXUS_TTS__ENGINES": "piper,espeak"}, "tts.engines[1]"),
    ({"NEXUS_LOG_FORMAT": "xml"}, "log_format"),
    ({"NEXUS_TTS": "5"}, "tts"),
])
def test_environment_errors_name_key_and_environment(environ, key):
    message = config_error(environ=environ)
    assert message.startswith(key + ":"), message
    assert "environment" in message


def test_other_programs_nexus_variables_are_ignored():
    # Sonatype Nexus sets NEXUS_HOME; only variables naming our own keys are read.
    assert load_config(environ={"NEXUS_HOME": "/opt/nexus", "NEXUS_COLOUR": "blue"}) == load_config(environ={})


@pytest.mark.parametrize("environ", [
    {"NEXUS_TTS": "5", "NEXUS_TTS__URI": "tcp://127.0.0.1:1"},
    {"NEXUS_TTS__URI": "tcp://127.0.0.1:1", "NEXUS_TTS": "5"},
], ids=["section-first", "key-first"])
def test_a_section_and_one_of_its_keys_both_set_is_a_config_error(environ):
    # Either order must end as ConfigError (exit 2), never as a TypeError traceback.
    message = config_error(environ=environ)
    assert "tts" in message and "environment" in message


@pytest.mark.parametrize("overrides, key", [
    ({"tts.samples_per_chunk": 1}, "tts.samples_per_chunk"),
    ({"log_format": "xml"}, "log_format"),
    ({"tts.nope": 1}, "tts.nope"),
    ({"debug": "yes"}, "debug"),
])
def test_override_errors_name_key_and_command_line(overrides, key):
    message = config_error(overrides=overrides)
    assert message.startswith(key + ":") and "command line" in message


def test_error_names_the_later_source_that_set_the_bad_value(tmp_path):
    user = write(tmp_path, "tts:\n  samples_per_chunk: 512\n")
    message = config_error(user, environ={"NEXUS_TTS__SAMPLES_PER_CHUNK": "10"})
    assert "environment" in message and str(user) not in message
    # ...and a bad value from the file is still blamed on the file when env sets another key.
    bad = write(tmp_path, "tts:\n  samples_per_chunk: 10\n", "bad.yaml")
    message = config_error(bad, environ={"NEXUS_TTS__MAX_UNIT_CHARS": "100"})
    assert str(bad) in message and "environment" not in message


@pytest.mark.parametrize("text", [
    "tts: [unclosed\n",
    "tts:\n  uri: a\n    b: c\n",
    "key: 'unterminated\n",
    "\tdebug: true\n",
])
def test_invalid_yaml_names_the_file(tmp_path, text):
    user = write(tmp_path, text)
    message = config_error(user)
    assert str(user) in message and "YAML" in message


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "42\n"])
def test_top_level_not_a_mapping_names_the_file(tmp_path, text):
    user = write(tmp_path, text)
    message = config_error(user)
    assert str(user) in message and "mapping" in message


def test_missing_user_file_names_the_file(tmp_path):
    missing = tmp_path / "nowhere.yaml"
    message = config_error(missing)
    assert str(missing) in message


def test_user_file_that_is_a_directory_is_a_config_error(tmp_path):
    message = config_error(tmp_path)
    assert str(tmp_path) in message


# ---------------------------------------------------------------- data_path


def test_data_path_uses_data_dir_with_user_expansion(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", "/ignored")
    assert Config(data_dir="/srv/nexus").data_path == Path("/srv/nexus")
    assert Config(data_dir="~/nx").data_path == tmp_path / "nx"


def test_data_path_honours_xdg_data_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert Config().data_path == tmp_path / "xdg" / "nexus-wyoming"


@pytest.mark.parametrize("xdg", [None, ""])
def test_data_path_defaults_under_home(monkeypatch, tmp_path, xdg):
    monkeypatch.setenv("HOME", str(tmp_path))
    if xdg is None:
        monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_DATA_HOME", xdg)
    assert Config().data_path == tmp_path / ".local" / "share" / "nexus-wyoming"


# ---------------------------------------------------------------- command line contract


def _cli_env(tmp_path: Path) -> dict:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("NEXUS_") and not k.endswith("_API_KEY")
    }
    env.update(HOME=str(tmp_path / "home"), XDG_DATA_HOME=str(tmp_path / "xdg"), PYTHONUNBUFFERED="1")
    return env


def run_cli(tmp_path: Path, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    executable = [str(CLI)] if CLI.exists() else [sys.executable, "-m", "nexus_wyoming"]
    return subprocess.run(
        [*executable, "tts", "--no-zeroconf", "--data-dir", str(tmp_path / "data"), *args],
        capture_output=True, text=True, timeout=timeout, env=_cli_env(tmp_path), cwd=REPO,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("text, key", [
    ("tts:\n  samples_per_chunk: lots\n", "tts.samples_per_chunk"),
    ("tts:\n  piper:\n    speed: 2\n", "tts.piper.speed"),
    ("log_format: xml\n", "log_format"),
])
def test_cli_bad_config_file_exits_2_naming_key_and_file(tmp_path, text, key):
    bad = write(tmp_path, text, "BAD.yaml")
    result = run_cli(tmp_path, "--config", str(bad), "--uri", "tcp://127.0.0.1:0")
    assert result.returncode == 2, result.stderr
    assert key in result.stderr and str(bad) in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_invalid_yaml_exits_2(tmp_path):
    bad = write(tmp_path, "tts: [unclosed\n", "BAD.yaml")
    result = run_cli(tmp_path, "--config", str(bad), "--uri", "tcp://127.0.0.1:0")
    assert result.returncode == 2 and str(bad) in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_missing_config_file_exits_2(tmp_path):
    result = run_cli(tmp_path, "--config", str(tmp_path / "absent.yaml"), "--uri", "tcp://127.0.0.1:0")
    assert result.returncode == 2 and "absent.yaml" in result.stderr


def test_cli_bad_environment_exits_2_naming_key(tmp_path):
    executable = [str(CLI)] if CLI.exists() else [sys.executable, "-m", "nexus_wyoming"]
    env = {**_cli_env(tmp_path), "NEXUS_TTS__SAMPLES_PER_CHUNK": "lots"}
    result = subprocess.run(
        [*executable, "tts", "--no-zeroconf", "--data-dir", str(tmp_path / "data"), "--uri", "tcp://127.0.0.1:0"],
        capture_output=True, text=True, timeout=120, env=env, cwd=REPO, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "tts.samples_per_chunk" in result.stderr and "environment" in result.stderr


@pytest.mark.parametrize("uri", ["notauri", "tcp://127.0.0.1", "tcp://127.0.0.1:notaport", "http://x:1"])
def test_cli_bad_uri_exits_2(tmp_path, uri):
    result = run_cli(tmp_path, "--uri", uri)
    assert result.returncode == 2, result.stderr[-2000:]
    assert uri in result.stderr
    assert "Traceback" not in result.stderr
