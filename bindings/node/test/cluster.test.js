'use strict';
// Node cluster with 2 workers serving Express, one API key hammered for 2 s
// by 8 keep-alive connections at 30/s, bursts of 60: with the middleware's
// `shared` option the two workers charge one table, so about 120 requests
// are admitted in all (each worker its own table: about 240). The cluster
// runs in its own process on a 127.0.0.1 port, is stopped by PID, and its
// segment is removed at the end.
const test = require('node:test');
const assert = require('node:assert/strict');
const { KeyedLimiter } = require('..');
const { hammer, startCluster, stopCluster } = require('./cluster-client.js');

test('Node cluster, 2 Express workers, rateLimit({ shared }): one key admitted 115 to 121 in 2 s at 30/s burst 60', { timeout: 60_000 }, async (t) => {
  const segment = `node-cluster-${process.pid}`;
  // rateLimit's table for `limit: 60` lives in `<segment>.60`.
  t.after(() => KeyedLimiter.removeShared(`${segment}.60`));
  const cluster = await startCluster(segment, '2');
  t.after(() => stopCluster(cluster));
  const { admitted, denied, workers } = await hammer(cluster.port);
  assert.equal(workers.size, 2, 'both workers answered');
  assert.ok(denied > 0);
  assert.ok(admitted >= 115 && admitted <= 121, `admitted ${admitted}`);
});
