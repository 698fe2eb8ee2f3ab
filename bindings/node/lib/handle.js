'use strict';
// Ownership of native handles: each handle has one JS owner and is freed
// exactly once, by close() or, if the owner is dropped unclosed, by the
// FinalizationRegistry. close() unregisters first, so the two never both free.
// An owner of several handles (a KeyedLimiter's per-kind tables, a Policy's
// per-key-kind policies) registers each under its own token.

let live = 0;

/** The getter through which a Policy reads a layer's live native handle. */
const HANDLE = Symbol('floodgate.handle');

const registry = new FinalizationRegistry(({ pointer, free }) => {
  live -= 1;
  free(pointer);
});

/**
 * Registers `owner` as the sole owner of `pointer`, released with `free`.
 * `token` (default `owner`) names this registration for release(); an owner
 * of several handles passes a distinct object per handle and keeps it.
 */
function adopt(owner, pointer, free, token = owner) {
  // The held value must not reference `owner`, or it could never be collected.
  registry.register(owner, { pointer, free }, token);
  live += 1;
}

/** Frees `pointer` now and cancels its finalizer (registered under `token`). */
function release(token, pointer, free) {
  registry.unregister(token);
  live -= 1;
  free(pointer);
}

/** How many handles are allocated and not yet freed (a leak diagnostic). */
function liveHandles() {
  return live;
}

module.exports = { HANDLE, adopt, liveHandles, release };
