//! statuscheck: the HTTP status of many URLs, checked concurrently over raw
//! HTTP/1.1, as a library. The `statuscheck` command line is its first client.
//!
//! The layers read bottom to top, each using only those below it:
//! [`result`] (what a check comes to: [`Response`], [`CheckError`],
//! [`ErrorKind::ALL`], [`Trace`]), the wire (HTTP/1.1 bytes, TLS, DNS,
//! proxies, connects), and the engine ([`Checker`] for one URL, [`Runner`]
//! for a stream of targets under [`Limits`]).
//!
//! Nothing here prints, installs signal handlers or changes process limits:
//! those are the caller's.
//!
//! Cargo features: `cli` (default) builds the command line's own crates, not
//! needed by the library; `tls-legacy` (off by default) adds OpenSSL for
//! servers that offer only legacy TLS, see [`Options::tls_legacy`].
//!
//! Errors are typed: building a [`Checker`] (or parsing a setting) fails
//! with a [`SetupError`] to match on; a check fails with a [`CheckError`] of
//! one [`ErrorKind`]. Both implement [`std::error::Error`]. The enums and
//! the structs that will grow are `#[non_exhaustive]`. The [`url`] crate is
//! re-exported, as [`Url`](url::Url) is in every signature.
//!
//! ```no_run
//! use statuscheck::url::Url;
//! use statuscheck::{Checker, Limits, Options, Runner};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // One URL.
//! let checker = Checker::new(Options::default().follow(Some(5)))?;
//! let answer = checker.check(&Url::parse("https://example.com/")?).await;
//! match answer.outcome {
//!     Ok(response) => println!("{}", response.code),
//!     Err(error) => println!("{}: {error}", error.kind()),
//! }
//!
//! // Many, 50 at a time, at most 2 per host.
//! let runner = Runner::new(checker, Limits::default().concurrency(50).per_host(2));
//! let urls = ["https://example.com/", "https://example.org/"].map(|u| Url::parse(u).unwrap());
//! let mut results = runner.check_all(urls);
//! while let Some(checked) = results.next().await {
//!     println!("{} {:?}", checked.target, checked.outcome.map(|r| r.code));
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Setup errors say what went wrong, for a program to act on:
//!
//! ```
//! use statuscheck::{Checker, Options, Proxies, SetupError};
//!
//! let proxies = Proxies::new(Some("socks5://proxy.test:1080"), |_| None);
//! assert!(matches!(proxies, Err(SetupError::Proxy { .. })));
//!
//! match Checker::new(Options::default().cacert(Some("/nonexistent/ca.pem".into()))) {
//!     Err(SetupError::CaFileUnreadable { path, source }) => eprintln!("{}: {source}", path.display()),
//!     Err(other) => eprintln!("setup: {other}"),
//!     Ok(checker) => println!("{checker:?}"),
//! }
//! ```
//!
//! A check's error goes into `Box<dyn Error>` with `?`; only http and https
//! are checked, any other scheme is an invalid URL, found without network
//! traffic:
//!
//! ```
//! use std::error::Error;
//! use statuscheck::url::Url;
//! use statuscheck::{Checker, ErrorKind, Options};
//!
//! async fn status(checker: &Checker, url: &Url) -> Result<u16, Box<dyn Error>> {
//!     Ok(checker.check(url).await.outcome?.code)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn Error>> {
//! let checker = Checker::new(Options::default())?;
//! let ftp = Url::parse("ftp://127.0.0.1:21/")?;
//! let error = checker.check(&ftp).await.outcome.unwrap_err();
//! assert_eq!(error.kind(), ErrorKind::InvalidUrl);
//! assert!(status(&checker, &ftp).await.is_err());
//! # Ok(())
//! # }
//! ```
//!
//! The error enums are `#[non_exhaustive]`: a match needs a wildcard arm,
//! so a kind added later breaks no embedder. Without one it does not compile:
//!
//! ```compile_fail,E0004
//! fn name(kind: statuscheck::ErrorKind) -> &'static str {
//!     use statuscheck::ErrorKind::*;
//!     match kind {
//!         InvalidUrl => "invalid-url",
//!         Dns => "dns",
//!         Connect => "connect",
//!         Timeout => "timeout",
//!         Tls => "tls",
//!         Io => "io",
//!         Protocol => "protocol",
//!         Redirect => "redirect",
//!         PrivateAddress => "private-address",
//!     }
//! }
//! ```
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod engine;
pub mod result;
mod wire;

pub use url;

pub use engine::{user_agent, Answer, Checker, Limits, Method, Options, Profile, Results, Runner, Target};
pub use result::{
    BodyRule, Certificate, CheckError, Checked, ErrorKind, Expectation, HeaderRule, Hop, HttpVersion, HumanDuration,
    OkCodes, Pattern, Phase, Policy, Response, SetupError, State, TlsCause, TlsSession, Trace, Unmet, Verdict,
    BODY_LIMIT,
};
pub use wire::http::parse_header;
pub use wire::mask_userinfo;
pub use wire::proxy::Proxies;
pub use wire::resolve::{DnsServers, Family, Pin};
#[doc(hidden)] // For the binary's own locks, taken as the library's are.
pub use wire::sync::lock;
pub use wire::urltext::explain_parse_error;
