#!/usr/bin/env bash
# Builds and installs the floodgate Python package into bindings/python/.venv
# with the peers it is measured against, then runs bench.py (arguments pass on).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/venv.sh" -r "$here/requirements-bench.txt"
cd "$here"
exec "$venv/bin/python" bench.py "$@"
