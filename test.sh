#!/usr/bin/env bash
# Install what the tests need (system packages via apt, Python packages into .venv)
# and run the whole suite. Extra arguments go to pytest, e.g. ./test.sh -k tts
set -euo pipefail
cd "$(dirname "$0")"
need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v setpriv >/dev/null 2>&1 || need_apt+=(util-linux)
command -v shellcheck >/dev/null 2>&1 || need_apt+=(shellcheck)  # tests/deploy: satellite/install.sh
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # tests/test_status_page.py: the status page, headless
command -v arecord >/dev/null 2>&1 || need_apt+=(alsa-utils)  # the Pi's mic and speaker commands
command -v pulseaudio >/dev/null 2>&1 || need_apt+=(pulseaudio)  # tests/satellite/test_pulse.py: a sound server with null sinks, no hardware
command -v pacat >/dev/null 2>&1 || need_apt+=(pulseaudio-utils)  # test_pulse.py: pacat/paplay/pactl speak into and record the sinks
ls /usr/lib/*/libportaudio.so.2 >/dev/null 2>&1 || need_apt+=(libportaudio2)  # test_pulse.py: PortAudio for the satellite's sounddevice mic and speaker
ls /usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so >/dev/null 2>&1 || need_apt+=(libasound2-plugins)  # test_pulse.py: ALSA's `pulse` device (arecord/aplay -D pulse)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)  # tests/protocol/test_netns.py: mDNS across a veth pair
command -v podman >/dev/null 2>&1 || need_apt+=(podman)  # tests/deploy/test_container.py: the image and the compose stack
command -v runc >/dev/null 2>&1 || need_apt+=(runc)  # tests/deploy/containers.conf: crun refuses hybrid cgroups
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)  # docker/debian-base.sh: a base without a registry
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)  # tests/ha: Home Assistant turns Wyoming TTS into mp3 (HA itself installs into ~/.cache/nexus-wyoming)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
ls /usr/lib/*/libgomp.so.1 >/dev/null 2>&1 || need_apt+=(libgomp1)  # the embedded LLM: xllamacpp's llama.cpp uses OpenMP  # tests/ha: HA builds ciso8601, lru-dict, pymicro-vad from sdists
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${need_apt[*]} with apt-get" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
EXTRAS=test source scripts/venv.sh  # the servers, the satellite extras and pytest
exec .venv/bin/python -m pytest -q "$@"
