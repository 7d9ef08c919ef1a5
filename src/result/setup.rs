//! Why an engine or one of its settings could not be built: typed, so an
//! embedder can match on the cause instead of parsing a message.

use std::error::Error;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why [`crate::Checker::new`], or the parsing of a setting ([`crate::Proxies`],
/// [`crate::Pin`], [`crate::DnsServers`], [`crate::OkCodes`],
/// [`crate::parse_header`]), failed. Messages speak of the library's
/// options, not of any command line's flags.
///
/// ```
/// use statuscheck::{Checker, Options, SetupError};
///
/// let options = Options::default().cacert(Some("/nonexistent/ca.pem".into()));
/// match Checker::new(options) {
///     Err(SetupError::CaFileUnreadable { path, source }) => {
///         println!("{}: {source}", path.display());
///     }
///     Err(other) => println!("{other}"),
///     Ok(_) => unreachable!("the file does not exist"),
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SetupError {
    /// The CA file ([`crate::Options::cacert`]) could not be read.
    CaFileUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The CA file is not a valid PEM file.
    CaFileNotPem {
        /// The file.
        path: PathBuf,
        /// What the PEM parser said.
        reason: String,
    },
    /// The CA file holds no PEM certificate.
    CaFileEmpty {
        /// The file.
        path: PathBuf,
    },
    /// A certificate of the CA file cannot be used as a trust anchor.
    CaCertificateUnusable {
        /// The file.
        path: PathBuf,
        /// Why the certificate was refused.
        reason: String,
    },
    /// The TLS configuration could not be built (an unusable crypto
    /// provider, not a setting); the message says which part.
    Tls(String),
    /// [`crate::Options::tls_legacy`] was asked of a build without the cargo
    /// feature `tls-legacy`.
    TlsLegacyUnavailable,
    /// The OpenSSL context of [`crate::Options::tls_legacy`] could not be
    /// built.
    TlsLegacy(String),
    /// The explicit proxy given to [`crate::Proxies::new`] cannot be used;
    /// `reason` starts with the proxy URL (credentials masked).
    Proxy {
        /// Why, as in `socks5://***@p.test:1080 is not supported (only http://)`.
        reason: String,
    },
    /// A pin ([`crate::Pin`]) is not `HOST:PORT:ADDR[,ADDR...]`.
    Pin(String),
    /// A DNS server list ([`crate::DnsServers`]) is not `ADDR[:PORT][,...]`.
    DnsServers(String),
    /// A list of accepted status codes ([`crate::OkCodes`]) does not parse.
    OkCodes(String),
    /// A header ([`crate::parse_header`]) is not `Name: value`.
    Header(String),
    /// A pattern of an expectation ([`crate::Pattern`]) does not compile.
    Pattern {
        /// The pattern as written.
        pattern: String,
        /// What the regex compiler said.
        reason: String,
    },
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::CaFileUnreadable { path, .. } => write!(f, "cannot read the CA file '{}'", path.display()),
            SetupError::CaFileNotPem { path, reason } => {
                write!(f, "the CA file '{}' is not a valid PEM file: {reason}", path.display())
            }
            SetupError::CaFileEmpty { path } => write!(f, "the CA file '{}' holds no PEM certificate", path.display()),
            SetupError::CaCertificateUnusable { path, reason } => {
                write!(f, "the CA file '{}' holds a certificate that cannot be used: {reason}", path.display())
            }
            SetupError::Tls(message) => f.write_str(message),
            SetupError::TlsLegacyUnavailable => f.write_str(
                "legacy TLS was asked for, but this build of statuscheck lacks the cargo feature `tls-legacy` \
                 (OpenSSL): build it with `--features tls-legacy`",
            ),
            SetupError::TlsLegacy(reason) => write!(f, "setting up legacy TLS (OpenSSL): {reason}"),
            SetupError::Proxy { reason } => write!(f, "the proxy {reason}"),
            SetupError::Pattern { pattern, reason } => write!(f, "the pattern {pattern:?} is not usable: {reason}"),
            SetupError::Pin(message)
            | SetupError::DnsServers(message)
            | SetupError::OkCodes(message)
            | SetupError::Header(message) => f.write_str(message),
        }
    }
}

/// The underlying I/O error of an unreadable CA file (which `Display`
/// leaves out, so a report printing the chain prints it once); the other
/// causes carry their reason in words, in the message.
impl Error for SetupError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            SetupError::CaFileUnreadable { source, .. } => Some(source),
            _ => None,
        }
    }
}
