//! One HTTP/1.1 exchange on a connected stream: the request written, the
//! response head read (under the check's deadline, keeping only the fields
//! an answer is made of) and applied to the [`Response`]; with header or
//! body expectations, the whole head and a bounded prefix of the body
//! ([`exchange_content`]); and the `CONNECT` that opens a proxy's tunnel
//! before TLS. The engine connects and decides what to do with the answer;
//! the bytes in between are this module's.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use url::Url;

use super::body::{has_body, BodyCut, BodyReader};
use super::{build_connect, retry_after_seconds, Cut, Fed, Fields, Fixed, HeadParser, LONGEST_KEPT_NAME};
use crate::result::{CheckError, Phase, Policy, Response, Trace};
use crate::wire::blocked;
use crate::wire::proxy::Proxy;
use crate::wire::resolve::io_reason;
use crate::wire::tls;

/// The head an answer needs: the headers of the codes [`wants_headers`]
/// names, the fields [`keeps_header`] names.
const ANSWER: Fixed = Fixed { reads: wants_headers, keeps: keeps_header };

/// The head of a proxy's answer to `CONNECT`: the whole head of a 2xx,
/// since the tunnel starts right after it.
const TUNNEL: Fixed = Fixed { reads: |code| (200..300).contains(&code), keeps: |_| false };

/// The size of the reads of a body: a body prefix is up to 64 KiB, and
/// this buffer is in the content exchange's future, on the heap.
const BODY_READ: usize = 8192;

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
    send(&mut stream, request, deadline, timeout).await?;
    let sent = Instant::now();
    let mut parser = HeadParser::new(&ANSWER);
    let reading = read_head(&mut stream, &mut parser, Some((sent, trace)), |_| {});
    match timeout_at(deadline, reading).await {
        Ok(read) => read?,
        Err(_) => head_deadline(&mut parser, timeout)?,
    }
    let head = parser.into_head().ok_or_else(|| CheckError::Protocol("no status line".into()))?;
    let mut response = head.response;
    apply_headers(&mut response, &head.headers);
    Ok((response, head.cut))
}

/// What a check with header or body expectations reads of an answer.
#[derive(Clone, Copy, Debug)]
pub struct Reading<'a> {
    /// The expectations: the fields their header rules name are kept (with
    /// the whole head read, whatever the code), and a body prefix is read
    /// if they have body rules.
    pub policy: &'a Policy,
    /// Redirects are followed (`-L`): a redirect with a `Location` is not
    /// the final answer, so its body is not read.
    pub follow: bool,
}

/// An answer with what its expectations need of it.
#[derive(Debug)]
pub struct Exchanged {
    pub response: Response,
    /// Whether the head ended before its blank line, and how.
    pub cut: Option<Cut>,
    /// What was read for the expectations; `None` for a redirect that will
    /// be followed (expectations are of the final answer).
    pub content: Option<Content>,
}

/// What was read for the expectations of a final answer.
#[derive(Debug)]
pub struct Content {
    /// The fields kept: the expected ones, and those an answer is made of.
    pub headers: Vec<(String, String)>,
    /// Up to [`crate::result::BODY_LIMIT`] bytes of the body, framing taken
    /// off; `None` when no body was read: none expected, or an answer that
    /// has none (to `HEAD`, a 204, a 304).
    pub body: Option<Vec<u8>>,
    /// Why the body was read only in part, if it was.
    pub body_cut: Option<BodyCut>,
}

/// [`exchange`] for a check with header or body expectations: the whole
/// head for every code, then, for body rules, the body until its end, the
/// limit, the end of the connection or the deadline, whichever comes first
/// (what was read by then is the body judged). The answer itself is what
/// [`exchange`] would make of the same head.
pub async fn exchange_content<S>(
    mut stream: S,
    request: &[u8],
    (deadline, timeout): (Instant, Duration),
    trace: &mut Trace,
    reading: Reading<'_>,
) -> Result<Exchanged, CheckError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    send(&mut stream, request, deadline, timeout).await?;
    let sent = Instant::now();
    let expected = Expected(reading.policy);
    let mut parser = HeadParser::new(&expected);
    let mut first = Vec::new();
    let head_read = read_head(&mut stream, &mut parser, Some((sent, trace)), |rest| first.extend_from_slice(rest));
    match timeout_at(deadline, head_read).await {
        Ok(read) => read?,
        Err(_) => head_deadline(&mut parser, timeout)?,
    }
    let head = parser.into_head().ok_or_else(|| CheckError::Protocol("no status line".into()))?;
    let mut response = head.response;
    if wants_headers(response.code) {
        apply_headers(&mut response, &head.headers);
    }
    if reading.follow && is_redirect(response.code) && response.location.is_some() {
        return Ok(Exchanged { response, cut: head.cut, content: None });
    }
    let (body, body_cut) = match head.cut {
        _ if !reading.policy.reads_body() || !has_body(request, response.code) => (None, None),
        Some(cut) => (Some(Vec::new()), Some(BodyCut::Head(cut, timeout))),
        None => {
            let mut reader = BodyReader::new(&head.headers);
            if !reader.feed(&first) && timeout_at(deadline, read_body(&mut stream, &mut reader)).await.is_err() {
                reader.stop(BodyCut::Deadline(timeout));
            }

            let (bytes, cut) = reader.finish();
            (Some(bytes), cut)
        }
    };
    let content = Content { headers: head.headers, body, body_cut };
    Ok(Exchanged { response, cut: head.cut, content: Some(content) })
}

