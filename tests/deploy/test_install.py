"""satellite/install.sh in a throwaway prefix: the real venv, pip install, config and unit
files; apt-get, useradd, chown and systemctl only printed (fakes on PATH prove none ran).

To stay fast the prefix venv is made beforehand with a .pth to this venv's packages and the
installer gets PIP_ARGS=--no-deps: pip still builds and installs our package from a copy of
the checkout, it just does not download the dependencies a Pi would.
"""

import asyncio
import dataclasses
import os
import pwd
import re
import shlex
import shutil
import site
import subprocess
import sys
from configparser import ConfigParser
from dataclasses import dataclass
from pathlib import Path

import pytest

from satellite.cli import main as satellite_main
from satellite.settings import DEFAULT_FILE, HaSettings, load_settings

from .files import REPO, parse_cli, port_of

FAKED = ("apt-get", "systemctl", "useradd", "usermod", "groupadd", "chown")
USER = "nexus-satellite"


@dataclass
class Prefix:
    """One installation root and what each run of the installer left there."""

    root: Path
    src: Path
    called: Path
    env: dict[str, str]

    @property
    def venv(self) -> Path:
        return self.root / "opt" / "nexus-satellite" / "venv"

    @property
    def config(self) -> Path:
        return self.root / "etc" / "nexus-satellite" / "satellite.yaml"

    @property
    def unit(self) -> Path:
        return self.root / "etc" / "systemd" / "system" / "nexus-satellite.service"

    @property
    def state(self) -> Path:
        return self.root / "var" / "lib" / "nexus-satellite"

    def install(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.src / "satellite" / "install.sh"), *args], env={**self.env, **env},
                              cwd=self.root.parent, capture_output=True, text=True, timeout=600)


def make_prefix(base: Path, with_venv: bool = True) -> Prefix:
    """A copy of the checkout, fake system commands and an empty root."""
    src, fakes, root = base / "src", base / "fakebin", base / "root"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    src.mkdir(parents=True)
    for name in ("setup.cfg", "pyproject.toml", "README.md", "constraints.txt"):
        shutil.copy2(REPO / name, src / name)
    for name in ("nexus_wyoming", "satellite", "config"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    fakes.mkdir()
    called = base / "called"
    for name in FAKED:
        (fakes / name).write_text(f'#!/bin/sh\necho "{name} $*" >> {called}\nexit 97\n')
        (fakes / name).chmod(0o755)
    prefix = Prefix(root, src, called, {
        **os.environ, "PATH": f"{fakes}:{os.environ['PATH']}", "PREFIX": str(root), "PIP_ARGS": "--no-deps",
        "SATELLITE_NAME": "test-pi", "PYTHON": sys.executable,
    })
    if with_venv:
        subprocess.run([sys.executable, "-m", "venv", str(prefix.venv)], check=True, timeout=120)
        packages = next(prefix.venv.glob("lib/python3*/site-packages"))
        (packages / "dev-dependencies.pth").write_text(site.getsitepackages()[0] + "\n")
    return prefix


@dataclass
class Runs:
    """Three runs: a fresh install, a rerun after the user edited the config, a rerun with a broken config."""

    prefix: Prefix
    first: subprocess.CompletedProcess
    config: str
    unit: str
    edited: str
    second: subprocess.CompletedProcess
    third: subprocess.CompletedProcess
    unit_mtime: float


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    prefix = make_prefix(tmp_path_factory.mktemp("install"))
    first = prefix.install()
    assert first.returncode == 0, first.stdout + first.stderr
    config, unit = prefix.config.read_text(), prefix.unit.read_text()
    edited = re.sub(r"^name: .*$", "name: kitchen  # edited by hand", config, flags=re.M)
    prefix.config.write_text(edited)
    second = prefix.install()
    mtime = prefix.unit.stat().st_mtime
    prefix.config.write_text(re.sub(r"^  vad_mode: .*$", "  vad_mode: 9", edited, count=1, flags=re.M))
    third = prefix.install()
    return Runs(prefix, first, config, unit, edited, second, third, mtime)


def dry_run_lines(run: subprocess.CompletedProcess) -> list[list[str]]:
    return [shlex.split(line)[1:] for line in run.stdout.splitlines() if line.startswith("DRY-RUN:")]


def expected_system_commands(prefix: Prefix) -> list[list[str]]:
    try:
        pwd.getpwnam(USER)
        user = [["usermod", "--append", "--groups", "audio", USER]]
    except KeyError:
        user = [["useradd", "--system", "--user-group", "--groups", "audio", "--home-dir", str(prefix.state),
                 "--no-create-home", "--shell", "/usr/sbin/nologin", USER]]
    return [
        ["apt-get", "update"],
        ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "--no-install-recommends",
         "python3", "python3-venv", "python3-pip", "alsa-utils", "ca-certificates"],
        *user,
        ["chown", f"{USER}:{USER}", str(prefix.state)],
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "nexus-satellite.service"],
        ["systemctl", "restart", "nexus-satellite.service"],
    ]


