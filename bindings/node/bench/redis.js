'use strict';
// floodgate's Redis store beside rate-limiter-flexible's RateLimiterRedis
// (over ioredis, its documented client) on one redis-server, in one run:
//   node bench/redis.js redis://127.0.0.1:PORT/
// (scripts/bench-redis-peers.sh starts the server and runs this.) Each
// limiter gets a quota no bench key exhausts, so every call is a round trip
// that charges. Rows: one caller's p50 / p99 latency, then checks per
// second from 1, 8 and 64 callers (async loops, each awaiting its check
// before the next) on one connection per limiter.

const { performance } = require('node:perf_hooks');
const Redis = require('ioredis');
const { RateLimiterRedis } = require('rate-limiter-flexible');
const { LeasedLimiter, Quota, RedisLimiter } = require('..');

const RUN_MS = 2_000;
const POINTS = 1_000_000;

async function latency(check) {
  const samples = [];
  const end = performance.now() + RUN_MS;
  while (performance.now() < end) {
    const begun = performance.now();
    await check('latency');
    samples.push(performance.now() - begun);
  }
  samples.sort((a, b) => a - b);
  const at = (q) => samples[Math.floor((samples.length - 1) * q)] * 1_000;
  return { p50: at(0.5), p99: at(0.99) };
}

async function throughput(check, callers) {
  let checks = 0;
  const begun = performance.now();
  const end = begun + RUN_MS;
  await Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      const key = `t${caller}`;
      while (performance.now() < end) {
        await check(key);
        checks += 1;
      }
    }),
  );
  return (checks * 1_000) / (performance.now() - begun);
}

const us = (x) => `${x.toFixed(1)} us`;
const ns = (x) => `${(x * 1_000).toFixed(0)} ns`;
const rate = (x) => `${(x / 1_000).toFixed(1)}k/s`;

async function main() {
  const url = process.argv[2] || process.env.FLOODGATE_REDIS_URL;
  if (!url) throw new TypeError('usage: node bench/redis.js redis://host:port/');
  const floodgate = new RedisLimiter(Quota.perSecond(POINTS), {
    store: url,
    prefix: 'bench-fg:',
    deadlineMs: 1_000,
    onFailure: 'closed',
  });
  const client = new Redis(url);
  const flexible = new RateLimiterRedis({
    storeClient: client,
    keyPrefix: 'bench-rlf',
    points: POINTS,
    duration: 1,
  });
  const peer = (key) => flexible.consume(key, 1);
  const ours = (key) => floodgate.check(key, 1);
  await ours('warm');
  await peer('warm');

  console.log('| workload | floodgate | peer: rate-limiter-flexible | peer/floodgate |');
  console.log('|---|---|---|---|');
  const mine = await latency(ours);
  const theirs = await latency(peer);
  console.log(`| 1 caller, p50 | ${us(mine.p50)} | ${us(theirs.p50)} | ${(theirs.p50 / mine.p50).toFixed(2)}x |`);
  console.log(`| 1 caller, p99 | ${us(mine.p99)} | ${us(theirs.p99)} | ${(theirs.p99 / mine.p99).toFixed(2)}x |`);
  for (const callers of [1, 8, 64]) {
    const a = await throughput(ours, callers);
    const b = await throughput(peer, callers);
    // A rate: the peer is slower when its figure is lower.
    console.log(`| ${callers} callers, checks/s | ${rate(a)} | ${rate(b)} | ${(a / b).toFixed(2)}x |`);
  }
  // Every figure above is a decision Redis made.
  const counters = floodgate.counters;
  if (counters.failedClosed !== 0) throw new Error(`${counters.failedClosed} checks were not decided by Redis`);

  // A denied key's checks answered by the deny cache, with no round trip.
  const strict = new RedisLimiter(Quota.perMinute(1), {
    store: url,
    prefix: `bench-deny:${process.pid}:${Date.now()}:`,
    deadlineMs: 1_000,
    onFailure: 'closed',
  });
  await strict.check('latency');
  const cached = await latency((key) => strict.check(key));
  if (strict.counters.cached === 0) throw new Error('the deny cache answered nothing');
  console.log(`| denied check answered by the deny cache, p50 / p99 | ${us(cached.p50)} / ${us(cached.p99)} | | |`);
  strict.close();

  // The fleet fast path: the same buckets, checked from leased tokens (a
  // synchronous local check; Redis is asked ahead, in the background).
  const leased = new LeasedLimiter(Quota.perSecond(POINTS), {
    store: url,
    prefix: 'bench-lease:',
    deadlineMs: 1_000,
    onFailure: 'closed',
  });
  const fast = (key) => leased.check(key, 1);
  fast('latency');
  const lease = await latency(fast);
  console.log(`| leased check (LeasedLimiter), 1 caller, p50 | ${ns(lease.p50)} | ${us(theirs.p50)} | ${(theirs.p50 / lease.p50).toFixed(0)}x |`);
  console.log(`| leased check (LeasedLimiter), 1 caller, p99 | ${ns(lease.p99)} | ${us(theirs.p99)} | ${(theirs.p99 / lease.p99).toFixed(0)}x |`);
  const leasedCounters = leased.counters;
  if (leasedCounters.failedClosed !== 0) throw new Error(`${leasedCounters.failedClosed} leased checks were not decided by Redis`);
  console.log(`(leased: ${leasedCounters.leases.local} local decisions, ${leasedCounters.leases.leases} lease calls)`);
  leased.close();
  client.disconnect();
  floodgate.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
