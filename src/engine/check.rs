//! One URL, checked: resolve → connect → TLS → write the request → read the
//! response head (and, for header or body expectations, what they need of
//! the final answer, judged here), and with `--follow` the redirects after
//! it. Each phase runs under its own deadline and all of them under the
//! whole-check `--timeout`, so no check can outlive it, however slowly a
//! server trickles bytes. A handshake refused without a reason is followed
//! by the legacy probe, in the same deadline; with the cargo feature
//! `tls-legacy` and the option on, by a retry over legacy TLS first
//! ([`legacy`]). The bytes of the exchange itself, proxy tunnels included,
//! are `wire::http`'s: this module holds a check's phases, its deadline and
//! its redirects.

#[cfg(feature = "tls-legacy")]
mod legacy;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::TlsConnector;
use url::Url;

use super::{Options, Profile};
use crate::result::{CheckError, Hop, Phase, Policy, Response, SetupError, Trace, Unmet};
use crate::wire::corked::Corked;
use crate::wire::http::{self, is_redirect, RequestSpec};
use crate::wire::proxy::{Proxies, Proxy};
use crate::wire::resolve::{io_reason, Resolver};
use crate::wire::{connect, later, tls, urltext};

/// The engine: everything a check needs, built once from [`Options`] and
/// shared by all checks (put it in an `Arc` to share it between tasks).
pub struct Checker {
    tls: TlsConnector,
    /// The request, deadline and expectations of targets without their own.
    profile: Profile,
    /// The TLS sessions and verified chains of this round.
    remembered: tls::Remembered,
    resolver: Resolver,
    /// Never longer than a check's own timeout in effect.
    connect_timeout: Duration,
    /// `--deny-private`: never connect to a loopback, private or link-local
    /// address of a target (see `connect::private_range`).
    deny_private: bool,
    /// `--follow MAX`: how many redirects to follow; `None` follows none.
    follow: Option<usize>,
    proxies: Proxies,
    /// Parse the server's certificates into the trace
    /// ([`Options::certificates`]); they are also parsed for a check whose
    /// policy expects certificate days left.
    certificates: bool,
    /// The trust anchors' names, for the certificates parsed.
    anchors: Arc<tls::Anchors>,
    /// [`Options::tls_legacy`]: the OpenSSL handshake to try when rustls'
    /// is refused for want of a version or suite in common.
    #[cfg(feature = "tls-legacy")]
    legacy: Option<tls::legacy::Legacy>,
}

/// The settings, not the internals (TLS state, caches); no header values
/// or proxy credentials, which may be secrets.
impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("Checker");
        debug
            .field("profile", &self.profile)
            .field("connect_timeout", &self.connect_timeout)
            .field("follow", &self.follow)
            .field("deny_private", &self.deny_private)
            .field("certificates", &self.certificates);
        #[cfg(feature = "tls-legacy")]
        debug.field("tls_legacy", &self.legacy.is_some());
        debug.finish_non_exhaustive()
    }
}

/// The answer to one check: the final outcome, how its request went, and
/// the redirects on the way.
#[derive(Debug)]
#[non_exhaustive]
pub struct Answer {
    /// The final answer, or why there was none.
    pub outcome: Result<Response, CheckError>,
    /// How the last request went.
    pub trace: Trace,
    /// The redirects followed, in order.
    pub redirects: Vec<Hop>,
    /// Where the last request went, when redirects were followed.
    pub final_url: Option<Url>,
    /// The header and body expectations the final answer did not meet
    /// (see [`crate::Policy::judge_content`]).
    pub unmet: Vec<Unmet>,
}

impl Checker {
    /// The request, deadline and expectations of targets without their own.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Checks `url`, following redirects if asked, all under one deadline.
    /// Only http and https are checked: any other scheme is an
    /// [`ErrorKind::InvalidUrl`](crate::ErrorKind::InvalidUrl) error, found
    /// without any network traffic.
    pub async fn check(&self, url: &Url) -> Answer {
        self.check_as(url, &self.profile).await
    }

