'use strict';
// Ownership of native handles: each JS object owns one pointer, freed exactly
// once, by close() or, if the object is dropped unclosed, by the
// FinalizationRegistry. close() unregisters first, so the two never both free.

let live = 0;

const registry = new FinalizationRegistry(({ pointer, free }) => {
  live -= 1;
  free(pointer);
});

/** Registers `owner` as the sole owner of `pointer`, released with `free`. */
function adopt(owner, pointer, free) {
  // The held value must not reference `owner`, or it could never be collected.
  registry.register(owner, { pointer, free }, owner);
  live += 1;
}

/** Frees `pointer` now and cancels the finalizer of `owner`. */
function release(owner, pointer, free) {
  registry.unregister(owner);
  live -= 1;
  free(pointer);
}

/** How many handles are allocated and not yet freed (a leak diagnostic). */
function liveHandles() {
  return live;
}

module.exports = { adopt, liveHandles, release };
