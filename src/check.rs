//! One URL, checked: resolve → connect → TLS → write the request → read the
//! response head, and with `--follow` the redirects after it. Each phase runs
//! under its own deadline and all of them under the whole-check `--timeout`,
//! so no check can outlive it, however slowly a server trickles bytes.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::TlsConnector;
use url::Url;

use crate::blocked;
use crate::http::{self, RequestSpec};
use crate::outcome::{CheckError, Hop, Phase, Response, Trace};
use crate::proxy::{Proxies, Proxy};
use crate::resolve::{io_reason, Resolver};
use crate::tls;

/// Everything a check needs, built once per run and shared by all tasks.
pub struct Checker {
    pub tls: TlsConnector,
    pub resolver: Resolver,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub request: RequestSpec,
    /// `--follow MAX`: how many redirects to follow; `None` follows none.
    pub follow: Option<usize>,
    pub proxies: Proxies,
    /// Parse the server's certificate into the trace (see
    /// `report::Options::wants_certificates`).
    pub certificates: bool,
}

/// The answer to one check: the final outcome, how its request went, and
/// the redirects on the way.
#[derive(Debug)]
pub struct Answer {
    pub outcome: Result<Response, CheckError>,
    pub trace: Trace,
    pub redirects: Vec<Hop>,
    /// Where the last request went, when redirects were followed.
    pub final_url: Option<Url>,
}

impl Checker {
    /// Checks `url`, following redirects if asked, all under one deadline.
    pub async fn check(&self, url: &Url) -> Answer {
        let deadline = Instant::now() + self.timeout;
        let mut redirects = Vec::new();
        let mut current = url.clone();
        loop {
            let mut trace = Trace::default();
            let outcome = self.get_status(&current, deadline, &mut trace).await;
            let answer = |outcome, redirects: Vec<Hop>, last: Url| {
                let final_url = (!redirects.is_empty()).then_some(last);
                Answer { outcome, trace, redirects, final_url }
            };
            let (Some(max), Ok(response)) = (self.follow, &outcome) else {
                return answer(outcome, redirects, current);
            };
            let Some(location) = response.location.clone().filter(|_| is_redirect(response.code)) else {
                return answer(outcome, redirects, current);
            };
            redirects.push(Hop { url: current.clone(), code: response.code });
            match next_hop(&current, &location, &redirects, max) {
                Ok(next) => current = next,
                Err(error) => return answer(Err(error), redirects, current),
            }
        }
    }

    /// One request: this is `get_status` of the original example, with every
    /// way it can go wrong turned into a [`CheckError`] and its phases timed.
    async fn get_status(&self, url: &Url, deadline: Instant, trace: &mut Trace) -> Result<Response, CheckError> {
        let proxy = self.proxies.for_url(url);
        let request = match proxy {
            Some(proxy) if url.scheme() == "http" => {
                http::build_proxy_request(url, &self.request, proxy.authorization.as_deref())
            }
            _ => http::build_request(url, &self.request),
        }
        .map_err(CheckError::InvalidUrl)?;
        let target_host = url.host().ok_or_else(|| CheckError::InvalidUrl("URL has no host".into()))?;
        // Through a proxy, it is the proxy we look up and connect to.
        let via = proxy.map_or(url, |proxy| &proxy.url);
        let host = via.host().ok_or_else(|| CheckError::InvalidUrl("proxy has no host".into()))?;
        let port = via.port_or_known_default().unwrap_or(443);
        let started = Instant::now();
        let lookup = self.resolver.lookup(&host, port);
        let addrs = self
            .within(Phase::Dns, deadline, lookup)
            .await?
            .map_err(|reason| CheckError::Dns { host: host.to_string(), reason })?;
        if matches!(host, url::Host::Domain(_)) {
            trace.dns = Some(started.elapsed());
        }
        let connecting = Instant::now();
        let (mut tcp, address) = self.connect(&addrs, deadline).await?;
        trace.address = Some(address);
        if url.scheme() != "https" {
            trace.connect = Some(connecting.elapsed());
            return self.exchange(tcp, &request, deadline, trace).await;
        }
        if let Some(proxy) = proxy {
            let tunnel = open_tunnel(&mut tcp, url, proxy, address);
            self.within(Phase::Connect, deadline, tunnel).await??;
        }
        trace.connect = Some(connecting.elapsed());
        let name = tls::server_name(&target_host).map_err(CheckError::InvalidUrl)?;
        let handshaking = Instant::now();
        let handshake = self.tls.connect(name, tcp);
        let stream = self.within(Phase::Tls, deadline, handshake).await?.map_err(tls_error)?;
        trace.tls = Some(handshaking.elapsed());
        trace.tls_session = Some(tls::session(stream.get_ref().1, self.certificates));
        self.exchange(stream, &request, deadline, trace).await
    }

