'use strict';
// A Node cluster for test/cluster.test.js: `node test/cluster-server.js
// <segment|-> <workers> [<redis-url> <prefix>]` forks that many workers, each serving Express on
// one 127.0.0.1 port (picked by the OS, shared by the cluster) behind
// rateLimit({ windowMs: 2000, limit: 60 }) (30/s, bursts of 60) keyed by
// X-Api-Key, its table in the shared segment <segment>.60 ('-': each
// worker its own table), or with a Redis URL kept in that server under
// <prefix> (a deadline of 2 s, denying when Redis does not answer); every answer names its worker in X-Worker-Pid. Prints `PORT <n> PIDS <pid>,<pid>...` once every
// worker listens, and on SIGTERM stops its workers and exits. Without
// arguments (as node --test runs every file under test/) it does nothing.
const cluster = require('node:cluster');

function primary(workers) {
  const pids = [];
  let port = null;
  for (let i = 0; i < workers; i += 1) {
    const worker = cluster.fork();
    worker.on('message', (message) => {
      port = message.port;
      pids.push(worker.process.pid);
      if (pids.length === workers) process.stdout.write(`PORT ${port} PIDS ${pids.join(',')}\n`);
    });
  }
  process.once('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
    process.exit(0);
  });
}

function worker(segment, store, prefix, storeMode) {
  const app = require('express')();
  const { rateLimit } = require('..');
  const shared = segment === '-' ? undefined : segment;
  app.use((req, res, next) => {
    res.set('x-worker-pid', String(process.pid));
    next();
  });
  const kept = store === undefined ? { shared } : { store, prefix, storeMode, deadlineMs: 2_000, onFailure: 'closed' };
  app.use(rateLimit({ windowMs: 2_000, limit: 60, keyGenerator: (req) => req.headers['x-api-key'], ...kept }));
  app.get('/', (req, res) => res.send('served'));
  const server = app.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
}

const [segment, workers, store, prefix, storeMode] = process.argv.slice(2);
if (segment !== undefined) {
  if (cluster.isPrimary) primary(Number(workers));
  else worker(segment, store, prefix, storeMode);
}
