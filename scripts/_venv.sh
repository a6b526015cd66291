# Sourced by scripts/demo and scripts/test: create .venv with Python >= 3.11 and install
# the project into it (editable, with the extras named in $1, if any). Stops on failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
pick_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "slotgraph needs Python 3.11 or newer on PATH" >&2
  exit 1
}
if [ ! -x .venv/bin/python ]; then
  "$(pick_python)" -m venv .venv
fi
target="."
if [ -n "${1:-}" ]; then
  target=".[$1]"
fi
log=$(mktemp)
if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target" >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "slotgraph: installing into .venv failed (see above)" >&2
  exit 1
fi
rm -f "$log"
