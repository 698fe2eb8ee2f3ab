'use strict';
// floodgate beside rate-limiter-flexible (RateLimiterMemory) and limiter
// (RateLimiter.tryRemoveTokens) on the same workloads in one run.
//   node bench/bench.js            (from bindings/node, after npm ci)
// Each task runs BATCH checks per iteration, so timer overhead is amortised;
// figures are ns per check (tinybench mean / BATCH). Quotas are large enough
// that every check is admitted: all libraries do the same work per call.

const os = require('node:os');
const { Bench } = require('tinybench');
const { RateLimiterMemory } = require('rate-limiter-flexible');
const { RateLimiter } = require('limiter');
const { KeyedLimiter, Limiter, Quota } = require('..');
const { addressArg, ffi, hot } = require('../lib/native.js');
const { decisionAddress, decisionBuffer } = require('../lib/decision.js');
const { KIND } = require('../lib/keys.js');
const { TABLES } = require('../lib/tables.js');
const koffi = require('koffi');

const BATCH = 1_000;
const KEYS = 10_000;
const PER_SECOND = 1_000_000_000;
const quota = Quota.perSecond(PER_SECOND);
const keyNames = Array.from({ length: KEYS }, (_, i) => `key-${i}`);

// One key.
const one = new Limiter(quota);
const flexibleOne = new RateLimiterMemory({ points: PER_SECOND, duration: 1 });
const limiterOne = new RateLimiter({ tokensPerInterval: PER_SECOND, interval: 'second' });
// One string key through each library's keyed form (limiter: its Map).
const keyedOne = new KeyedLimiter(quota, { capacity: 1_024 });
const limiterKeyedOne = new Map([['key-42', new RateLimiter({ tokensPerInterval: PER_SECOND, interval: 'second' })]]);

// 10k string keys: floodgate's lock-free keyed table (strings as UTF-8
// bytes); the limiter package needs a Map of one limiter per key.
const floodgateKeyed = new KeyedLimiter(quota, { capacity: 4 * KEYS });
const limiterKeyed = new Map(
  keyNames.map((key) => [key, new RateLimiter({ tokensPerInterval: PER_SECOND, interval: 'second' })]),
);
const flexibleKeyed = new RateLimiterMemory({ points: PER_SECOND, duration: 1 });

let sink = 0;
let cursor = 0;
const nextKey = () => keyNames[(cursor = (cursor + 7_919) % KEYS)];

const tasks = {
  'one key': {
    floodgate: () => {
      for (let i = 0; i < BATCH; i += 1) sink += one.check(1).remaining;
    },
    'rate-limiter-flexible': async () => {
      for (let i = 0; i < BATCH; i += 1) sink += (await flexibleOne.consume('k', 1)).remainingPoints;
    },
    limiter: () => {
      for (let i = 0; i < BATCH; i += 1) sink += limiterOne.tryRemoveTokens(1) ? 1 : 0;
    },
  },
  'one key, keyed': {
    floodgate: () => {
      for (let i = 0; i < BATCH; i += 1) sink += keyedOne.check('key-42', 1).remaining;
    },
    'rate-limiter-flexible': async () => {
      for (let i = 0; i < BATCH; i += 1) sink += (await flexibleOne.consume('key-42', 1)).remainingPoints;
    },
    limiter: () => {
      for (let i = 0; i < BATCH; i += 1) sink += limiterKeyedOne.get('key-42').tryRemoveTokens(1) ? 1 : 0;
    },
  },
  '10k keys': {
    floodgate: () => {
      for (let i = 0; i < BATCH; i += 1) sink += floodgateKeyed.check(nextKey(), 1).remaining;
    },
    'rate-limiter-flexible': async () => {
      for (let i = 0; i < BATCH; i += 1) sink += (await flexibleKeyed.consume(nextKey(), 1)).remainingPoints;
    },
    limiter: () => {
      for (let i = 0; i < BATCH; i += 1) sink += limiterKeyed.get(nextKey()).tryRemoveTokens(1) ? 1 : 0;
    },
  },
};

// The binding's cost layers, for choosing koffi and the out-buffer design.
const handleOf = (() => {
  const out = [null];
  const { encodeQuota } = require('../lib/quota.js');
  const { layout } = require('../lib/native.js');
  ffi.limiterNew(encodeQuota(quota, new Uint8Array(layout.quota.size)), out);
  return out[0];
})();
const handleAddress = addressArg(handleOf);
const keyedBytes = floodgateKeyed[TABLES].table(KIND.BYTES);
const keyedBytesAddress = floodgateKeyed[TABLES].address(KIND.BYTES);
const keyedIdsAddress = floodgateKeyed[TABLES].address(KIND.U64);
const { scratch } = require('../lib/keys.js');
const encoder = new TextEncoder();
const abiVersion = koffi.load(require('../scripts/library.js').libraryPath()).func('uint32_t fg_abi_version(void)');
const checkToObject = koffi
  .load(require('../scripts/library.js').libraryPath())
  .func('int32_t fg_limiter_check(void *l, uint64_t cost, _Out_ fg_decision *out)');
