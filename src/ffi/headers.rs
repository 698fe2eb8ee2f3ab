//! Response metadata for C: `X-RateLimit-*`, `Retry-After`, the IETF draft
//! `RateLimit` fields, and the 429 JSON bodies, rendered into caller buffers.

use super::args::{self, Versioned};
use super::decision::{read_decision, FgDecision};
use super::handle;
use super::status::{guard, Failure, FgStatus};
use crate::http::{ErrorBody, Headers, RateLimitPolicy, RetryAfterFormat, Scope};
use crate::presets::{clarifai, genieos};
use std::ffi::c_char;
use std::fmt::Write;
use std::time::Duration;

/// `fg_headers_config.flags`: leave out the `X-RateLimit-*` fields (render
/// only `Retry-After` and the draft fields).
pub const FG_HEADERS_NO_LEGACY_FIELDS: u32 = 1;

/// Which response fields `fg_headers_render` writes.
///
/// By default (all zero but `struct_size`): `X-RateLimit-Limit`,
/// `X-RateLimit-Remaining`, `X-RateLimit-Reset` (ISO-8601 UTC),
/// `X-RateLimit-Scope`, and `Retry-After` when denied, in whole seconds.
/// Set `policy_name` to add `RateLimit-Policy` and `RateLimit`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FgHeadersConfig {
    /// `sizeof(fg_headers_config)` as the caller compiled it.
    pub struct_size: usize,
    /// 0, or `FG_HEADERS_NO_LEGACY_FIELDS`.
    pub flags: u32,
    /// Digits after the point in `Retry-After`, rounded up: 0 writes whole
    /// seconds (RFC 9110), 1 writes GenieOS's `0.6`, at most 9.
    pub retry_after_decimals: u32,
    /// The `RateLimit-Policy` name (printable ASCII), or NULL for no draft fields.
    pub policy_name: *const c_char,
    /// The length of `policy_name` in bytes.
    pub policy_name_len: usize,
    /// The draft policy's quota units (`q=`).
    pub policy_quota: u64,
    /// The draft policy's window in nanoseconds (`w=`, written in whole
    /// seconds rounded up).
    pub policy_window_ns: u64,
}

// SAFETY: repr(C), starts with `struct_size: usize`, integers and raw pointers only.
unsafe impl Versioned for FgHeadersConfig {
    const MIN_SIZE: usize = std::mem::size_of::<FgHeadersConfig>();
}

/// An opaque, immutable set of header rendering choices. Create with
/// `fg_headers_new`, release with `fg_headers_free`.
pub struct FgHeaders {
    headers: Headers,
}

/// `fg_error_body_config.shape`: GenieOS's per-key body (code
/// `key_rate_limit`, "API key exceeded its rate limit. Retry after {retry_after}s.").
pub const FG_BODY_GENIEOS_KEY: u32 = 0;
/// `fg_error_body_config.shape`: GenieOS's per-workspace body (code
/// `workspace_rate_limit`).
pub const FG_BODY_GENIEOS_WORKSPACE: u32 = 1;
/// `fg_error_body_config.shape`: a GenieOS body with your `code` and `message`.
pub const FG_BODY_GENIEOS: u32 = 2;
/// `fg_error_body_config.shape`: a Clarifai body (`CONN_THROTTLED`, "Making
/// too many requests") with `message` as its `details`. The Rust API fills
/// its `{limit}` with the rate per second; an `fg_decision` carries no rate,
/// so here `{limit}` is `decision->limit`, the burst: for "exceeded limit of
/// 15 requests per second", give the bucket a burst of 15 or write the rate
/// into `message`.
pub const FG_BODY_CLARIFAI: u32 = 3;

/// `fg_error_body_config.flags`: write `numeric_code` as the code, a JSON
/// number in a Clarifai body (`"code":11005`).
pub const FG_BODY_NUMERIC_CODE: u32 = 1;

