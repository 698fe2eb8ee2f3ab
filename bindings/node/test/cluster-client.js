'use strict';
// Drives test/cluster-server.js for test/cluster.test.js and
// test/redis.test.js: starts a cluster, hammers one key, stops it by PID.
// Loaded by node --test too (every file under test/): it only defines.
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');

const STARTUP_TIMEOUT_MS = 30_000;
const HAMMER_MS = 2_000;
const CONNECTIONS = 8;

/** Starts the cluster (cluster-server.js `args`) and resolves { child, port, pids } once both workers listen. */
function startCluster(...args) {
  const child = spawn(process.execPath, [path.join(__dirname, 'cluster-server.js'), ...args], {
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

module.exports = { hammer, startCluster, stopCluster };
