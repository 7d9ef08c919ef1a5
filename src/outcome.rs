//! What one check can come to, and how that counts: the typed result that
//! flows from `check` through `run` to `report`.
//!
//! A failed URL is data, not an `Err` that ends the program: every input line
//! becomes exactly one [`Checked`], whose `outcome` is either a [`Response`] or
//! a [`CheckError`] of one of the documented [`ErrorKind`]s.

use std::fmt;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use crate::input::Target;

/// One input line, checked.
#[derive(Clone, Debug)]
pub struct Checked {
    pub target: Target,
    pub outcome: Result<Response, CheckError>,
    /// Wall time of the whole check; zero for lines that were never checked.
    pub elapsed: Duration,
    /// How the last request went: address, phase timings, TLS session.
    pub trace: Trace,
    /// Redirects followed before the final answer (`--follow`), in order.
    pub redirects: Vec<Hop>,
    /// The URL of the final answer when redirects were followed.
    pub final_url: Option<url::Url>,
    /// Tries made (more than 1 with `--retries`).
    pub attempts: u32,
}

/// What the server said: its status line, and what a few headers add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub version: HttpVersion,
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

impl Response {
    pub fn new(version: HttpVersion, code: u16, reason: impl Into<String>) -> Self {
        Response { version, code, reason: reason.into(), location: None, blocked_by: None, retry_after: None }
    }
}

/// One redirect on the way: the URL asked and the code it answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hop {
    pub url: url::Url,
    pub code: u16,
}

/// Where the time of the last request went, and whom it talked to. Phases
/// that did not happen (no DNS for an IP literal, no TLS for http) are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    pub address: Option<SocketAddr>,
    pub dns: Option<Duration>,
    pub connect: Option<Duration>,
    pub tls: Option<Duration>,
    /// From the request written to the first byte of the answer.
    pub ttfb: Option<Duration>,
    pub tls_session: Option<TlsSession>,
}

/// What the TLS handshake negotiated, and the server's certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSession {
    pub version: String,
    pub cipher: String,
    /// The leaf.
    pub certificate: Option<Certificate>,
    /// The certificate of the verified chain that expires first (the leaf or
    /// an intermediate; see `tls::verified_path`): what `--cert-expiry`,
    /// `days_left` and `probe_ssl_earliest_cert_expiry` are about.
    pub earliest_expiry: Option<Certificate>,
}

/// The parts of a certificate an operator asks about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    pub subject: String,
    pub issuer: String,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: i64,
}

