#!/usr/bin/env bash
# Create .venv and install alarmlink with the given extras (default: dev).
# Works on a fresh Debian / Ubuntu / Raspberry Pi OS machine that has only python3:
# as root it apt-installs python3-venv when the venv module is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"
stamp=".venv/.installed-$extras"
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ]; then exit 0; fi
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  else
    echo "python3's venv module is missing: sudo apt-get install -y python3-venv" >&2; exit 1
  fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[$extras]"
touch "$stamp"