    /// Checks `url` with `profile`'s request, deadline and expectations
    /// instead of those of the [`Options`] (a target's own, see
    /// [`crate::Target::profile`]).
    pub async fn check_as(&self, url: &Url, profile: &Profile) -> Answer {
        if let Err(error) = checkable_scheme(url) {
            let (trace, redirects, unmet) = (Trace::default(), Vec::new(), Vec::new());
            return Answer { outcome: Err(error), trace, redirects, final_url: None, unmet };
        }
        let policy = &profile.policy;
        let deadline = Deadline { at: later(Instant::now(), profile.timeout), limit: profile.timeout, policy };
        let mut redirects = Vec::new();
        let mut current = url.clone();
        let mut downgraded = false;
        loop {
            let mut trace = Trace::default();
            let user_headers = sends_user_headers(url, &current, profile.request.location_trusted, downgraded);
            let (outcome, unmet) =
                match self.get_status(&current, &profile.request, user_headers, deadline, &mut trace).await {
                    Ok(Reply { response, unmet }) => (Ok(response), unmet),
                    Err(error) => (Err(error), Vec::new()),
                };
            let answer = |outcome, redirects: Vec<Hop>, last: Url| {
                let final_url = (!redirects.is_empty()).then_some(last);
                Answer { outcome, trace, redirects, final_url, unmet }
            };
            let (Some(max), Ok(response)) = (self.follow, &outcome) else {
                return answer(outcome, redirects, current);
            };
            let Some(location) = response.location.clone().filter(|_| is_redirect(response.code)) else {
                return answer(outcome, redirects, current);
            };
            redirects.push(Hop { url: current.clone(), code: response.code });
            match next_hop(&current, &location, &redirects, max) {
                Ok(next) => {
                    downgraded |= current.scheme() == "https" && next.scheme() == "http";
                    current = next;
                }
                Err(error) => return answer(Err(error), redirects, current),
            }
        }
    }

    /// One request: this is `get_status` of the original example, with every
    /// way it can go wrong turned into a [`CheckError`] and its phases timed.
    async fn get_status(
        &self,
        url: &Url,
        spec: &RequestSpec,
        user_headers: bool,
        deadline: Deadline<'_>,
        trace: &mut Trace,
    ) -> Result<Reply, CheckError> {
        let proxy = self.proxies.for_url(url).map_err(|reason| CheckError::UnusableProxy(reason.to_owned()))?;
        let request = match proxy {
            Some(proxy) if url.scheme() == "http" => {
                http::build_proxy_request(url, spec, user_headers, proxy.authorization.as_deref())
            }
            _ => http::build_request(url, spec, user_headers),
        }
        .map_err(CheckError::InvalidUrl)?;
        let target_host = url.host().ok_or_else(|| CheckError::InvalidUrl("URL has no host".into()))?;
        if self.deny_private {
            connect::deny_literal(&target_host, url.port_or_known_default().unwrap_or(443))?;
        }
        let (host, port) = looked_up(url, proxy)?;
        let started = Instant::now();
        let lookup = self.resolver.lookup(&host, port);
        let addrs = self
            .within(Phase::Dns, deadline, lookup)
            .await?
            .map_err(|reason| CheckError::Dns { host: host.to_string(), reason })?;
        // A proxy's own address is the operator's choice, not the target's.
        let addrs = if self.deny_private && proxy.is_none() { connect::public_only(addrs)? } else { addrs };
        if matches!(host, url::Host::Domain(_)) {
            trace.dns = Some(started.elapsed());
        }
        let connecting = Instant::now();
        let (tcp, address) = self.connect(&addrs, deadline).await?;
        trace.address = Some(address);
        if url.scheme() != "https" {
            trace.connect = Some(connecting.elapsed());
            return self.exchange(tcp, &request, deadline, trace).await;
        }
        // Boxed: the TLS states (handshake, probe, legacy retry) are far
        // larger than a plain exchange's, and a future is as large as its
        // largest state, so unboxed they would enlarge every http check too.
        let tls = TlsRoute { url, proxy, host: &target_host, address, connecting };
        Box::pin(self.tls_exchange(tcp, tls, &request, deadline, trace)).await
    }