impl Certificate {
    /// Whole days from `now` (Unix seconds) to expiry; negative once expired.
    pub fn days_left(&self, now: i64) -> i64 {
        (self.not_after - now).div_euclid(86_400)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpVersion {
    Http10,
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

/// The network phase a check was in, so a timeout can say where it stalled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Dns,
    Connect,
    Tls,
    Write,
    Read,
}

/// Declares [`ErrorKind`] with its stable names and [`ErrorKind::ALL`] from
/// one list, so the list of kinds can never drift from the enum.
macro_rules! error_kinds {
    ($($(#[$doc:meta])* $kind:ident => $name:literal,)+) => {
        /// The documented, fixed set of ways a check can fail. Scripts match on
        /// [`ErrorKind::as_str`], so these names are a stable contract.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorKind {
            $($(#[$doc])* $kind,)+
        }

        impl ErrorKind {
            /// Every kind, in the documented order (summaries count them all).
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$kind,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorKind::$kind => $name,)+
                }
            }
        }
    };
}

error_kinds! {
    InvalidUrl => "invalid-url",
    Dns => "dns",
    Connect => "connect",
    Timeout => "timeout",
    Tls => "tls",
    Io => "io",
    Protocol => "protocol",
    Redirect => "redirect",
    PrivateAddress => "private-address",
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong with one check. `Display` gives the short
/// human message; [`CheckError::kind`] the stable machine name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckError {
    /// The line is not a URL we can check; the message names file and line.
    InvalidUrl(String),
    Dns {
        host: String,
        reason: String,
    },
    Connect {
        addr: SocketAddr,
        reason: String,
    },
    /// The environment names a proxy for this URL that we cannot use.
    UnusableProxy(String),
    /// `limit` is whichever deadline fired: `--connect-timeout` for one
    /// connection attempt, `--timeout` for everything else.
    Timeout {
        phase: Phase,
        limit: Duration,
    },
    Tls(String),
    Io {
        phase: Phase,
        reason: String,
    },
    Protocol(String),
    /// `--follow` could not go on: a loop, too many hops, or another scheme.
    Redirect(String),
    /// `--deny-private` refused to connect to `addr`, which is in `range`.
    PrivateAddress {
        addr: SocketAddr,
        range: &'static str,
    },
}

impl CheckError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CheckError::InvalidUrl(_) => ErrorKind::InvalidUrl,
            CheckError::Dns { .. } => ErrorKind::Dns,
            CheckError::Connect { .. } | CheckError::UnusableProxy(_) => ErrorKind::Connect,
            CheckError::Timeout { .. } => ErrorKind::Timeout,
            CheckError::Tls(_) => ErrorKind::Tls,
            CheckError::Io { .. } => ErrorKind::Io,
            CheckError::Protocol(_) => ErrorKind::Protocol,
            CheckError::Redirect(_) => ErrorKind::Redirect,
            CheckError::PrivateAddress { .. } => ErrorKind::PrivateAddress,
        }
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::InvalidUrl(msg)
            | CheckError::Tls(msg)
            | CheckError::Protocol(msg)
            | CheckError::Redirect(msg)
            | CheckError::UnusableProxy(msg) => f.write_str(msg),
            CheckError::Dns { host, reason } => write!(f, "{reason} ({host})"),
            CheckError::Connect { addr, reason } => write!(f, "{reason} ({addr})"),
            CheckError::PrivateAddress { addr, range } => {
                write!(f, "refusing {addr}: {range} address (--deny-private)")
            }
            CheckError::Timeout { phase, limit } => {
                let limit = HumanDuration(*limit);
                match phase {
                    Phase::Dns => write!(f, "DNS lookup not done after {limit}"),
                    Phase::Connect => write!(f, "no connection after {limit}"),
                    Phase::Tls => write!(f, "TLS handshake not done after {limit}"),
                    Phase::Write => write!(f, "request not sent after {limit}"),
                    Phase::Read => write!(f, "no status line after {limit}"),
                }
            }
            CheckError::Io { phase, reason } => match phase {
                Phase::Write => write!(f, "{reason} while sending the request"),
                Phase::Read => write!(f, "{reason}"),
                Phase::Dns => write!(f, "{reason} during the DNS lookup"),
                Phase::Connect => write!(f, "{reason} while connecting"),
                Phase::Tls => write!(f, "{reason} during the TLS handshake"),
            },
        }
    }
}

/// Durations as a person writes them: `10s`, `1.5s`, `250ms`.
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

/// How a result counts toward the summary and the exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A status code in the accepted set.
    Ok,
    /// A status code outside the accepted set.
    Failed,
    /// No status code at all.
    Error,
}

/// What counts as success: an accepted code, and with `--cert-expiry DAYS`
/// a certificate that lasts longer than that.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub ok_codes: OkCodes,
    pub cert_expiry_days: Option<i64>,
}

impl Policy {
    pub fn verdict(&self, checked: &Checked) -> Verdict {
        match &checked.outcome {
            Ok(_) if self.cert_expiring(checked) => Verdict::Failed,
            outcome => self.ok_codes.verdict(outcome),
        }
    }

    /// Whether a certificate of the chain expires within `--cert-expiry` days.
    pub fn cert_expiring(&self, checked: &Checked) -> bool {
        let (Some(days), Some(certificate)) = (self.cert_expiry_days, checked.earliest_expiry()) else {
            return false;
        };
        certificate.days_left(unix_now()) < days
    }
}

impl Checked {
    /// The result of a line that is not a URL: never checked, no time spent.
    pub fn invalid(target: Target) -> Checked {
        let reason = match &target.url {
            Err(reason) => reason.clone(),
            Ok(url) => format!("{url} cannot be checked"),
        };
        Checked {
            target,
            outcome: Err(CheckError::InvalidUrl(reason)),
            elapsed: Duration::ZERO,
            trace: Trace::default(),
            redirects: Vec::new(),
            final_url: None,
            attempts: 0,
        }
    }

