#!/usr/bin/env node
'use strict';
// npm install script: builds the Rust cdylib this package loads. Needs a Rust
// toolchain (cargo). With FLOODGATE_LIBRARY set, a prebuilt library is used
// and nothing is built.

const fs = require('node:fs');
const { buildLibrary, hasCrate, libraryPath, packageLibrary, packagedPath } = require('./library.js');

// Runs as `prepare` in the source directory (npm packs a directory after
// preparing it) and as `install` wherever the package lands: in the
// repository it builds; in a packed copy, the library prepared into native/
// is already there.
if (process.env.FLOODGATE_LIBRARY) {
  process.stderr.write(`floodgate: using FLOODGATE_LIBRARY=${libraryPath()}\n`);
} else if (hasCrate()) {
  buildLibrary();
  packageLibrary();
  process.stderr.write(`floodgate: built ${packagedPath()}\n`);
} else if (!fs.existsSync(packagedPath())) {
  buildLibrary(); // throws, explaining where the crate was expected
}
