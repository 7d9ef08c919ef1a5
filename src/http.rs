//! The bytes of HTTP/1.1 we speak: building the request and parsing the
//! status line. Pure functions, no I/O, so every rule is unit-tested.

use url::{Position, Url};

use crate::outcome::{HttpVersion, Response};

/// The longest status line we read before calling the response malformed.
pub const MAX_STATUS_LINE: usize = 8 * 1024;

/// The most of a response head (status line and headers) we ever read.
pub const MAX_HEAD: usize = 16 * 1024;

/// What to send besides the URL: method and headers, from the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestSpec {
    pub method: &'static str,
    /// Headers that replace the defaults of the same name or are added.
    pub headers: Vec<(String, String)>,
}

impl RequestSpec {
    pub fn get(user_agent: &str) -> Self {
        RequestSpec { method: "GET", headers: vec![("User-Agent".into(), user_agent.into())] }
    }
}

/// `Name: value`, as given to `-H`: a token for a name, and a value without
/// control characters (so no header can smuggle in another).
pub fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once(':').ok_or_else(|| format!("'{text}' is not 'Name: value'"))?;
    let is_tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(is_tchar) {
        return Err(format!("'{name}' is not a header name: use letters, digits and -"));
    }
    let value = value.trim();
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!("the value of '{name}' holds a control character (CR, LF, ...)"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

/// How many received bytes a protocol error quotes.
const QUOTE_LIMIT: usize = 64;

/// The whole request, built once so it goes out in a single write.
///
/// `Connection: close` because we read the head and hang up; the fragment is
/// never sent; user-info was stripped when the line was parsed. Every byte of
/// the target and Host is checked to be visible ASCII, so nothing in a URL can
/// inject a header, whatever the URL parser let through.
pub fn build_request(url: &Url, spec: &RequestSpec) -> Result<Vec<u8>, String> {
    build(url, spec, &url[Position::BeforePath..Position::AfterQuery], None)
}

/// The same request for an http proxy: the target in absolute form, and the
/// proxy's credentials if it has some.
pub fn build_proxy_request(url: &Url, spec: &RequestSpec, authorization: Option<&str>) -> Result<Vec<u8>, String> {
    build(url, spec, &url[..Position::AfterQuery], authorization)
}

/// `CONNECT host:port`, to open a tunnel through a proxy for https.
pub fn build_connect(url: &Url, authorization: Option<&str>) -> Result<Vec<u8>, String> {
    let host = url.host_str().ok_or("URL has no host")?;
    let authority = format!("{host}:{}", url.port_or_known_default().unwrap_or(443));
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(credentials) = authorization {
        request.push_str(&format!("Proxy-Authorization: {credentials}\r\n"));
    }
    request.push_str("\r\n");
    Ok(request.into_bytes())
}

fn build(url: &Url, spec: &RequestSpec, target: &str, authorization: Option<&str>) -> Result<Vec<u8>, String> {
    let target = if target.is_empty() { "/" } else { target };
    let host = url.host_str().ok_or("URL has no host")?;
    if let Some(bad) = target.bytes().chain(host.bytes()).find(|b| !b.is_ascii_graphic()) {
        return Err(format!("URL contains the byte {:?}, which cannot be sent in a request", char::from(bad)));
    }
    // `Url::port` is `None` when the port is the scheme's default.
    let host = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let mut headers: Vec<(&str, &str)> =
        vec![("Host", &host), ("User-Agent", ""), ("Accept", "*/*"), ("Connection", "close")];
    if let Some(credentials) = authorization {
        headers.push(("Proxy-Authorization", credentials));
    }
    for (name, value) in &spec.headers {
        match headers.iter_mut().find(|(known, _)| known.eq_ignore_ascii_case(name)) {
            Some(known) => known.1 = value,
            None => headers.push((name, value)),
        }
    }
    let mut request = Vec::with_capacity(128 + target.len() + host.len());
    for part in [spec.method, " ", target, " HTTP/1.1\r\n"] {
        request.extend_from_slice(part.as_bytes());
    }
    for (name, value) in headers.iter().filter(|(_, value)| !value.is_empty()) {
        for part in [name, ": ", value, "\r\n"] {
            request.extend_from_slice(part.as_bytes());
        }
    }
    request.extend_from_slice(b"\r\n");
    Ok(request)
}

/// Where the head ends in `buf`: the index just past its blank line
/// (`\r\n\r\n`, or `\n\n` from liberal servers).
pub fn head_end(buf: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for (i, &b) in buf.iter().enumerate() {
        if b == b'\n' {
            let line = &buf[line_start..i];
            if line.is_empty() || line == b"\r" {
                return Some(i + 1);
            }
            line_start = i + 1;
        }
    }
    None
}

/// The header fields of a head (after the status line), names lower-cased.
/// Lines that are not `name: value` are skipped: headers only ever add to an
/// answer we already have.
pub fn parse_headers(head: &[u8]) -> Vec<(String, String)> {
    head.split(|&b| b == b'\n')
        .skip(1)
        .filter_map(|line| {
            let line = String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line)).into_owned();
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect()
}

/// `Retry-After` in its delay-seconds form (the HTTP-date form is not read).
pub fn retry_after_seconds(value: &str) -> Option<u64> {
    value.trim().parse().ok()
}

/// Where the first line in `buf` ends: the length of the line without its
/// terminator. `\n` alone is accepted as well as `\r\n`.
pub fn line_end(buf: &[u8]) -> Option<usize> {
    let newline = buf.iter().position(|&b| b == b'\n')?;
    Some(if newline > 0 && buf[newline - 1] == b'\r' { newline - 1 } else { newline })
}

/// Whether `received` can still grow into a status line. Lets the reader give
/// up on `hello` or a TLS alert at once instead of waiting for a newline.
pub fn could_be_status_line(received: &[u8]) -> bool {
    const PREFIX: &[u8] = b"HTTP/1.";
    let n = received.len().min(PREFIX.len());
    received[..n] == PREFIX[..n]
}

/// Parses a status line (without its line ending), strictly:
/// `HTTP/1.0` or `HTTP/1.1`, one space, three digits from 100 to 599, then
/// nothing or a space and a reason phrase of printable UTF-8.
pub fn parse_status_line(line: &[u8]) -> Result<Response, String> {
    let malformed = || format!("malformed status line: {}", quote(line));
    let version = match line.get(..8) {
        Some(b"HTTP/1.1") => HttpVersion::Http11,
        Some(b"HTTP/1.0") => HttpVersion::Http10,
        _ => return Err(malformed()),
    };
    let (Some(b' '), Some(digits)) = (line.get(8), line.get(9..12)) else {
        return Err(malformed());
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(malformed());
    }
    let code = digits.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    if !(100..=599).contains(&code) {
        return Err(format!("status code {code} is outside 100-599: {}", quote(line)));
    }
    let reason = match &line[12..] {
        [] => "",
        [b' ', reason @ ..] => std::str::from_utf8(reason).map_err(|_| malformed())?,
        _ => return Err(malformed()),
    };
    if reason.chars().any(|c| c.is_control() && c != '\t') {
        return Err(malformed());
    }
    Ok(Response::new(version, code, reason))
}

/// The first bytes of a response, quoted and escaped so that control bytes and
/// invalid UTF-8 never reach a terminal raw: `"\x15\x03\x01"`.
pub fn quote(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(QUOTE_LIMIT)];
    let more = if bytes.len() > QUOTE_LIMIT { "..." } else { "" };
    format!("\"{}\"{more}", shown.escape_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(url: &str) -> String {
        let url = Url::parse(url).unwrap();
        String::from_utf8(build_request(&url, &RequestSpec::get("statuscheck/test")).unwrap()).unwrap()
    }

    fn first_two_lines(request: &str) -> Vec<&str> {
        request.split("\r\n").take(2).collect()
    }

    #[test]
    fn request_has_the_documented_shape() {
        assert_eq!(
            request("https://example.com/a/b?x=1&y=2"),
            "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\n\
             User-Agent: statuscheck/test\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn empty_path_is_slash_and_fragment_is_not_sent() {
        assert_eq!(first_two_lines(&request("http://example.com")), ["GET / HTTP/1.1", "Host: example.com"]);
        assert_eq!(
            first_two_lines(&request("http://example.com/p?q#frag")),
            ["GET /p?q HTTP/1.1", "Host: example.com"]
        );
    }

    #[test]
    fn host_carries_port_only_when_not_default() {
        assert_eq!(first_two_lines(&request("http://example.com:80/"))[1], "Host: example.com");
        assert_eq!(first_two_lines(&request("https://example.com:443/"))[1], "Host: example.com");
        assert_eq!(first_two_lines(&request("https://example.com:8443/"))[1], "Host: example.com:8443");
        assert_eq!(first_two_lines(&request("http://example.com:443/"))[1], "Host: example.com:443");
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        assert_eq!(first_two_lines(&request("http://[::1]:8080/x"))[1], "Host: [::1]:8080");
        assert_eq!(first_two_lines(&request("https://[2001:db8::1]/"))[1], "Host: [2001:db8::1]");
    }

    #[test]
    fn crlf_in_a_url_cannot_inject_a_header() {
        for url in [
            "http://example.com/a%0d%0aX-Injected: 1",
            "http://example.com/a\r\nX-Injected: 1",
            "http://example.com/?q=\r\nX-Injected:%201",
            "http://example.com/a b",
        ] {
            let text = request(url);
            assert_eq!(text.matches("\r\n").count(), 6, "{url:?} gave {text:?}");
            assert!(!text.contains("\r\nX-Injected"), "{url:?} gave {text:?}");
        }
    }

    #[test]
    fn method_and_headers_replace_or_add() {
        let url = Url::parse("http://example.com/").unwrap();
        let spec = RequestSpec {
            method: "HEAD",
            headers: vec![("user-agent".into(), "probe/1".into()), ("X-Token".into(), "abc".into())],
        };
        let text = String::from_utf8(build_request(&url, &spec).unwrap()).unwrap();
        assert_eq!(
            text,
            "HEAD / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: probe/1\r\nAccept: */*\r\n\
             Connection: close\r\nX-Token: abc\r\n\r\n"
        );
    }

    #[test]
    fn proxy_requests_use_absolute_form_and_connect() {
        let url = Url::parse("http://example.com:8080/p?q#f").unwrap();
        let text = String::from_utf8(build_proxy_request(&url, &RequestSpec::get("t"), Some("Basic eA==")).unwrap());
        let text = text.unwrap();
        assert!(text.starts_with("GET http://example.com:8080/p?q HTTP/1.1\r\nHost: example.com:8080\r\n"), "{text}");
        assert!(text.contains("\r\nProxy-Authorization: Basic eA==\r\n"));
        let https = Url::parse("https://example.com/x").unwrap();
        let connect = String::from_utf8(build_connect(&https, None).unwrap()).unwrap();
        assert_eq!(connect, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    }

    #[test]
    fn header_arguments_are_validated() {
        assert_eq!(parse_header("X-Trace:  on ").unwrap(), ("X-Trace".into(), "on".into()));
        assert_eq!(parse_header("Accept: text/html; q=1").unwrap().1, "text/html; q=1");
        for bad in ["NoColon", ": empty", "Bad Name: x", "X-A: a\r\nX-B: b", "X-A: a\nb", "Na:me\0: x"] {
            assert!(parse_header(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn heads_end_at_the_blank_line_and_headers_parse() {
        let head = b"HTTP/1.1 301 Moved\r\nLocation: /next\r\nServer:  cloudflare \r\nbogus\r\n\r\nbody";
        assert_eq!(head_end(head), Some(head.len() - 4));
        assert_eq!(head_end(b"HTTP/1.1 200 OK\nA: b\n\nbody"), Some(22));
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\nA: b\r\n"), None);
        let headers = parse_headers(&head[..head_end(head).unwrap()]);
        assert_eq!(headers, [("location".into(), "/next".into()), ("server".into(), "cloudflare".into())]);
    }

    #[test]
    fn line_end_accepts_crlf_and_bare_lf() {
        assert_eq!(line_end(b"HTTP/1.1 200 OK\r\nrest"), Some(15));
        assert_eq!(line_end(b"HTTP/1.1 200 OK\nrest"), Some(15));
        assert_eq!(line_end(b"\n"), Some(0));
        assert_eq!(line_end(b"HTTP/1.1 200 OK"), None);
    }

    #[test]
    fn status_line_prefix_detection() {
        assert!(could_be_status_line(b""));
        assert!(could_be_status_line(b"HT"));
        assert!(could_be_status_line(b"HTTP/1.1 200"));
        assert!(!could_be_status_line(b"hello"));
        assert!(!could_be_status_line(b"HTTP/2 200"));
        assert!(!could_be_status_line(b"\x15\x03\x03"));
    }

    #[test]
    fn good_status_lines_parse() {
        let ok = parse_status_line(b"HTTP/1.1 200 OK").unwrap();
        assert_eq!((ok.version, ok.code, ok.reason.as_str()), (HttpVersion::Http11, 200, "OK"));
        let r = parse_status_line(b"HTTP/1.0 404 Not Found").unwrap();
        assert_eq!((r.version, r.code, r.reason.as_str()), (HttpVersion::Http10, 404, "Not Found"));
        assert_eq!(parse_status_line(b"HTTP/1.1 204").unwrap().reason, "");
        assert_eq!(parse_status_line(b"HTTP/1.1 204 ").unwrap().reason, "");
        assert_eq!(parse_status_line(b"HTTP/1.1 599 Caf\xc3\xa9\tx").unwrap().reason, "Caf\u{e9}\tx");
        assert_eq!(parse_status_line(b"HTTP/1.1 100 Continue").unwrap().code, 100);
    }

    #[test]
    fn bad_status_lines_are_rejected_with_escaped_quote() {
        for line in [
            &b"hello"[..],
            b"HTTP/1.1 99 X",
            b"HTTP/1.1 1000 X",
            b"HTTP/1.1 600 X",
            b"HTTP/2 200",
            b"HTTP/1.2 200 OK",
            b"http/1.1 200 OK",
            b"HTTP/1.1  200 OK",
            b"HTTP/1.1 2x0 OK",
            b"HTTP/1.1 200OK",
            b"HTTP/1.1 200 O\0K",
            b"HTTP/1.1 200 \xff\xfe",
            b"HTTP/1.1 200 a\x1b[31m",
            b"",
        ] {
            let err = parse_status_line(line).unwrap_err();
            assert!(!err.chars().any(|c| c.is_control()), "raw control in {err:?}");
            assert!(err.contains('"'), "{err}");
        }
    }

    #[test]
    fn quote_escapes_and_truncates() {
        assert_eq!(quote(b"a\0\xff\r\n\""), r#""a\x00\xff\r\n\"""#);
        let long = quote(&[b'x'; 100]);
        assert!(long.ends_with("\"...") && long.len() == 64 + 5);
    }
}