    /// This answer, given to another line with the same URL (`--dedupe`).
    pub fn answer_for(&self, target: Target) -> Checked {
        Checked {
            target,
            outcome: self.outcome.clone(),
            elapsed: self.elapsed,
            trace: self.trace.clone(),
            redirects: self.redirects.clone(),
            final_url: self.final_url.clone(),
            attempts: self.attempts,
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

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}

/// The status codes that count as success (`--ok-codes`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OkCodes(Vec<RangeInclusive<u16>>);

impl OkCodes {
    pub fn verdict(&self, outcome: &Result<Response, CheckError>) -> Verdict {
        match outcome {
            Ok(response) if self.accepts(response.code) => Verdict::Ok,
            Ok(_) => Verdict::Failed,
            Err(_) => Verdict::Error,
        }
    }

    pub fn accepts(&self, code: u16) -> bool {
        self.0.iter().any(|range| range.contains(&code))
    }
}

impl Default for OkCodes {
    fn default() -> Self {
        OkCodes(vec![100..=399])
    }
}

impl FromStr for OkCodes {
    type Err = String;

    /// `200,204,300-399`: codes and inclusive ranges, each within 100–599.
    fn from_str(s: &str) -> Result<Self, String> {
        let parse_code = |text: &str| -> Result<u16, String> {
            match text.trim().parse::<u16>() {
                Ok(code @ 100..=599) => Ok(code),
                _ => Err(format!(
                    "'{}' is not a status code: use numbers from 100 to 599, \
                     as in 200,204,300-399",
                    text.trim()
                )),
            }
        };
        let mut ranges = Vec::new();
        for part in s.split(',') {
            let range = match part.split_once('-') {
                Some((low, high)) => {
                    let (low, high) = (parse_code(low)?, parse_code(high)?);
                    if low > high {
                        return Err(format!("range '{}' is empty: write low-high", part.trim()));
                    }
                    low..=high
                }
                None => {
                    let code = parse_code(part)?;
                    code..=code
                }
            };
            ranges.push(range);
        }
        Ok(OkCodes(ranges))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(code: u16) -> Result<Response, CheckError> {
        Ok(Response::new(HttpVersion::Http11, code, ""))
    }

    #[test]
    fn ok_codes_parse_lists_and_ranges() {
        let codes: OkCodes = "200,204, 300-399".parse().unwrap();
        assert!(codes.accepts(200) && codes.accepts(204) && codes.accepts(399));
        assert!(!codes.accepts(201) && !codes.accepts(400));
    }

    #[test]
    fn ok_codes_reject_out_of_range_and_garbage() {
        for bad in ["99-700", "99", "600", "abc", "", "300-200", "200,"] {
            let err = bad.parse::<OkCodes>().unwrap_err();
            assert!(err.contains("100 to 599") || err.contains("empty"), "{bad}: {err}");
        }
    }

    #[test]
    fn verdict_follows_ok_codes() {
        let codes = OkCodes::default();
        assert_eq!(codes.verdict(&response(200)), Verdict::Ok);
        assert_eq!(codes.verdict(&response(301)), Verdict::Ok);
        assert_eq!(codes.verdict(&response(404)), Verdict::Failed);
        let err = Err(CheckError::Protocol("x".into()));
        assert_eq!(codes.verdict(&err), Verdict::Error);
    }

    #[test]
    fn days_left_rounds_down_and_goes_negative() {
        let cert = Certificate { subject: "CN=a".into(), issuer: "CN=b".into(), not_after: 10 * 86_400 };
        assert_eq!(cert.days_left(0), 10);
        assert_eq!(cert.days_left(86_400 + 1), 8);
        assert_eq!(cert.days_left(11 * 86_400), -1);
    }

    #[test]
    fn timeouts_name_their_phase() {
        let e = CheckError::Timeout { phase: Phase::Read, limit: Duration::from_secs(10) };
        assert_eq!(e.to_string(), "no status line after 10s");
        let e = CheckError::Timeout { phase: Phase::Tls, limit: Duration::from_millis(1500) };
        assert_eq!(e.to_string(), "TLS handshake not done after 1.5s");
        assert_eq!(e.kind().as_str(), "timeout");
    }

    #[test]
    fn response_displays_as_status_line() {
        let r = Response::new(HttpVersion::Http10, 204, "");
        assert_eq!(r.to_string(), "HTTP/1.0 204");
        let r = Response::new(HttpVersion::Http11, 200, "OK");
        assert_eq!(r.to_string(), "HTTP/1.1 200 OK");
    }
}