def test_prints_the_system_commands_and_runs_none(runs):
    assert dry_run_lines(runs.first) == expected_system_commands(runs.prefix)
    assert dry_run_lines(runs.second) == expected_system_commands(runs.prefix)
    assert not runs.prefix.called.exists(), runs.prefix.called.read_text()


def test_installed_satellite_runs_from_the_prefix_venv(runs):
    venv = runs.prefix.venv
    helped = subprocess.run([str(venv / "bin" / "nexus-satellite"), "--help"], capture_output=True, text=True,
                            timeout=60, cwd=runs.prefix.root)
    assert helped.returncode == 0 and re.search(r"^\s+ha\s", helped.stdout, re.M), helped.stdout + helped.stderr
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import satellite, nexus_wyoming; "
                            "print(satellite.__file__); print(nexus_wyoming.__file__)"],
                           capture_output=True, text=True, timeout=60, cwd=runs.prefix.root)
    assert all(line.startswith(str(venv)) for line in where.stdout.split()), where.stdout + where.stderr


def unit_sections(text: str) -> ConfigParser:
    parser = ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str
    parser.read_string(text)
    return parser


def test_unit_file_runs_ha_mode_with_a_restart_policy(runs):
    unit = unit_sections(runs.unit)
    assert {"network-online.target", "sound.target"} <= set(unit["Unit"]["After"].split())
    assert unit["Unit"]["Wants"] == "network-online.target"
    service, prefix = unit["Service"], runs.prefix
    assert service["Restart"] == "always" and int(service["RestartSec"]) > 0
    assert service["User"] == USER and service["SupplementaryGroups"] == "audio"
    assert service["WorkingDirectory"] == service["ReadWritePaths"] == str(prefix.state)
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == str(prefix.venv / "bin" / "nexus-satellite") and os.access(argv[0], os.X_OK)
    names, params = parse_cli(satellite_main, argv[1:], "nexus-satellite")
    assert names == ["nexus-satellite", "ha"] and params["config_file"] == str(prefix.config)
    assert "@" not in runs.unit


async def test_the_unit_command_with_the_installed_config_stays_up_and_answers_describe(runs):
    """ExecStart as systemd runs it: the default ha.uri (0.0.0.0:10700), zeroconf on, ALSA commands.

    This machine has no sound card, so arecord fails and is restarted with back-off, as on
    a Pi whose USB microphone is unplugged: Home Assistant must still reach the satellite.
    """
    from nexus_wyoming.client.actions import describe
    from tests.support.processes import ServerProcess

    assert shutil.which("arecord"), "arecord is missing: ./test.sh installs alsa-utils, as install.sh does"
    service = unit_sections(runs.unit)["Service"]
    argv = shlex.split(service["ExecStart"])
    later_edits = runs.prefix.config.read_text()
    runs.prefix.config.write_text(runs.config)  # as the first install wrote it
    sat = ServerProcess(argv[1:], command=argv[:1], cwd=Path(service["WorkingDirectory"]))
    try:
        sat.start(timeout=60)
        assert (sat.host, sat.port) == ("0.0.0.0", 10700), sat.log
        assert sat.wait_for_log("advertised nexus-satellite-", timeout=15), sat.log
        for _ in range(6):  # 30 s
            await asyncio.sleep(5)
            assert sat.alive, sat.log
            info = (await describe("tcp://127.0.0.1:10700")).values["info"]
            assert info["satellite"]["name"] == "test-pi", info
        assert sat.terminate(timeout=15) == 0, sat.log
        assert "Traceback" not in sat.log, sat.log
    finally:
        sat.stop()
        runs.prefix.config.write_text(later_edits)


