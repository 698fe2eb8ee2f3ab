'use strict';
// The Fastify plugin through fastify.inject (no sockets): per-route limits,
// exempt routes, and the client address from request.ip (trustProxy).
const test = require('node:test');
const assert = require('node:assert/strict');
const fastify = require('fastify');
const { fastifyRateLimit } = require('..');

async function app(t, options, build) {
  const server = fastify({ logger: false, trustProxy: true });
  await server.register(fastifyRateLimit, options);
  build(server);
  await server.ready();
  t.after(() => server.close());
  return server;
}

const from = (ip) => ({ 'x-forwarded-for': ip });

test('route config.rateLimit gives a route its own limit; false exempts it', async (t) => {
  const server = await app(t, { windowMs: 60_000, limit: 3 }, (s) => {
    s.get('/', async () => 'shared');
    s.get('/login', { config: { rateLimit: { limit: 1, identifier: 'login' } } }, async () => 'login');
    s.get('/health', { config: { rateLimit: false } }, async () => 'ok');
  });
  const login = await server.inject({ url: '/login', headers: from('203.0.113.1') });
  assert.equal(login.statusCode, 200);
  assert.equal(login.headers['x-ratelimit-limit'], '1');
  assert.match(login.headers.ratelimit, /^"login";r=0;/);
  const denied = await server.inject({ url: '/login', headers: from('203.0.113.1') });
  assert.equal(denied.statusCode, 429);
  assert.match(denied.headers['retry-after'], /^[1-9]\d*$/);
  assert.equal(JSON.parse(denied.body).error.code, 'rate_limited');
  for (let i = 0; i < 3; i += 1) assert.equal((await server.inject({ url: '/', headers: from('203.0.113.1') })).statusCode, 200);
  assert.equal((await server.inject({ url: '/', headers: from('203.0.113.1') })).statusCode, 429);
  for (let i = 0; i < 10; i += 1) {
    const health = await server.inject({ url: '/health', headers: from('203.0.113.1') });
    assert.equal(health.statusCode, 200);
    assert.equal(health.headers['x-ratelimit-limit'], undefined);
  }
});

test("the client address is Fastify's request.ip, so trustProxy is honoured; IPv6 by /56", async (t) => {
  const server = await app(t, { windowMs: 60_000, limit: 1 }, (s) => s.get('/', async () => 'ok'));
  assert.equal((await server.inject({ url: '/', headers: from('198.51.100.1') })).statusCode, 200);
  assert.equal((await server.inject({ url: '/', headers: from('198.51.100.1') })).statusCode, 429);
  assert.equal((await server.inject({ url: '/', headers: from('198.51.100.2') })).statusCode, 200, 'another forwarded client');
  assert.equal((await server.inject({ url: '/', headers: from('2001:db8:1:2::1') })).statusCode, 200);
  assert.equal((await server.inject({ url: '/', headers: from('2001:db8:1:2:ffff::9') })).statusCode, 429, 'same /56');
});

test('a bad route config fails when the route is added, not on a request', async () => {
  const server = fastify({ logger: false });
  await server.register(fastifyRateLimit, { windowMs: 60_000, limit: 3 });
  assert.throws(() => server.get('/', { config: { rateLimit: { standardHeaders: 'draft-99' } } }, async () => 'x'), TypeError);
  await server.close();
});

test('global: false limits only the routes with their own config', async (t) => {
  const server = await app(t, { global: false, windowMs: 60_000, limit: 1 }, (s) => {
    s.get('/open', async () => 'open');
    s.get('/limited', { config: { rateLimit: {} } }, async () => 'limited');
  });
  for (let i = 0; i < 3; i += 1) assert.equal((await server.inject({ url: '/open' })).statusCode, 200);
  assert.equal((await server.inject({ url: '/limited' })).statusCode, 200);
  assert.equal((await server.inject({ url: '/limited' })).statusCode, 429);
});

test('two hooks on one route answer with the most restrictive headers only, whichever runs first', async (t) => {
  const { fastifyHook } = require('..');
  const server = fastify({ logger: false });
  server.addHook('onRequest', fastifyHook({ windowMs: 60_000, limit: 100, identifier: 'loose', standardHeaders: 'draft-6' }));
  server.addHook('onRequest', fastifyHook({ windowMs: 60_000, limit: 2, identifier: 'tight' }));
  server.get('/', async () => 'ok');
  await server.ready();
  t.after(() => server.close());
  const response = await server.inject({ url: '/' });
  assert.equal(response.headers['x-ratelimit-limit'], '2');
  assert.match(response.headers.ratelimit, /^"tight";r=1;/);
  assert.equal(response.headers['ratelimit-limit'], undefined, "the looser limit's draft-6 fields are not sent");
});
