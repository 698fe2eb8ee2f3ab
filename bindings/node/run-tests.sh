#!/usr/bin/env bash
# Tests of the Node package: builds the Rust cdylib, installs the package's
# dev dependencies (from package-lock.json), type-checks index.d.ts against a
# typed usage file, and runs the node:test suite. Needs node >= 20, npm, cargo.
set -euo pipefail
cd "$(dirname "$0")"

echo "== cargo rustc --release --lib --features capi,redis --crate-type cdylib,staticlib" >&2
(cd ../.. && cargo rustc --release --lib --features capi,redis --crate-type cdylib,staticlib --quiet)
# The tests load that build (scripts/library.js), not a platform package.
export FLOODGATE_DEV_BUILD=1

echo "== npm ci" >&2
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

echo "== tsc --noEmit" >&2
node_modules/.bin/tsc -p tsconfig.json

echo "== node --test" >&2
node --test --test-reporter=spec test/
