# Sourced by run-tests.sh and run-bench.sh: makes bindings/python/.venv (once),
# installs the requirement files given as arguments, then builds and installs
# the package from this directory (a release build; cargo reuses
# bindings/python/target, so an unchanged tree does not recompile).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
py="$venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check "$@"
"$py" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$here"