    /// The https part of a check: the proxy tunnel if any, the handshake
    /// (explained, or retried over legacy TLS, when refused), the exchange.
    async fn tls_exchange(
        &self,
        mut tcp: TcpStream,
        route: TlsRoute<'_>,
        request: &[u8],
        deadline: Deadline<'_>,
        trace: &mut Trace,
    ) -> Result<Reply, CheckError> {
        let TlsRoute { url, proxy, host: target_host, address, connecting } = route;
        // TLS writes more than once before the answer comes; don't let Nagle
        // hold a write back (a plain request is one write, which it never holds).
        let _ = tcp.set_nodelay(true);
        if let Some(proxy) = proxy {
            let tunnel = http::open_tunnel(&mut tcp, url, proxy, address);
            self.within(Phase::Connect, deadline, tunnel).await??;
        }
        trace.connect = Some(connecting.elapsed());
        let name = tls::server_name(target_host).map_err(CheckError::InvalidUrl)?;
        let handshaking = Instant::now();
        // Corked: the handshake's last flight and the request leave together.
        let handshake = self.tls.connect(name.clone(), Corked::new(tcp)).into_fallible();
        let handshake = self.within(Phase::Tls, deadline, handshake).await?.map_err(|(error, mut tcp)| {
            tcp.send_now(); // the alert rustls wrote, saying why it refused
            tls_error(error)
        });
        let stream = match handshake {
            Ok(stream) => stream,
            #[cfg(feature = "tls-legacy")]
            Err(error) if self.legacy.is_some() && tls::legacy::retried(&error) => {
                let refused = legacy::Refused { error, url, proxy, address, name, started: handshaking };
                return Box::pin(self.retry_legacy(refused, request, deadline, trace)).await;
            }
            // Boxed, as the legacy retry: the probe's state would otherwise
            // enlarge every https check, on a path only a refusal takes.
            Err(error) => return Err(Box::pin(self.explain_refusal(error, url, proxy, address, deadline)).await),
        };
        trace.tls = Some(handshaking.elapsed());
        let anchors = self.parses_certificates(deadline.policy).then_some(&*self.anchors);
        trace.tls_session = Some(tls::session(stream.get_ref().1, anchors));
        self.exchange(stream, request, deadline, trace).await
    }

    /// A failed handshake that does not say why (see `tls::worth_probing`),
    /// named `legacy-only` when a probe shows the server offers only what
    /// rustls does not speak; any other error is returned as it is. The
    /// probe is one more connection, only ever after a failed handshake, to
    /// the address already connected to (so already allowed by
    /// `deny_private`), through a tunnel of its own when a proxy is used.
    ///
    /// It runs under the whole-check deadline, so it never makes a check
    /// longer than `timeout`; and whatever stops it (that deadline, a
    /// refused connection, an answer that proves nothing) leaves the
    /// handshake's own error. The handshake did fail, and that it failed is
    /// the answer: a probe that could not finish is no reason to call the
    /// check a timeout.
    async fn explain_refusal(
        &self,
        refused: CheckError,
        url: &Url,
        proxy: Option<&Proxy>,
        address: SocketAddr,
        deadline: Deadline<'_>,
    ) -> CheckError {
        if !tls::worth_probing(&refused) {
            return refused;
        }
        match timeout_at(deadline.at, self.probe(url, proxy, address, deadline)).await {
            Ok(Some(legacy)) => legacy.error(),
            Ok(None) | Err(_) => refused,
        }
    }

    /// Connects to `address` again (and through `proxy`'s tunnel) and asks
    /// what the server offers (see `tls::legacy_offer`).
    async fn probe(
        &self,
        url: &Url,
        proxy: Option<&Proxy>,
        address: SocketAddr,
        deadline: Deadline<'_>,
    ) -> Option<tls::Legacy> {
        let (mut tcp, _) = self.connect(&[address], deadline).await.ok()?;
        let _ = tcp.set_nodelay(true);
        if let Some(proxy) = proxy {
            http::open_tunnel(&mut tcp, url, proxy, address).await.ok()?;
        }
        // The name our handshake sent, as rustls sends it: none for an IP.
        let sni = match url.host()? {
            url::Host::Domain(name) => Some(name.trim_end_matches('.')),
            url::Host::Ipv4(_) | url::Host::Ipv6(_) => None,
        };
        tls::legacy_offer(&mut tcp, sni).await
    }

