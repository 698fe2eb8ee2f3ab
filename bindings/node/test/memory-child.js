'use strict';
// The process test/memory.test.js measures: `node test/memory-child.js
// <keyed|plans> <count> <boundBytes>` creates `count` objects one event-loop
// turn apart and drops each without close(), sampling RSS after every turn.
// It stops early once RSS passes the bound, so a failing run stays small.
// Prints { made, peakRss } as JSON. Without arguments (as node --test runs
// every file under test/) it does nothing.
const { setImmediate: turn } = require('node:timers/promises');
const { KeyedLimiter, Plans, Quota } = require('..');

const makers = {
  keyed: () => new KeyedLimiter(Quota.perSecond(30, { burst: 60 })),
  plans: () => Plans.genieos(),
};

async function main(kind, count, bound) {
  let peakRss = process.memoryUsage.rss();
  let made = 0;
  while (made < count && peakRss <= bound) {
    makers[kind]();
    made += 1;
    await turn();
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }
  process.stdout.write(`${JSON.stringify({ made, peakRss })}\n`);
}

const [kind, count, bound] = process.argv.slice(2);
if (kind !== undefined) main(kind, Number(count), Number(bound));
