#!/usr/bin/env bash
# The README's test command: install netmedic with its test extra into .venv, then run the suite.
# Works on a fresh machine with Python 3.11 (torch==2.13.0 is pinned: a CPU wheel, no CUDA).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet -e '.[test]'

# the report's browser test renders report.html in headless Chromium (Debian's package);
# under CI=true a missing browser fails that test
if [ "$(id -u)" = 0 ]; then
    command -v chromium >/dev/null ||
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
fi

.venv/bin/ruff check .
# pytest exits 5 when it collects no test: that is a failure too, and set -e makes it one
.venv/bin/python -m pytest -q "$@"
