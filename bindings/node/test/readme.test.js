'use strict';
// The README's quick starts, run as written: each code block marked
// `<!-- quickstart: NAME -->` is saved to a temporary directory where
// require('floodgate-gcra') is this package, started as its own process on a
// free 127.0.0.1 port, and sent requests until one is denied. The process is
// stopped at the end; waiting for it to listen is bounded.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const PACKAGE = path.join(__dirname, '..');
const README = fs.readFileSync(path.join(PACKAGE, 'README.md'), 'utf8');

function quickStart(name) {
  const marker = `<!-- quickstart: ${name} -->\n\`\`\`js\n`;
  const start = README.indexOf(marker);
  assert.ok(start !== -1, `README has the ${name} quick start`);
  const code = README.slice(start + marker.length, README.indexOf('```', start + marker.length));
  assert.ok(code.split('\n').filter((line) => line.trim() !== '').length <= 10, `${name}: ten lines at most`);
  return code;
}

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs `code` as a file that requires 'floodgate-gcra'; resolves to its port once it listens. */
async function run(t, code) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'floodgate-quickstart-'));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(PACKAGE, path.join(dir, 'node_modules', 'floodgate-gcra'), 'dir');
  fs.writeFileSync(path.join(dir, 'app.js'), code);
  const port = await freePort();
  const child = spawn(process.execPath, ['app.js'], {
    cwd: dir,
    env: { ...process.env, PORT: String(port), NODE_PATH: path.join(PACKAGE, 'node_modules') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  t.after(() => {
    child.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  for (let attempt = 0; attempt < 200; attempt += 1) {
    // A bare connection: an HTTP request would spend one of the limit's requests.
    const listening = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (listening) return port;
    assert.equal(child.exitCode, null, `the quick start exited: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`the quick start never listened: ${stderr}`);
}

/** Requests `url` until one is denied (at most `most`); returns the denial's status and headers. */
async function firstDenial(url, most) {
  for (let i = 0; i < most; i += 1) {
    const response = await fetch(url, { headers: { 'x-forwarded-for': '198.51.100.7' } });
    await response.text();
    if (response.status === 429) return { after: i, status: response.status, headers: Object.fromEntries(response.headers) };
  }
  return assert.fail(`no denial in ${most} requests`);
}

function assertStandardDenial(denial) {
  assert.equal(denial.status, 429);
  assert.match(denial.headers['retry-after'], /^[1-9]\d*$/);
  assert.equal(denial.headers['x-ratelimit-remaining'], '0');
  assert.match(denial.headers['x-ratelimit-reset'], /^\d{10}$/);
  assert.ok(denial.headers['ratelimit-policy']);
  assert.ok(denial.headers.ratelimit);
}

test('README Express quick start: 5 a minute, the 6th is 429', { timeout: 30_000 }, async (t) => {
  const port = await run(t, quickStart('express'));
  const denial = await firstDenial(`http://127.0.0.1:${port}/`, 10);
  assert.equal(denial.after, 5);
  assertStandardDenial(denial);
  assert.equal(denial.headers['x-ratelimit-limit'], '5');
});

test('README Fastify quick start: 5 a minute, /login 1 a minute', { timeout: 30_000 }, async (t) => {
  const port = await run(t, quickStart('fastify'));
  const denial = await firstDenial(`http://127.0.0.1:${port}/`, 10);
  assert.equal(denial.after, 5);
  assertStandardDenial(denial);
  const login = await firstDenial(`http://127.0.0.1:${port}/login`, 3);
  assert.equal(login.after, 1);
  assert.equal(login.headers['x-ratelimit-limit'], '1');
});
