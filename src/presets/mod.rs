//! The published policies of the providers floodgate's users run, each built
//! from the public API alone: anything a preset does, your own provider's
//! configuration can do the same way (read a preset's source as a recipe).
//!
//! * [`genieos`]: GenieOS's plan table, 429 bodies, headers, warning zone and
//!   SDK retry policy.
//! * [`clarifai`]: Clarifai's `CONN_THROTTLED` 429 body.
//! * [`license_api`]: the license-key API's exponential backoff.
//!
//! The fourth page, Genera's (customer-set rates changed through an API,
//! delay instead of reject, suspension), names no fixed figures, so it needs
//! no preset: [`KeyedLimiter::set_quota`](crate::KeyedLimiter::set_quota),
//! [`Limiter::reserve`](crate::Limiter::reserve) and
//! [`Suspensions`](crate::Suspensions) express it directly.

pub mod clarifai;
pub mod genieos;
pub mod license_api;
