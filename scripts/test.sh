#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run every test tier this machine can run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/ruff check .
# --durations: the 25 slowest tests, and tests/conftest.py's time per tier, end every run's log.
exec .venv/bin/pytest -p no:cacheprovider -ra --durations=25 "$@"