    /// A lookup of the name a check of `url` looks up first (the proxy's
    /// when one applies, as [`looked_up`] says for both), to run ahead of
    /// that check: its answer is then in the resolver's cache, or in flight
    /// there, when the check asks. `None` when the check would not ask
    /// anyone: an IP literal, a pinned name, an answer already cached or in
    /// flight, an unusable proxy. Only the first request's name: redirects
    /// are looked up when they come.
    ///
    /// The outcome is not kept for the check: an answer goes to the cache
    /// like any other, a failure does not (the cache keeps none past the
    /// lookup in flight), so a check that starts after a failed lookup ahead
    /// asks again, and one that starts while it is in flight shares it.
    pub(crate) fn resolve_ahead(self: &Arc<Self>, url: &Url) -> Option<impl Future<Output = ()> + Send + 'static> {
        checkable_scheme(url).ok()?;
        let proxy = self.proxies.for_url(url).ok()?;
        let (url::Host::Domain(domain), port) = looked_up(url, proxy).ok()? else { return None };
        if !self.resolver.would_ask(domain, port) {
            return None;
        }
        let (checker, domain) = (self.clone(), domain.to_owned());
        Some(async move {
            let _ = checker.resolver.lookup(&url::Host::Domain(&domain), port).await;
        })
    }

    /// Happy Eyeballs over `addrs` (see `connect`), each attempt under
    /// `--connect-timeout`, all of them under the whole-check deadline.
    async fn connect(
        &self,
        addrs: &[SocketAddr],
        deadline: Deadline<'_>,
    ) -> Result<(TcpStream, SocketAddr), CheckError> {
        let connect_timeout = self.connect_timeout.min(deadline.limit);
        let limits = connect::Limits { connect_timeout, timeout: deadline.limit, deadline: deadline.at };
        self.within(Phase::Connect, deadline, connect::connect(addrs, limits)).await?
    }

    /// Sends the request and reads back the head (see `http::exchange`); a
    /// redirect to follow whose head was cut before its `Location` is an
    /// error. With header or body expectations, also what they need, judged
    /// here for the final answer (the body read is dropped once judged).
    async fn exchange<S>(
        &self,
        stream: S,
        request: &[u8],
        deadline: Deadline<'_>,
        trace: &mut Trace,
    ) -> Result<Reply, CheckError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        if deadline.policy.reads_headers() || deadline.policy.reads_body() {
            return self.exchange_content(stream, request, deadline, trace).await;
        }
        let (response, cut) = http::exchange(stream, request, deadline.at, deadline.limit, trace).await?;
        self.followable(&response, cut, deadline)?;
        Ok(Reply { response, unmet: Vec::new() })
    }

    /// [`Checker::exchange`] for a check with header or body expectations,
    /// judged here. A boxed future of its own, out of line: its reader and
    /// buffers would otherwise enlarge every check's future, and its code
    /// the loop every check without expectations runs.
    #[cold]
    fn exchange_content<'a, S>(
        &'a self,
        stream: S,
        request: &'a [u8],
        deadline: Deadline<'a>,
        trace: &'a mut Trace,
    ) -> Pin<Box<dyn Future<Output = Result<Reply, CheckError>> + Send + 'a>>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'a,
    {
        Box::pin(async move {
            let policy = deadline.policy;
            let reading = http::Reading { policy, follow: self.follow.is_some() };
            let limits = (deadline.at, deadline.limit);
            let exchanged = http::exchange_content(stream, request, limits, trace, reading).await?;
            self.followable(&exchanged.response, exchanged.cut, deadline)?;
            let unmet = match exchanged.content {
                Some(content) => {
                    let cut = content.body_cut.map(|cut| cut.to_string());
                    policy.judge_content(&content.headers, content.body.as_deref(), cut.as_deref())
                }
                None => Vec::new(),
            };
            Ok(Reply { response: exchanged.response, unmet })
        })
    }

    /// A redirect to follow whose head was cut before its `Location` is an
    /// error: following nothing would report the 3xx as the final answer.
    fn followable(
        &self,
        response: &Response,
        cut: Option<http::Cut>,
        deadline: Deadline<'_>,
    ) -> Result<(), CheckError> {
        if let (Some(_), Some(cut), None) = (self.follow, cut, &response.location) {
            if is_redirect(response.code) {
                return Err(CheckError::Protocol(http::location_cut(response.code, cut, deadline.limit)));
            }
        }
        Ok(())
    }

    /// Whether a check with `policy` parses the server's certificates.
    fn parses_certificates(&self, policy: &Policy) -> bool {
        self.certificates || policy.cert_expiry_days.is_some()
    }

    /// Runs one phase under the whole-check deadline.
    async fn within<F: Future>(&self, phase: Phase, deadline: Deadline<'_>, work: F) -> Result<F::Output, CheckError> {
        timeout_at(deadline.at, work).await.map_err(|_| CheckError::Timeout { phase, limit: deadline.limit })
    }
}

