#!/usr/bin/env bash
# Builds what a user installs and proves it works without a Rust toolchain:
# the crate (its contents checked), the Python wheel and sdist (maturin,
# manylinux_2_17 through zig) and the npm tarballs (the main package and this
# platform's prebuilt-library package). The wheel and the tarballs are
# installed into a fresh venv / folder with cargo and rustc off PATH and
# smoke-tested (scripts/package-smoke/: a check and one middleware request).
# Prints each artifact's name and size; they stay in target/package (crate)
# and target/dist. Needs python3, node >= 20, npm, and PyPI and the npm
# registry (maturin, ziglang, httpx, koffi).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
dist=$repo/target/dist
smoke=$repo/scripts/package-smoke
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$dist"
mkdir -p "$dist/python" "$dist/npm"

# PATH without any directory holding cargo or rustc: what a Python or Node
# developer without Rust has.
no_rust_path=""
IFS=: read -ra path_dirs <<<"$PATH"
for dir in "${path_dirs[@]}"; do
    [ -n "$dir" ] && [ ! -e "$dir/cargo" ] && [ ! -e "$dir/rustc" ] && no_rust_path="${no_rust_path:+$no_rust_path:}$dir"
done
if env PATH="$no_rust_path" sh -c 'command -v cargo || command -v rustc' >/dev/null; then
    echo "package-smoke: could not take the Rust toolchain off PATH" >&2
    exit 1
fi
without_rust() { env PATH="$no_rust_path" "$@"; }

size() { printf '  %-80s %8s bytes\n' "$(basename "$1")" "$(stat -c %s "$1")"; }

# Archive members matching a pattern, or a failure naming what is missing.
require_member() { # listing-file pattern what
    grep -Eq "$2" "$1" || { echo "package-smoke: $3 missing from the artifact" >&2; exit 1; }
}
forbid_member() {
    if grep -Eq "$2" "$1"; then echo "package-smoke: $3 in the artifact:" >&2; grep -E "$2" "$1" >&2; exit 1; fi
}

# One version everywhere: the crate, the Python package (maturin reads its
# Cargo.toml) and the npm packages (pack.js stamps the platform packages).
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
for other in "$(sed -n 's/^version = "\(.*\)"$/\1/p' bindings/python/Cargo.toml | head -1)" \
    "$(node -p "require('./bindings/node/package.json').version")"; do
    if [ "$other" != "$version" ]; then
        echo "package-smoke: versions differ: Cargo.toml has $version, a binding has $other" >&2
        exit 1
    fi
done

# ---- Rust: the crate ships its source, header, README and licences only -------
# --no-verify: test-all.sh's earlier steps build and test this very source.
timeout 300 cargo package --allow-dirty --no-verify --quiet 2>/dev/null
crate=$repo/target/package/floodgate-gcra-$version.crate
tar -tzf "$crate" | sed 's|^[^/]*/||' >"$work/crate.txt"
require_member "$work/crate.txt" '^LICENSE-MIT$' "LICENSE-MIT"
require_member "$work/crate.txt" '^LICENSE-APACHE$' "LICENSE-APACHE"
forbid_member "$work/crate.txt" '^(bindings|benches|tests|examples|scripts|target)/' "repository files the crate does not need"

# ---- Python: wheel and sdist -------------------------------------------------
# The build tools live in their own venv under target/ (kept between runs).
tools=$repo/target/package-tools
if [ ! -x "$tools/bin/maturin" ]; then
    python3 -m venv "$tools"
    "$tools/bin/pip" install --quiet --disable-pip-version-check maturin==1.16.0 ziglang==0.17.1
fi
# zig links against glibc 2.17's symbol versions, so the wheel installs on any
# manylinux2014-or-later system, not only on this machine's glibc.
(cd bindings/python && PATH="$tools/bin:$PATH" timeout 1200 maturin build --quiet --release \
    --zig --compatibility manylinux_2_17 --interpreter python3 --out "$dist/python")
