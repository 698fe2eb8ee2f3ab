#!/usr/bin/env node
'use strict';
// npm install script: builds the Rust cdylib this package loads. Needs a Rust
// toolchain (cargo). With FLOODGATE_LIBRARY set, a prebuilt library is used
// and nothing is built.

const { buildLibrary, libraryPath } = require('./library.js');

if (process.env.FLOODGATE_LIBRARY) {
  process.stderr.write(`floodgate: using FLOODGATE_LIBRARY=${libraryPath()}\n`);
} else {
  buildLibrary();
  process.stderr.write(`floodgate: built ${libraryPath()}\n`);
}
