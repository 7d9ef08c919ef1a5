//! Why a check failed: [`CheckError`], its documented [`ErrorKind`]s and,
//! for a TLS failure, its [`TlsCause`], each kind and cause with a stable
//! machine name; and the [`Phase`] a deadline fired in.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::HumanDuration;

/// The network phase a check was in, so a timeout can say where it stalled.
/// Non-exhaustive: a new step (a proxy handshake of its own, ...) may come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Looking up the host.
    Dns,
    /// Opening the TCP connection (or the proxy tunnel).
    Connect,
    /// The TLS handshake.
    Tls,
    /// Sending the request.
    Write,
    /// Reading the status line and headers.
    Read,
}

stable_names! {
    /// The documented, fixed set of ways a check can fail (`error.kind` in
    /// JSON, `error_kind` in TSV and CSV).
    ErrorKind {
    /// The target is not a URL that can be checked.
    InvalidUrl => "invalid-url",
    /// The host could not be looked up.
    Dns => "dns",
    /// No connection (refused, unreachable, an unusable proxy).
    Connect => "connect",
    /// A deadline fired before the status line came.
    Timeout => "timeout",
    /// The TLS handshake failed (certificate, protocol).
    Tls => "tls",
    /// The connection failed after it was made.
    Io => "io",
    /// The server's answer is not HTTP we accept.
    Protocol => "protocol",
    /// A redirect could not be followed.
    Redirect => "redirect",
    /// The address is private and private addresses are refused.
    PrivateAddress => "private-address",
    }
}

stable_names! {
    /// Why a TLS handshake failed, for programs (`error.cause` in JSON); the
    /// message says the same in words, naming the certificate, algorithm,
    /// key size or version.
    TlsCause {
    /// A certificate of the chain is past its notAfter.
    Expired => "expired",
    /// A certificate of the chain is before its notBefore.
    NotYetValid => "not-yet-valid",
    /// The certificate names other hosts than the one asked for.
    WrongHost => "wrong-host",
    /// The certificate has no subjectAltName, only a common name: no host
    /// name is matched against a common name (RFC 9525; browsers since 2017).
    NoSan => "no-san",
    /// The chain does not lead to a trusted root (self-signed, private CA,
    /// a missing intermediate).
    UnknownIssuer => "unknown-issuer",
    /// A certificate is signed with an algorithm no longer trusted (SHA-1, MD5).
    WeakSignature => "weak-signature",
    /// A key is too small to be trusted (RSA under 2048 bits).
    WeakKey => "weak-key",
    /// A CA certificate was served as the server's own.
    CaAsLeaf => "ca-as-leaf",
    /// The certificate is not for TLS servers (extended key usage).
    WrongPurpose => "wrong-purpose",
    /// The certificate was revoked.
    Revoked => "revoked",
    /// Anything else wrong with a certificate (malformed, a bad signature, an
    /// unsupported algorithm or extension).
    BadCertificate => "bad-certificate",
    /// The server sent no certificate.
    NoCertificate => "no-certificate",
    /// The certificate chain is larger than a TLS handshake message may be
    /// (64 KiB).
    CertTooLarge => "cert-too-large",
    /// The server and we have no protocol version in common.
    ProtocolVersion => "protocol-version",
    /// The server offers only protocol versions or cipher suites that are no
    /// longer safe (TLS 1.0/1.1, CBC, RSA key exchange, DHE, RC4, 3DES).
    LegacyOnly => "legacy-only",
    /// No cipher suite, key exchange group or signature scheme in common,
    /// for a reason not learned.
    Incompatible => "incompatible",
    /// The server refused the handshake with an alert, for a reason not learned.
    HandshakeAlert => "handshake-alert",
    /// The server closed the connection during the handshake.
    Closed => "closed",
    /// What came back is not TLS (plain HTTP on an https URL?).
    NotTls => "not-tls",
    /// Any other failure of the handshake.
    Other => "other",
    }
}

impl ErrorKind {
    /// Whether this kind says the network failed: no answer came at all
    /// (`dns`, `connect`, `timeout`, `io`). Anything that answered, a TLS
    /// handshake that went wrong, a reply that is not HTTP, any HTTP status,
    /// means the network works. A caller that checks a URL it trusts to be
    /// up (a canary) uses it to tell "this site is down" from "our own
    /// network is down".
    pub fn is_network(self) -> bool {
        matches!(self, ErrorKind::Dns | ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::Io)
    }
}

