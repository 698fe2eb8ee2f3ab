#!/usr/bin/env bash
# Runs every test floodgate has, on a fresh machine: formatting, lints, unit,
# integration and doc tests (the C/C++ ABI tests under valgrind among them),
# the Rust test binaries again under valgrind memcheck,
# the loom model checks, and the Python and Node packages' suites.
# It installs what it needs (valgrind and redis-server from Debian, a Python
# venv, npm packages).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

need_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        step "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# valgrind checks the C ABI programs; gcc/g++ build them (tests/c_abi.rs).
need_apt valgrind gcc g++
# redis-server: the Redis store's tests (tests/redis_*.rs, run by cargo test
# --all-features below) start their own on free 127.0.0.1 ports and fail
# loudly without it.
need_apt redis-server

step "rustfmt"
cargo fmt --all --check

# Without features is what a Rust dependent builds (no C ABI): nothing in it
# may be left unused; with them, the C ABI and its tests and benchmark.
step "clippy"
cargo clippy --all-targets --quiet -- -D warnings
cargo clippy --all-targets --all-features --quiet -- -D warnings

# A broken intra-doc link (a moved or renamed item) fails here, in the public
# docs and in the private ones a maintainer reads.
step "rustdoc: no broken links"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features --document-private-items --quiet

step "unit, integration and doc tests (the C ABI's among them)"
cargo test --all-features --quiet

step "rust test binaries under valgrind memcheck"
scripts/valgrind-rust-tests.sh

step "loom model checks"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target-loom LOOM_MAX_PREEMPTIONS=3 \
    cargo test --release --quiet --test 'loom_*'

if [ -x bindings/python/run-tests.sh ]; then
    step "python package"
    bindings/python/run-tests.sh
    # The extension is its own crate (PyO3), outside the root's fmt and clippy.
    step "python extension: rustfmt and clippy"
    (cd bindings/python && cargo fmt --check &&
        PYO3_PYTHON="$PWD/.venv/bin/python" cargo clippy --all-targets --quiet -- -D warnings)
fi

if [ -x bindings/node/run-tests.sh ]; then
    step "node package"
    bindings/node/run-tests.sh
fi

step "packages: wheel, sdist and npm tarballs installed and smoke-tested without cargo"
scripts/package-smoke.sh

step "all tests passed"