def test_unit_file_passes_systemd_analyze_verify_where_available(runs):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:  # the key checks above are the fallback
        assert unit_sections(runs.unit).sections() == ["Unit", "Service", "Install"]
        return
    done = subprocess.run([analyze, "verify", str(runs.prefix.unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), done.stdout + done.stderr


def alsa_format(command: str) -> dict[str, str]:
    argv = shlex.split(command)
    return {flag: argv[argv.index(flag) + 1] for flag in ("-r", "-c", "-f", "-t")}


def test_config_file_is_the_packaged_defaults_with_device_settings(runs, tmp_path):
    written = tmp_path / "satellite.yaml"
    written.write_text(runs.config)
    settings, defaults = load_settings(written), load_settings(DEFAULT_FILE)
    audio = settings.audio
    assert settings.name == "test-pi" and settings.data_dir == str(runs.prefix.state)
    assert shlex.split(audio.mic_command)[0] == "arecord" and shlex.split(audio.snd_command)[0] == "aplay"
    assert alsa_format(audio.mic_command) == {"-r": str(audio.mic_rate), "-c": str(audio.mic_channels),
                                              "-f": f"S{8 * audio.mic_width}_LE", "-t": "raw"}
    assert alsa_format(audio.snd_command) == {"-r": str(audio.snd_rate), "-c": "1", "-f": "S16_LE", "-t": "raw"}
    assert settings == dataclasses.replace(defaults, name="test-pi", data_dir=str(runs.prefix.state), audio=audio)
    assert audio == dataclasses.replace(defaults.audio, mic_command=audio.mic_command, snd_command=audio.snd_command)
    assert port_of(settings.ha.uri) == port_of(HaSettings().uri) == 10700


def test_second_run_keeps_the_edited_config_and_the_unit(runs):
    assert runs.second.returncode == 0, runs.second.stdout + runs.second.stderr
    assert f"keeping {runs.prefix.config}" in runs.second.stdout
    assert f"{runs.prefix.unit} unchanged" in runs.second.stdout
    assert runs.prefix.unit.read_text() == runs.unit
    assert "name: kitchen  # edited by hand" in runs.prefix.config.read_text()


def test_a_broken_existing_config_stops_before_the_service_is_touched(runs):
    assert runs.third.returncode != 0
    assert "frontend.vad_mode" in runs.third.stderr and str(runs.prefix.config) in runs.third.stderr
    assert ["systemctl", "restart", "nexus-satellite.service"] not in dry_run_lines(runs.third)
    assert runs.prefix.unit.stat().st_mtime == runs.unit_mtime


def test_refuses_a_missing_checkout_before_doing_anything(tmp_path):
    prefix = make_prefix(tmp_path, with_venv=False)
    done = prefix.install(str(tmp_path / "no-such-checkout"))
    assert done.returncode != 0 and "no such checkout" in done.stderr
    assert not prefix.root.exists() and not prefix.called.exists()


def test_refuses_a_python_older_than_3_11(tmp_path):
    prefix = make_prefix(tmp_path, with_venv=False)
    old = tmp_path / "python3.9"
    old.write_text("#!/bin/sh\nexit 1\n")  # fails the version check like Python 3.9 does
    old.chmod(0o755)
    done = prefix.install(PYTHON=str(old))
    assert done.returncode != 0 and "older than 3.11" in done.stderr
    assert not prefix.venv.exists() and not prefix.called.exists()


def test_install_script_is_shellcheck_clean():
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: ./test.sh installs it (apt-get install shellcheck)"
    done = subprocess.run([shellcheck, str(REPO / "satellite" / "install.sh")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout


@pytest.mark.parametrize("spec, installed", [
    ("/home/pi/nexus-wyoming", "/home/pi/nexus-wyoming[wake]"),
    ("./dist/nexus_wyoming-0.1.0-py3-none-any.whl", "./dist/nexus_wyoming-0.1.0-py3-none-any.whl[wake]"),
    ("nexus-wyoming==0.1.0", "nexus-wyoming[wake]==0.1.0"),
    ("nexus_wyoming>=0.1,<0.2", "nexus_wyoming[wake]>=0.1,<0.2"),
    ("https://example.org/nexus_wyoming-0.1.0-py3-none-any.whl",
     "nexus-wyoming[wake] @ https://example.org/nexus_wyoming-0.1.0-py3-none-any.whl"),
    ("nexus-wyoming[wake,speex]==0.1.0", "nexus-wyoming[wake,speex]==0.1.0"),
])
def test_every_pip_spec_gets_the_wake_extra(spec, installed):
    """The default config listens for "okay nabu": whatever is installed brings pymicro-wakeword."""
    script = REPO / "satellite" / "install.sh"
    function = re.search(r"^with_wake_extra\(\) \{\n.*?^\}\n", script.read_text(), re.S | re.M).group(0)
    done = subprocess.run(["bash", "-c", f'{function}\nwith_wake_extra "$1"', "bash", spec],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout == installed, done.stderr
