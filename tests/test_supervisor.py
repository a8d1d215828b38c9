"""`nexus-wyoming serve`: children start, a crashed one is restarted, SIGTERM stops all,
each server's metrics port is fixed by its kind."""

import signal
import subprocess
import sys
from typing import Optional

import psutil
import pytest

from tests.support.processes import REPO, ServerProcess


def serve(tmp_path, *extra: str) -> ServerProcess:
    return ServerProcess(
        ["serve", "--only", "tts", "--no-zeroconf", "--data-dir", str(tmp_path), *extra],
        env={"NEXUS_TTS__URI": "tcp://127.0.0.1:0"},
    )


def test_crashed_server_is_restarted_and_sigterm_stops_everything(tmp_path):
    supervisor = serve(tmp_path).start()
    try:
        (child,) = psutil.Process(supervisor.pid).children()
        child.send_signal(signal.SIGKILL)
        assert supervisor.wait_for_log(r"tts server exited with code -9; restarting", timeout=10)
        assert supervisor.wait_for_log(r"(?s)restarting.*listening on tcp://", timeout=60), supervisor.log
        (restarted,) = psutil.Process(supervisor.pid).children()
        assert restarted.pid != child.pid
        assert supervisor.terminate() == 0
        assert not restarted.is_running() or restarted.status() == psutil.STATUS_ZOMBIE
    finally:
        supervisor.stop()


def test_config_error_exits_2_without_starting(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tts:\n  samples_per_chunk: lots\n")
    result = subprocess.run(
        [sys.executable, "-m", "nexus_wyoming", "serve", "--config", str(bad), "--data-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert result.returncode == 2
    assert "tts.samples_per_chunk" in result.stderr and str(bad) in result.stderr


def test_unknown_server_name_exits_2(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "nexus_wyoming", "serve", "--only", "tts,espresso", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )
    assert result.returncode == 2 and "espresso" in result.stderr


async def test_a_server_that_cannot_start_is_logged_and_retried(caplog):
    import asyncio
    import logging

    from nexus_wyoming.supervisor import Supervisor

    supervisor = Supervisor(["tts"], [], max_backoff_s=0.1)
    supervisor.children[0].argv = ["/nonexistent/python", "-m", "nexus_wyoming", "tts"]
    caplog.set_level(logging.ERROR)
    runner = asyncio.create_task(supervisor.run())
    for _ in range(100):
        await asyncio.sleep(0.05)
        if len([r for r in caplog.records if "start failure" in r.getMessage()]) >= 2:
            break
    supervisor._stopping.set()
    assert await asyncio.wait_for(runner, 10) == 0
    assert len([r for r in caplog.records if "tts server exited with code start failure" in r.getMessage()]) >= 2


@pytest.mark.parametrize("only, ports", [
    ([], {"stt": "9100", "intent": "9101", "tts": "9102"}),
    (["--only", "tts"], {"tts": "9102"}),
    (["--only", "tts,stt"], {"tts": "9102", "stt": "9100"}),
])
def test_metrics_port_is_fixed_by_server_kind_whatever_only_starts(tmp_path, monkeypatch, only, ports):
    from click.testing import CliRunner

    from nexus_wyoming import cli, supervisor

    started: dict[str, list[str]] = {}

    async def record(self) -> int:
        started.update({child.kind: child.argv for child in self.children})
        return 0

    monkeypatch.setattr(supervisor.Supervisor, "run", record)
    monkeypatch.setattr(cli, "setup_logging", lambda *args: None)  # keep pytest's log handlers
    result = CliRunner().invoke(cli.main, ["serve", "--no-zeroconf", "--data-dir", str(tmp_path),
                                           "--metrics-port", "9100", *only])
    assert result.exit_code == 0, result.output

    def value(argv: list[str], flag: str) -> Optional[str]:
        return argv[argv.index(flag) + 1] if flag in argv else None

    assert {kind: value(argv, "--metrics-port") for kind, argv in started.items()} == ports
    for kind, argv in started.items():  # each page reads its siblings: the others' ports, in start order
        peers = ",".join(f":{port}" for other, port in ports.items() if other != kind)
        assert value(argv, "--status-peers") == (peers or None)


def flaky_child(tmp_path, codes: list[int]) -> list[str]:
    """A child that exits with the next of `codes` each time it starts (the last one repeats)."""
    runs = tmp_path / "runs"
    script = (f"import pathlib, sys, time; p = pathlib.Path({str(runs)!r}); n = len(p.read_text()) "
              f"if p.exists() else 0; p.write_text('x' * (n + 1)); time.sleep(0.1); "
              f"sys.exit({codes!r}[min(n, {len(codes) - 1})])")
    return [sys.executable, "-c", script]


async def supervise(argv: list[str], until_runs: int, runs_file) -> tuple[int, bool]:
    """Run a one-child supervisor until the child started `until_runs` times (or it stopped itself)."""
    import asyncio

    from nexus_wyoming.supervisor import Supervisor

    supervisor = Supervisor(["tts"], [], max_backoff_s=0.05)
    supervisor.children[0].argv = argv
    supervisor.children[0].backoff_s = 0.05
    runner = asyncio.create_task(supervisor.run())
    for _ in range(200):
        await asyncio.sleep(0.05)
        if runner.done() or (runs_file.exists() and len(runs_file.read_text()) >= until_runs):
            break
    stopped_itself = runner.done()
    supervisor._stopping.set()
    return await asyncio.wait_for(runner, 10), stopped_itself


async def test_a_config_error_at_the_first_start_stops_everything(tmp_path):
    code, stopped_itself = await supervise(flaky_child(tmp_path, [2]), 3, tmp_path / "runs")
    assert (code, stopped_itself) == (2, True)
    assert len((tmp_path / "runs").read_text()) == 1


async def test_a_server_failing_later_is_restarted_alone(tmp_path):
    """It ran, crashed, then refused to start once: the others stay up, it keeps being retried."""
    code, stopped_itself = await supervise(flaky_child(tmp_path, [1, 2, 2, 0]), 4, tmp_path / "runs")
    assert (code, stopped_itself) == (0, False)
    assert len((tmp_path / "runs").read_text()) >= 4


def test_an_error_while_serving_exits_1_not_2(tmp_path, monkeypatch):
    """ValueError, SttError, TtsError after the port opened: exit 1, so `serve` restarts that server alone."""
    from nexus_wyoming import cli
    from nexus_wyoming.config import Config
    from nexus_wyoming.protocol import runner
    from nexus_wyoming.protocol.server import WyomingServer
    from nexus_wyoming.tts.engine import TtsError

    async def broken(self, drain_signals=True):
        raise TtsError("engine vanished")

    monkeypatch.setattr(WyomingServer, "serve_until_stopped", broken)

    async def serve(config: Config, uri: str) -> None:
        await runner.run_server(config, "tts", uri, lambda connection: None)

    with pytest.raises(SystemExit) as exited:
        cli.run_server_command("tts", "tcp://127.0.0.1:0", None, True, serve, (TtsError,),
                               data_dir=str(tmp_path))
    assert exited.value.code == 1
