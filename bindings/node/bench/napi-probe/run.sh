#!/usr/bin/env bash
# Measures the Node binding choice on floodgate's own calls: builds the C ABI
# cdylib (what the koffi package loads) and the napi-rs probe, then times both
# in one process (../napi-vs-koffi.js). A measurement tool, not a test: nothing
# here asserts on timings, and the test scripts do not run it.
#   bash bindings/node/bench/napi-probe/run.sh
set -euo pipefail
cd "$(dirname "$0")"

echo "== cargo rustc --release --lib --features capi --crate-type cdylib,staticlib (C ABI cdylib, for koffi)" >&2
(cd ../../../.. && cargo rustc --release --lib --features capi --crate-type cdylib,staticlib --quiet)
export FLOODGATE_DEV_BUILD=1

echo "== cargo build --release (napi-rs probe)" >&2
cargo build --release --quiet
# Node loads addons by the .node extension; cargo names the cdylib lib*.so.
cp target/release/libfloodgate_napi_probe.so floodgate_napi_probe.node

if [ ! -d ../../node_modules ]; then
  echo "== npm ci" >&2
  (cd ../.. && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi

echo "== node bench/napi-vs-koffi.js" >&2
cd ../.. && node bench/napi-vs-koffi.js
