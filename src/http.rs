//! The bytes of HTTP/1.1 we speak: building the request and parsing the
//! status line. Pure functions, no I/O, so every rule is unit-tested.

use url::{Position, Url};

use crate::outcome::{HttpVersion, Response};

/// The longest status line we read before calling the response malformed.
pub const MAX_STATUS_LINE: usize = 8 * 1024;

/// How many received bytes a protocol error quotes.
const QUOTE_LIMIT: usize = 64;

/// The whole request, built once so it goes out in a single write.
///
/// `Connection: close` because we read one line and hang up; the fragment is
/// never sent; user-info was stripped when the line was parsed. Every byte of
/// the target and Host is checked to be visible ASCII, so nothing in a URL can
/// inject a header, whatever the URL parser let through.
pub fn build_request(url: &Url, user_agent: &str) -> Result<Vec<u8>, String> {
    let target = &url[Position::BeforePath..Position::AfterQuery];
    let target = if target.is_empty() { "/" } else { target };
    let host = url.host_str().ok_or("URL has no host")?;
    if let Some(bad) = target.bytes().chain(host.bytes()).find(|b| !b.is_ascii_graphic()) {
        return Err(format!("URL contains the byte {:?}, which cannot be sent in a request", char::from(bad)));
    }
    let mut request = Vec::with_capacity(96 + target.len() + host.len() + user_agent.len());
    request.extend_from_slice(b"GET ");
    request.extend_from_slice(target.as_bytes());
    request.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    request.extend_from_slice(host.as_bytes());
    // `Url::port` is `None` when the port is the scheme's default.
    if let Some(port) = url.port() {
        request.extend_from_slice(format!(":{port}").as_bytes());
    }
    request.extend_from_slice(b"\r\nUser-Agent: ");
    request.extend_from_slice(user_agent.as_bytes());
    request.extend_from_slice(b"\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    Ok(request)
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
    Ok(Response { version, code, reason: reason.to_owned() })
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
        String::from_utf8(build_request(&url, "statuscheck/test").unwrap()).unwrap()
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
