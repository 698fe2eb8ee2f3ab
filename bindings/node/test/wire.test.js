'use strict';
// RedisLimiter's wire (lib/wire.js): once the socket of the event loop's own
// is open, checks are written on it, pipelined, and decided from the
// replies the loop reads. Driven against a scripted RESP server on a
// 127.0.0.1 port, which sees every command and can cut replies in two,
// answer NOSCRIPT, or stop answering; the decisions themselves are the
// real server's business (test/redis.test.js runs over the wire too).
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { Quota, RedisLimiter } = require('..');

/** What the script replies to a check: admitted, no debt, no wait. */
const ADMITTED = Buffer.from('*3\r\n:0\r\n:0\r\n:0\r\n');

/**
 * A server that answers +OK to everything but EVALSHA and EVAL, which it
 * answers as admitted (the first EVALSHA with NOSCRIPT), each reply in two
 * writes 5 ms apart; `hold = true` stops it answering. Every connection's
 * commands are kept, with the number of the read that brought each.
 */
async function scriptedServer() {
  // No NOSCRIPT until a test asks for one (noscriptSent = false).
  const state = { connections: [], hold: false, noscriptSent: true };
  const server = net.createServer((socket) => {
    const seen = { socket, commands: [], reads: 0, closed: false };
    state.connections.push(seen);
    let pending = Buffer.alloc(0);
    // Reply pieces in order, written one per 2 ms.
    const outgoing = [];
    let writing = false;
    const writeNext = () => {
      const piece = outgoing.shift();
      if (piece === undefined || !socket.writable) {
        writing = false;
        return;
      }
      socket.write(piece);
      setTimeout(writeNext, 2);
    };
    socket.on('close', () => {
      seen.closed = true;
    });
    socket.on('error', () => {});
    socket.on('data', (data) => {
      seen.reads += 1;
      pending = Buffer.concat([pending, data]);
      for (;;) {
        const parsed = command(pending);
        if (parsed === null) break;
        pending = pending.subarray(parsed.length);
        const name = parsed.args[0].toUpperCase();
        seen.commands.push({ name, read: seen.reads });
        if (state.hold) continue;
        const answer = reply(state, name);
        outgoing.push(answer.subarray(0, 3), answer.subarray(3));
      }
      if (!writing) {
        writing = true;
        writeNext();
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () => {
    for (const { socket } of state.connections) socket.destroy();
    server.close();
  };
  return { state, url: `redis://127.0.0.1:${server.address().port}/`, close };
}

/** The reply to a command `name`: the first EVALSHA of all gets NOSCRIPT. */
function reply(state, name) {
  if (name === 'EVALSHA' && !state.noscriptSent) {
    state.noscriptSent = true;
    return Buffer.from('-NOSCRIPT No matching script. Please use EVAL.\r\n');
  }
  return name === 'EVALSHA' || name === 'EVAL' ? ADMITTED : Buffer.from('+OK\r\n');
}

/** The first whole RESP command in `bytes` ({ args, length }), or null. */
function command(bytes) {
  const text = bytes.toString('latin1');
  if (!text.startsWith('*')) return null;
  let at = text.indexOf('\r\n');
  if (at < 0) return null;
  const count = Number(text.slice(1, at));
  at += 2;
  const args = [];
  for (let i = 0; i < count; i += 1) {
    const end = text.indexOf('\r\n', at);
    if (end < 0) return null;
    const length = Number(text.slice(at + 1, end));
    if (text.length < end + 2 + length + 2) return null;
    args.push(text.slice(end + 2, end + 2 + length));
    at = end + 2 + length + 2;
  }
  return { args, length: at };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The connection the wire opened: the one whose first command is not the redis crate's CLIENT SETINFO. */
const wireOf = (state) => state.connections.filter((c) => c.commands.length > 0 && c.commands[0].name !== 'CLIENT');

/** Checks with `limiter` (10 ms apart, at most 100) until one reaches the server on the wire: that connection, or undefined. */
async function wireOnceOpen(limiter, state) {
  for (let i = 0; i < 100 && wireOf(state).length === 0; i += 1) {
    await limiter.check('warm');
    await sleep(10);
  }
  return wireOf(state)[0];
}

test('a check goes on the wire once it is open: pipelined, NOSCRIPT sent again as EVAL, replies read in pieces', async (t) => {
  const server = await scriptedServer();
  t.after(() => server.close());
  const limiter = new RedisLimiter(Quota.perSecond(1000), { store: server.url, deadlineMs: 1_000, onFailure: 'closed' });
  // The first check starts the wire connecting and goes the runtime's way.
  assert.equal((await limiter.check('warm')).admitted, true);
  const wire = await wireOnceOpen(limiter, server.state);
  assert.ok(wire, 'the wire connected and was sent a check');
  server.state.noscriptSent = false;
  const before = wire.commands.length;

  const decisions = await Promise.all(Array.from({ length: 20 }, (_, i) => limiter.check(`k${i}`)));
  assert.ok(decisions.every((d) => d.admitted));
  const sent = wire.commands.slice(before);
  // Twenty EVALSHA, one answered NOSCRIPT and sent again as EVAL of the source.
  assert.deepEqual(
    [sent.filter((c) => c.name === 'EVALSHA').length, sent.filter((c) => c.name === 'EVAL').length],
    [20, 1],
  );
  // All twenty were written in the turn that made them: the server read them at once.
  assert.ok(wire.commands[before].read === wire.commands[before + 19].read, 'read at once');
  const counters = limiter.counters;
  assert.equal(counters.failedClosed + counters.errors + counters.timeouts, 0);
  limiter.close();
});

test('a reply that does not come within the deadline breaks the wire; checks go the runtime\'s way until it reconnects', async (t) => {
  const server = await scriptedServer();
  t.after(() => server.close());
  const limiter = new RedisLimiter(Quota.perSecond(1000), { store: server.url, deadlineMs: 200, onFailure: 'closed' });
  const wire = await wireOnceOpen(limiter, server.state);
  assert.ok(wire, 'the wire connected');
  server.state.hold = true;
  const held = await Promise.all([limiter.check('a'), limiter.check('b')]);
  assert.deepEqual(held.map((d) => d.admitted), [false, false]);
  const counters = limiter.counters;
  assert.equal(counters.failedClosed, 2);
  // The first to reach its deadline timed out; the other, behind it on the
  // socket, was answered when the wire broke, a moment before its own.
  assert.ok(counters.timeouts >= 1);
  assert.equal(counters.timeouts + counters.errors, 2);
  // The loop closed the socket whose replies stopped.
  for (let i = 0; i < 50 && !wire.closed; i += 1) await sleep(10);
  assert.ok(wire.closed, 'the broken wire\'s socket was closed');

  server.state.hold = false;
  // Checks take the runtime's way meanwhile, and the wire's again once it
  // has reconnected (after a second).
  const decided = [];
  for (let i = 0; i < 100 && wireOf(server.state).length < 2; i += 1) {
    decided.push((await limiter.check('c')).admitted);
    await sleep(50);
  }
  const reconnected = wireOf(server.state);
  assert.equal(reconnected.length, 2, 'a second wire connection carried a check');
  assert.ok(decided.every(Boolean), 'every check after the pause was decided by the server');
  assert.equal((await limiter.check('d')).admitted, true);
  assert.ok(reconnected[1].commands.length >= 2);
  limiter.close();
});
