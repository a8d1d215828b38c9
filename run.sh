#!/usr/bin/env bash
# Install into .venv if needed, then start every Nexus Wyoming server on embedded
# defaults (offline models), each advertised by zeroconf. Extra arguments go to
# `nexus-wyoming serve`, e.g. ./run.sh --debug --metrics-port 9100 --only tts
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh
exec .venv/bin/nexus-wyoming serve "$@"
