'use strict';
// A server for test/fuzz.test.js, run in its own process so a crash shows as
// an exit: `node test/fuzz-server.js <http|express|fastify>` listens on a free
// 127.0.0.1 port, prints `PORT <n>` and serves until killed. Without an
// argument (as node --test runs every file under test/) it does nothing.
const http = require('node:http');
const { KeyedLimiter, Quota, fastifyHook, keys, rateLimit } = require('..');

/** Checks every key at t = 0 on the limiter's timeline, so the final burst count is exact. */
class AtZero extends KeyedLimiter {
  check(key, cost) {
    return super.check(key, cost, 0);
  }
}

const servers = {
  http: (options) => {
    const guard = rateLimit(options);
    return http.createServer((req, res) => {
      if (!guard(req, res)) return;
      res.end('served');
    });
  },
  express: (options) => {
    const app = require('express')();
    app.use(rateLimit(options));
    app.get('/', (req, res) => res.end('served'));
    return http.createServer(app);
  },
  fastify: (options) => {
    const app = require('fastify')({ logger: false });
    app.addHook('onRequest', fastifyHook(options));
    app.get('/', async () => 'served');
    return app;
  },
};

async function main(kind) {
  const options = { preset: 'genieos', limiter: new AtZero(Quota.perSecond(30, { burst: 60 })), key: keys.header('x-api-key') };
  const server = servers[kind](options);
  if (kind === 'fastify') {
    await server.listen({ port: 0, host: '127.0.0.1' });
    process.stdout.write(`PORT ${server.server.address().port}\n`);
  } else {
    server.listen(0, '127.0.0.1', () => process.stdout.write(`PORT ${server.address().port}\n`));
  }
}

const kind = process.argv[2];
if (kind !== undefined) main(kind);
