// Typed usage of the public API: `tsc --noEmit` (run-tests.sh) checks it
// against index.d.ts. The @ts-expect-error lines prove misuse is rejected.

import * as http from 'node:http';
import {
  Decision,
  FloodgateError,
  FloodgateRangeError,
  KeyedChecker,
  Limiter,
  Outcome,
  Quota,
  STATUS,
  abiVersion,
  errorBody,
  fastifyHook,
  keys,
  liveHandles,
  rateLimit,
  rateLimitHeaders,
  resetTimestamp,
  retryAfterSeconds,
} from '..';

const quota: Quota = Quota.perSecond(30, { burst: 60 });
const minute = Quota.perMinute(600n).withBurst(10);
const exact = new Quota(15, 1_000_000_000n);
const total: bigint = quota.count + quota.periodNs + quota.burst + minute.burst + exact.count;
const periodMs: number = Quota.perPeriodMs(5, 250).periodMs;

const limiter = new Limiter(quota);
const decision: Decision = limiter.check();
const outcome: Outcome = limiter.check(2, 1_000n).outcome;
const remaining: number = limiter.peek().remaining + limiter.peek(5).limit;
const refunded: boolean = limiter.refund(1).admitted && limiter.refund(1n, 10).admitted;
limiter.reconfigure(Quota.perHour(100));
limiter.reconfigure(quota, 20n);
const inForce: Quota = limiter.quota;
const closed: boolean = limiter.closed;
limiter.close();
{
  using scoped = new Limiter(quota);
  scoped.check();
}

// @ts-expect-error a cost is a number or bigint
limiter.check('1');
// @ts-expect-error a Limiter needs a Quota
new Limiter({ count: 1 });
// @ts-expect-error decisions are read-only data, not methods
decision.retry();

const fields = rateLimitHeaders(decision, { scope: 'key', nowMs: Date.now() });
const limitField: string = fields['X-RateLimit-Limit'];
const retry: string | undefined = fields['Retry-After'];
const body: string = errorBody(decision, { requestId: 'req_1', code: 'key_rate_limit' });
const seconds: string = retryAfterSeconds(33_333_334, 3) + resetTimestamp(2_000_000_000n);

const perKey = new Map<string, Limiter>();
const keyed: KeyedChecker = {
  check(key, cost) {
    const name = String(key);
    let bucket = perKey.get(name);
    if (bucket === undefined) perKey.set(name, (bucket = new Limiter(quota)));
    return bucket.check(cost);
  },
};

const guard = rateLimit({ limiter: keyed, key: keys.header('x-api-key'), cost: (req) => (req.method === 'POST' ? 2 : 1) });
const byIp = rateLimit({ limiter, key: keys.ip, scope: 'workspace', retryAfterDecimals: 0 });
const byPath = rateLimit({ limiter, key: keys.path, message: 'Slow down: {retryAfter}s' });
http.createServer((req, res) => {
  if (!guard(req, res)) return;
  res.end('ok');
});
const hook = fastifyHook({ limiter });
// @ts-expect-error scope must be a string
rateLimit({ limiter, scope: 1 });

const code: string = new FloodgateError('x').code ?? '';
const rangeStatus: number = (null as unknown as FloodgateRangeError).status;
const zero: -12 = STATUS.ZERO_BURST;
const major: number = abiVersion.major + liveHandles();

export { total, periodMs, outcome, remaining, refunded, inForce, closed, limitField, retry, body, seconds, byIp, byPath, hook, code, rangeStatus, zero, major };
