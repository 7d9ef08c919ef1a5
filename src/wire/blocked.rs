//! Blocked or down? CDNs and bot defences answer with 403, 429 or 503
//! challenges that look like outages. These are the header signatures we
//! recognise; each is documented in the README, so a script can tell "up but
//! refusing us" from "down".

/// The header fields the signatures below look at (lower-cased): the only
/// ones besides `Location` and `Retry-After` a check keeps.
pub const SIGNATURE_HEADERS: &[&str] = &["server", "cf-mitigated", "x-datadome", "x-sucuri-id", "x-amzn-waf-action"];

/// Who blocked us, judged from the code and the (lower-cased) headers;
/// `None` when nothing known matches, or for other codes.
pub fn blocked_by(code: u16, headers: &[(String, String)]) -> Option<&'static str> {
    if !matches!(code, 403 | 429 | 503) {
        return None;
    }
    let header = |name: &str| {
        // A name missing from the list would never reach us: checks drop it.
        debug_assert!(SIGNATURE_HEADERS.contains(&name), "{name} is not in SIGNATURE_HEADERS");
        headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.to_ascii_lowercase())
    };
    let has = |name: &str| header(name).is_some();
    let server = header("server").unwrap_or_default();
    if header("cf-mitigated").as_deref() == Some("challenge") || (server == "cloudflare" && code != 429) {
        return Some("cloudflare");
    }
    if has("x-datadome") || server.contains("datadome") {
        return Some("datadome");
    }
    if has("x-sucuri-id") || server.contains("sucuri") {
        return Some("sucuri");
    }
    if server.starts_with("akamaighost") && code == 403 {
        return Some("akamai");
    }
    if has("x-amzn-waf-action") {
        return Some("aws-waf");
    }
    if server.contains("ddos-guard") {
        return Some("ddos-guard");
    }
    // A 429 is a rate limit by definition. A 503's `Retry-After` only says
    // how long the site expects to be down (RFC 9110 10.2.3); caches add it
    // to every error page they make, so alone it is no sign of a block.
    (code == 429).then_some("rate-limit")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn known_signatures() {
        assert_eq!(blocked_by(403, &headers(&[("cf-mitigated", "challenge")])), Some("cloudflare"));
        assert_eq!(blocked_by(503, &headers(&[("server", "cloudflare")])), Some("cloudflare"));
        assert_eq!(blocked_by(403, &headers(&[("server", "AkamaiGHost")])), Some("akamai"));
        assert_eq!(blocked_by(403, &headers(&[("x-datadome", "protected")])), Some("datadome"));
        assert_eq!(blocked_by(429, &headers(&[("retry-after", "30")])), Some("rate-limit"));
        assert_eq!(blocked_by(429, &[]), Some("rate-limit"));
        assert_eq!(blocked_by(429, &headers(&[("server", "cloudflare")])), Some("rate-limit"));
        assert_eq!(blocked_by(503, &headers(&[("retry-after", "120"), ("x-datadome", "1")])), Some("datadome"));
    }

    #[test]
    fn a_503_with_only_retry_after_is_down_not_blocked() {
        assert_eq!(blocked_by(503, &headers(&[("retry-after", "120")])), None);
        assert_eq!(blocked_by(503, &headers(&[("retry-after", "120"), ("server", "nginx")])), None);
    }

    #[test]
    fn plain_errors_and_other_codes_are_not_blocks() {
        assert_eq!(blocked_by(503, &headers(&[("server", "nginx")])), None);
        assert_eq!(blocked_by(403, &headers(&[("retry-after", "5")])), None);
        assert_eq!(blocked_by(200, &headers(&[("cf-mitigated", "challenge")])), None);
        assert_eq!(blocked_by(500, &headers(&[("server", "cloudflare")])), None);
    }
}