/// Everything that can go wrong with one check. `Display` gives the short
/// human message; [`CheckError::kind`] the stable machine name.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckError {
    /// The target is not a URL we can check; the message says why.
    InvalidUrl(String),
    /// The lookup of `host` failed.
    Dns {
        /// The host looked up (the proxy's, through a proxy).
        host: String,
        /// Why, in a few words.
        reason: String,
    },
    /// No connection to `addr`.
    Connect {
        /// The last address tried.
        addr: SocketAddr,
        /// Why, in a few words.
        reason: String,
    },
    /// The environment names a proxy for this URL that we cannot use.
    UnusableProxy(String),
    /// `limit` is whichever deadline fired: [`crate::Options::connect_timeout`]
    /// for one connection attempt, [`crate::Options::timeout`] for
    /// everything else.
    Timeout {
        /// Where the check was when it fired.
        phase: Phase,
        /// The deadline that fired.
        limit: Duration,
    },
    /// The TLS handshake failed.
    Tls {
        /// Why, for programs.
        cause: TlsCause,
        /// Why, in words, naming what failed.
        message: String,
    },
    /// The connection failed in `phase`.
    Io {
        /// Where the check was.
        phase: Phase,
        /// Why, in a few words.
        reason: String,
    },
    /// The answer is not HTTP we accept; the message quotes what came.
    Protocol(String),
    /// Redirects ([`crate::Options::follow`]) could not go on: a loop, too
    /// many hops, or another scheme.
    Redirect(String),
    /// [`crate::Options::deny_private`] refused to connect to `addr`, which
    /// is in `range`. The message names no option; a command line may add
    /// its flag where it prints.
    PrivateAddress {
        /// The refused address.
        addr: SocketAddr,
        /// The name of its range, as in `loopback`.
        range: &'static str,
    },
}

impl CheckError {
    /// Which of the documented kinds this error is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CheckError::InvalidUrl(_) => ErrorKind::InvalidUrl,
            CheckError::Dns { .. } => ErrorKind::Dns,
            CheckError::Connect { .. } | CheckError::UnusableProxy(_) => ErrorKind::Connect,
            CheckError::Timeout { .. } => ErrorKind::Timeout,
            CheckError::Tls { .. } => ErrorKind::Tls,
            CheckError::Io { .. } => ErrorKind::Io,
            CheckError::Protocol(_) => ErrorKind::Protocol,
            CheckError::Redirect(_) => ErrorKind::Redirect,
            CheckError::PrivateAddress { .. } => ErrorKind::PrivateAddress,
        }
    }
}

impl CheckError {
    /// A TLS failure: `cause` for programs, `message` for people.
    pub fn tls(cause: TlsCause, message: impl Into<String>) -> CheckError {
        CheckError::Tls { cause, message: message.into() }
    }

    /// Why a TLS handshake failed; `None` for every other kind of error.
    pub fn tls_cause(&self) -> Option<TlsCause> {
        match self {
            CheckError::Tls { cause, .. } => Some(*cause),
            _ => None,
        }
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::InvalidUrl(msg)
            | CheckError::Protocol(msg)
            | CheckError::Redirect(msg)
            | CheckError::UnusableProxy(msg)
            | CheckError::Tls { message: msg, .. } => f.write_str(msg),
            CheckError::Dns { host, reason } => write!(f, "{reason} ({host})"),
            CheckError::Connect { addr, reason } => write!(f, "{reason} ({addr})"),
            CheckError::PrivateAddress { addr, range } => {
                write!(f, "refusing {addr}: {range} address")
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

/// So `?` carries a check's error into `Box<dyn Error>`, `anyhow` and the
/// like; it has no source (the message holds the reason in words).
impl std::error::Error for CheckError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_name_their_phase() {
        let e = CheckError::Timeout { phase: Phase::Read, limit: Duration::from_secs(10) };
        assert_eq!(e.to_string(), "no status line after 10s");
        let e = CheckError::Timeout { phase: Phase::Tls, limit: Duration::from_millis(1500) };
        assert_eq!(e.to_string(), "TLS handshake not done after 1.5s");
        assert_eq!(e.kind().as_str(), "timeout");
    }

    #[test]
    fn network_kinds_are_those_where_nothing_answered() {
        let network: Vec<&str> = ErrorKind::ALL.iter().filter(|k| k.is_network()).map(|k| k.as_str()).collect();
        assert_eq!(network, ["dns", "connect", "timeout", "io"]);
    }
}
