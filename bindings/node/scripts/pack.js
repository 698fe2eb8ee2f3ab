#!/usr/bin/env node
'use strict';
// Packs the npm tarballs a release publishes:
//
//   node scripts/pack.js OUT_DIR [PLATFORM=LIBRARY ...]
//
// always the main package, whose optionalDependencies name every platform
// package of scripts/library.js's PLATFORMS (npm installs only the one whose
// os/cpu/libc match), and one platform package per PLATFORM=LIBRARY given
// (say linux-x64-gnu=../../target/release/libfloodgate.so), carrying that
// prebuilt library. Each package is staged in a temporary folder with the
// licence texts from the repository root, then `npm pack`ed into OUT_DIR.
// Prints each tarball's path.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { PACKAGE_NAME, PLATFORMS, REPO_ROOT, platformPackageName } = require('./library.js');

const PACKAGE_DIR = path.resolve(__dirname, '..');
const LICENCES = ['LICENSE-MIT', 'LICENSE-APACHE'];
const manifest = JSON.parse(fs.readFileSync(path.join(PACKAGE_DIR, 'package.json'), 'utf8'));

function main(argv) {
  const [outDir, ...platformArgs] = argv;
  if (!outDir) throw new Error('usage: node scripts/pack.js OUT_DIR [PLATFORM=LIBRARY ...]');
  fs.mkdirSync(outDir, { recursive: true });
  const tarballs = [packMain(outDir)];
  for (const arg of platformArgs) {
    const [platform, library] = arg.split('=');
    if (!PLATFORMS[platform] || !library) {
      throw new Error(`expected PLATFORM=LIBRARY with PLATFORM one of ${Object.keys(PLATFORMS).join(', ')}, got ${arg}`);
    }
    tarballs.push(packPlatform(outDir, platform, path.resolve(library)));
  }
  for (const tarball of tarballs) process.stdout.write(`${tarball}\n`);
}

/** The main package: the JS, its types, and one optional dependency per platform. */
function packMain(outDir) {
  return stageAndPack(outDir, (stage) => {
    for (const entry of manifest.files.filter((entry) => !LICENCES.includes(entry))) {
      fs.cpSync(path.join(PACKAGE_DIR, entry), path.join(stage, entry), { recursive: true });
    }
    const { devDependencies, scripts, ...published } = manifest;
    const optionalDependencies = Object.fromEntries(
      Object.keys(PLATFORMS).map((platform) => [platformPackageName(platform), manifest.version]),
    );
    return { ...published, optionalDependencies };
  });
}

/** A platform package: the prebuilt library, npm's os/cpu/libc filters, nothing to run. */
function packPlatform(outDir, platform, library) {
  const { os: platformOs, cpu, libc, target, file } = PLATFORMS[platform];
  return stageAndPack(outDir, (stage) => {
    fs.copyFileSync(library, path.join(stage, file));
    fs.writeFileSync(
      path.join(stage, 'README.md'),
      `# ${platformPackageName(platform)}\n\nThe prebuilt floodgate library (\`${file}\`, Rust target \`${target}\`) ` +
        `that [${PACKAGE_NAME}](https://www.npmjs.com/package/${PACKAGE_NAME}) loads on ${platform}. ` +
        `Install ${PACKAGE_NAME}, not this package.\n`,
    );
    return {
      name: platformPackageName(platform),
      version: manifest.version,
      description: `The prebuilt floodgate library for ${PACKAGE_NAME} on ${platform}`,
      license: manifest.license,
      author: manifest.author,
      repository: manifest.repository,
      os: [platformOs],
      cpu: [cpu],
      ...(libc ? { libc: [libc] } : {}),
      files: [file, 'README.md', ...LICENCES],
    };
  });
}

/** Fills a temporary folder (fill returns its package.json), adds the licences, packs it into outDir. */
function stageAndPack(outDir, fill) {
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-pack-'));
  try {
    const packageJson = fill(stage);
    for (const licence of LICENCES) fs.copyFileSync(path.join(REPO_ROOT, licence), path.join(stage, licence));
    fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify(packageJson, null, 2)}\n`);
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', path.resolve(outDir)], {
        cwd: stage,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    return path.join(path.resolve(outDir), packed.filename);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

main(process.argv.slice(2));