/// How `fg_error_body_render` writes a 429 body. Text fields are (pointer,
/// length) UTF-8; a NULL pointer keeps the shape's default. Message templates
/// may use `{retry_after}`, `{limit}`, `{remaining}`, `{scope}`, and `{{` `}}`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FgErrorBodyConfig {
    /// `sizeof(fg_error_body_config)` as the caller compiled it.
    pub struct_size: usize,
    /// `FG_BODY_GENIEOS_KEY` (0), `_GENIEOS_WORKSPACE`, `_GENIEOS` or `_CLARIFAI`.
    pub shape: u32,
    /// 0, or `FG_BODY_NUMERIC_CODE`.
    pub flags: u32,
    /// Digits after the point in waits, rounded up; 0 writes whole seconds.
    pub retry_after_decimals: u32,
    /// The code (GenieOS `code`, Clarifai `code`); required for `FG_BODY_GENIEOS`.
    pub code: *const c_char,
    /// The length of `code`.
    pub code_len: usize,
    /// With `FG_BODY_NUMERIC_CODE`: the code as a number.
    pub numeric_code: u64,
    /// The message template (GenieOS `message`, Clarifai `details`);
    /// required for `FG_BODY_GENIEOS` and `FG_BODY_CLARIFAI`.
    pub message: *const c_char,
    /// The length of `message`.
    pub message_len: usize,
    /// GenieOS `type` (default `rate_limit_exceeded`).
    pub type_name: *const c_char,
    /// The length of `type_name`.
    pub type_name_len: usize,
    /// Clarifai `description` (default "Making too many requests").
    pub description: *const c_char,
    /// The length of `description`.
    pub description_len: usize,
    /// The template for a cost that can never fit (default: "Request cost
    /// exceeds the {scope} limit of {limit}; it can never be admitted.").
    pub cannot_fit_message: *const c_char,
    /// The length of `cannot_fit_message`.
    pub cannot_fit_message_len: usize,
}

// SAFETY: repr(C), starts with `struct_size: usize`, integers and raw pointers only.
unsafe impl Versioned for FgErrorBodyConfig {
    const MIN_SIZE: usize = std::mem::size_of::<FgErrorBodyConfig>();
}

/// An opaque, immutable 429 body template. Create with `fg_error_body_new`,
/// release with `fg_error_body_free`.
pub struct FgErrorBody {
    body: ErrorBody,
}

fn retry_after_format(decimals: u32, name: &'static str) -> Result<RetryAfterFormat, Failure> {
    match decimals {
        0 => Ok(RetryAfterFormat::WholeSeconds),
        // At most 9, checked by the pattern.
        1..=9 => Ok(RetryAfterFormat::Fractional {
            decimals: decimals as u8,
        }),
        _ => Err(Failure::new(
            FgStatus::InvalidArgument,
            format!("`{name}` is {decimals}; at most 9 digits"),
        )),
    }
}

/// A text field the body's shape cannot do without.
fn required<'a>(text: Option<&'a str>, name: &'static str) -> Result<&'a str, Failure> {
    text.ok_or_else(|| {
        Failure::new(
            FgStatus::NullPointer,
            format!("`config->{name}` is required for this shape"),
        )
    })
}

/// An optional text field: `None` when its pointer is NULL.
///
/// # Safety
/// `pointer` NULL or readable for `len` bytes.
unsafe fn optional_text<'a>(
    pointer: *const c_char,
    len: usize,
    name: &'static str,
) -> Result<Option<&'a str>, Failure> {
    if pointer.is_null() {
        return Ok(None);
    }
    // SAFETY: readable for len bytes, by the contract.
    unsafe { args::text(pointer.cast::<u8>(), len, name) }.map(Some)
}