(cd bindings/python && PATH="$tools/bin:$PATH" timeout 300 maturin sdist --out "$dist/python")
wheel=$(ls "$dist"/python/*.whl)
sdist=$(ls "$dist"/python/*.tar.gz)

python3 -m zipfile -l "$wheel" >"$work/wheel.txt"
require_member "$work/wheel.txt" 'dist-info/licenses/LICENSE-MIT' "LICENSE-MIT"
require_member "$work/wheel.txt" 'dist-info/licenses/LICENSE-APACHE' "LICENSE-APACHE"
tar -tzf "$sdist" >"$work/sdist.txt"
require_member "$work/sdist.txt" '/LICENSE-MIT$' "LICENSE-MIT"
require_member "$work/sdist.txt" '/LICENSE-APACHE$' "LICENSE-APACHE"
forbid_member "$work/sdist.txt" '/(bindings/node|benches|tests|examples|target|\.ci)/' "repository files the extension does not need"

python3 -m venv "$work/venv"
# --only-binary: nothing may be compiled; pip would need cargo for the sdist.
without_rust timeout 300 "$work/venv/bin/pip" install --quiet --disable-pip-version-check \
    --only-binary :all: "$wheel" httpx==0.28.1
(cd "$work" && without_rust timeout 60 "$work/venv/bin/python" "$smoke/smoke.py")

# ---- Node: the main package and this platform's package ----------------------
# The release profile strips the library (Cargo.toml), so this is what ships.
timeout 900 cargo rustc --release --lib --features capi,redis --crate-type cdylib,staticlib --quiet
library=$repo/target/release/libfloodgate.so
if readelf -S "$library" | grep -Eq '\.(symtab|debug_info)'; then
    echo "package-smoke: $library still has a symbol table or debug info" >&2
    exit 1
fi
platform=$(node -p "require('./bindings/node/scripts/library.js').currentPlatform()")
node bindings/node/scripts/pack.js "$dist/npm" "$platform=$library" >"$work/tarballs.txt"
main_tarball=$(sed -n 1p "$work/tarballs.txt")
platform_tarball=$(sed -n 2p "$work/tarballs.txt")
for tarball in "$main_tarball" "$platform_tarball"; do
    tar -tzf "$tarball" >"$work/npm.txt"
    require_member "$work/npm.txt" '^package/LICENSE-MIT$' "LICENSE-MIT"
    require_member "$work/npm.txt" '^package/LICENSE-APACHE$' "LICENSE-APACHE"
done
tar -xzOf "$main_tarball" package/package.json >"$work/main-package.json"
forbid_member "$work/main-package.json" '"(install|preinstall|postinstall|prepare)"' "an install script"

mkdir "$work/node"
cp "$smoke/smoke.cjs" "$smoke/smoke.mjs" "$work/node/"
# The other platforms' optional packages are not published from here; npm
# skips an optional dependency it cannot fetch, as it skips one for another OS.
(
    cd "$work/node"
    echo '{"private": true}' >package.json
    without_rust timeout 300 npm install --no-audit --no-fund --loglevel=error \
        "$platform_tarball" "$main_tarball"
    without_rust timeout 60 node smoke.cjs
    without_rust timeout 60 node smoke.mjs
    # Without its platform package the import fails, naming the platform.
    rm -rf "node_modules/floodgate-gcra-$platform"
    if without_rust timeout 60 node -e "require('floodgate-gcra')" 2>missing.txt ||
        ! grep -q "prebuilt library for $platform (package floodgate-gcra-$platform) is not installed" missing.txt; then
        echo "package-smoke: without its platform package, floodgate-gcra did not fail naming $platform:" >&2
        cat missing.txt >&2
        exit 1
    fi
    echo "node: without floodgate-gcra-$platform the import fails naming $platform"
)

echo "artifacts (the crate in target/package, the rest in target/dist):"
for artifact in "$crate" "$wheel" "$sdist" "$main_tarball" "$platform_tarball"; do size "$artifact"; done