/// Whether an answer with this code is a redirect to follow, given a `Location`.
pub fn is_redirect(code: u16) -> bool {
    matches!(code, 301 | 302 | 303 | 307 | 308)
}

/// The head of a check with expectations: every code's whole, keeping
/// what an answer is made of, the body's framing and the expected fields.
struct Expected<'a>(&'a Policy);

impl Fields for Expected<'_> {
    fn reads(&self, _: u16) -> bool {
        true
    }

    fn keeps(&self, name: &str) -> bool {
        keeps_header(name) || matches!(name, "content-length" | "transfer-encoding") || self.0.expects_header(name)
    }

    fn longest_name(&self) -> usize {
        let expected = self.0.headers.iter().map(|(name, _)| name.len());
        expected.max().unwrap_or(0).max(LONGEST_KEPT_NAME)
    }
}

/// Writes the whole request before `deadline`.
async fn send<S>(stream: &mut S, request: &[u8], deadline: Instant, timeout: Duration) -> Result<(), CheckError>
where
    S: AsyncWrite + Unpin,
{
    let send = async {
        stream.write_all(request).await?;
        stream.flush().await
    };
    timeout_at(deadline, send)
        .await
        .map_err(|_| CheckError::Timeout { phase: Phase::Write, limit: timeout })?
        .map_err(|e| read_write_error(Phase::Write, &e))
}

/// The deadline came while the head was read: a timeout before the status
/// line; after it, the head read so far (headers only add: once the status
/// line is in, it is the answer), with no body.
fn head_deadline(parser: &mut HeadParser<'_>, timeout: Duration) -> Result<(), CheckError> {
    match parser.status() {
        Some(_) => {
            parser.deadline();
            Ok(())
        }
        None => Err(CheckError::Timeout { phase: Phase::Read, limit: timeout }),
    }
}

/// Feeds the body into `reader` until it is as complete as it will be. A
/// failed read ends it as a cut: the answer is in, the body only adds.
async fn read_body<S: AsyncRead + Unpin>(stream: &mut S, reader: &mut BodyReader) {
    let mut chunk = [0u8; BODY_READ];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) => return reader.eof(),
            Ok(n) if reader.feed(&chunk[..n]) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return reader.eof(),
            Err(e) => return reader.stop(BodyCut::Failed(io_reason(&e))),
        }
    }
}

/// Asks an http proxy for a tunnel to `url`'s host and port; any answer but
/// 2xx is a `connect` error naming the proxy.
pub async fn open_tunnel(tcp: &mut TcpStream, url: &Url, proxy: &Proxy, address: SocketAddr) -> Result<(), CheckError> {
    let refused = |reason: String| CheckError::Connect { addr: address, reason };
    let connect = build_connect(url, proxy.authorization.as_deref()).map_err(CheckError::InvalidUrl)?;
    tcp.write_all(&connect).await.map_err(|e| refused(format!("proxy: {}", io_reason(&e))))?;
    let mut parser = HeadParser::new(&TUNNEL);
    read_head(tcp, &mut parser, None, |_| {})
        .await
        .map_err(|e| refused(format!("proxy did not answer CONNECT: {e}")))?;
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
/// and whether a 403/429/503 is a block (a check with header or body
/// expectations reads every head whole, but applies only these).
fn wants_headers(code: u16) -> bool {
    (300..400).contains(&code) || matches!(code, 403 | 429 | 503)
}

/// The header fields an answer is made of: where a 3xx points, when to come
/// back, and the signatures of blocks. No other field is held in memory,
/// but those a check's expectations name (see [`Expected`]).
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
/// The bytes read after the head go to `rest`: the body's first, which only
/// body expectations read (we hang up after an answer, and after CONNECT
/// the server says nothing until our TLS hello).
async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    parser: &mut HeadParser<'_>,
    mut ttfb: Option<(Instant, &mut Trace)>,
    rest: impl FnOnce(&[u8]),
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
        if let Fed::Done { used } = parser.feed(&chunk[..n]).map_err(CheckError::Protocol)? {
            rest(&chunk[used..n]);
            return Ok(());
        }
    }
}

/// Why `-L` cannot go on from a redirect whose head ended before a
/// `Location`: following nothing would report the 3xx as the final answer.
pub fn location_cut(code: u16, cut: Cut, timeout: Duration) -> String {
    let why = cut.describe(timeout);
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