/// Creates a header renderer and stores its handle in `*out` (NULL on failure).
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_STRUCT_SIZE`, `FG_STATUS_INVALID_ARGUMENT` (unknown flags,
/// more than 9 decimals), `FG_STATUS_INVALID_UTF8`,
/// `FG_STATUS_INVALID_POLICY_NAME`, `FG_STATUS_PANIC`.
///
/// # Safety
/// `config` must be NULL or readable for its `struct_size`, its
/// `policy_name` NULL or readable for `policy_name_len` bytes; `out` NULL or
/// writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_headers_new(
    config: *const FgHeadersConfig,
    out: *mut *mut FgHeaders,
) -> FgStatus {
    let make = || {
        // SAFETY: readable for its struct_size, by the contract.
        let config = unsafe { args::read_config(config, "config") }?;
        let mut headers = Headers::new().with_retry_after_format(retry_after_format(
            config.retry_after_decimals,
            "config->retry_after_decimals",
        )?);
        match config.flags {
            0 => {}
            FG_HEADERS_NO_LEGACY_FIELDS => headers = headers.without_legacy_fields(),
            other => {
                return Err(Failure::new(
                    FgStatus::InvalidArgument,
                    format!(
                        "`config->flags` is {other}; only FG_HEADERS_NO_LEGACY_FIELDS is defined"
                    ),
                ))
            }
        }
        // SAFETY: readable for its length, by the contract.
        let name = unsafe {
            optional_text(
                config.policy_name,
                config.policy_name_len,
                "config->policy_name",
            )
        }?;
        if let Some(name) = name {
            let window = Duration::from_nanos(config.policy_window_ns);
            headers = headers.with_policy(RateLimitPolicy::new(name, config.policy_quota, window)?);
        }
        Ok(handle::boxed(FgHeaders { headers }))
    };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create("fg_headers_new", out, make) }
}

/// Releases a header renderer. NULL is a no-op; not while in use.
///
/// # Safety
/// `headers` must be NULL or a live handle from `fg_headers_new`, with no
/// call on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_headers_free(headers: *mut FgHeaders) {
    // SAFETY: this function's contract is `handle::free`'s.
    unsafe { handle::free("fg_headers_free", headers, handle::unbox) }
}

/// A scope given as (pointer, length) text.
///
/// # Safety
/// `scope` NULL or readable for `scope_len` bytes.
unsafe fn scope_arg<'a>(scope: *const c_char, scope_len: usize) -> Result<&'a str, Failure> {
    if scope.is_null() {
        return Err(Failure::new(
            FgStatus::NullPointer,
            "`scope` is NULL".to_string(),
        ));
    }
    // SAFETY: readable for scope_len bytes, by the contract.
    unsafe { args::text(scope.cast::<u8>(), scope_len, "scope") }
}

/// Runs `render` with `scope` as a [`Scope`] for the duration of the call.
fn with_scope<T>(scope: &str, render: impl FnOnce(Scope) -> T) -> T {
    let builtin = [
        Scope::Key,
        Scope::Workspace,
        Scope::Ip,
        Scope::Endpoint,
        Scope::Token,
    ]
    .into_iter()
    .find(|known| known.as_str() == scope);
    match builtin {
        Some(known) => render(known),
        None => {
            // SAFETY: the renderers turn the scope into an owned String and
            // keep no reference to it, so the borrow ends with this call,
            // while `scope` is still alive.
            let named: &'static str = unsafe { &*(scope as *const str) };
            render(Scope::Named(named))
        }
    }
}

/// Renders the response fields for `decision` as seen from `scope` (its
/// name: `"key"`, `"workspace"`, a verdict's `scope_name`...) at
/// `now_unix_ns` (wall-clock Unix nanoseconds, for `X-RateLimit-Reset`), as
/// `Name: value\r\n` lines followed by a NUL, into `buffer`.
///
/// Stores the text's length (without the NUL) in `*out_len`. When `capacity`
/// is not more than that, writes nothing to `buffer` and returns
/// `FG_STATUS_BUFFER_TOO_SMALL` with `*out_len` the length needed: call again
/// with `*out_len + 1` bytes. `buffer` may be NULL when `capacity` is 0 (to
/// ask for the size). 512 bytes always suffice for the default fields.
///
/// Errors: `FG_STATUS_NULL_POINTER`, `FG_STATUS_MISALIGNED_POINTER`,
/// `FG_STATUS_INVALID_UTF8`, `FG_STATUS_INVALID_ARGUMENT` (a decision
/// outcome this library never writes), `FG_STATUS_BUFFER_TOO_SMALL`,
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `headers` must be NULL or a live handle; `decision` NULL or readable for an
/// `fg_decision`; `scope` NULL or readable for `scope_len` bytes; `buffer`
/// NULL or writable for `capacity` bytes; `out_len` NULL or writable for a `size_t`.
#[no_mangle]
pub unsafe extern "C" fn fg_headers_render(
    headers: *const FgHeaders,
    decision: *const FgDecision,
    scope: *const c_char,
    scope_len: usize,
    now_unix_ns: u64,
    buffer: *mut c_char,
    capacity: usize,
    out_len: *mut usize,
) -> FgStatus {
    guard("fg_headers_render", || {
        // SAFETY: NULL or live, by the contract.
        let headers = &unsafe { args::handle(headers, "headers") }?.headers;
        // SAFETY: readable, by the contract.
        let decision = unsafe { read_decision(decision, "decision") }?;
        // SAFETY: readable for scope_len bytes, by the contract.
        let scope = unsafe { scope_arg(scope, scope_len) }?;
        let rendered = with_scope(scope, |scope| {
            headers.render_at(&decision, scope, now_unix_ns)
        });
        let mut text = String::with_capacity(256);
        for (name, value) in rendered.iter() {
            // Writing to a String cannot fail.
            let _ = write!(text, "{name}: {value}\r\n");
        }
        // SAFETY: writable for capacity bytes and a size_t, by the contract.
        unsafe { args::write_text(&text, buffer.cast::<u8>(), capacity, out_len) }
    })
}

/// Creates a 429 body template and stores its handle in `*out` (NULL on failure).
///
/// Errors: `FG_STATUS_NULL_POINTER` (also a required `code` or `message`
/// missing), `FG_STATUS_MISALIGNED_POINTER`, `FG_STATUS_STRUCT_SIZE`,
/// `FG_STATUS_INVALID_ARGUMENT` (unknown shape or flags, more than 9
/// decimals), `FG_STATUS_INVALID_UTF8`, `FG_STATUS_INVALID_TEMPLATE`,
/// `FG_STATUS_PANIC`.
///
/// # Safety
/// `config` must be NULL or readable for its `struct_size`, each text field
/// NULL or readable for its length; `out` NULL or writable for a pointer.
#[no_mangle]
pub unsafe extern "C" fn fg_error_body_new(
    config: *const FgErrorBodyConfig,
    out: *mut *mut FgErrorBody,
) -> FgStatus {
    let make = || {
        // SAFETY: readable for its struct_size, by the contract.
        let c = unsafe { args::read_config(config, "config") }?;
        // SAFETY: the contract makes each of the config's five text fields
        // NULL or readable for its `_len` bytes, which is `optional_text`'s.
        let (code, message, type_name, description, cannot_fit) = unsafe {
            (
                optional_text(c.code, c.code_len, "config->code")?,
                optional_text(c.message, c.message_len, "config->message")?,
                optional_text(c.type_name, c.type_name_len, "config->type_name")?,
                optional_text(c.description, c.description_len, "config->description")?,
                optional_text(
                    c.cannot_fit_message,
                    c.cannot_fit_message_len,
                    "config->cannot_fit_message",
                )?,
            )
        };
        // GenieOS bodies write every code as a string and have a `type`;
        // Clarifai's have a `description` and may take a numeric code.
        let genieos = c.shape != FG_BODY_CLARIFAI;
        let mut body = match c.shape {
            FG_BODY_GENIEOS_KEY => genieos::key_body(),
            FG_BODY_GENIEOS_WORKSPACE => genieos::workspace_body(),
            FG_BODY_GENIEOS => {
                let code = if c.flags & FG_BODY_NUMERIC_CODE != 0 {
                    Some("")
                } else {
                    code
                };
                genieos::error_body(required(code, "code")?, required(message, "message")?)?
            }
            FG_BODY_CLARIFAI => clarifai::error_body(required(message, "message")?)?,
            other => {
                return Err(Failure::new(
                    FgStatus::InvalidArgument,
                    format!("`config->shape` is {other}, not an FG_BODY_* shape"),
                ))
            }
        };
        if let Some(code) = code {
            body = body.field_text("code", code);
        }
        match c.flags {
            0 => {}
            FG_BODY_NUMERIC_CODE if genieos => {
                body = body.field_text("code", &c.numeric_code.to_string())
            }
            FG_BODY_NUMERIC_CODE => body = body.field_number("code", c.numeric_code),
            other => {
                return Err(Failure::new(
                    FgStatus::InvalidArgument,
                    format!("`config->flags` is {other}; only FG_BODY_NUMERIC_CODE is defined"),
                ))
            }
        }
        if let Some(message) = message {
            body = body.with_message(message)?;
        }
        if let Some(type_name) = type_name.filter(|_| genieos) {
            body = body.field_text("type", type_name);
        }
        if let Some(description) = description.filter(|_| !genieos) {
            body = body.field_text("description", description);
        }
        if let Some(cannot_fit) = cannot_fit {
            body = body.with_cannot_fit_message(cannot_fit)?;
        }
        body = body.with_retry_after_format(retry_after_format(
            c.retry_after_decimals,
            "config->retry_after_decimals",
        )?);
        Ok(handle::boxed(FgErrorBody { body }))
    };
    // SAFETY: this function's contract is `handle::create`'s.
    unsafe { handle::create("fg_error_body_new", out, make) }
}

/// Releases a 429 body template. NULL is a no-op; not while in use.
///
/// # Safety
/// `body` must be NULL or a live handle from `fg_error_body_new`, with no
/// call on it running or starting concurrently.
#[no_mangle]
pub unsafe extern "C" fn fg_error_body_free(body: *mut FgErrorBody) {
    // SAFETY: this function's contract is `handle::free`'s.
    unsafe { handle::free("fg_error_body_free", body, handle::unbox) }
}

/// Renders the JSON body for `decision` from `scope`, answering request
/// `request_id` (any UTF-8; JSON-escaped), NUL terminated, into `buffer`;
/// sizes as `fg_headers_render` (1024 bytes suffice for the default shapes
/// and short ids). A Clarifai body's `{limit}` is `decision->limit` here;
/// `fg_error_body_render_rate` prints the rate instead.
///
/// Errors: as `fg_headers_render`.
///
/// # Safety
/// As `fg_headers_render`; `request_id` NULL or readable for `request_id_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn fg_error_body_render(
    body: *const FgErrorBody,
    decision: *const FgDecision,
    scope: *const c_char,
    scope_len: usize,
    request_id: *const c_char,
    request_id_len: usize,
    buffer: *mut c_char,
    capacity: usize,
    out_len: *mut usize,
) -> FgStatus {
    let request = BodyRequest {
        function: "fg_error_body_render",
        body,
        decision,
        refill_rate: None,
        scope,
        scope_len,
        request_id,
        request_id_len,
    };
    // SAFETY: the contract is `render_body`'s.
    unsafe { render_body(request, buffer, capacity, out_len) }
}