const layers = {
  'koffi call, no arguments (fg_abi_version)': () => {
    for (let i = 0; i < BATCH; i += 1) sink += abiVersion();
  },
  'fg_limiter_check_at into the reused buffer': () => {
    for (let i = 0; i < BATCH; i += 1) sink += ffi.limiterCheckAt(handleOf, 1, i, decisionBuffer);
  },
  'fg_limiter_check into the reused buffer (library clock)': () => {
    for (let i = 0; i < BATCH; i += 1) sink += ffi.limiterCheck(handleOf, 1, decisionBuffer);
  },
  'fg_limiter_check, handle and out buffer as uintptr_t numbers (hot.limiterCheck)': () => {
    for (let i = 0; i < BATCH; i += 1) sink += hot.limiterCheck(handleAddress, 1, decisionAddress);
  },
  'Limiter.check(): validation + call + plain object': () => {
    for (let i = 0; i < BATCH; i += 1) sink += one.check(1).remaining;
  },
  'fg_keyed_limiter_check_bytes: encodeInto the scratch buffer + call (void * arguments)': () => {
    for (let i = 0; i < BATCH; i += 1) {
      const { written } = encoder.encodeInto('key-42', scratch.buffer);
      sink += ffi.keyedCheckBytes(keyedBytes, scratch.address, written, 1, decisionBuffer);
    }
  },
  'fg_keyed_limiter_check_cstr: the string as a koffi str argument + call (hot.keyedCheckCstr)': () => {
    for (let i = 0; i < BATCH; i += 1) sink += hot.keyedCheckCstr(keyedBytesAddress, 'key-42', 1, decisionAddress);
  },
  'fg_keyed_limiter_check_cstr over the 10k keys (the 10k-key workload without the JS around the call)': () => {
    for (let i = 0; i < BATCH; i += 1) sink += hot.keyedCheckCstr(keyedBytesAddress, nextKey(), 1, decisionAddress);
  },
  'fg_keyed_limiter_check_u64, numbers only (hot.keyedCheckU64)': () => {
    for (let i = 0; i < BATCH; i += 1) sink += hot.keyedCheckU64(keyedIdsAddress, 42, 1, decisionAddress);
  },
  'KeyedLimiter.check(string key): key checks + C-string call + object': () => {
    for (let i = 0; i < BATCH; i += 1) sink += floodgateKeyed.check('key-42', 1).remaining;
  },
  'KeyedLimiter.check(number key): u64 call + object': () => {
    for (let i = 0; i < BATCH; i += 1) sink += floodgateKeyed.check(42, 1).remaining;
  },
  'fg_limiter_check decoded by koffi (_Out_ struct object)': () => {
    const out = {};
    for (let i = 0; i < BATCH; i += 1) sink += checkToObject(handleOf, 1, out);
  },
};

async function measure(named) {
  const bench = new Bench({ time: 600, warmupTime: 200 });
  for (const [name, fn] of Object.entries(named)) bench.add(name, fn);
  await bench.run();
  return Object.fromEntries(bench.tasks.map((task) => [task.name, (task.result.latency.mean * 1e6) / BATCH]));
}

(async () => {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`node ${process.version}, ${os.cpus().length} cores, ${cpu}, ${new Date().toISOString().slice(0, 10)}`);
  console.log('\n| workload | floodgate | peer | peer/floodgate |\n|---|---|---|---|');
  for (const [workload, entries] of Object.entries(tasks)) {
    const result = await measure(entries);
    for (const peer of ['rate-limiter-flexible', 'limiter']) {
      const ratio = result[peer] / result.floodgate;
      console.log(
        `| ${workload} | ${result.floodgate.toFixed(0)} ns | ${peer}: ${result[peer].toFixed(0)} ns | ${ratio.toFixed(1)}x |`,
      );
    }
  }
  console.log('\n| binding layer | ns per call |\n|---|---|');
  for (const [name, ns] of Object.entries(await measure(layers))) console.log(`| ${name} | ${ns.toFixed(0)} |`);
  if (sink === -1) console.log(sink);
})();
