'use strict';
// The binding choice, measured on our own calls: floodgate through koffi (this
// package) beside the same calls written with napi-rs (napi-probe/), in one
// process and one tinybench run.
//   bash bindings/node/bench/napi-probe/run.sh   (builds both, then runs this)
// Each task runs BATCH calls per iteration, so timer overhead is amortised;
// figures are ns per call (tinybench mean / BATCH). Quotas are large enough
// that every check is admitted, as in bench.js.

const os = require('node:os');
const path = require('node:path');
const { Bench } = require('tinybench');
const koffi = require('koffi');
const { Decision, KeyedLimiter, Limiter, Quota } = require('..');
const { ffi } = require('../lib/native.js');
const { OUTCOMES, decisionBuffer } = require('../lib/decision.js');
const { HANDLE } = require('../lib/handle.js');
const { libraryPath } = require('../scripts/library.js');
const napi = require(path.join(__dirname, 'napi-probe', 'floodgate_napi_probe.node'));

const BATCH = 1_000;
// The probe's limiters use the same quota (napi-probe/src/lib.rs, PER_SECOND).
const quota = Quota.perSecond(1_000_000_000);

// The *_at calls get limiters of their own: one timeline per bucket.
const koffiOne = new Limiter(quota);
const koffiAt = new Limiter(quota);
const koffiAtHandle = koffiAt[HANDLE];
const koffiKeyed = new KeyedLimiter(quota, { capacity: 40_000 });
const koffiAbiVersion = koffi.load(libraryPath()).func('uint32_t fg_abi_version(void)');
const napiOne = new napi.Limiter();
const napiAt = new napi.Limiter();
const napiKeyed = new napi.KeyedLimiter();
const napiOut = new Float64Array(6);

/**
 * koffi's design on napi-rs: the figures come back in a typed array and JS
 * builds the object (lib/decision.js does the same from its byte buffer).
 */
function napiCheckAt(cost, nowNs) {
  napiAt.checkAtInto(cost, nowNs, napiOut);
  // Indexed reads, as lib/decision.js does (destructuring a typed array iterates it).
  const out = napiOut;
  return new Decision(out[0] !== 0, OUTCOMES[out[1]], out[2], out[3], out[4], out[5], 0, null, null);
}

let sink = 0;
// The *_at limiters' timelines, moving forward as real time would.
let koffiNow = 0;
let napiNow = 0;

const pairs = {
  'no-argument call (`fg_abi_version` / `abiVersion()`)': {
    koffi: () => {
      for (let i = 0; i < BATCH; i += 1) sink += koffiAbiVersion();
    },
    napi: () => {
      for (let i = 0; i < BATCH; i += 1) sink += napi.abiVersion();
    },
  },
  '`Limiter.check(1)` into a plain object (library clock)': {
    koffi: () => {
      for (let i = 0; i < BATCH; i += 1) sink += koffiOne.check(1).remaining;
    },
    napi: () => {
      for (let i = 0; i < BATCH; i += 1) sink += napiOne.check(1).remaining;
    },
  },
  '`Limiter.check(1, nowNs)` into a plain object': {
    koffi: () => {
      for (let i = 0; i < BATCH; i += 1) sink += koffiAt.check(1, (koffiNow += 1)).remaining;
    },
    napi: () => {
      for (let i = 0; i < BATCH; i += 1) sink += napiAt.checkAt(1, (napiNow += 1)).remaining;
    },
  },
  '`Limiter.check(1, nowNs)`; napi-rs through a typed array, object built in JS': {
    koffi: () => {
      for (let i = 0; i < BATCH; i += 1) sink += koffiAt.check(1, (koffiNow += 1)).remaining;
    },
    napi: () => {
      for (let i = 0; i < BATCH; i += 1) sink += napiCheckAt(1, (napiNow += 1)).remaining;
    },
  },
  'check at `nowNs` into a reused typed array (no object)': {
    koffi: () => {
      for (let i = 0; i < BATCH; i += 1) sink += ffi.limiterCheckAt(koffiAtHandle, 1, (koffiNow += 1), decisionBuffer);
    },
    napi: () => {
      for (let i = 0; i < BATCH; i += 1) napiAt.checkAtInto(1, (napiNow += 1), napiOut);
    },
  },
  '`KeyedLimiter.check(42, 1)`, number key, into a plain object': {
    koffi: () => {
      for (let i = 0; i < BATCH; i += 1) sink += koffiKeyed.check(42, 1).remaining;
    },
    napi: () => {
      for (let i = 0; i < BATCH; i += 1) sink += napiKeyed.check(42, 1).remaining;
    },
  },
};

(async () => {
  const bench = new Bench({ time: 600, warmupTime: 200 });
  // Both bindings of a workload run back to back, so load on the shared box
  // drifts as little as possible between the two figures compared.
  for (const [workload, tasks] of Object.entries(pairs)) {
    for (const [binding, fn] of Object.entries(tasks)) bench.add(`${workload}|${binding}`, fn);
  }
  await bench.run();
  const ns = Object.fromEntries(bench.tasks.map((task) => [task.name, (task.result.latency.mean * 1e6) / BATCH]));

  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const load = os.loadavg()[0].toFixed(1);
  console.log(`node ${process.version}, ${os.cpus().length} cores, ${cpu}, load ${load}, ${new Date().toISOString().slice(0, 10)}`);
  console.log('\n| workload | floodgate via koffi | via napi-rs | napi-rs/koffi |\n|---|---|---|---|');
  for (const workload of Object.keys(pairs)) {
    const viaKoffi = ns[`${workload}|koffi`];
    const viaNapi = ns[`${workload}|napi`];
    console.log(`| ${workload} | ${viaKoffi.toFixed(0)} ns | ${viaNapi.toFixed(0)} ns | ${(viaNapi / viaKoffi).toFixed(1)}x |`);
  }
  if (sink === -1) console.log(sink);
})();
