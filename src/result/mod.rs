//! What one check can come to, and how that counts (the bottom layer: it
//! depends on nothing else of ours): the typed result that flows from the
//! engine to whoever asked.
//!
//! A failed URL is data, not an `Err` that ends the program: every target
//! becomes exactly one [`Checked`], whose `outcome` is either a [`Response`] or
//! a [`CheckError`] of one of the documented [`ErrorKind`]s.

/// Declares an enum whose variants have stable machine names, with `ALL`
/// (every variant, in the documented order) and `as_str` from one list, so
/// the list can never drift from the enum. Scripts match on the names, so
/// they are a contract; the enum is `#[non_exhaustive]`, so adding one
/// breaks no embedder.
macro_rules! stable_names {
    ($(#[$enum_doc:meta])* $enum:ident { $($(#[$doc:meta])* $variant:ident => $name:literal,)+ }) => {
        $(#[$enum_doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $enum {
            $($(#[$doc])* $variant,)+
        }

        impl $enum {
            /// Every variant, in the documented order (summaries count them all).
            pub const ALL: &'static [$enum] = &[$($enum::$variant,)+];

            /// The stable machine name, as in `--format json`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($enum::$variant => $name,)+
                }
            }
        }

        impl std::fmt::Display for $enum {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

mod date;
mod error;
mod health;
mod setup;
mod verdict;

pub use date::{date, unix_now};
pub use error::{CheckError, ErrorKind, Phase, TlsCause};
pub use health::{BodyRule, Expectation, HeaderRule, Pattern, Policy, State, Unmet, BODY_LIMIT};
pub use setup::SetupError;
pub use verdict::{OkCodes, Verdict};

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// One target, checked: `T` is the caller's target (a URL, an input line
/// with where it came from, ...), handed back with its result.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Checked<T> {
    /// What was checked, as the caller gave it.
    pub target: T,
    /// The final answer, or why there was none.
    pub outcome: Result<Response, CheckError>,
    /// Wall time of the whole check; zero for lines that were never checked.
    pub elapsed: Duration,
    /// How the last request went: address, phase timings, TLS session.
    pub trace: Trace,
    /// Redirects followed before the final answer ([`crate::Options::follow`]), in order.
    pub redirects: Vec<Hop>,
    /// The URL of the final answer when redirects were followed.
    pub final_url: Option<url::Url>,
    /// Tries made (more than 1 with [`crate::Limits::retries`]).
    pub attempts: u32,
    /// What the check came to under its [`Policy`]: down for an error.
    pub state: State,
    /// The expectations of its [`Policy`] it did not meet (for a degraded
    /// check, the latency budget); empty for an error, whose error says why.
    pub unmet: Vec<Unmet>,
}

/// What the server said: its status line, and what a few headers add.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// The HTTP version of the status line.
    pub version: HttpVersion,
    /// The status code, 100 to 999.
    pub code: u16,
    /// The reason phrase as received; empty when the server sent none.
    pub reason: String,
    /// `Location` of a 3xx, as sent.
    pub location: Option<String>,
    /// Who answered a 403/429/503 with a bot challenge or rate limit, if a
    /// known signature says so (see `blocked`).
    pub blocked_by: Option<&'static str>,
    /// `Retry-After` of a 429/503, in seconds.
    pub retry_after: Option<u64>,
}

impl Hop {
    /// A redirect from `url`, which answered `code`.
    pub fn new(url: url::Url, code: u16) -> Self {
        Hop { url, code }
    }
}

impl Response {
    /// A response with only its status line; the header-derived fields empty.
    pub fn new(version: HttpVersion, code: u16, reason: impl Into<String>) -> Self {
        Response { version, code, reason: reason.into(), location: None, blocked_by: None, retry_after: None }
    }
}

/// One redirect on the way: the URL asked and the code it answered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Hop {
    /// The URL asked.
    pub url: url::Url,
    /// The redirect code it answered (301, 302, 303, 307 or 308).
    pub code: u16,
}

/// Where the time of the last request went, and whom it talked to. Phases
/// that did not happen (no DNS for an IP literal, no TLS for http) are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Trace {
    /// The address connected to (the proxy's, through a proxy).
    pub address: Option<SocketAddr>,
    /// The DNS lookup (none for an IP literal).
    pub dns: Option<Duration>,
    /// The TCP connection (and the proxy tunnel, if any).
    pub connect: Option<Duration>,
    /// The TLS handshake; after a retry over legacy TLS
    /// (`Options::tls_legacy`), from the first handshake's start to the end
    /// of the second, the new connection included.
    pub tls: Option<Duration>,
    /// From the request written to the first byte of the answer.
    pub ttfb: Option<Duration>,
    /// What the TLS handshake negotiated (https only).
    pub tls_session: Option<TlsSession>,
}

