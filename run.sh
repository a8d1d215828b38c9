#!/usr/bin/env bash
# Install into .venv if needed, then start the Nexus Wyoming servers on embedded
# defaults (offline voice), advertised by zeroconf. Extra arguments go to the server,
# e.g. ./run.sh --debug --metrics-port 9100
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh
exec .venv/bin/nexus-wyoming tts "$@"
