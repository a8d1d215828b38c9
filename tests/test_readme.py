"""The README states only what is true: its flags, settings, defaults, ports, variables,
metrics and paths are checked against the code, so an edit on either side that makes
them disagree fails here."""

import dataclasses
import re
from typing import Any, Iterator, Optional
from urllib.parse import urlsplit

import click
import pytest

from nexus_wyoming.cli import METRICS_PORT_OFFSETS
from nexus_wyoming.cli import main as servers_cli
from nexus_wyoming.config import ENV_PREFIX, PROVIDER_KEY_ENV, load_config
from nexus_wyoming.intent.modes import Mode
from nexus_wyoming.metrics import REGISTRY
from satellite.cli import main as satellite_cli
from satellite.settings import load_settings
from tests.support.processes import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
CONFIG = load_config(environ={})  # what a user gets with no file, no variables, no flags
SATELLITE = load_settings()
CLIS = {"nexus-wyoming": servers_cli, "nexus-satellite": satellite_cli, "./run.sh": servers_cli.commands["serve"]}
#: A dotted setting: `stt.max_utterance_s`, `barge_in_min_ms`, optionally as YAML (`intent.stream: false`).
SETTING = r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*"
UNITS = {"ms": 0.001, "s": 1.0, "KiB": 1024, "MiB": 1024 * 1024, "Hz": 1.0, "": 1.0}
VALUE = r"(\d+(?:\.\d+)?)\s?(ms|s|KiB|MiB|Hz)?"
TOP_LEVEL = {path.name for path in REPO.iterdir()}
FILE_TYPES = (".py", ".yaml", ".sh", ".md", ".txt", ".cfg", ".toml", ".in")


def code_spans() -> list[str]:
    """Inline `code`, plus the lines of ```sh blocks (backslash continuations joined)."""
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    prose = re.sub(r"```.*?```", "", README, flags=re.S)
    return re.findall(r"`([^`\n]+)`", prose) + lines


def settings_root(head: str) -> Optional[Any]:
    """The settings (servers', satellite's, a mode's) whose top level has this key, in that order."""
    for settings in (CONFIG, SATELLITE, Mode()):
        if head in {f.name for f in dataclasses.fields(settings)}:
            return settings
    return None


def exists(dotted: str) -> bool:
    """Whether the README's name is a real setting."""
    try:
        resolve(dotted)
    except KeyError:
        return False
    return True


def resolve(dotted: str) -> Any:
    """The default value of a setting; KeyError when no such setting exists."""
    node = settings_root(dotted.split(".")[0])
    for part in dotted.split("."):
        if not dataclasses.is_dataclass(node) or part not in {f.name for f in dataclasses.fields(node)}:
            raise KeyError(dotted)
        node = getattr(node, part)
    return node


def port_of(uri: str) -> int:
    return urlsplit(uri).port


# ---------------------------------------------------------------- flags


def command_flags(command: click.Command) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts) if opt.startswith("-")}


def all_commands(group: click.Command) -> Iterator[click.Command]:
    yield group
    for sub in getattr(group, "commands", {}).values():
        yield from all_commands(sub)


ALL_FLAGS = {flag for cli in (servers_cli, satellite_cli) for cmd in all_commands(cli) for flag in command_flags(cmd)}


def invoked(span: str) -> Iterator[tuple[str, Optional[set[str]], str]]:
    """(program, its flags or None for another program's, its arguments) per program in a span;
    text before any program (a bare `--no-wake-word`) may use any of our flags."""
    pieces = re.split(r"(nexus-wyoming|nexus-satellite|\./run\.sh|\bdocker\b|\bpip\b|\bsystemctl\b)", span)
    yield "any of our commands", ALL_FLAGS, pieces[0]
    for name, args in zip(pieces[1::2], pieces[2::2]):
        command = CLIS.get(name)
        words = args.split()
        while isinstance(command, click.Group) and words and words[0] in command.commands:
            name += " " + words[0]
            command = command.commands[words.pop(0)]
        yield name, None if command is None else command_flags(command), " ".join(words)


def test_every_flag_the_readme_shows_exists_on_its_command():
    checked = set()
    for span in code_spans():
        for name, known, args in invoked(span):
            flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", args))
            if known is not None:
                assert flags <= known, f"`{span}`: {sorted(flags - known)} are not options of {name}"
                checked |= flags
    assert {"--metrics-port", "--only", "--uri", "--no-wake-word", "--barge-in", "--event-uri", "--max-turns",
            "--print-defaults"} <= checked


# ---------------------------------------------------------------- settings and their defaults


def mentioned_settings() -> set[str]:
    """Backticked names that start with a settings section (`stt.`, `frontend.`) or are YAML (`key: value`)."""
    names = set()
    for span in code_spans():
        if match := re.fullmatch(rf"({SETTING})(:(?: .*)?)?", span):
            dotted, yaml_form = match.groups()
            if yaml_form is not None or ("." in dotted and settings_root(dotted.split(".")[0]) is not None):
                names.add(dotted)
    return names


