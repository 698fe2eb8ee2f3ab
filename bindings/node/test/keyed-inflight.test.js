'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { FloodgateError, FloodgateRangeError, KeyedInFlight, Permit, liveHandles } = require('..');

const refusedWith = (code) => (error) => error instanceof FloodgateError && error.code === code;

test('GenieOS batch endpoint: 4 in flight for each workspace', () => {
  const batches = new KeyedInFlight(4, { capacity: 64 });
  assert.equal(batches.limit, 4);
  for (const key of ['ws_1', Buffer.from('ws_2'), 3, 4n]) {
    const permits = [1, 2, 3, 4].map((n) => {
      const permit = batches.acquire(key);
      assert.ok(permit instanceof Permit);
      assert.equal(permit.inFlight, n);
      assert.equal(permit.limit, 4);
      return permit;
    });
    assert.equal(batches.acquire(key), null, 'a fifth waits');
    assert.equal(batches.inFlight(key), 4);
    assert.equal(permits[0].release(), 3, 'permit.release() gives back to its key');
    assert.equal(batches.release(key, permits[1]), 2, 'so does release(key, permit)');
    permits[2][Symbol.dispose]();
    permits[3].release();
    assert.equal(batches.inFlight(key), 0);
  }
  assert.equal(batches.inFlight('never'), 0);
  batches.close();
});

test('a Buffer key mutated after acquire still releases to its own key', () => {
  const batches = new KeyedInFlight(1, { capacity: 8 });
  const key = Buffer.from('ws_a');
  const permit = batches.acquire(key);
  key.write('ws_b');
  permit.release();
  assert.equal(batches.inFlight('ws_a'), 0);
  batches.close();
});

test('double release, another key, another cap: refused and nothing changes', () => {
  const batches = new KeyedInFlight(2, { capacity: 8 });
  const other = new KeyedInFlight(2, { capacity: 8 });
  const permit = batches.acquire('a');
  permit.release();
  assert.throws(() => permit.release(), refusedWith('ERR_FLOODGATE_PERMIT_ALREADY_RELEASED'));
  const held = batches.acquire('a');
  assert.throws(() => batches.release('b', held), refusedWith('ERR_FLOODGATE_FOREIGN_PERMIT'));
  assert.throws(() => other.release('a', held), refusedWith('ERR_FLOODGATE_FOREIGN_PERMIT'));
  assert.equal(batches.inFlight('a'), 1);
  assert.throws(() => batches.release('a', { owner: held.owner, ticket: held.ticket }), TypeError);
  held.release();
  batches.close();
  other.close();
});

test('bad arguments, a full table and a closed cap throw', () => {
  const before = liveHandles();
  assert.throws(() => new KeyedInFlight(0), (e) => e instanceof FloodgateRangeError && e.code === 'ERR_FLOODGATE_ZERO_LIMIT');
  assert.throws(() => new KeyedInFlight(2 ** 21), (e) => e instanceof FloodgateRangeError && e.code === 'ERR_FLOODGATE_LIMIT_TOO_LARGE');
  assert.throws(() => new KeyedInFlight(2, { capacity: 0 }), (e) => e.code === 'ERR_FLOODGATE_ZERO_CAPACITY');
  assert.throws(() => new KeyedInFlight('2'), TypeError);
  assert.equal(liveHandles(), before);
  const batches = new KeyedInFlight(1, { capacity: 1 });
  assert.throws(() => batches.acquire(''), RangeError);
  assert.throws(() => batches.acquire(null), TypeError);
  assert.throws(() => batches.inFlight(-1), RangeError);
  batches.acquire('a');
  assert.throws(() => batches.acquire('b'), refusedWith('ERR_FLOODGATE_TABLE_FULL'));
  const permit = batches.acquire('a');
  assert.equal(permit, null);
  batches.close();
  batches.close();
  assert.equal(batches.closed, true);
  assert.throws(() => batches.acquire('a'), refusedWith('ERR_FLOODGATE_CLOSED'));
  assert.throws(() => batches.inFlight('a'), refusedWith('ERR_FLOODGATE_CLOSED'));
});