/// `fg_error_body_render` for a decision of a bucket refilling `rate_count`
/// requests per `rate_period_ns` (the quota's count and period): a Clarifai
/// body's `{limit}` then prints that rate per second ("exceeded limit of 15
/// requests per second" for 15/s with a burst of 30), as the Rust API does.
///
/// Errors: as `fg_error_body_render`; `FG_STATUS_INVALID_ARGUMENT` when
/// `rate_count` or `rate_period_ns` is 0.
///
/// # Safety
/// As `fg_error_body_render`.
#[no_mangle]
pub unsafe extern "C" fn fg_error_body_render_rate(
    body: *const FgErrorBody,
    decision: *const FgDecision,
    rate_count: u64,
    rate_period_ns: u64,
    scope: *const c_char,
    scope_len: usize,
    request_id: *const c_char,
    request_id_len: usize,
    buffer: *mut c_char,
    capacity: usize,
    out_len: *mut usize,
) -> FgStatus {
    let request = BodyRequest {
        function: "fg_error_body_render_rate",
        body,
        decision,
        refill_rate: Some((rate_count, rate_period_ns)),
        scope,
        scope_len,
        request_id,
        request_id_len,
    };
    // SAFETY: the contract is `render_body`'s.
    unsafe { render_body(request, buffer, capacity, out_len) }
}

