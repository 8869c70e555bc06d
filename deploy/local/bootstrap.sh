#!/usr/bin/env bash
# Make the Python side ready: find a Python 3.13, make sure uv exists, and `uv sync --frozen`.
# Prints the path of the uv binary on its last line, for the callers (run.sh, test.sh, Makefile).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
TOOLS=$REPO/.state/tools
export UV_PYTHON_DOWNLOADS=never   # no network for Python builds here: fail fast instead

is_py313() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; }

find_python() {
  local c root
  for c in "${POSTROOM_BASE_PYTHON:-}" "$(command -v python3.13 2>/dev/null || true)" /usr/bin/python3.13 \
           /usr/local/bin/python3.13 /usr/bin/python3; do
    if is_py313 "$c"; then echo "$c"; return 0; fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    root=$(pyenv root)
    for c in "$root"/versions/3.13*/bin/python3.13; do
      if is_py313 "$c"; then echo "$c"; return 0; fi
    done
  fi
  return 1
}

PY=$(find_python) || {
  echo "bootstrap: no Python 3.13 found (tried POSTROOM_BASE_PYTHON, python3.13 on PATH, /usr/bin/python3," >&2
  echo "  pyenv versions). Install Python 3.13 or set POSTROOM_BASE_PYTHON=/path/to/python3.13." >&2
  exit 1
}
echo "bootstrap: Python 3.13 at $PY" >&2

UV=$(command -v uv 2>/dev/null || true)
if [ -z "$UV" ] && [ -x "$TOOLS/bin/uv" ]; then UV=$TOOLS/bin/uv; fi
if [ -z "$UV" ]; then
  echo "bootstrap: installing uv into $TOOLS" >&2
  for pip_py in "$PY" python3; do
    if "$pip_py" -m pip --version >/dev/null 2>&1; then
      "$pip_py" -m pip install --quiet --disable-pip-version-check --break-system-packages --target "$TOOLS" uv >&2
      break
    fi
  done
  [ -x "$TOOLS/bin/uv" ] || { echo "bootstrap: could not install uv (no pip?). Install uv and retry." >&2; exit 1; }
  UV=$TOOLS/bin/uv
fi
echo "bootstrap: $("$UV" --version) at $UV" >&2

cd "$REPO"
# Bytecode compiled once here, as the image does (deploy/Dockerfile): where PYTHONDONTWRITEBYTECODE
# is set, every service start would otherwise compile every library from source again (seconds of
# CPU, and about 4 MB more resident per service: docs/performance.md).
"$UV" sync --frozen --compile-bytecode --python "$PY" --quiet >&2
echo "$UV"
