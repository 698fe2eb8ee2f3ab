'use strict';
// Where the floodgate shared library lives, and how to build it: shared by
// the install script (scripts/build.js) and the loader (lib/native.js).

const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

/** The Rust crate this package binds: two levels above bindings/node. */
const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

const FILE_NAMES = { darwin: 'libfloodgate.dylib', win32: 'floodgate.dll' };

function libraryFileName() {
  return FILE_NAMES[process.platform] ?? 'libfloodgate.so';
}

/** True when REPO_ROOT really is the floodgate crate (not a copied package). */
function hasCrate() {
  const manifest = path.join(REPO_ROOT, 'Cargo.toml');
  return fs.existsSync(manifest) && /^name\s*=\s*"floodgate"/m.test(fs.readFileSync(manifest, 'utf8'));
}

/** The release cdylib in the crate's target dir. */
function builtPath() {
  const targetDir = process.env.CARGO_TARGET_DIR
    ? path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR)
    : path.join(REPO_ROOT, 'target');
  return path.join(targetDir, 'release', libraryFileName());
}

/** The copy the build script leaves inside the package (for copied installs). */
function packagedPath() {
  return path.join(__dirname, '..', 'native', libraryFileName());
}

/**
 * The library to load: FLOODGATE_LIBRARY if set; else the crate's build when
 * it exists (freshest for a linked package); else the packaged copy. Null
 * when there is none yet.
 */
function libraryPath() {
  if (process.env.FLOODGATE_LIBRARY) return path.resolve(process.env.FLOODGATE_LIBRARY);
  return [builtPath(), packagedPath()].find((file) => fs.existsSync(file)) ?? null;
}

/** Copies the crate's build into the package, so a packed copy carries it. */
function packageLibrary() {
  fs.mkdirSync(path.dirname(packagedPath()), { recursive: true });
  fs.copyFileSync(builtPath(), packagedPath());
}

/**
 * Runs `cargo build --release --lib` at the crate root. Cargo's output goes to
 * stderr so a build triggered while loading never pollutes a program's stdout.
 */
function buildLibrary() {
  if (!hasCrate()) {
    throw new Error(
      `floodgate: no floodgate crate at ${REPO_ROOT}; install this package from the repository ` +
        '(npm install <repo>/bindings/node) or set FLOODGATE_LIBRARY to a built libfloodgate',
    );
  }
  const cargo = process.env.CARGO || 'cargo';
  try {
    execFileSync(cargo, ['build', '--release', '--lib'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', process.stderr, process.stderr],
    });
  } catch (error) {
    const reason = error.code === 'ENOENT' ? `${cargo} not found: install a Rust toolchain (https://rustup.rs)` : error.message;
    throw new Error(`floodgate: building the Rust library failed: ${reason}`);
  }
}

module.exports = { REPO_ROOT, buildLibrary, hasCrate, libraryPath, packageLibrary, packagedPath };