/// What the TLS handshake negotiated, and the server's certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsSession {
    /// The protocol version, as in `TLSv1.3`.
    pub version: String,
    /// The cipher suite's name.
    pub cipher: String,
    /// The leaf, when certificates are captured (see `Options::certificates`).
    pub certificate: Option<Certificate>,
    /// The certificate of the verified chain that expires first (the leaf or
    /// an intermediate): what `--cert-expiry`,
    /// `days_left` and `probe_ssl_earliest_cert_expiry` are about.
    pub earliest_expiry: Option<Certificate>,
}

impl TlsSession {
    /// A session with this protocol version and cipher, no certificates.
    pub fn new(version: impl Into<String>, cipher: impl Into<String>) -> Self {
        TlsSession { version: version.into(), cipher: cipher.into(), certificate: None, earliest_expiry: None }
    }
}

/// The parts of a certificate an operator asks about.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Certificate {
    /// The subject's distinguished name, as in `CN=example.com`.
    pub subject: String,
    /// The issuer's distinguished name.
    pub issuer: String,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: i64,
}

impl Certificate {
    /// A certificate with these names, valid until `not_after` (Unix seconds).
    pub fn new(subject: impl Into<String>, issuer: impl Into<String>, not_after: i64) -> Self {
        Certificate { subject: subject.into(), issuer: issuer.into(), not_after }
    }

    /// Whole days from `now` (Unix seconds) to expiry; negative once expired.
    pub fn days_left(&self, now: i64) -> i64 {
        (self.not_after - now).div_euclid(86_400)
    }
}

/// The version of a status line: we speak HTTP/1.1, servers may answer 1.0.
/// Non-exhaustive: another version may come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpVersion {
    /// `HTTP/1.0`
    Http10,
    /// `HTTP/1.1`
    Http11,
}

impl HttpVersion {
    /// The version number as printed in JSON (`"1.1"`).
    pub fn number(self) -> &'static str {
        match self {
            HttpVersion::Http10 => "1.0",
            HttpVersion::Http11 => "1.1",
        }
    }
}

impl fmt::Display for HttpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP/{}", self.number())
    }
}

impl fmt::Display for Response {
    /// The status line as received, without its line ending.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.version, self.code)?;
        if !self.reason.is_empty() {
            write!(f, " {}", self.reason)?;
        }
        Ok(())
    }
}

/// Durations as a person writes them: `10s`, `1.5s`, `250ms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms < 1000 {
            write!(f, "{ms}ms")
        } else if ms % 1000 == 0 {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{}s", self.0.as_secs_f64())
        }
    }
}

impl<T> Checked<T> {
    /// The result of a target that is not a URL (`reason` says why): never
    /// checked, no time spent.
    pub fn invalid(target: T, reason: impl Into<String>) -> Checked<T> {
        Checked {
            target,
            outcome: Err(CheckError::InvalidUrl(reason.into())),
            elapsed: Duration::ZERO,
            trace: Trace::default(),
            redirects: Vec::new(),
            final_url: None,
            attempts: 0,
            state: State::Down,
            unmet: Vec::new(),
        }
    }

    /// This answer, given to another target with the same URL
    /// ([`crate::Limits::dedupe`]).
    pub fn answer_for<U>(&self, target: U) -> Checked<U> {
        Checked {
            target,
            outcome: self.outcome.clone(),
            elapsed: self.elapsed,
            trace: self.trace.clone(),
            redirects: self.redirects.clone(),
            final_url: self.final_url.clone(),
            attempts: self.attempts,
            state: self.state,
            unmet: self.unmet.clone(),
        }
    }

    /// The leaf certificate.
    pub fn certificate(&self) -> Option<&Certificate> {
        self.trace.tls_session.as_ref()?.certificate.as_ref()
    }

    /// The certificate of the verified chain that expires first.
    pub fn earliest_expiry(&self) -> Option<&Certificate> {
        self.trace.tls_session.as_ref()?.earliest_expiry.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_left_rounds_down_and_goes_negative() {
        let cert = Certificate { subject: "CN=a".into(), issuer: "CN=b".into(), not_after: 10 * 86_400 };
        assert_eq!(cert.days_left(0), 10);
        assert_eq!(cert.days_left(86_400 + 1), 8);
        assert_eq!(cert.days_left(11 * 86_400), -1);
    }

    #[test]
    fn response_displays_as_status_line() {
        let r = Response::new(HttpVersion::Http10, 204, "");
        assert_eq!(r.to_string(), "HTTP/1.0 204");
        let r = Response::new(HttpVersion::Http11, 200, "OK");
        assert_eq!(r.to_string(), "HTTP/1.1 200 OK");
    }
}
