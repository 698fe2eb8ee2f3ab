// Typed usage of the public API: `tsc --noEmit` (run-tests.sh) checks it
// against index.d.ts. The @ts-expect-error lines prove misuse is rejected.

import * as http from 'node:http';
import {
  Decision,
  ErrorBody,
  FloodgateError,
  FloodgateRangeError,
  HeaderRenderer,
  InFlight,
  Key,
  KeyedInFlight,
  KeyedLimiter,
  KeyedWindows,
  Limiter,
  Outcome,
  Permit,
  PlanKey,
  Plans,
  PlansCounters,
  PlansDecision,
  Policy,
  PolicyCounters,
  PolicyDecision,
  LeasedLimiter,
  Quota,
  RedisInFlight,
  RedisLimiter,
  RedisPermit,
  RedisWindows,
  Retry,
  RetryPolicy,
  STATUS,
  SlidingWindow,
  StandardHeaders,
  fastifyRateLimit,
  Suspensions,
  abiVersion,
  fastifyHook,
  keys,
  liveHandles,
  machineNowNs,
  parseRetryAfter,
  rateLimit,
} from '..';

const quota: Quota = Quota.perSecond(30, { burst: 60 });
const minute = Quota.perMinute(600n).withBurst(10);
const exact = new Quota(15, 1_000_000_000n, { lockoutNs: 5_000_000_000n });
const locked: Quota = quota.withLockout(1_000_000_000);
const total: bigint = quota.count + quota.periodNs + quota.burst + minute.burst + exact.count + locked.lockoutNs;
const periodMs: number = Quota.perPeriodMs(5, 250).periodMs;

const limiter = new Limiter(quota);
const decision: Decision = limiter.check();
const outcome: Outcome = limiter.check(2, 1_000n).outcome;
const remaining: number = limiter.peek().remaining + limiter.peek(5).limit;
const refunded: boolean = limiter.refund(1).admitted && limiter.refund(1n, 10).admitted;
const delay: number = limiter.reserve(1, 1_000_000_000).delayNs + limiter.reserve(1n, 5, 10).delayMs;
const warning: boolean = decision.inWarningZone() || decision.inWarningZone(10n);
const scope: string | null = decision.scope;
limiter.suspendUntil(5_000n);
limiter.suspendUntil(null);
limiter.suspendFor(1_000);
limiter.liftSuspension();
const suspension: { suspended: boolean; untilNs: number | null } = limiter.suspensionAt(0);
limiter.reconfigure(Quota.perHour(100));
limiter.reconfigure(quota, 20n);
const inForce: Quota = limiter.quota;
const closed: boolean = limiter.closed;
limiter.close();

// @ts-expect-error a cost is a number or bigint
limiter.check('1');
// @ts-expect-error a Limiter needs a Quota
new Limiter({ count: 1 });
// @ts-expect-error decisions are data plus inWarningZone
decision.retry();
// @ts-expect-error reserve needs a maximum wait
limiter.reserve(1);

const sharedBucket = new Limiter(quota, { shared: 'api' });
const sharedKeys = new KeyedLimiter(quota, { capacity: 1_024, shared: { path: '/dev/shm/api-keys', waitMs: 100 } });
const bothShared: boolean = sharedBucket.isShared && sharedKeys.isShared;
Limiter.removeShared('api');
KeyedLimiter.removeShared({ name: 'api-keys', waitMs: 0n });
// @ts-expect-error a segment is a name, { name } or { path }
new Limiter(quota, { shared: 5 });
// @ts-expect-error a segment has a name or a path, not both
new KeyedLimiter(quota, { shared: { name: 'a', path: '/dev/shm/a' } });

// Every kind takes { shared }; each has isShared and removeShared.
const sharedKinds: boolean[] = [
  new SlidingWindow(600, 60_000_000_000n, { shared: 'workspaces' }).isShared,
  SlidingWindow.perMinute(600, { shared: { name: 'w', waitMs: 10 } }).isShared,
  new KeyedWindows(600, 60_000_000_000, { capacity: 1_024, onFull: 'deny', shared: 'per-workspace' }).isShared,
  new Suspensions({ capacity: 64, shared: { path: '/dev/shm/suspended' } }).isShared,
  new InFlight(4, { shared: 'batch' }).isShared,
  new KeyedInFlight(4, { capacity: 64, shared: 'batch-per-workspace' }).isShared,
  Plans.genieos({ keyCapacity: 1_000, shared: 'plans' }).isShared,
  new Plans([{ name: 'free' }], { windowNs: 1_000n, shared: 'custom-plans' }).isShared,
];
SlidingWindow.removeShared('workspaces');
KeyedWindows.removeShared('per-workspace');
Suspensions.removeShared({ path: '/dev/shm/suspended' });
InFlight.removeShared('batch');
KeyedInFlight.removeShared('batch-per-workspace');
Plans.removeShared('plans');
// @ts-expect-error a segment is a name, { name } or { path }
new InFlight(4, { shared: true });
// @ts-expect-error isShared is read-only
new SlidingWindow(1, 1).isShared = true;