/// When a check must be over, and the timeout that set it (named in a
/// timeout error): the target's own, or the [`Options`]'; with what else of
/// its profile the phases after the connect need.
#[derive(Clone, Copy, Debug)]
pub(super) struct Deadline<'a> {
    at: Instant,
    limit: Duration,
    /// What is expected of the answer: which certificates are parsed, which
    /// headers and how much of the body are read.
    policy: &'a Policy,
}

/// A final answer, and the header and body expectations it did not meet.
pub(super) struct Reply {
    response: Response,
    unmet: Vec<Unmet>,
}

/// Where an https check's connection goes, for its TLS part.
struct TlsRoute<'a> {
    url: &'a Url,
    proxy: Option<&'a Proxy>,
    host: &'a url::Host<&'a str>,
    address: SocketAddr,
    /// When connecting began: the trace's connect time includes the tunnel.
    connecting: Instant,
}

/// The host a request for `url` looks up and connects to, and its port:
/// through a proxy, the proxy's. Checks and lookups run ahead of them both
/// ask this, so the two cannot disagree.
fn looked_up<'a>(url: &'a Url, proxy: Option<&'a Proxy>) -> Result<(url::Host<&'a str>, u16), CheckError> {
    let via = proxy.map_or(url, |proxy| &proxy.url);
    let host = via.host().ok_or_else(|| CheckError::InvalidUrl("proxy has no host".into()))?;
    Ok((host, via.port_or_known_default().unwrap_or(443)))
}

/// Whether a hop to `current` gets the `-H` headers given for `original`.
/// They may hold secrets (`Authorization`, `Cookie`), so, as in curl since
/// CVE-2018-1000007, only the origin they were given for (scheme, host,
/// port) gets them, unless `--location-trusted`; never over http once the
/// chain went from https to http.
fn sends_user_headers(original: &Url, current: &Url, trusted: bool, downgraded: bool) -> bool {
    original.origin() == current.origin() || (trusted && !downgraded)
}

/// Where a redirect leads, or why it is not followed.
fn next_hop(current: &Url, location: &str, hops: &[Hop], max: usize) -> Result<Url, CheckError> {
    let shown = http::quote(location.as_bytes());
    // WHATWG parsing would read `http:////host/` as `http://host/`.
    if urltext::has_empty_host(location) {
        return Err(CheckError::Redirect(format!("Location {shown} has an empty host, which RFC 9110 says to refuse")));
    }
    let mut next = current.join(location).map_err(|e| {
        CheckError::Redirect(format!("bad Location {shown}: {}", urltext::explain_parse_error(location, e)))
    })?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(CheckError::Redirect(format!("not following a redirect to a {}: URL", next.scheme())));
    }
    next.set_fragment(None);
    let _ = next.set_username("");
    let _ = next.set_password(None);
    if hops.iter().any(|hop| hop.url == next) {
        return Err(CheckError::Redirect(format!("redirect loop back to {next}")));
    }
    if hops.len() > max {
        return Err(CheckError::Redirect(format!("more than {max} redirects")));
    }
    Ok(next)
}

/// The library's scheme rule: http and https only. A URL whose "scheme"
/// may be a user name (`bob:secret@host` parses as the scheme `bob`) gets
/// no scheme quoted.
fn checkable_scheme(url: &Url) -> Result<(), CheckError> {
    match url.scheme() {
        "http" | "https" => Ok(()),
        _ if url.cannot_be_a_base() => {
            Err(CheckError::InvalidUrl("a scheme other than http or https: only http and https are checked".into()))
        }
        other => Err(CheckError::InvalidUrl(format!("scheme '{other}' is not supported: only http and https"))),
    }
}

