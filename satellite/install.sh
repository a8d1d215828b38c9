#!/usr/bin/env bash
# Install the Nexus Wyoming satellite on a Raspberry Pi (Raspberry Pi OS / Debian bookworm
# or newer, 64-bit): apt packages, a venv, /etc/nexus-satellite/satellite.yaml, a system
# user in the audio group and the systemd service nexus-satellite.service running Home
# Assistant mode (Home Assistant connects on port 10700). Safe to run again: it upgrades
# the package, keeps an existing config file and restarts the service.
#
#   sudo satellite/install.sh                          # install this checkout
#   sudo satellite/install.sh 'nexus-wyoming==0.1.0'   # or any pip spec: a wheel, a URL, a version
#   satellite/install.sh --print-spec [SPEC]          # only print what pip would be given, one per line
#
# Environment:
#   PREFIX=/tmp/x    install under this root instead of /; implies DRY_RUN=1 (the system
#                    commands would act on the real system, not the prefix)
#   DRY_RUN=1        print apt-get, useradd/usermod, chown and systemctl commands instead of running them
#   PYTHON=python3   interpreter for the venv (3.11 or newer)
#   PIP_ARGS=...     extra `pip install` arguments, e.g. "--no-deps" or "--find-links DIR"
#   SATELLITE_USER=nexus-satellite   SATELLITE_NAME=$(hostname -s)   NO_START=1 (enable only)
#   MIC_COMMAND / SND_COMMAND        microphone / speaker commands written into a new config file
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
checkout="$(dirname "$here")"
print_spec=0
if [ "${1:-}" = --print-spec ]; then print_spec=1; shift; fi
source_spec="${1:-$checkout}"

root="${PREFIX:-}"
root="${root%/}"
dry_run="${DRY_RUN:-0}"
[ -z "$root" ] || dry_run=1
python_bin="${PYTHON:-python3}"
user="${SATELLITE_USER:-nexus-satellite}"
name="${SATELLITE_NAME:-$(hostname -s 2>/dev/null || echo nexus-satellite)}"
mic_command="${MIC_COMMAND:-arecord -q -r 16000 -c 1 -f S16_LE -t raw}"
snd_command="${SND_COMMAND:-aplay -q -r 22050 -c 1 -f S16_LE -t raw}"
read -r -a pip_args <<< "${PIP_ARGS:-}"

install_dir="$root/opt/nexus-satellite"
venv="$install_dir/venv"
config_dir="$root/etc/nexus-satellite"
config_file="$config_dir/satellite.yaml"
state_dir="$root/var/lib/nexus-satellite"
unit_dir="$root/etc/systemd/system"
unit_file="$unit_dir/nexus-satellite.service"
apt_packages=(python3 python3-venv python3-pip alsa-utils ca-certificates)

say() { printf 'install.sh: %s\n' "$*"; }
fail() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

# A command that changes the system outside the prefix: printed instead of run in a dry run.
system() {
  if [ "$dry_run" = 1 ]; then
    printf 'DRY-RUN:'; printf ' %q' "$@"; printf '\n'
  else
    printf '+'; printf ' %q' "$@"; printf '\n'
    "$@"
  fi
}

check_source() {
  case "$source_spec" in
    /*|./*|../*)
      [ -e "$source_spec" ] || fail "no such checkout or file: $source_spec"
      if [ -d "$source_spec" ] && [ ! -f "$source_spec/setup.cfg" ] && [ ! -f "$source_spec/pyproject.toml" ]; then
        fail "$source_spec is not a Python project (no setup.cfg or pyproject.toml)"
      fi ;;
  esac
}

install_apt_packages() {
  system apt-get update
  system env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${apt_packages[@]}"
}

check_python() {
  "$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null ||
    fail "$python_bin is missing or older than 3.11 (Raspberry Pi OS bookworm or newer has 3.11)"
}

ensure_user() {
  if id -u "$user" >/dev/null 2>&1; then
    system usermod --append --groups audio "$user"
  else
    system useradd --system --user-group --groups audio --home-dir "$state_dir" --no-create-home \
      --shell /usr/sbin/nologin "$user"
  fi
}

# The package spec with its wake-word extra (the default config listens for "okay nabu"):
# a checkout or an archive gets [wake] appended, a requirement gets it after the name, a URL
# becomes "nexus-wyoming[wake] @ URL"; a spec that names extras itself is left alone.
with_wake_extra() {
  local spec="$1"
  case "$spec" in
    *\[*) printf '%s' "$spec" ;;
    *://*) printf 'nexus-wyoming[wake] @ %s' "$spec" ;;
    */*|.*) printf '%s[wake]' "$spec" ;;
    nexus-wyoming*|nexus_wyoming*)
      local name="${spec%%[<>=!~ ;]*}"
      printf '%s[wake]%s' "$name" "${spec#"$name"}" ;;  # a bare name is a requirement, as pip reads it
    *) printf '%s[wake]' "$spec" ;;
  esac
}

