'use strict';
// Node cluster with 2 workers serving Express, one API key hammered for 2 s
// by 8 keep-alive connections at 30/s, bursts of 60: with the middleware's
// `shared` option the two workers charge one table, so about 120 requests
// are admitted in all (each worker its own table: about 240). The cluster
// runs in its own process on a 127.0.0.1 port, is stopped by PID, and its
// segment is removed at the end.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { KeyedLimiter } = require('..');

const STARTUP_TIMEOUT_MS = 30_000;
const HAMMER_MS = 2_000;
const CONNECTIONS = 8;

/** Starts the cluster and resolves { child, port, pids } once both workers listen. */
function startCluster(segment) {
  const child = spawn(process.execPath, [path.join(__dirname, 'cluster-server.js'), segment, '2'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the cluster did not start: ${stderr}`)), STARTUP_TIMEOUT_MS);
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /PORT (\d+) PIDS ([\d,]+)/.exec(stdout);
      if (match !== null) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]), pids: match[2].split(',').map(Number) });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the cluster exited with ${code}: ${stderr}`));
    });
  });
}

/** Stops the primary by PID (it stops its workers), then any worker still running. */
async function stopCluster({ child, pids }) {
  if (child.exitCode === null && child.signalCode === null) {
    await new Promise((resolve) => {
      child.once('exit', resolve);
      process.kill(child.pid, 'SIGTERM');
    });
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone, as it should be.
    }
  }
}

/** `CONNECTIONS` keep-alive connections sending requests one after another for `HAMMER_MS`. */
async function hammer(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const get = () =>
    new Promise((resolve, reject) => {
      const options = { host: '127.0.0.1', port, path: '/', agent, headers: { 'x-api-key': 'one-key' } };
      http
        .get(options, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode, pid: res.headers['x-worker-pid'] }));
        })
        .on('error', reject);
    });
  const statuses = new Map();
  const workers = new Set();
  const end = Date.now() + HAMMER_MS;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < end) {
        const { status, pid } = await get();
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        workers.add(pid);
      }
    }),
  );
  agent.destroy();
  return { admitted: statuses.get(200) ?? 0, denied: statuses.get(429) ?? 0, workers };
}

test('Node cluster, 2 Express workers, rateLimit({ shared }): one key admitted 115 to 121 in 2 s at 30/s burst 60', { timeout: 60_000 }, async (t) => {
  const segment = `node-cluster-${process.pid}`;
  // rateLimit's table for `limit: 60` lives in `<segment>.60`.
  t.after(() => KeyedLimiter.removeShared(`${segment}.60`));
  const cluster = await startCluster(segment);
  t.after(() => stopCluster(cluster));
  const { admitted, denied, workers } = await hammer(cluster.port);
  assert.equal(workers.size, 2, 'both workers answered');
  assert.ok(denied > 0);
  assert.ok(admitted >= 115 && admitted <= 121, `admitted ${admitted}`);
});
