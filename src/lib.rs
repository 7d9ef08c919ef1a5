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
//! ```no_run
//! use statuscheck::{Checker, Limits, Options, Runner};
//! use url::Url;
//!
//! # async fn demo() -> anyhow::Result<()> {
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
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod engine;
pub mod result;
mod wire;

pub use engine::{user_agent, Answer, Checker, Limits, Method, Options, Results, Runner, Target};
pub use result::{
    Certificate, CheckError, Checked, ErrorKind, Hop, HttpVersion, HumanDuration, OkCodes, Phase, Policy, Response,
    TlsCause, TlsSession, Trace, Verdict,
};
pub use wire::http::parse_header;
pub use wire::mask_userinfo;
pub use wire::proxy::Proxies;
pub use wire::resolve::{DnsServers, Family, Pin};
#[doc(hidden)] // For the binary's own locks, taken as the library's are.
pub use wire::sync::lock;
pub use wire::urltext::explain_parse_error;