const perKey = new KeyedLimiter(quota, { capacity: 100_000, onFull: 'overflow', maxOverrides: 64 });
const someKeys: Key[] = ['api-key', Buffer.from('raw'), new Uint8Array([1, 2]), 42, 42n];
for (const key of someKeys) perKey.check(key, 1, 0n);
perKey.peek('k');
perKey.refund(7, 2);
const reserved: number = perKey.reserve('k', 1, 1_000_000).delayNs;
perKey.setQuota('customer', Quota.perSecond(100), 0);
perKey.clearQuota('customer');
perKey.reset('customer');
perKey.resetKey(7);
const own: Quota = perKey.quotaFor(12n);
perKey.reconfigure(Quota.perSecond(15));
const sizes: number = perKey.size + perKey.capacity + perKey.fullTableEvents;
// @ts-expect-error keys are strings, bytes or integers
perKey.check({ id: 1 });
// @ts-expect-error onFull is one of three policies
new KeyedLimiter(quota, { onFull: 'drop' });

const window = SlidingWindow.perMinute(600);
const windowLeft: number = window.check().remaining + window.peek(0).remaining + window.refund(1, 0).remaining;
window.reconfigure(1_800);
const windowSize: number = window.limit + window.windowNs + new SlidingWindow(10, 1_000n).limit;

const batch = new InFlight(4);
const permit: Permit | null = batch.acquire();
if (permit !== null) {
  const out: number = permit.release();
  const again: boolean = permit.released;
  void out;
  void again;
}
const held = batch.acquire();
if (held !== null) batch.release(held);
const flying: number = batch.inFlight + batch.limit;
// @ts-expect-error release takes a Permit
batch.release({ owner: 1n, ticket: 1n });

const policy = new Policy([
  { limit: perKey, scope: 'key' },
  { limit: window, scope: 'workspace' },
  { limit: new Limiter(quota), scope: 'license-activation', shadow: true },
]);
const verdict: PolicyDecision = policy.check(['key_1', null, undefined], 1, 0);
const deciding: string = verdict.scope;
const layer: number = verdict.layer;
const counters: PolicyCounters = policy.counters();
const shadowDenied: number = counters.layers[2].shadowDenied + counters.admitted;
const scopes: string[] = policy.scopes;
// @ts-expect-error a layer needs a scope
new Policy([{ limit: window }]);

const renderer = new HeaderRenderer({ retryAfterDecimals: 0, policy: { name: 'default', quota: 30, windowNs: 1e9 } });
const fields: Record<string, string> = renderer.render(decision, { scope: 'key', nowMs: Date.now() });
const handBuilt = renderer.render({ admitted: false, outcome: 'denied', limit: 60, remaining: 0, resetAfterNs: 1n, retryAfterNs: 1 });
const body: string = ErrorBody.genieosKey().render(decision, { requestId: 'req_1' });
const clarifai = ErrorBody.clarifai('exceeded limit of {limit} requests per second', { numericCode: 11005 });
const custom = new ErrorBody({ shape: 'genieos', code: 'ip_rate_limit', message: 'Slow down', type: 'throttled' });
// @ts-expect-error unknown body shape
new ErrorBody({ shape: 'xml' });

const guard = rateLimit({ limiter: perKey, key: keys.header('x-api-key'), cost: (req) => (req.method === 'POST' ? 2 : 1) });
const byIp = rateLimit({ limiter: perKey, key: keys.ip, scope: 'ip', retryAfterDecimals: 0, errorBody: custom });
const byPolicy = rateLimit({
  policy,
  keys: (req) => [String(req.headers['x-api-key']), null, null],
  headers: renderer,
  errorBody: (scopeName) => (scopeName === 'workspace' ? ErrorBody.genieosWorkspace() : clarifai),
});
http.createServer((req, res) => {
  if (!guard(req, res)) return;
  res.end('ok');
});
const hook = fastifyHook({ limiter: perKey });
const strict = rateLimit({
  limiter: perKey,
  key: keys.header('x-api-key'),
  onBadKey: 'reject',
  fallbackKey: (req) => req.socket.remoteAddress,
  onError: (error: unknown) => console.error(error),
});
const acrossWorkers = rateLimit({ windowMs: 1_000, limit: 30, shared: 'api' });
const keyedFlags: boolean[] = byPolicyLayers();
// @ts-expect-error onBadKey is 'fallback' or 'reject'
rateLimit({ limiter: perKey, onBadKey: 'ignore' });
// @ts-expect-error scope must be a string
rateLimit({ limiter: perKey, scope: 1 });
// @ts-expect-error a single Limiter is not per key
rateLimit({ limiter: new Limiter(quota) });
// @ts-expect-error a Policy needs a keys function
rateLimit({ policy });