def test_every_setting_the_readme_names_exists():
    names = mentioned_settings()
    assert {"stt.max_utterance_s", "intent.stream", "limits.max_connections", "barge_in"} <= names
    missing = sorted(name for name in names if not exists(name))
    assert not missing, f"README names settings that do not exist: {missing}"


def documented_defaults() -> list[tuple[str, float, str]]:
    """(setting, value, unit) for "`name` (30 s)" and "30 s (`name`)"."""
    after = re.findall(rf"`({SETTING})`\s*\({VALUE}\)", README)
    before = re.findall(rf"(?<![\w.]){VALUE}\s*\(`({SETTING})`", README)
    return [(n, float(v), u) for n, v, u in after] + [(n, float(v), u) for v, u, n in before]


def in_field_units(name: str, value: float, unit: str) -> float:
    field_unit = next((u for u in ("ms", "s") if name.endswith(f"_{u}")), "")
    return value * UNITS[unit] / UNITS[field_unit]


def test_every_default_the_readme_states_is_the_default():
    stated = documented_defaults()
    assert len(stated) >= 15, stated  # the pattern still finds them
    wrong = [(name, value, unit, resolve(name)) for name, value, unit in stated
             if in_field_units(name, value, unit) != pytest.approx(resolve(name))]
    assert not wrong, f"README defaults differ from the code (setting, README value, unit, code): {wrong}"


# ---------------------------------------------------------------- ports


DEFAULT_PORTS = {
    "stt": port_of(CONFIG.stt.uri), "intent": port_of(CONFIG.intent.uri),
    "tts": port_of(CONFIG.tts.uri), "satellite": port_of(SATELLITE.ha.uri),
}


def test_the_ports_table_matches_the_defaults():
    rows = re.findall(r"^\| \w+ \(`(nexus-wyoming \w+|nexus-satellite)`\) \| (\d+)", README, re.M)
    table = {command.split()[-1].replace("nexus-", ""): int(port) for command, port in rows}
    assert table == DEFAULT_PORTS


def test_every_port_the_readme_gives_a_server_is_its_default_or_its_metrics_port():
    (base,) = {int(p) for p in re.findall(r"--metrics-port (\d+)", README)}
    pairs = [(kind, port) for kind, port in re.findall(r"\b(stt|intent|tts|satellite)\s+:(\d+)", README, re.I)]
    pairs += [(kind, port) for port, kind in re.findall(r"\b(\d{4,5})\s+(stt|intent|tts)\b", README, re.I)]
    assert len(pairs) >= 12, pairs
    for kind, port in pairs:
        kind = kind.lower()
        metrics = {base + METRICS_PORT_OFFSETS[kind]} if kind in METRICS_PORT_OFFSETS else set()
        assert int(port) in {DEFAULT_PORTS[kind], *metrics}, f"{kind} :{port}"
    commands = re.findall(r"nexus-(?:wyoming (stt|intent|tts)|satellite (ha)) --uri tcp://0\.0\.0\.0:(\d+)", README)
    assert commands and all(int(port) == DEFAULT_PORTS[kind or "satellite"] for kind, _ha, port in commands)


# ---------------------------------------------------------------- environment, metrics, files


def test_every_environment_variable_maps_to_a_setting():
    """NEXUS_SECTION__KEY names the setting section.key, as config.py reads the environment,
    or is a variable docker/compose.yaml interpolates (host ports, images)."""
    nexus = set(re.findall(rf"\b{ENV_PREFIX}[A-Z0-9_]+\b", README))
    assert {"NEXUS_DATA_DIR", "NEXUS_SESSIONS__HISTORY_URL"} <= nexus
    compose = (REPO / "docker" / "compose.yaml").read_text(encoding="utf-8")
    unmapped = sorted(n for n in nexus if not exists(n.removeprefix(ENV_PREFIX).lower().replace("__", "."))
                      and "${" + n not in compose)
    assert not unmapped, f"README variables that set nothing: {unmapped}"
    api_keys = {name for name in PROVIDER_KEY_ENV if name.endswith("_API_KEY")}
    assert set(re.findall(r"\b[A-Z]+_API_KEY\b", README)) == api_keys
    assert set(PROVIDER_KEY_ENV) - api_keys == {"HA_TOKEN"} and "`HA_TOKEN`" in README


