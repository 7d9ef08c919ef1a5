//! The retry of a refused handshake over legacy TLS ([`Options::tls_legacy`],
//! cargo feature `tls-legacy`): once, over a new connection to the address
//! the refused one went to (through a new tunnel of the same proxy), under
//! the same whole-check deadline. What it widens, and the certificate rules
//! it keeps, are `wire::tls::legacy`'s.
//!
//! What a check that is retried comes to:
//! - the legacy handshake is done and the certificate passes: the answer
//!   is the server's, with the session as OpenSSL negotiated it;
//! - the certificate is refused: that refusal, with its own cause (a
//!   `weak-key` says more than the default handshake's `protocol-version`);
//! - the deadline fires: a timeout, as anywhere else in a check;
//! - anything else (OpenSSL finds nothing in common either, the server
//!   hangs up, no new connection): the default handshake's error, explained
//!   by the legacy probe as it is without the opt-in (`legacy-only` for a
//!   server that offers only 3DES or RC4, which OpenSSL 3 no longer has),
//!   with the retry's reason added to its message. OpenSSL's reason is not
//!   the answer: it explains nothing the first error and the probe did not.
//!
//! The retry comes before the probe, not after it: for the servers the
//! option is for, that is two connections rather than three.
//!
//! [`Options::tls_legacy`]: crate::Options::tls_legacy

use std::net::SocketAddr;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_openssl::SslStream;
use url::Url;

use super::{Checker, Deadline, Reply};
use crate::result::{CheckError, Phase, Trace};
use crate::wire::http;
use crate::wire::proxy::Proxy;
use crate::wire::tls::legacy::{self, Refusal};

/// A check whose default handshake was refused, and where it went.
pub(super) struct Refused<'a> {
    /// The default handshake's error.
    pub error: CheckError,
    pub url: &'a Url,
    pub proxy: Option<&'a Proxy>,
    /// The address connected to (the proxy's, through a proxy).
    pub address: SocketAddr,
    pub name: ServerName<'static>,
    /// When the default handshake began: the trace's TLS time runs from
    /// there to the end of the legacy one.
    pub started: Instant,
}

/// How a legacy attempt ended, short of a deadline or a refused certificate.
enum Attempt {
    Done(SslStream<TcpStream>),
    /// Why not, in a few words, for the default handshake's message.
    Failed(String),
}

impl Checker {
    /// The check of `refused`, over legacy TLS.
    pub(super) async fn retry_legacy(
        &self,
        refused: Refused<'_>,
        request: &[u8],
        deadline: Deadline<'_>,
        trace: &mut Trace,
    ) -> Result<Reply, CheckError> {
        let Some(legacy) = &self.legacy else { return Err(refused.error) };
        let stream = match self.legacy_attempt(legacy, &refused, deadline).await? {
            Attempt::Done(stream) => stream,
            Attempt::Failed(why) => {
                let Refused { error, url, proxy, address, .. } = refused;
                let first = self.explain_refusal(error, url, proxy, address, deadline).await;
                return Err(also_failed(first, &why));
            }
        };
        trace.tls = Some(refused.started.elapsed());
        let anchors = self.parses_certificates(deadline.policy).then_some(&*self.anchors);
        trace.tls_session = Some(legacy::session(stream.ssl(), anchors));
        self.exchange(stream, request, deadline, trace).await
    }

    /// A new connection, the tunnel if any, the legacy handshake and the
    /// checks of its certificate.
    async fn legacy_attempt(
        &self,
        legacy: &legacy::Legacy,
        refused: &Refused<'_>,
        deadline: Deadline<'_>,
    ) -> Result<Attempt, CheckError> {
        let mut tcp = match self.connect(&[refused.address], deadline).await {
            Ok((tcp, _)) => tcp,
            Err(timeout @ CheckError::Timeout { .. }) => return Err(timeout),
            Err(error) => return Ok(Attempt::Failed(format!("no new connection: {error}"))),
        };
        let _ = tcp.set_nodelay(true);
        if let Some(proxy) = refused.proxy {
            let tunnel = http::open_tunnel(&mut tcp, refused.url, proxy, refused.address);
            if let Err(error) = self.within(Phase::Connect, deadline, tunnel).await? {
                return Ok(Attempt::Failed(format!("no new tunnel: {error}")));
            }
        }
        match self.within(Phase::Tls, deadline, legacy.connect(&refused.name, tcp)).await? {
            Ok(stream) => Ok(Attempt::Done(stream)),
            Err(Refusal::Certificate(error)) => Err(error),
            Err(Refusal::Handshake(why)) => Ok(Attempt::Failed(why)),
        }
    }
}

/// The default handshake's error, saying that legacy TLS failed too.
fn also_failed(error: CheckError, why: &str) -> CheckError {
    match error {
        CheckError::Tls { cause, message } => {
            CheckError::tls(cause, format!("{message}; with legacy TLS versions and suites too: {why}"))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::TlsCause;

    #[test]
    fn the_first_cause_stays_and_the_retry_says_why_it_failed() {
        let first = CheckError::tls(TlsCause::ProtocolVersion, "server refused the TLS versions we offer");
        let both = also_failed(first, "no protocols available");
        assert_eq!(both.tls_cause(), Some(TlsCause::ProtocolVersion));
        assert_eq!(
            both.to_string(),
            "server refused the TLS versions we offer; with legacy TLS versions and suites too: no protocols available"
        );
    }
}
