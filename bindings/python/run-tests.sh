#!/usr/bin/env bash
# Builds and installs the floodgate Python package into bindings/python/.venv
# and runs its pytest suite. Extra arguments go to pytest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/venv.sh" -r "$here/requirements-test.txt"
cd "$here"
exec "$venv/bin/python" -m pytest "$@"
