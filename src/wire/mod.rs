//! The wire layer: bytes and sockets for one request, built on the result
//! types only. HTTP/1.1 request and head parsing (`http`), TLS (`tls`),
//! name lookup (`resolve`), proxies (`proxy`), Happy Eyeballs connects
//! (`connect`), writes held for the next read (`corked`), block signatures
//! (`blocked`), URL text the URL parser would hide or explain badly
//! (`urltext`) and locks that survive a panic (`sync`).

pub mod blocked;
pub mod connect;
pub mod corked;
pub mod http;
pub mod proxy;
pub mod resolve;
pub mod sync;
pub mod tls;
pub mod urltext;

use std::borrow::Cow;
use std::time::Duration;

use tokio::time::Instant;

/// Far enough to mean "never" for a run, near enough that no clock overflows.
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 86_400);

/// `at + by`, without the panic of `+` on overflow: waits longer than
/// [`FAR_FUTURE`] are cut to it. Every instant the program computes goes
/// through here.
pub fn later(at: Instant, by: Duration) -> Instant {
    at.checked_add(by.min(FAR_FUTURE)).unwrap_or(at)
}

/// `text` with the user-info of its authority (`user:password@`) replaced
/// by `***@`, so credentials written into a URL are never echoed. The
/// authority starts after the scheme's `://` (at the start of a line without
/// one) and, in a URL (`is_url`), ends where WHATWG parsing ends it: at `/`,
/// `\`, `?` or `#`. A line that is not a URL may hold a password with an
/// unescaped `/`, so there the authority runs to `?` or `#`.
pub fn mask_userinfo(text: &str, is_url: bool) -> Cow<'_, str> {
    if !text.contains('@') {
        return Cow::Borrowed(text);
    }
    let start = match text.find("://") {
        Some(i) if !text[..i].contains(['/', '\\', '?', '#', '@']) => i + 3,
        _ => 0,
    };
    let ends: &[char] = if is_url { &['/', '\\', '?', '#'] } else { &['?', '#'] };
    let end = text[start..].find(ends).map_or(text.len(), |i| start + i);
    match text[start..end].rfind('@') {
        Some(at) => Cow::Owned(format!("{}***{}", &text[..start], &text[start + at..])),
        None => Cow::Borrowed(text),
    }
}
