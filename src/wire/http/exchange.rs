//! One HTTP/1.1 exchange on a connected stream: the request written, the
//! response head read (under the check's deadline, keeping only the fields
//! an answer is made of) and applied to the [`Response`]; and the `CONNECT`
//! that opens a proxy's tunnel before TLS. The engine connects and decides
//! what to do with the answer; the bytes in between are this module's.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use url::Url;

use super::{build_connect, retry_after_seconds, Cut, Fed, HeadParser, MAX_HEAD};
use crate::result::{CheckError, HumanDuration, Phase, Response, Trace};
use crate::wire::blocked;
use crate::wire::proxy::Proxy;
use crate::wire::resolve::io_reason;
use crate::wire::tls;

/// Sends the request in one write and reads back the head, both before
/// `deadline` (`timeout` is the limit it came from, named in a timeout
/// error). The answer has its headers applied; the [`Cut`] says whether its
/// head ended before its blank line, and how.
pub async fn exchange<S>(
    mut stream: S,
    request: &[u8],
    deadline: Instant,
    timeout: Duration,
    trace: &mut Trace,
) -> Result<(Response, Option<Cut>), CheckError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let send = async {
        stream.write_all(request).await?;
        stream.flush().await
    };
    timeout_at(deadline, send)
        .await
        .map_err(|_| CheckError::Timeout { phase: Phase::Write, limit: timeout })?
        .map_err(|e| read_write_error(Phase::Write, &e))?;
    let sent = Instant::now();
    let mut parser = HeadParser::new(wants_headers, keeps_header);
    let reading = read_head(&mut stream, &mut parser, Some((sent, trace)));
    match timeout_at(deadline, reading).await {
        Ok(read) => read?,
        // Headers only add: once the status line is in, it is the answer.
        Err(_) if parser.status().is_some() => parser.deadline(),
        Err(_) => return Err(CheckError::Timeout { phase: Phase::Read, limit: timeout }),
    }
    let head = parser.into_head().ok_or_else(|| CheckError::Protocol("no status line".into()))?;
    let mut response = head.response;
    apply_headers(&mut response, &head.headers);
    Ok((response, head.cut))
}

/// Asks an http proxy for a tunnel to `url`'s host and port; any answer but
/// 2xx is a `connect` error naming the proxy.
pub async fn open_tunnel(tcp: &mut TcpStream, url: &Url, proxy: &Proxy, address: SocketAddr) -> Result<(), CheckError> {
    let refused = |reason: String| CheckError::Connect { addr: address, reason };
    let connect = build_connect(url, proxy.authorization.as_deref()).map_err(CheckError::InvalidUrl)?;
    tcp.write_all(&connect).await.map_err(|e| refused(format!("proxy: {}", io_reason(&e))))?;
    // The whole head of a 2xx, since the tunnel starts right after it.
    let mut parser = HeadParser::new(|code| (200..300).contains(&code), |_| false);
    read_head(tcp, &mut parser, None).await.map_err(|e| refused(format!("proxy did not answer CONNECT: {e}")))?;
    let head = parser.into_head().ok_or_else(|| refused("proxy did not answer CONNECT".into()))?;
    if !(200..300).contains(&head.response.code) {
        return Err(refused(format!("proxy refused the tunnel: {}", head.response)));
    }
    if head.cut.is_some() {
        return Err(refused("proxy's answer to CONNECT did not end".into()));
    }
    Ok(())
}

/// Headers are read only when they change the answer: where a 3xx points,
/// and whether a 403/429/503 is a block.
fn wants_headers(code: u16) -> bool {
    (300..400).contains(&code) || matches!(code, 403 | 429 | 503)
}

/// The header fields an answer is made of: where a 3xx points, when to come
/// back, and the signatures of blocks. No other field is held in memory.
fn keeps_header(name: &str) -> bool {
    matches!(name, "location" | "retry-after") || blocked::SIGNATURE_HEADERS.contains(&name)
}

fn apply_headers(response: &mut Response, headers: &[(String, String)]) {
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    response.location = location(headers).filter(|_| (300..400).contains(&response.code));
    response.retry_after = header("retry-after").and_then(|v| retry_after_seconds(&v));
    response.blocked_by = blocked::blocked_by(response.code, headers);
}

/// The first `Location` with a value. An empty one (`Location:`, or only
/// white space) is no Location, as in curl: a 3xx without one is the final
/// answer, and following it would only come back to the same URL.
fn location(headers: &[(String, String)]) -> Option<String> {
    headers
        .iter()
        .find(|(name, value)| name == "location" && !value.trim().is_empty())
        .map(|(_, v)| v.trim().to_owned())
}

/// Feeds what the server sends into `parser` until the head is as complete
/// as it needs to be; notes the time to the first byte if given a trace.
/// Bytes after the head may be read and are dropped: we hang up after an
/// answer, and after CONNECT the server says nothing until our TLS hello.
async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    parser: &mut HeadParser,
    mut ttfb: Option<(Instant, &mut Trace)>,
) -> Result<(), CheckError> {
    let mut chunk = [0u8; 2048];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(read_write_error(Phase::Read, &e)),
        };
        if n == 0 {
            return parser.eof().map_err(CheckError::Protocol);
        }
        if let Some((sent, trace)) = ttfb.take() {
            trace.ttfb = Some(sent.elapsed());
        }
        if let Fed::Done { .. } = parser.feed(&chunk[..n]).map_err(CheckError::Protocol)? {
            return Ok(());
        }
    }
}

/// Why `-L` cannot go on from a redirect whose head ended before a
/// `Location`: following nothing would report the 3xx as the final answer.
pub fn location_cut(code: u16, cut: Cut, timeout: Duration) -> String {
    let why = match cut {
        Cut::Limit => format!("is over {} KiB", MAX_HEAD / 1024),
        Cut::Eof => "ended (the server closed the connection)".into(),
        Cut::Deadline => format!("was not complete after {}", HumanDuration(timeout)),
    };
    format!("the {code}'s head {why} and no Location came before that, so it cannot be followed")
}

fn read_write_error(phase: Phase, error: &io::Error) -> CheckError {
    match error.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(tls) => tls::failure(tls),
        None => CheckError::Io { phase, reason: io_reason(error) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_redirect_names_no_flag() {
        // src/app/flags.rs puts `-L` back by this ending.
        let why = location_cut(302, Cut::Eof, Duration::from_secs(1));
        assert!(why.ends_with(", so it cannot be followed") && !why.contains("-L"), "{why}");
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn an_empty_location_is_no_location() {
        for empty in ["", "   ", "\t"] {
            let mut response = Response::new(crate::result::HttpVersion::Http11, 301, "Moved");
            apply_headers(&mut response, &headers(&[("location", empty)]));
            assert_eq!(response.location, None, "{empty:?}");
        }
        // As in curl, the first Location with a value is the one.
        let found = location(&headers(&[("location", ""), ("server", "x"), ("location", " /next ")]));
        assert_eq!(found.as_deref(), Some("/next"));
    }

    #[test]
    fn headers_add_location_retry_after_and_blocks() {
        let mut response = Response::new(crate::result::HttpVersion::Http11, 503, "");
        let headers = vec![("retry-after".to_string(), "30".to_string()), ("server".into(), "nginx".into())];
        apply_headers(&mut response, &headers);
        assert_eq!((response.retry_after, response.blocked_by, response.location), (Some(30), None, None));
    }
}
