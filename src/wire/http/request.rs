//! The requests we send: built whole from the URL and the command line's
//! method and headers, so each goes out in one write, with nothing in a
//! URL or `-H` able to inject a header. Pure functions, no I/O.

use url::{Position, Url};

use crate::result::SetupError;

/// What to send besides the URL: method and headers, from the command line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestSpec {
    pub method: &'static str,
    /// `-A` (or ours): sent to every hop of a redirect chain, as curl does.
    pub user_agent: String,
    /// `-H`: headers that replace the defaults of the same name or are added.
    /// They may hold secrets, so they go only to the origin they were given
    /// for (see `check::sends_user_headers`).
    pub headers: Vec<(String, String)>,
    /// `--location-trusted`: send `headers` to every hop, except after a
    /// downgrade from https to http.
    pub location_trusted: bool,
}

impl RequestSpec {
    pub fn get(user_agent: &str) -> Self {
        RequestSpec { method: "GET", user_agent: user_agent.into(), headers: Vec::new(), location_trusted: false }
    }
}

/// `Name: value`, as given to `-H`: a token for a name, and a value without
/// control characters (so no header can smuggle in another).
pub fn parse_header(text: &str) -> Result<(String, String), SetupError> {
    header(text).map_err(SetupError::Header)
}

fn header(text: &str) -> Result<(String, String), String> {
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

/// The whole request, built once so it goes out in a single write.
///
/// `Connection: close` because we read the head and hang up; the fragment is
/// never sent; user-info was stripped when the line was parsed. Every byte of
/// the target and Host is checked to be visible ASCII, so nothing in a URL can
/// inject a header, whatever the URL parser let through. The `-H` headers go
/// in only when `user_headers` says so.
pub fn build_request(url: &Url, spec: &RequestSpec, user_headers: bool) -> Result<Vec<u8>, String> {
    build(url, spec, user_headers, &url[Position::BeforePath..Position::AfterQuery], None)
}

/// The same request for an http proxy: the target in absolute form, and the
/// proxy's credentials if it has some.
pub fn build_proxy_request(
    url: &Url,
    spec: &RequestSpec,
    user_headers: bool,
    authorization: Option<&str>,
) -> Result<Vec<u8>, String> {
    build(url, spec, user_headers, &url[..Position::AfterQuery], authorization)
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

fn build(
    url: &Url,
    spec: &RequestSpec,
    user_headers: bool,
    target: &str,
    authorization: Option<&str>,
) -> Result<Vec<u8>, String> {
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
        vec![("Host", &host), ("User-Agent", &spec.user_agent), ("Accept", "*/*"), ("Connection", "close")];
    if let Some(credentials) = authorization {
        headers.push(("Proxy-Authorization", credentials));
    }
    let user = if user_headers { &spec.headers[..] } else { &[] };
    for (name, value) in user {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(url: &str) -> String {
        let url = Url::parse(url).unwrap();
        String::from_utf8(build_request(&url, &RequestSpec::get("statuscheck/test"), true).unwrap()).unwrap()
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
            user_agent: "a/1".into(),
            headers: vec![("user-agent".into(), "probe/1".into()), ("X-Token".into(), "abc".into())],
            location_trusted: false,
        };
        let text = String::from_utf8(build_request(&url, &spec, true).unwrap()).unwrap();
        assert_eq!(
            text,
            "HEAD / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: probe/1\r\nAccept: */*\r\n\
             Connection: close\r\nX-Token: abc\r\n\r\n"
        );
        // Without the -H headers (another origin): the defaults and -A's agent.
        let text = String::from_utf8(build_request(&url, &spec, false).unwrap()).unwrap();
        assert_eq!(
            text,
            "HEAD / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: a/1\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn proxy_requests_use_absolute_form_and_connect() {
        let url = Url::parse("http://example.com:8080/p?q#f").unwrap();
        let text =
            String::from_utf8(build_proxy_request(&url, &RequestSpec::get("t"), true, Some("Basic eA==")).unwrap());
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
}
