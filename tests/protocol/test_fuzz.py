"""A bounded, seeded fuzz run against each real server process and the satellite's HA mode:
every case gets an `error`, a clean close or a normal answer within the bound, the process
stays up without a traceback, a canary client is served throughout, and RSS stays bounded.

Longer runs: bench/fuzz.py (same cases, same seed). FUZZ_SEED picks another seed.
"""

import os

import pytest

from tests.support.fuzzcases import SERVERS, cases, fixed
from tests.support.fuzzing import fuzz, served

SEED = int(os.environ.get("FUZZ_SEED", "20261202"))
MAX_CASES = 1500
MAX_SECONDS = {"stt": 30.0, "intent": 15.0, "tts": 20.0, "satellite": 15.0}  # ~2 minutes with start-ups
CANARY_MAX_S = {"stt": 45.0, "intent": 5.0, "tts": 15.0, "satellite": 5.0}  # STT: queued behind Whisper decodes
MAX_RSS_GROWTH = 200 * 1024 * 1024


@pytest.mark.parametrize("server", SERVERS)
async def test_fuzzed_connections_never_crash_hang_or_starve_a_client(server, tmp_path):
    print(f"fuzz seed {SEED} (FUZZ_SEED={SEED} reproduces; bench/fuzz.py --server {server} --seed {SEED})")
    battery = sum(1 for _ in fixed(server))
    async with served(server, tmp_path) as process:
        report = await fuzz(server, process, cases(server, SEED), SEED, MAX_CASES, MAX_SECONDS[server],
                            min_cases=battery)
        alive, log = process.alive, process.log
    print(f"{server}: {report.cases} cases in {report.seconds:.0f} s {report.counts}, "
          f"canary {report.canary_ms()}, RSS {report.rss[0] >> 20} → {report.rss[-1] >> 20} MiB")
    assert report.crash is None and alive, f"died after {report.crash}:\n{log[-4000:]}"
    assert not report.hangs, report.hangs
    assert not report.tracebacks and "Traceback" not in log, report.tracebacks
    assert report.cases >= battery
    assert report.canary and not report.canary_failures, report.canary_failures
    assert max(report.canary) < CANARY_MAX_S[server], report.canary_ms()
    assert max(report.rss) - report.rss[0] < MAX_RSS_GROWTH