# What pip installs, one argument a line: the package with its wake-word extra, within the
# checkout's lock of tested versions. The satellite's install tests take it from --print-spec.
package_spec() {
  [ ! -f "$checkout/constraints.txt" ] || printf '%s\n' -c "$checkout/constraints.txt"
  printf '%s\n' "$(with_wake_extra "$source_spec")"
}

install_package() {
  local spec
  mapfile -t spec < <(package_spec)
  mkdir -p "$install_dir"
  if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv"
    "$python_bin" -m venv "$venv"
  fi
  say "installing $source_spec into $venv (this takes a few minutes on a Pi)"
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --upgrade "${pip_args[@]}" "${spec[@]}"
  "$venv/bin/nexus-satellite" --version
}

# Write the packaged defaults (config/satellite.yaml) with this device's name, state
# directory and ALSA commands to $1, then load it with the installed package to prove it.
render_config() {
  "$venv/bin/python" - "$1" "$checkout/config/satellite.yaml" "$name" "$state_dir" "$mic_command" "$snd_command" <<'EOF'
import json, re, sys
from pathlib import Path
from satellite.settings import ConfigError, load_settings

out, template, *values = sys.argv[1:]
keys = ["name", "data_dir", "  mic_command", "  snd_command"]
if Path(template).is_file():
    text = Path(template).read_text(encoding="utf-8")
else:
    text = "name: null\ndata_dir: null\naudio:\n  mic_command: null\n  snd_command: null\n"
for key, value in zip(keys, values):
    line = re.compile(rf"^{key}:.*$", re.M)
    text, found = line.subn(lambda _: f"{key}: {json.dumps(value)}  # set by satellite/install.sh", text, count=1)
    if not found:
        sys.exit(f"install.sh: no '{key.strip()}:' line in {template}")
Path(out).write_text(text, encoding="utf-8")
try:
    settings = load_settings(out)
except ConfigError as err:
    sys.exit(f"install.sh: {err}")
if [settings.name, settings.data_dir, settings.audio.mic_command, settings.audio.snd_command] != values:
    sys.exit(f"install.sh: {out} did not get the device settings")
EOF
}

# An existing settings file must still load with the new version.
check_config() {
  local problem
  problem="$("$venv/bin/python" -c 'import sys
from satellite.settings import ConfigError, load_settings
try:
    load_settings(sys.argv[1])
except ConfigError as err:
    print(err)' "$1")"
  [ -z "$problem" ] || fail "$problem; fix $1 (or move it away to get a new one) and run again"
}

install_config() {
  mkdir -p "$config_dir"
  if [ -f "$config_file" ]; then
    say "keeping $config_file"
    check_config "$config_file"
    return
  fi
  local draft="$config_file.new"
  render_config "$draft"
  chmod 0644 "$draft"
  mv "$draft" "$config_file"
  say "wrote $config_file"
}

install_unit() {
  mkdir -p "$unit_dir" "$state_dir"
  system chown "$user:$user" "$state_dir"
  local draft="$unit_file.new"
  sed -e "s|@USER@|$user|g" -e "s|@VENV@|$venv|g" -e "s|@CONFIG_FILE@|$config_file|g" \
      -e "s|@STATE_DIR@|$state_dir|g" "$here/systemd/nexus-satellite.service.in" | grep -v '^# Template:' > "$draft"
  if cmp -s "$draft" "$unit_file"; then
    rm "$draft"
    say "$unit_file unchanged"
  else
    chmod 0644 "$draft"
    mv "$draft" "$unit_file"
    say "wrote $unit_file"
  fi
  system systemctl daemon-reload
  system systemctl enable nexus-satellite.service
  if [ "${NO_START:-0}" != 1 ]; then
    system systemctl restart nexus-satellite.service
  fi
}

main() {
  check_source
  if [ "$print_spec" = 1 ]; then
    package_spec
    return
  fi
  if [ "$dry_run" != 1 ] && [ "$(id -u)" -ne 0 ]; then
    fail "run as root (sudo $0), or try it with PREFIX=/tmp/nexus-test"
  fi
  install_apt_packages
  check_python
  ensure_user
  install_package
  install_config
  install_unit
  say "done. In Home Assistant add the Wyoming Protocol integration (it is discovered, or use this host and the port of ha.uri in $config_file, 10700 by default); logs: journalctl -u nexus-satellite -f"
}

main
