#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run every test tier this machine can run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/ruff check .
exec .venv/bin/pytest -p no:cacheprovider -ra "$@"
