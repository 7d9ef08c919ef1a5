//! URL text read before (and besides) the `url` crate's WHATWG parsing,
//! where that parsing hides what a URL says or explains it badly: an empty
//! authority (`http:////host/`, which it quietly reads as `http://host/`),
//! and a host name ending in a number (which it reads as a bad IPv4 address).

/// Whether `text`, a URL or a reference to resolve, names an http(s)
/// authority with an empty host: `http:///a`, `http:////host/`, `//` or
/// `//:80/x`. RFC 9110 4.2.1: a recipient MUST reject an http(s) URI with an
/// empty host. WHATWG parsing skips any number of slashes after `http:`, so
/// `http:////host/` would come out as `http://host/`: only the text shows it.
pub fn has_empty_host(text: &str) -> bool {
    let rest = match scheme_and_rest(text) {
        Some((scheme, rest)) if is_http(scheme) => rest,
        // Another scheme is refused for that reason, later.
        Some(_) => return false,
        None => text,
    };
    match authority(rest) {
        Some(authority) => host_of(authority).is_empty(),
        None => false,
    }
}

/// Why `text` does not parse as a URL, in words: the `url` crate's own
/// message, except for a host whose last label is a number. The URL standard
/// reads `host.example.com.1150` as an IPv4 address in a short form and
/// refuses it as an invalid one, which names neither the host nor the way out.
pub fn explain_parse_error(text: &str, error: url::ParseError) -> String {
    if error != url::ParseError::InvalidIpv4Address {
        return error.to_string();
    }
    let host = authority(scheme_and_rest(text).map_or(text, |(_, rest)| rest)).map(host_of);
    match host {
        Some(host) if ends_in_a_number(host) => format!(
            "'{}' ends in a number, which URLs read as an IPv4 address, and it is not a valid one: \
             an IPv4 address is four numbers from 0 to 255 (192.0.2.1); a host name whose last label \
             is all digits cannot be checked (curl looks it up as a name)",
            host.escape_debug()
        ),
        Some(host) => format!("'{}' is not a valid IPv4 address", host.escape_debug()),
        None => error.to_string(),
    }
}

/// `(scheme, rest after the colon)` when `text` starts with a scheme.
fn scheme_and_rest(text: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = text.split_once(':')?;
    let is_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    is_scheme.then_some((scheme, rest))
}

fn is_http(scheme: &str) -> bool {
    scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
}

/// The authority after a leading `//` (WHATWG also takes `\` for `/` in
/// http URLs), to the first `/`, `\`, `?` or `#`; `None` without `//`.
fn authority(rest: &str) -> Option<&str> {
    let is_slash = |c: char| c == '/' || c == '\\';
    let mut chars = rest.chars();
    if !(chars.next().is_some_and(is_slash) && chars.next().is_some_and(is_slash)) {
        return None;
    }
    let after = &rest[2..];
    let end = after.find(['/', '\\', '?', '#']).unwrap_or(after.len());
    Some(&after[..end])
}

/// The host of an authority: without user-info and port (an IPv6 literal
/// keeps its brackets and colons).
fn host_of(authority: &str) -> &str {
    let host = authority.rfind('@').map_or(authority, |at| &authority[at + 1..]);
    if host.starts_with('[') {
        return host;
    }
    host.rsplit_once(':').map_or(host, |(host, _port)| host)
}

/// The URL standard's "ends in a number": the last label (after one
/// trailing dot is dropped) is all digits, or `0x` and hex digits. Only a
/// name with some other label is a name ending in one; `1.2.3.999` is an
/// address written wrong.
fn ends_in_a_number(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let is_number = |label: &str| {
        let hex = label.strip_prefix("0x").or_else(|| label.strip_prefix("0X"));
        match hex {
            Some(digits) => digits.chars().all(|c| c.is_ascii_hexdigit()),
            None => !label.is_empty() && label.chars().all(|c| c.is_ascii_digit()),
        }
    };
    let mut labels = host.split('.');
    labels.next_back().is_some_and(is_number) && labels.any(|label| !is_number(label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_hosts_are_seen_in_the_text() {
        for text in [
            "http:////127.0.0.1/a",
            "https:////host/",
            "HTTP:///a",
            "http://",
            "http://:80/x",
            "http://user@/x",
            "//",
            "///host/x",
            "//:8080",
            "http:\\\\\\host",
        ] {
            assert!(has_empty_host(text), "{text}");
        }
        for text in [
            "http://host/",
            "https://[::1]:8443/",
            "//host/p",
            "/path",
            "path//x",
            "?q=//",
            "http:/host",
            "ftp:////x",
            "",
            "http://u:p@h/",
        ] {
            assert!(!has_empty_host(text), "{text}");
        }
    }

    fn error_for(text: &str) -> String {
        let error = url::Url::parse(text).unwrap_err();
        explain_parse_error(text, error)
    }

    #[test]
    fn a_host_ending_in_a_number_is_explained() {
        let message = error_for("http://host.example.com.1150/x");
        assert!(message.starts_with("'host.example.com.1150' ends in a number, which URLs read as an IPv4 address"));
        assert!(message.contains("curl looks it up as a name"), "{message}");
        for text in ["https://u:p@a.b.0x1f2:8080/", "http://name.0x1f./", "https://a.1/"] {
            let message = error_for(text);
            assert!(message.contains("ends in a number"), "{text}: {message}");
            assert!(!message.contains("u:p"), "no user-info: {message}");
        }
    }

    #[test]
    fn other_parse_errors_keep_their_words() {
        assert_eq!(error_for("http://1.2.3.999/"), "'1.2.3.999' is not a valid IPv4 address");
        assert_eq!(error_for("http://a b/"), url::Url::parse("http://a b/").unwrap_err().to_string());
        assert_eq!(error_for("http://host:99999/"), url::ParseError::InvalidPort.to_string());
    }

    #[test]
    fn the_number_rule_reads_labels_as_the_url_standard_does() {
        assert!(ends_in_a_number("a.b.1150"));
        assert!(ends_in_a_number("a.0x1f."));
        assert!(ends_in_a_number("a.0x"));
        assert!(!ends_in_a_number("1.2.3.4"), "an address, not a name");
        assert!(!ends_in_a_number("a.b.c"));
        assert!(!ends_in_a_number("a.1b"));
        assert!(!ends_in_a_number("1150"));
    }
}
