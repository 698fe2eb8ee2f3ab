//! The HTTP edge: header fields and 429 bodies rendered from a decision, and
//! the client side's retry helper that reads them back.
//!
//! Everything here runs once per response or per retry, off the check path.

mod body;
mod civil;
mod headers;
mod json;
pub(crate) mod retry;
mod scope;
mod seconds;
mod template;

pub use body::{ErrorBody, LimitFigure};
pub(crate) use civil::Civil;
pub use headers::{Headers, RateLimitPolicy, RenderedHeaders};
pub use retry::{parse_retry_after, Jitter, Retry, RetryPolicy};
pub use scope::Scope;
pub use seconds::RetryAfterFormat;
