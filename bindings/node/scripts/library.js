'use strict';
// Where the floodgate shared library lives: shared by the loader
// (lib/native.js), the benchmarks and the packing script (scripts/pack.js).
// Nothing here builds: a published install carries the library prebuilt in a
// per-platform package, and a repository checkout uses cargo's own build.

const fs = require('node:fs');
const path = require('node:path');

/** The Rust crate this package binds, when running from the repository: two levels above bindings/node. */
const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/** The main package's name; each platform package is named `${PACKAGE_NAME}-${platform}`. */
const PACKAGE_NAME = require('../package.json').name;

/**
 * The platforms a release publishes a prebuilt library for: npm's os/cpu/libc
 * fields, the Rust target that builds it and the library's file name.
 */
const PLATFORMS = Object.freeze({
  'linux-x64-gnu': { os: 'linux', cpu: 'x64', libc: 'glibc', target: 'x86_64-unknown-linux-gnu', file: 'libfloodgate.so' },
  'linux-arm64-gnu': { os: 'linux', cpu: 'arm64', libc: 'glibc', target: 'aarch64-unknown-linux-gnu', file: 'libfloodgate.so' },
  'darwin-x64': { os: 'darwin', cpu: 'x64', target: 'x86_64-apple-darwin', file: 'libfloodgate.dylib' },
  'darwin-arm64': { os: 'darwin', cpu: 'arm64', target: 'aarch64-apple-darwin', file: 'libfloodgate.dylib' },
  'win32-x64-msvc': { os: 'win32', cpu: 'x64', target: 'x86_64-pc-windows-msvc', file: 'floodgate.dll' },
});

/** This process's platform in PLATFORMS' terms (`linux-x64-gnu`, `darwin-arm64`...). */
function currentPlatform() {
  const base = `${process.platform}-${process.arch}`;
  if (process.platform === 'linux') {
    // Node reports the glibc it runs on; a musl build reports none.
    const glibc = process.report?.getReport()?.header?.glibcVersionRuntime;
    return `${base}-${glibc ? 'gnu' : 'musl'}`;
  }
  if (process.platform === 'win32') return `${base}-msvc`;
  return base;
}

function platformPackageName(platform) {
  return `${PACKAGE_NAME}-${platform}`;
}

/** True when REPO_ROOT really is the floodgate crate (not an installed copy). */
function hasCrate() {
  const manifest = path.join(REPO_ROOT, 'Cargo.toml');
  return fs.existsSync(manifest) && /^name\s*=\s*"floodgate-gcra"/m.test(fs.readFileSync(manifest, 'utf8'));
}

/** The release cdylib in the crate's target dir (a repository checkout's build). */
function builtPath() {
  const targetDir = process.env.CARGO_TARGET_DIR
    ? path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR)
    : path.join(REPO_ROOT, 'target');
  const file = PLATFORMS[currentPlatform()]?.file ?? 'libfloodgate.so';
  return path.join(targetDir, 'release', file);
}

/**
 * The library to load, one of:
 * - FLOODGATE_LIBRARY, a path to a built libfloodgate;
 * - with FLOODGATE_DEV_BUILD=1 in a repository checkout (the tests and
 *   benchmarks set it), cargo's release build under target/;
 * - else the prebuilt library of the platform package installed beside this one.
 * Throws, naming the platform and what to do, when there is none.
 */
function libraryPath() {
  if (process.env.FLOODGATE_LIBRARY) return path.resolve(process.env.FLOODGATE_LIBRARY);
  if (process.env.FLOODGATE_DEV_BUILD === '1') return devBuildPath();
  return platformLibraryPath();
}

function devBuildPath() {
  if (!hasCrate()) {
    throw new Error(`${PACKAGE_NAME}: FLOODGATE_DEV_BUILD=1 is for a repository checkout, but ${REPO_ROOT} is not the floodgate crate`);
  }
  const file = builtPath();
  if (!fs.existsSync(file)) {
    throw new Error(`${PACKAGE_NAME}: FLOODGATE_DEV_BUILD=1 but ${file} does not exist; run cargo rustc --release --lib --features capi,redis --crate-type cdylib,staticlib in ${REPO_ROOT}`);
  }
  return file;
}

function platformLibraryPath() {
  const platform = currentPlatform();
  const spec = PLATFORMS[platform];
  if (spec === undefined) {
    throw new Error(
      `${PACKAGE_NAME}: no prebuilt library for ${platform}; prebuilt: ${Object.keys(PLATFORMS).join(', ')}. ` +
        'Build libfloodgate from the repository (cargo rustc --release --lib --features capi,redis --crate-type cdylib,staticlib) and set FLOODGATE_LIBRARY to it',
    );
  }
  const name = platformPackageName(platform);
  let manifest;
  try {
    manifest = require.resolve(`${name}/package.json`);
  } catch {
    throw new Error(
      `${PACKAGE_NAME}: the prebuilt library for ${platform} (package ${name}) is not installed; ` +
        `reinstall without --omit=optional / --no-optional, or npm install ${name}`,
    );
  }
  return path.join(path.dirname(manifest), spec.file);
}

module.exports = { PACKAGE_NAME, PLATFORMS, REPO_ROOT, currentPlatform, libraryPath, platformPackageName };