def test_every_install_script_variable_is_read_by_the_script():
    section = README.split("## Raspberry Pi satellite install", 1)[1].split("\n## ", 1)[0]
    names = set(re.findall(r"\b([A-Z][A-Z_]{2,})=", section)) | set(re.findall(r"`([A-Z][A-Z_]{2,})`", section))
    script = (REPO / "satellite" / "install.sh").read_text(encoding="utf-8")
    assert {"PREFIX", "DRY_RUN", "MIC_COMMAND"} <= names
    unread = sorted(name for name in names if not re.search(r"\$\{" + name + r"[:}]", script))
    assert not unread, f"install.sh does not read {unread}"


def test_every_metric_the_readme_names_is_served():
    import satellite.turns  # noqa: F401  registers the satellite's metrics

    names = set(re.findall(r"`(nexus_[a-z_]+)`", README))
    served = set(re.findall(r"^# HELP (\S+)", REGISTRY.render(), re.M))
    assert names and names <= served


def test_every_repository_path_the_readme_mentions_exists():
    paths = set(re.findall(r"\]\(([^)#:]+)\)", README))  # relative links
    for span in code_spans():
        for word in span.split():
            word = word.strip("'\"()[],;").removeprefix("./")
            if "/" in word and not re.search(r"[:=$~@*<]|^[/-]|^\.venv/", word) and (
                    word.split("/")[0] in TOP_LEVEL or word.endswith(FILE_TYPES)):  # not `Europe/Paris`
                paths.add(word)
    assert {"config/default.yaml", "satellite/install.sh", "docker/compose.yaml", "BENCHMARKS.md"} <= paths
    missing = sorted(path for path in paths if not (REPO / path).exists())
    assert not missing, f"README mentions paths that do not exist: {missing}"


def test_the_satellite_sizes_fit_and_the_armv7_list_names_its_dependencies():
    """tests/deploy/test_satellite_install.py and test_satellite_aarch64.py hold these figures and the
    armv7 list to a real install and to PyPI; here, cheaply: they parse, fit, and name what the satellite installs."""
    from packaging.requirements import Requirement

    from tests.deploy.satellite_spec import LIMIT_MB, readme_armv7_missing, readme_venv_mb
    from tests.deploy.test_lock import closure

    sizes = readme_venv_mb()
    assert sizes["x86_64"] <= LIMIT_MB and sizes["aarch64"] + sizes["empty"] <= LIMIT_MB, sizes
    satellite = closure([Requirement("nexus-wyoming[wake]")])
    assert readme_armv7_missing() <= satellite, sorted(readme_armv7_missing() - satellite)


def test_the_satellite_section_states_what_the_satellite_does():
    """The wake word default, the muted microphone, the event queue and the speex mapping are the code's."""
    from satellite import cli, events, listen, wake

    section = README.split("## The satellite (Raspberry Pi)", 1)[1].split("\n## ", 1)[0]
    flat = " ".join(section.split())
    default = re.search(r"A turn starts with the wake word, as wyoming-satellite users expect: `(\w+)`", flat)
    assert default and default.group(1) == SATELLITE.frontend.wake_word
    assert f"`frontend.wake_word: {wake.NO_WAKE_WORD}`" in flat and "`--no-wake-word`" in flat
    assert re.search(r"\*\*Barge-in\*\* \(default off\)", flat) and SATELLITE.barge_in is False
    assert f"for {listen.MUTE_TAIL_S:g} s after, the microphone is muted" in flat
    assert f"at most {events.QUEUE_SIZE} events wait" in flat
    assert f"= {cli.SPEEX_GAIN_PER_DBFS} × N" in flat and f"= -{cli.SPEEX_DB_PER_LEVEL} × N" in flat
    assert "exit code 2" in flat and "pip install 'nexus-wyoming[wake]'" in flat


def test_the_device_commands_section_states_what_the_bridge_does():
    """The agent asked, the answer types spoken, the honest refusal, and the tests named are the code's."""
    from nexus_wyoming.intent import homeassistant
    from nexus_wyoming.intent.skills.devices import NO_BRIDGE

    section = README.split('### Device commands ("turn on the kitchen light")', 1)[1].split("\n## ", 1)[0]
    flat = " ".join(section.split())
    assert f"`agent_id: {homeassistant.AGENT_ID}`" in flat and "`POST /api/conversation/process`" in flat
    assert re.findall(r"\(`(\w+)`, `(\w+)`\)", flat)[0] == homeassistant.DONE
    assert f'answered "{NO_BRIDGE}"' in flat
    assert "`prefer_local_intents`" in flat
    pipeline = (REPO / "tests/ha/test_pipeline.py").read_text(encoding="utf-8")
    assert "prefer_local_intents=True" in pipeline and "test_prefer_local_intents_a_light_command" in pipeline
    bridge = (REPO / "tests/ha/test_bridge.py").read_text(encoding="utf-8")
    assert "def test_turn_on_the_kitchen_light_through_our_intent_server" in bridge
    assert "def test_inside_home_assistant_a_conversation_with_our_agent_keeps_device_control" in bridge