fn tls_error(error: io::Error) -> CheckError {
    if let Some(tls) = error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        return tls::failure(tls);
    }
    match error.kind() {
        io::ErrorKind::UnexpectedEof => tls::closed(),
        _ => CheckError::Io { phase: Phase::Tls, reason: io_reason(&error) },
    }
}

impl Checker {
    /// The engine for `options`. Only setup can fail here, with a typed
    /// [`SetupError`] (legacy TLS asked of a build without the feature
    /// `tls-legacy`, an unreadable or empty `cacert` file, ...); every
    /// check's failure is a [`CheckError`].
    pub fn new(options: Options) -> Result<Checker, SetupError> {
        let tls = tls::client_config(options.cacert.as_deref(), options.insecure)?;
        #[cfg(feature = "tls-legacy")]
        let legacy = match options.tls_legacy {
            true => Some(tls::legacy::Legacy::new(tls.verifier.clone(), options.insecure)?),
            false => None,
        };
        #[cfg(not(feature = "tls-legacy"))]
        if options.tls_legacy {
            return Err(SetupError::TlsLegacyUnavailable);
        }
        Ok(Checker {
            tls: TlsConnector::from(tls.config),
            remembered: tls.remembered,
            resolver: Resolver::new(&options.resolve, options.family, options.dns_servers.as_ref()),
            connect_timeout: options.connect_timeout,
            deny_private: options.deny_private,
            profile: options.profile,
            follow: options.follow,
            proxies: options.proxies,
            certificates: options.certificates,
            anchors: tls.anchors,
            #[cfg(feature = "tls-legacy")]
            legacy,
        })
    }

    /// A new round of checks (`--watch`): cached DNS answers are asked
    /// again, the hosts file read again, and TLS starts afresh (no session
    /// resumed, every certificate chain verified), so a certificate
    /// changed since the last round is seen.
    pub fn new_round(&self) {
        self.resolver.new_round();
        self.remembered.forget();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn relative_and_absolute_locations() {
        let here = url("https://a.test/x/y?q=1");
        assert_eq!(next_hop(&here, "/z", &[], 10).unwrap().as_str(), "https://a.test/z");
        assert_eq!(next_hop(&here, "w#frag", &[], 10).unwrap().as_str(), "https://a.test/x/w");
        assert_eq!(next_hop(&here, "http://b.test/", &[], 10).unwrap().as_str(), "http://b.test/");
        assert_eq!(next_hop(&here, "//c.test/p", &[], 10).unwrap().as_str(), "https://c.test/p");
    }

    #[test]
    fn refused_schemes_loops_and_limits() {
        let here = url("https://a.test/");
        let err = next_hop(&here, "ftp://a.test/f", &[], 10).unwrap_err();
        assert_eq!(err.to_string(), "not following a redirect to a ftp: URL");
        let hops = vec![Hop { url: here.clone(), code: 301 }];
        assert!(next_hop(&here, "/", &hops, 10).unwrap_err().to_string().starts_with("redirect loop"));
        let many: Vec<Hop> = (0..3).map(|i| Hop { url: url(&format!("https://a.test/{i}")), code: 302 }).collect();
        assert_eq!(next_hop(&here, "/next", &many, 2).unwrap_err().to_string(), "more than 2 redirects");
        assert_eq!(next_hop(&here, "/next", &many, 3).unwrap().as_str(), "https://a.test/next");
    }

    #[test]
    fn a_location_with_an_empty_host_is_refused() {
        let here = url("http://a.test/x");
        for location in ["http:////a.test/x", "https:///x", "//", "http://:8080/"] {
            let err = next_hop(&here, location, &[], 10).unwrap_err();
            assert_eq!(err.kind(), crate::result::ErrorKind::Redirect, "{location}");
            assert!(err.to_string().contains("has an empty host"), "{location}: {err}");
        }
    }

    #[test]
    fn a_location_host_ending_in_a_number_says_so() {
        let here = url("http://a.test/x");
        let err = next_hop(&here, "http://host.example.com.1150/", &[], 10).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(
                "bad Location \"http://host.example.com.1150/\": 'host.example.com.1150' ends in a number"
            ),
            "{message}"
        );
    }