    /// Tries each address in turn, each under `--connect-timeout`, until one
    /// answers; the last failure is the one reported.
    async fn connect(&self, addrs: &[SocketAddr], deadline: Instant) -> Result<(TcpStream, SocketAddr), CheckError> {
        let mut last_error = None;
        for &addr in addrs {
            let attempt_deadline = deadline.min(Instant::now() + self.connect_timeout);
            match timeout_at(attempt_deadline, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => {
                    // The request is one small write; don't let Nagle hold it.
                    let _ = stream.set_nodelay(true);
                    return Ok((stream, addr));
                }
                Ok(Err(e)) => last_error = Some(CheckError::Connect { addr, reason: io_reason(&e) }),
                Err(_) if attempt_deadline == deadline => {
                    return Err(CheckError::Timeout { phase: Phase::Connect, limit: self.timeout })
                }
                Err(_) => last_error = Some(CheckError::Timeout { phase: Phase::Connect, limit: self.connect_timeout }),
            }
        }
        Err(last_error.unwrap_or_else(|| CheckError::Dns { host: "?".into(), reason: "no address found".into() }))
    }

    /// Sends the request in one write and reads back the head.
    async fn exchange<S>(
        &self,
        mut stream: S,
        request: &[u8],
        deadline: Instant,
        trace: &mut Trace,
    ) -> Result<Response, CheckError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let send = async {
            stream.write_all(request).await?;
            stream.flush().await
        };
        self.within(Phase::Write, deadline, send).await?.map_err(|e| read_write_error(Phase::Write, &e))?;
        let sent = Instant::now();
        let mut buf = Vec::with_capacity(512);
        let status = read_status_line(&mut stream, &mut buf, sent, trace);
        let mut response = self.within(Phase::Read, deadline, status).await??;
        if wants_headers(response.code) {
            // Best effort: the status line is the answer; headers only add.
            if let Ok(Some(headers)) = timeout_at(deadline, read_headers(&mut stream, &mut buf)).await {
                apply_headers(&mut response, &headers);
            }
        }
        Ok(response)
    }

    /// Runs one phase under the whole-check deadline.
    async fn within<F: Future>(&self, phase: Phase, deadline: Instant, work: F) -> Result<F::Output, CheckError> {
        timeout_at(deadline, work).await.map_err(|_| CheckError::Timeout { phase, limit: self.timeout })
    }
}

/// Asks an http proxy for a tunnel to `url`'s host and port; any answer but
/// 2xx is a `connect` error naming the proxy.
async fn open_tunnel(tcp: &mut TcpStream, url: &Url, proxy: &Proxy, address: SocketAddr) -> Result<(), CheckError> {
    let refused = |reason: String| CheckError::Connect { addr: address, reason };
    let connect = http::build_connect(url, proxy.authorization.as_deref()).map_err(CheckError::InvalidUrl)?;
    tcp.write_all(&connect).await.map_err(|e| refused(format!("proxy: {}", io_reason(&e))))?;
    let mut buf = Vec::with_capacity(256);
    let response = read_status_line(tcp, &mut buf, Instant::now(), &mut Trace::default())
        .await
        .map_err(|e| refused(format!("proxy did not answer CONNECT: {e}")))?;
    if !(200..300).contains(&response.code) {
        return Err(refused(format!("proxy refused the tunnel: {response}")));
    }
    // The rest of the proxy's head; the tunnel starts right after it.
    if http::head_end(&buf).is_none() && read_headers(tcp, &mut buf).await.is_none() {
        return Err(refused("proxy's answer to CONNECT did not end".into()));
    }
    Ok(())
}

fn is_redirect(code: u16) -> bool {
    matches!(code, 301 | 302 | 303 | 307 | 308)
}

/// Headers are read only when they change the answer: where a 3xx points,
/// and whether a 403/429/503 is a block.
fn wants_headers(code: u16) -> bool {
    (300..400).contains(&code) || matches!(code, 403 | 429 | 503)
}

fn apply_headers(response: &mut Response, headers: &[(String, String)]) {
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    response.location = header("location").filter(|_| (300..400).contains(&response.code));
    response.retry_after = header("retry-after").and_then(|v| http::retry_after_seconds(&v));
    response.blocked_by = blocked::blocked_by(response.code, headers);
}

