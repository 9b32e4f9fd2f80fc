#!/usr/bin/env bash
# Creates or refreshes the project-local virtualenv (.venv) with the pinned emulator and
# Python test tools. Idempotent and cheap when nothing changed: a stamp holds the hash of
# requirements-dev.txt. Safe to run concurrently (flock).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
req="$root/requirements-dev.txt"
mkdir -p "$venv"
exec 9>"$venv.lock"
flock 9
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
# VENV_PROGRESS=1 (scripts/try-local) shows pip's progress: a first install takes minutes.
quiet=--quiet
if [ "${VENV_PROGRESS:-}" = 1 ]; then
  quiet=
  echo "installing the pinned Python tools (requirements-dev.txt) into .venv"
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install $quiet --disable-pip-version-check -r "$req"
echo "$want" > "$venv/.stamp"
