'use strict';
// A throwaway redis-server for test/redis.test.js: no persistence, bound to
// 127.0.0.1 on a free port, stopped by its PID. Loaded by node --test too
// (every file under test/): it only defines.
const fs = require('node:fs');
const net = require('node:net');
const { spawn } = require('node:child_process');

const STARTUP_TIMEOUT_MS = 30_000;
const path = require('node:path');

/** redis-server on the PATH (scripts/test-all.sh installs Debian's into /usr/bin). */
const REDIS_SERVER = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin']
  .map((dir) => path.join(dir, 'redis-server'))
  .find((file) => fs.existsSync(file));

/** A port the kernel picks, released for the server to bind. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Whether a PING on `port` gets PONG. */
function pong(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(1_000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    for (const event of ['error', 'timeout']) {
      socket.once(event, () => {
        socket.destroy();
        resolve(false);
      });
    }
  });
}

/** Starts a server and resolves { url, stop } once it answers; `stop()` ends it by PID. */
async function startRedis() {
  if (REDIS_SERVER === undefined) throw new Error('redis-server is required (scripts/test-all.sh installs it: apt-get install redis-server)');
  const port = await freePort();
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', resolve);
      process.kill(child.pid, 'SIGTERM');
    });
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (!(await pong(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server did not answer on port ${port}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `redis://127.0.0.1:${port}/`, stop };
}

module.exports = { freePort, startRedis };
