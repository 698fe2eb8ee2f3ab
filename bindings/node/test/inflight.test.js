'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { FloodgateError, FloodgateRangeError, InFlight, Permit } = require('..');

const refusedWith = (code) => (error) => error instanceof FloodgateError && error.code === code;

test('GenieOS batch endpoint: 4 in flight per workspace', () => {
  const batch = new InFlight(4);
  assert.equal(batch.limit, 4);
  const permits = [1, 2, 3, 4].map((n) => {
    const permit = batch.acquire();
    assert.ok(permit instanceof Permit);
    assert.equal(permit.inFlight, n);
    assert.equal(permit.limit, 4);
    return permit;
  });
  assert.equal(batch.acquire(), null, 'a fifth waits');
  assert.equal(batch.inFlight, 4);
  assert.equal(permits[0].release(), 3);
  assert.equal(permits[0].released, true);
  assert.equal(batch.inFlight, 3);
  const next = batch.acquire();
  assert.ok(next !== null, 'a released unit is taken again');
  assert.equal(batch.release(next), 3, 'cap.release(permit) works as well');
  for (const permit of permits.slice(1)) permit.release();
  assert.equal(batch.inFlight, 0);
  // What `using permit = batch.acquire()` does at the end of its block.
  const scoped = batch.acquire();
  assert.equal(scoped.inFlight, 1);
  scoped[Symbol.dispose]();
  assert.equal(batch.inFlight, 0, 'dispose released the permit');
  const early = batch.acquire();
  early.release();
  early[Symbol.dispose]();
  assert.equal(batch.inFlight, 0, 'dispose after release does not release twice');
});

test('double release and foreign permits throw and change nothing', () => {
  const a = new InFlight(2);
  const b = new InFlight(2);
  const permit = a.acquire();
  const held = a.acquire();
  permit.release();
  assert.throws(() => permit.release(), refusedWith('ERR_FLOODGATE_PERMIT_ALREADY_RELEASED'));
  assert.throws(() => a.release(permit), refusedWith('ERR_FLOODGATE_PERMIT_ALREADY_RELEASED'));
  assert.equal(a.inFlight, 1, 'the double release took nothing back');
  const other = b.acquire();
  assert.throws(() => a.release(other), refusedWith('ERR_FLOODGATE_FOREIGN_PERMIT'));
  assert.throws(() => b.release(held), refusedWith('ERR_FLOODGATE_FOREIGN_PERMIT'));
  assert.equal(a.inFlight, 1);
  assert.equal(b.inFlight, 1);
  assert.equal(held.released, false);
  for (const bad of [null, {}, { owner: 1n, ticket: 1n }, 1]) assert.throws(() => a.release(bad), TypeError);
  held.release();
  other.release();
});

test('cap limits and closed caps', () => {
  assert.throws(() => new InFlight(0), (error) => error instanceof FloodgateRangeError && error.code === 'ERR_FLOODGATE_ZERO_LIMIT');
  assert.throws(() => new InFlight(2 ** 20 + 1), (error) => error instanceof FloodgateRangeError && error.code === 'ERR_FLOODGATE_LIMIT_TOO_LARGE');
  assert.throws(() => new InFlight('4'), TypeError);
  assert.throws(() => new InFlight(-4), RangeError);
  const cap = new InFlight(1);
  const permit = cap.acquire();
  cap.close();
  cap.close();
  for (const call of [() => cap.acquire(), () => cap.inFlight, () => cap.limit, () => permit.release(), () => cap.release(permit)]) {
    assert.throws(call, refusedWith('ERR_FLOODGATE_CLOSED'));
  }
  assert.doesNotThrow(() => permit[Symbol.dispose](), 'disposing a permit of a closed cap is a no-op');
});