/// The arguments both body renderings share.
struct BodyRequest {
    function: &'static str,
    body: *const FgErrorBody,
    decision: *const FgDecision,
    refill_rate: Option<(u64, u64)>,
    scope: *const c_char,
    scope_len: usize,
    request_id: *const c_char,
    request_id_len: usize,
}

/// Renders `request` into `buffer`.
///
/// # Safety
/// As `fg_error_body_render`.
unsafe fn render_body(
    request: BodyRequest,
    buffer: *mut c_char,
    capacity: usize,
    out_len: *mut usize,
) -> FgStatus {
    guard(request.function, || {
        if let Some((0, _) | (_, 0)) = request.refill_rate {
            return Err(Failure::new(
                FgStatus::InvalidArgument,
                "`rate_count` and `rate_period_ns` must be at least 1".to_string(),
            ));
        }
        // SAFETY: NULL or live, by the contract.
        let body = &unsafe { args::handle(request.body, "body") }?.body;
        // SAFETY: readable, by the contract.
        let decision = unsafe { read_decision(request.decision, "decision") }?;
        // SAFETY: readable for scope_len bytes, by the contract.
        let scope = unsafe { scope_arg(request.scope, request.scope_len) }?;
        if request.request_id.is_null() {
            return Err(Failure::new(
                FgStatus::NullPointer,
                "`request_id` is NULL".to_string(),
            ));
        }
        // SAFETY: readable for request_id_len bytes, by the contract.
        let request_id = unsafe {
            args::text(
                request.request_id.cast::<u8>(),
                request.request_id_len,
                "request_id",
            )
        }?;
        let text = with_scope(scope, |scope| {
            body.render_at_rate(&decision, request.refill_rate, scope, request_id)
        });
        // SAFETY: writable for capacity bytes and a size_t, by the contract.
        unsafe { args::write_text(&text, buffer.cast::<u8>(), capacity, out_len) }
    })
}