const perWorkspace = KeyedWindows.perMinute(600, { capacity: 10_000, onFull: 'admit' });
const windowsLeft: number =
  perWorkspace.check('ws_1').remaining + perWorkspace.peek(9n, 0).remaining + perWorkspace.refund(Buffer.from('w'), 1, 0).remaining;
perWorkspace.setLimit('ws_big', 1_800);
perWorkspace.resetKey('ws_big');
const windowsSize: number = perWorkspace.size + perWorkspace.capacity + perWorkspace.fullTableEvents + perWorkspace.windowNs;
new KeyedWindows(10, 1_000_000_000n);
// @ts-expect-error a keyed window needs its window length
new KeyedWindows(10);

const blocked = new Suspensions({ capacity: 1_000 });
blocked.suspendUntil('key_1', 5_000n);
blocked.suspendUntil(42, null);
blocked.suspendFor(Buffer.from('k'), 1_000);
blocked.lift('key_1');
const suspendedFor: Decision | null = blocked.check('key_1', 0);
// @ts-expect-error suspendUntil needs an end or null
blocked.suspendUntil('key_1');

const batches = new KeyedInFlight(4, { capacity: 10_000 });
const batchPermit: Permit | null = batches.acquire('ws_1');
if (batchPermit !== null) batches.release('ws_1', batchPermit);
const perKeyFlying: number = batches.inFlight('ws_1') + batches.limit;
// @ts-expect-error release names the key
batches.release(batchPermit);

const genieos = Plans.genieos({ keyCapacity: 1_000, workspaceCapacity: 100 });
const planKey: PlanKey = Buffer.from('gos_live_1');
const planned: PlansDecision = genieos.check('hobby', planKey, 'ws_1', 1, 0n);
const planScope: 'key' | 'workspace' = planned.scope;
const hobby: number = genieos.tier('hobby');
genieos.check(hobby, 'gos_live_1', 'ws_1');
const custom2 = new Plans(
  [
    { name: 'free', keyQuota: Quota.perSecond(1), workspaceLimit: 100 },
    { name: 'internal' },
  ],
  { windowNs: 60_000_000_000, keyCapacity: 10 },
);
custom2.reconfigureTier('free', { keyQuota: Quota.perSecond(2), workspaceLimit: 200 });
const planCounters: PlansCounters = custom2.counters('free');
// @ts-expect-error Plans keys are strings or bytes, not ids
genieos.check('hobby', 42, 'ws_1');
const byPlan = rateLimit({ plans: genieos, plan: (req) => ['hobby', String(req.headers['x-api-key']), 'ws_1'] });
const policyWithSuspensions = new Policy([
  { limit: blocked, scope: 'key' },
  { limit: perWorkspace, scope: 'workspace' },
]);
// @ts-expect-error Plans needs a plan function
rateLimit({ plans: genieos });

const code: string = new FloodgateError('x').code ?? '';
const rangeStatus: number = (null as unknown as FloodgateRangeError).status;
const zero: -12 = STATUS.ZERO_BURST;
const foreign: -41 = STATUS.FOREIGN_PERMIT;
const major: number = abiVersion.major + liveHandles();
const machineNow: bigint = machineNowNs();

export {
  total, periodMs, outcome, remaining, refunded, delay, warning, scope, suspension, inForce, closed, reserved, own, sizes,
  windowLeft, windowSize, flying, deciding, layer, shadowDenied, scopes, fields, handBuilt, body, byIp, byPolicy, hook,
  code, rangeStatus, zero, foreign, major, windowsLeft, windowsSize, suspendedFor, perKeyFlying, planScope, planCounters,
  byPlan, policyWithSuspensions,
};