    #[test]
    fn user_headers_go_to_their_own_origin_only() {
        let original = url("https://a.test/start");
        for (hop, plain, trusted) in [
            ("https://a.test:443/other?q", true, true),
            ("https://a.test:8443/", false, true),
            ("https://b.test/", false, true),
            ("http://a.test/", false, true),
        ] {
            assert_eq!(sends_user_headers(&original, &url(hop), false, false), plain, "{hop}");
            assert_eq!(sends_user_headers(&original, &url(hop), true, false), trusted, "{hop} trusted");
        }
        // After https -> http, only the original origin gets them, trusted or not.
        assert!(!sends_user_headers(&original, &url("http://b.test/"), true, true));
        assert!(!sends_user_headers(&original, &url("https://b.test/"), true, true));
        assert!(sends_user_headers(&original, &url("https://a.test/back"), true, true));
    }

    #[tokio::test]
    async fn other_schemes_are_invalid_urls_without_traffic() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let checker = Arc::new(Checker::new(Options::default()).unwrap());
        for text in [format!("ftp://127.0.0.1:{port}/"), format!("gopher://127.0.0.1:{port}/"), "bob:pw@x".into()] {
            let target = url(&text);
            assert!(checker.resolve_ahead(&target).is_none(), "{text}: no lookup ahead");
            let error = checker.check(&target).await.outcome.unwrap_err();
            assert_eq!(error.kind(), crate::ErrorKind::InvalidUrl, "{text}");
            assert!(!error.to_string().contains("bob"), "{error}");
        }
        let error = checker.check(&url(&format!("ftp://127.0.0.1:{port}/"))).await.outcome.unwrap_err();
        assert_eq!(error.to_string(), "scheme 'ftp' is not supported: only http and https");
        assert!(listener.accept().is_err(), "nothing connected");
    }

    /// A check's future is as large as its largest state, and every check
    /// in flight holds one: the content path (head and body reading for
    /// expectations) is boxed, so it adds nothing to the checks without.
    #[test]
    fn the_content_path_adds_nothing_to_a_checks_future() {
        use std::io::Cursor;
        use std::mem::size_of_val;

        let checker = Checker::new(Options::default()).unwrap();
        let (target, profile) = (url("http://127.0.0.1:1/"), Profile::default());
        eprintln!("a check's future: {} bytes", size_of_val(&checker.check_as(&target, &profile)));
        let policy = Policy::default().body(crate::BodyRule::Contains("UP".into()));
        let deadline = Deadline { at: Instant::now(), limit: Duration::from_secs(1), policy: &policy };
        let mut trace = Trace::default();
        let exchange = size_of_val(&checker.exchange(Cursor::new(Vec::new()), b"", deadline, &mut trace));
        let reading = http::Reading { policy: &policy, follow: false };
        let limits = (deadline.at, deadline.limit);
        let content = size_of_val(&http::exchange_content(Cursor::new(Vec::new()), b"", limits, &mut trace, reading));
        eprintln!("the exchange's future: {exchange} bytes; the content path's, boxed: {content} bytes");
        assert!(exchange < content, "the exchange ({exchange} bytes) holds the content path ({content} bytes)");
    }

    #[test]
    fn debug_shows_settings_not_secrets() {
        let options = Options::default().header("Authorization", "Bearer s3cret").follow(Some(3));
        let debug = format!("{options:?}");
        assert!(debug.contains("Authorization") && !debug.contains("s3cret"), "{debug}");
        let debug = format!("{:?}", Checker::new(options).unwrap());
        assert!(debug.starts_with("Checker {") && debug.contains("follow: Some(3)"), "{debug}");
        assert!(debug.contains("Authorization") && !debug.contains("s3cret"), "{debug}");
    }

    #[cfg(not(feature = "tls-legacy"))]
    #[test]
    fn legacy_tls_needs_the_feature() {
        let error = Checker::new(Options::default().tls_legacy(true)).err().unwrap();
        assert!(matches!(error, SetupError::TlsLegacyUnavailable), "{error:?}");
        let error = error.to_string();
        assert!(error.contains("lacks the cargo feature `tls-legacy`"), "{error}");
        assert!(Checker::new(Options::default().tls_legacy(false)).is_ok());
    }
}
