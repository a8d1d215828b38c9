#!/usr/bin/env bash
# Refresh constraints.txt: resolve setup.cfg's ranges (every extra) afresh in a throwaway
# venv and record the exact versions. Run ./test.sh afterwards: the lock holds only
# versions the suite passed with.   Usage: scripts/lock.sh [python3.11]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python_bin="${1:-python3.11}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python_bin" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
"$work/venv/bin/python" -m pip install --quiet "${root}[test]"
{
  echo "# Exact versions the test suite passed with; used by run.sh, test.sh, the Dockerfile"
  echo "# and satellite/install.sh. setup.cfg keeps the ranges. Refresh: scripts/lock.sh"
  "$work/venv/bin/python" -m pip freeze --exclude nexus-wyoming | LC_ALL=C sort -f
} > "$root/constraints.txt"
echo "wrote $root/constraints.txt ($(grep -c '==' "$root/constraints.txt") pins)" >&2
