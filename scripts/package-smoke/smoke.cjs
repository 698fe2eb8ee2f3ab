'use strict';
// Smoke test of the installed npm package (CommonJS): one check, and one
// request through the node:http middleware on 127.0.0.1 (an ephemeral port,
// closed before exit). Run by scripts/package-smoke.sh without a Rust toolchain.

const http = require('node:http');
const assert = require('node:assert/strict');
const { KeyedLimiter, Limiter, Quota, keys, rateLimit } = require('floodgate-gcra');

const decision = new Limiter(Quota.perSecond(30, { burst: 60 })).check();
assert.equal(decision.admitted, true);
assert.equal(decision.remaining, 59);

const guard = rateLimit({ limiter: new KeyedLimiter(Quota.perSecond(1, { burst: 1 })), key: keys.header('x-api-key') });
const server = http.createServer((req, res) => {
  if (!guard(req, res)) return;
  res.end('ok');
});

function get() {
  return new Promise((resolve, reject) => {
    const { port } = server.address();
    http
      .get({ host: '127.0.0.1', port, path: '/', headers: { 'x-api-key': 'k' } }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

server.listen(0, '127.0.0.1', async () => {
  try {
    const first = await get();
    assert.equal(first.status, 200);
    assert.equal(first.body, 'ok');
    assert.equal(first.headers['x-ratelimit-remaining'], '0');
    const second = await get();
    assert.equal(second.status, 429);
    assert.ok(second.headers['retry-after']);
    console.log(`node (CommonJS): ${require.resolve('floodgate-gcra')}: check and node:http request ok`);
  } finally {
    server.close();
  }
});
