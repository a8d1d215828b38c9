# Sourced by run.sh and test.sh: make .venv exist and hold this checkout's packages.
# Reinstalls only when setup.cfg or the lock changed since the last install (or EXTRAS
# differ). EXTRAS defaults to the servers' engines; every version comes from constraints.txt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${EXTRAS:-servers}"
python_bin=""
for candidate in python3.11 python3.12 python3.13 python3; do
  if command -v "$candidate" >/dev/null 2>&1 &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python_bin="$candidate"; break
  fi
done
[ -n "$python_bin" ] || { echo "Python >= 3.11 is required" >&2; exit 1; }
if [ ! -x "$root/.venv/bin/python" ]; then
  echo "creating $root/.venv with $python_bin" >&2
  if ! "$python_bin" -m venv "$root/.venv" 2>/dev/null; then
    # Debian ships venv separately (python3.11-venv); install it when we may.
    rm -rf "$root/.venv"
    version="$("$python_bin" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    command -v apt-get >/dev/null 2>&1 || { echo "the python venv module is missing" >&2; exit 1; }
    echo "installing python${version}-venv with apt-get" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "python${version}-venv" >/dev/null
    "$python_bin" -m venv "$root/.venv"
  fi
fi
# The intent server's embedded LLM (xllamacpp) needs OpenMP's runtime, which a minimal
# Debian lacks (ImportError: libgomp.so.1).
case ",$extras," in
  *,servers,*|*,intent,*|*,test,*)
    if ! ls /usr/lib/*/libgomp.so.1 >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
      sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
      echo "installing libgomp1 with apt-get (the embedded LLM needs it)" >&2
      $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libgomp1 >/dev/null
    fi ;;
esac
stamp="$root/.venv/.nexus-installed"
want="$(cat "$root/setup.cfg" "$root/pyproject.toml" "$root/constraints.txt" | sha256sum | cut -c1-16)-$extras"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing nexus-wyoming[$extras] into .venv" >&2
  "$root/.venv/bin/python" -m pip install --quiet --upgrade pip
  "$root/.venv/bin/python" -m pip install --quiet -c "$root/constraints.txt" -e "${root}[$extras]"
  echo "$want" > "$stamp"
fi