const backoff = new RetryPolicy({ initialMs: 100, factor: 2, maxRetries: 3, maxDelayNs: 2_000_000_000n, jitter: 'full', seed: 7n });
const genieosRetry: RetryPolicy = RetryPolicy.genieos().withSeed(1).withJitter('none').withMaxRetries(3);
const licenseNs: bigint = RetryPolicy.licenseApi().initialNs;
const firstWait: number | null = backoff.delay(0, parseRetryAfter('0.6', new Date()));
const retry: Retry = genieosRetry.start();
const nextWait: number | null = retry.nextDelay(null);
const granted: number = retry.retries;
const untilDate: number = parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', Date.now());
// @ts-expect-error one of initialNs and initialMs, not both
new RetryPolicy({ initialNs: 1, initialMs: 1, factor: 2, maxRetries: 3, maxDelayMs: 10 });
// @ts-expect-error maxDelayNs or maxDelayMs is required
new RetryPolicy({ initialMs: 1, factor: 2, maxRetries: 3 });
// @ts-expect-error jitter is 'none', 'equal' or 'full'
RetryPolicy.genieos().withJitter('half');
// @ts-expect-error a Retry comes from policy.start()
new Retry();

function byPolicyLayers(): boolean[] {
  return new Policy([{ limit: perKey, scope: 'key' }]).keyed;
}
void strict;
void keyedFlags;

// express-rate-limit's options and the standard headers.
const erl = rateLimit({
  windowMs: 60_000,
  limit: async (req) => (req.headers['x-plan'] === 'pro' ? 100 : 10),
  standardHeaders: 'draft-7',
  legacyHeaders: false,
  keyGenerator: (req) => req.headers['x-user'] as string,
  skip: () => false,
  message: { error: 'slow down' },
  statusCode: 429,
  requestPropertyName: 'rateLimit',
  skipFailedRequests: true,
  ipv6Subnet: 64,
  identifier: 'per-user',
});
void erl;
const presetGenieos = rateLimit({ preset: 'genieos', limiter: perKey });
void presetGenieos;
const standard = new StandardHeaders({ standardHeaders: 'draft-6' });
void standard;
void fastifyRateLimit;

// Limits kept in Redis: checks answer with Promises.
const inRedis = new RedisLimiter(Quota.perSecond(30), { store: 'redis://127.0.0.1:6379/', onFailure: 'closed', deadlineMs: 3 });
const pendingDecision: Promise<Decision> = inRedis.check('key');
void pendingDecision;
const exactCount: number = inRedis.counters.exact;
void exactCount;
// @ts-expect-error a Redis limit takes string or Buffer keys
void inRedis.check(42);
const throughRedis = rateLimit({ windowMs: 60_000, limit: 10, store: 'redis://127.0.0.1:6379/', prefix: 'api:' });
void throughRedis;
void rateLimit({ limiter: inRedis });
const onCluster = new RedisLimiter(Quota.perSecond(30), { store: ['redis://10.0.0.1:7000/', 'redis://10.0.0.2:7000/'], onFailure: 'local' });
const localAdmitted: number = onCluster.counters.localAdmitted + onCluster.counters.localDenied;
void localAdmitted;
void rateLimit({ windowMs: 60_000, limit: 10, store: ['redis://10.0.0.1:7000/'], onFailure: 'local' });
const windowsInRedis = new RedisWindows(600, 60_000_000_000, { store: 'redis://127.0.0.1:6379/', prefix: 'ws:' });
const pendingWindow: Promise<Decision> = windowsInRedis.check('ws-42');
void pendingWindow;
const batchCaps = new RedisInFlight(4, { store: 'redis://127.0.0.1:6379/', leaseMs: 60_000, onFailure: 'local' });
const pendingPermit: Promise<RedisPermit | null> = batchCaps.acquire('ws-42');
void pendingPermit;
// @ts-expect-error onFailure is 'open', 'closed' or 'local'
void new RedisLimiter(Quota.perSecond(30), { store: 'redis://127.0.0.1:6379/', onFailure: 'maybe' });
// Leased limits: checks are local and synchronous.
const leased = new LeasedLimiter(Quota.perSecond(30), { store: 'redis://127.0.0.1:6379/', fleetSize: 2, leaseTimeMs: 200 });
const leasedDecision: Decision = leased.check('key');
void leasedDecision;
const localChecks: number = leased.counters.leases.local;
void localChecks;
void rateLimit({ limiter: leased });
void rateLimit({ windowMs: 60_000, limit: 10, store: 'redis://127.0.0.1:6379/', storeMode: 'exact' });
// @ts-expect-error storeMode is 'lease' or 'exact'
void rateLimit({ windowMs: 60_000, limit: 10, store: 'redis://127.0.0.1:6379/', storeMode: 'fast' });
