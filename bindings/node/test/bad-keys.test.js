'use strict';
// The key rule of the middleware, against real servers on 127.0.0.1: a
// missing, empty, oversized or malformed key is charged to the fallback key
// (the client address by default) or answered 400 with onBadKey: 'reject';
// it never throws out of the middleware, never answers 5xx and never skips
// the limit. Requests go over raw sockets, so bytes fetch would refuse get through.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { KeyedLimiter, Plans, Policy, Quota, fastifyHook, keys, rateLimit } = require('..');
const { rawRequest } = require('./raw-http.js');

async function listen(t, server) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  });
  return server.address().port;
}

function nodeHttp(guard) {
  return http.createServer((req, res) => {
    if (!guard(req, res)) return;
    res.end('served');
  });
}

function express(guard) {
  const app = require('express')();
  app.use(guard);
  app.get('/', (req, res) => res.end('served'));
  return http.createServer(app);
}

/** Header lines whose x-api-key is missing, empty, oversized or not UTF-8. */
const BAD_KEYS = [
  ['missing', ''],
  ['empty', 'X-Api-Key:\r\n'],
  ['blank', 'X-Api-Key:    \r\n'],
  ['4,097 bytes', `X-Api-Key: ${'k'.repeat(4097)}\r\n`],
  ['4,097 UTF-8 bytes', `X-Api-Key: ${'é'.repeat(2048)}k\r\n`],
  ['latin-1 bytes', Buffer.from('X-Api-Key: \xff\xfe\x80\r\n', 'latin1')],
];

for (const [name, serve] of [['node:http', nodeHttp], ['Express', express]]) {
  test(`${name}: a bad x-api-key is charged to the client address, never thrown`, async (t) => {
    const perKey = new KeyedLimiter(Quota.perHour(30, { burst: 60 }), { capacity: 64 });
    const port = await listen(t, serve(rateLimit({ preset: 'genieos', limiter: perKey, key: keys.header('x-api-key') })));
    for (const [what, line] of BAD_KEYS) {
      const response = await rawRequest(port, line);
      assert.equal(response.status, 200, what);
      assert.equal(response.body, 'served', what);
    }
    // Latin-1 bytes reach a key function as the string they decode to, a good key.
    assert.equal(perKey.peek('127.0.0.1').remaining, 60 - (BAD_KEYS.length - 1), 'each bad key charged the address');
    const fine = await rawRequest(port, 'X-Api-Key: good\r\n');
    assert.equal(fine.status, 200);
    assert.equal(perKey.peek('good').remaining, 59);
  });

  test(`${name}: onBadKey 'reject' answers 400 invalid_key and charges nothing`, async (t) => {
    const perKey = new KeyedLimiter(Quota.perHour(30, { burst: 60 }), { capacity: 64 });
    const guard = rateLimit({ preset: 'genieos', limiter: perKey, key: keys.header('x-api-key'), onBadKey: 'reject' });
    const port = await listen(t, serve(guard));
    for (const [what, line] of BAD_KEYS.filter(([what]) => what !== 'latin-1 bytes')) {
      const response = await rawRequest(port, `${line}X-Request-Id: r1\r\n`);
      assert.equal(response.status, 400, what);
      assert.equal(response.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(response.body).error, {
        type: 'invalid_request',
        code: 'invalid_key',
        message: 'The request has no usable key.',
        request_id: 'r1',
      });
    }
    assert.equal(perKey.size, 0, 'nothing was charged');
  });
}

test('node:http with a Policy and Plans: bad keys inside the list fall back per layer', async (t) => {
  const perKey = new KeyedLimiter(Quota.perHour(30, { burst: 60 }), { capacity: 64 });
  const perWorkspace = new KeyedLimiter(Quota.perHour(600), { capacity: 64 });
  const policy = new Policy([
    { limit: perKey, scope: 'key' },
    { limit: perWorkspace, scope: 'workspace' },
  ]);
  const layered = await listen(t, nodeHttp(rateLimit({ preset: 'genieos', policy, keys: (req) => [req.headers['x-api-key'], 'ws'] })));
  for (const line of ['', 'X-Api-Key:\r\n', `X-Api-Key: ${'k'.repeat(4097)}\r\n`]) {
    assert.equal((await rawRequest(layered, line)).status, 200);
  }
  assert.equal(perKey.peek('127.0.0.1').remaining, 57);
  assert.equal(perWorkspace.peek('ws').remaining, 597, 'the good workspace key is kept');

  const plans = Plans.genieos({ keyCapacity: 64, workspaceCapacity: 64 });
  const planned = await listen(t, nodeHttp(rateLimit({ preset: 'genieos', plans, plan: (req) => ['hobby', req.headers['x-api-key'], 'ws'] })));
  const response = await rawRequest(planned, 'X-Api-Key:\r\n');
  assert.equal(response.status, 200);
  assert.equal(response.headers['x-ratelimit-remaining'], '59');
  assert.equal(plans.check('hobby', '127.0.0.1', 'ws', 0).remaining, 59, 'the empty key was charged to the address');
  plans.close();
});

test('fastifyHook: a bad key falls back; with reject it answers 400 through the reply', async () => {
  const perKey = new KeyedLimiter(Quota.perHour(30, { burst: 60 }), { capacity: 8 });
  const reply = () => {
    const state = { headers: {}, status: 200, body: null };
    const api = {
      raw: {},
      headers(fields) { Object.assign(state.headers, fields); return api; },
      code(status) { state.status = status; return api; },
      type() { return api; },
      send(body) { state.body = body; return Promise.resolve(api); },
    };
    return { api, state };
  };
  const request = { headers: { 'x-api-key': '' }, ip: '10.0.0.1', url: '/', raw: { headers: { 'x-api-key': '' }, socket: { remoteAddress: '10.0.0.9' }, url: '/' } };
  const fallback = reply();
  await fastifyHook({ preset: 'genieos', limiter: perKey, key: keys.header('x-api-key') })(request, fallback.api);
  assert.equal(fallback.state.status, 200);
  assert.equal(fallback.state.headers['X-RateLimit-Remaining'], '59');
  assert.equal(perKey.peek('10.0.0.1').remaining, 59);
  const refused = reply();
  await fastifyHook({ preset: 'genieos', limiter: perKey, key: keys.header('x-api-key'), onBadKey: 'reject' })(request, refused.api);
  assert.equal(refused.state.status, 400);
  assert.equal(JSON.parse(refused.state.body).error.code, 'invalid_key');
});

test('an onError hook that throws changes nothing', () => {
  const perKey = new KeyedLimiter(Quota.perHour(30, { burst: 60 }), { capacity: 8 });
  const onError = () => {
    throw new Error('logging is down');
  };
  const key = () => {
    throw new Error('no key store');
  };
  const answered = (guard) => {
    const res = { statusCode: 200, setHeader() {}, end() {} };
    guard({ headers: {}, socket: { remoteAddress: '10.0.0.2' } }, res);
    return res.statusCode;
  };
  assert.equal(answered(rateLimit({ preset: 'genieos', limiter: perKey, key, onError })), 200);
  assert.equal(perKey.peek('10.0.0.2').remaining, 59);
  assert.equal(answered(rateLimit({ preset: 'genieos', limiter: perKey, key: () => 'k', cost: () => { throw new Error('no cost'); }, onError })), 400);
});
