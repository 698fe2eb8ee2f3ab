//! The C ABI: the functions and types `include/floodgate.h` declares.
//!
//! Compiled only with the cargo feature `capi` (off by default, so a Rust
//! dependent links no `fg_*` symbol); the C library is built by
//! `cargo rustc --release --lib --features capi --crate-type cdylib,staticlib`
//! (`--features capi,redis` for the `fg_redis_*` functions to work: without
//! `redis` they exist and answer `FG_STATUS_STORE_UNAVAILABLE`, see `store`).
//! `build.rs` runs cbindgen over this module (and only this module) to write
//! the header, so every doc comment on an exported item below is also the C
//! documentation. Rust callers use the Rust API; this module is public only so
//! benchmarks and tests can call the ABI exactly as C does.
//!
//! Conventions every export follows:
//! - it returns an [`FgStatus`]: `FG_STATUS_OK` (0) or a negative error;
//!   the exceptions are `fg_abi_version`, `fg_last_error_message` and the
//!   `*_free` functions, which cannot fail;
//! - it checks every pointer (NULL, alignment) and length before touching any
//!   state, so a call that fails has changed nothing;
//! - it runs inside `catch_unwind`: a panic becomes `FG_STATUS_PANIC`, never an
//!   unwind into C (the library is built with `panic = "unwind"`, the default);
//! - on failure it records a message for `fg_last_error_message` on the
//!   calling thread; success leaves that message alone (no thread-local write
//!   on the fast path).

mod args;
mod decision;
mod handle;
mod headers;
mod inflight;
mod key_kind;
mod keyed;
mod keyed_cstr;
mod keyed_inflight;
mod keyed_window;
mod lease;
mod limiter;
mod plans;
mod policy;
mod quota;
mod retry;
mod shared;
mod shared_memory;
mod status;
mod store;
mod store_answers;
mod store_async;
mod suspensions;
mod version;
mod window;

pub use decision::*;
pub use headers::*;
pub use inflight::*;
pub use keyed::*;
pub use keyed_cstr::*;
pub use keyed_inflight::*;
pub use keyed_window::*;
pub use lease::*;
pub use limiter::*;
pub use plans::*;
pub use policy::*;
pub use quota::FgQuota;
pub use retry::*;
pub use shared_memory::*;
pub use status::{fg_last_error_message, FgStatus};
pub use store::*;
pub use store_answers::*;
pub use store_async::*;
pub use suspensions::*;
pub use version::{fg_abi_version, FG_ABI_VERSION};
pub use window::*;
