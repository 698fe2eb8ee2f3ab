//! The engine every limiter shares: a quota and its exact integer arithmetic,
//! the packed state word, GCRA on that word, the ring that lets a quota change
//! while checks read it, the decision a check returns, clocks and errors.
//!
//! Nothing here is keyed or aware of HTTP; every other folder builds on it.

pub(crate) mod alloc;
pub(crate) mod clock;
pub(crate) mod decision;
pub(crate) mod error;
pub(crate) mod gcra;
pub(crate) mod quota;
pub(crate) mod quota_ring;
pub(crate) mod state;
pub(crate) mod writer_lock;