/// Where a redirect leads, or why it is not followed.
fn next_hop(current: &Url, location: &str, hops: &[Hop], max: usize) -> Result<Url, CheckError> {
    let shown = crate::http::quote(location.as_bytes());
    let mut next = current.join(location).map_err(|e| CheckError::Redirect(format!("bad Location {shown}: {e}")))?;
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

/// Reads up to the end of the first line, never more than
/// [`http::MAX_STATUS_LINE`] bytes, and gives up as soon as the bytes cannot
/// be the start of a status line. What was read past the line stays in `buf`.
async fn read_status_line<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    sent: Instant,
    trace: &mut Trace,
) -> Result<Response, CheckError> {
    let mut chunk = [0u8; 2048];
    loop {
        let room = chunk.len().min(http::MAX_STATUS_LINE - buf.len());
        let n = match stream.read(&mut chunk[..room]).await {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(read_write_error(Phase::Read, &e)),
        };
        if n == 0 {
            return match buf.is_empty() {
                true => {
                    Err(CheckError::Protocol("empty response: the server closed the connection without a byte".into()))
                }
                false => http::parse_status_line(buf).map_err(CheckError::Protocol),
            };
        }
        if buf.is_empty() {
            trace.ttfb = Some(sent.elapsed());
        }
        let searched = buf.len();
        buf.extend_from_slice(&chunk[..n]);
        if !http::could_be_status_line(buf) {
            return Err(not_http(buf));
        }
        if let Some(end) = http::line_end(&buf[searched..]) {
            return http::parse_status_line(&buf[..searched + end]).map_err(CheckError::Protocol);
        }
        if buf.len() >= http::MAX_STATUS_LINE {
            return Err(CheckError::Protocol(format!(
                "status line too long: no line end in the first {} bytes",
                http::MAX_STATUS_LINE
            )));
        }
    }
}

/// Reads on to the end of the head (at most [`http::MAX_HEAD`] bytes in all)
/// and parses its headers; `None` if the head does not end in time or room.
async fn read_headers<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> Option<Vec<(String, String)>> {
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = http::head_end(buf) {
            return Some(http::parse_headers(&buf[..end]));
        }
        let room = chunk.len().min(http::MAX_HEAD.saturating_sub(buf.len()));
        if room == 0 {
            return None;
        }
        match stream.read(&mut chunk[..room]).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn not_http(received: &[u8]) -> CheckError {
    let hint = match received.first() {
        Some(0x15 | 0x16) => " (that is TLS: try https://)",
        _ => "",
    };
    CheckError::Protocol(format!("not an HTTP/1.x response: {}{hint}", http::quote(received)))
}

fn tls_error(error: io::Error) -> CheckError {
    if let Some(tls) = error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        return CheckError::Tls(tls::describe(tls));
    }
    match error.kind() {
        io::ErrorKind::UnexpectedEof => CheckError::Tls("server closed the connection during the handshake".into()),
        _ => CheckError::Io { phase: Phase::Tls, reason: io_reason(&error) },
    }
}

fn read_write_error(phase: Phase, error: &io::Error) -> CheckError {
    match error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(tls) => CheckError::Tls(tls::describe(tls)),
        None => CheckError::Io { phase, reason: io_reason(error) },
    }
}

/// The `User-Agent` we send unless told otherwise.
pub fn user_agent() -> String {
    format!("statuscheck/{}", env!("CARGO_PKG_VERSION"))
}

/// Builds the shared checker; only setup errors (a bad `--cacert`) end the run.
pub fn checker(config: &crate::cli::Config) -> anyhow::Result<Arc<Checker>> {
    let tls = tls::client_config(config.cacert.as_deref(), config.insecure)?;
    Ok(Arc::new(Checker {
        tls: TlsConnector::from(tls),
        resolver: Resolver::new(&config.resolve, config.family, config.dns_servers.as_ref()),
        timeout: config.timeout,
        connect_timeout: config.connect_timeout,
        request: config.request.clone(),
        follow: config.follow,
        proxies: config.proxies.clone(),
        certificates: config.report.wants_certificates(),
    }))
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
    fn headers_add_location_retry_after_and_blocks() {
        let mut response = Response::new(crate::outcome::HttpVersion::Http11, 503, "");
        let headers = vec![("retry-after".to_string(), "30".to_string()), ("server".into(), "nginx".into())];
        apply_headers(&mut response, &headers);
        assert_eq!(
            (response.retry_after, response.blocked_by, response.location),
            (Some(30), Some("rate-limit"), None)
        );
    }
}
