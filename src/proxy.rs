//! Proxies, as curl uses them: `--proxy URL` for every check, else the
//! environment (`http_proxy` for http URLs — lower case only, as curl, since
//! `HTTP_PROXY` can be set by a CGI request —, `HTTPS_PROXY`/`https_proxy`
//! for https, `ALL_PROXY`/`all_proxy` for both), minus the hosts in
//! `NO_PROXY`/`no_proxy`. https goes through a `CONNECT` tunnel; http is
//! sent to the proxy in absolute form.

use percent_encoding::percent_decode_str;
use url::Url;

/// A proxy to talk to: where it is, and its `Proxy-Authorization`, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proxy {
    pub url: Url,
    pub authorization: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Proxies {
    http: Option<Proxy>,
    https: Option<Proxy>,
    no_proxy: Vec<String>,
}

impl Proxies {
    /// `explicit` (from `--proxy`) wins over the environment, read by `env`.
    pub fn new(explicit: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Result<Proxies, String> {
        let first = |names: &[&str]| names.iter().find_map(|n| env(n).filter(|v| !v.trim().is_empty()));
        let all = first(&["ALL_PROXY", "all_proxy"]);
        let (http, https) = match explicit {
            Some(proxy) => (Some(proxy.to_owned()), Some(proxy.to_owned())),
            None => (first(&["http_proxy"]).or(all.clone()), first(&["HTTPS_PROXY", "https_proxy"]).or(all)),
        };
        let no_proxy = first(&["NO_PROXY", "no_proxy"]).unwrap_or_default();
        Ok(Proxies {
            http: http.map(|p| parse(&p)).transpose()?,
            https: https.map(|p| parse(&p)).transpose()?,
            no_proxy: no_proxy
                .split(',')
                .map(|h| h.trim().trim_start_matches('.').to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
        })
    }

    /// The proxy for `url`, or `None` to connect directly.
    pub fn for_url(&self, url: &Url) -> Option<&Proxy> {
        let proxy = if url.scheme() == "https" { self.https.as_ref() } else { self.http.as_ref() }?;
        let host = url.host_str()?.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let bypass = self.no_proxy.iter().any(|skip| {
            skip == "*" || host == *skip || host.strip_suffix(skip.as_str()).is_some_and(|rest| rest.ends_with('.'))
        });
        (!bypass).then_some(proxy)
    }
}

/// `http://[user:password@]host[:port]`; a bare `host:port` is taken as http.
fn parse(text: &str) -> Result<Proxy, String> {
    let text = text.trim();
    let with_scheme = if text.contains("://") { text.to_owned() } else { format!("http://{text}") };
    let url = Url::parse(&with_scheme).map_err(|e| format!("proxy '{text}' is not a URL: {e}"))?;
    if url.scheme() != "http" {
        return Err(format!("proxy '{text}': only http:// proxies are supported"));
    }
    if url.host_str().is_none() {
        return Err(format!("proxy '{text}' has no host"));
    }
    let authorization = (!url.username().is_empty()).then(|| {
        let decode = |text| percent_decode_str(text).decode_utf8_lossy().into_owned();
        let (user, password) = (decode(url.username()), decode(url.password().unwrap_or("")));
        format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
    });
    Ok(Proxy { url, authorization })
}

/// Standard base64 with padding, for `Proxy-Authorization: Basic`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    fn proxied(proxies: &Proxies, url: &str) -> Option<String> {
        proxies.for_url(&Url::parse(url).unwrap()).map(|p| p.url.to_string())
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn environment_like_curl() {
        let proxies = Proxies::new(None, env(&[("http_proxy", "p1:3128"), ("HTTPS_PROXY", "http://p2:8080")])).unwrap();
        assert_eq!(proxied(&proxies, "http://a.test/").as_deref(), Some("http://p1:3128/"));
        assert_eq!(proxied(&proxies, "https://a.test/").as_deref(), Some("http://p2:8080/"));
        let upper_http = Proxies::new(None, env(&[("HTTP_PROXY", "p1:3128")])).unwrap();
        assert_eq!(proxied(&upper_http, "http://a.test/"), None, "HTTP_PROXY is ignored, as curl does");
        let all = Proxies::new(None, env(&[("ALL_PROXY", "p3:1")])).unwrap();
        assert_eq!(proxied(&all, "https://a.test/").as_deref(), Some("http://p3:1/"));
    }

    #[test]
    fn explicit_wins_and_no_proxy_bypasses() {
        let vars = env(&[("https_proxy", "p2:1"), ("NO_PROXY", "internal.test, .corp.test,127.0.0.1")]);
        let proxies = Proxies::new(Some("http://p9:9"), vars).unwrap();
        assert_eq!(proxied(&proxies, "https://a.test/").as_deref(), Some("http://p9:9/"));
        assert_eq!(proxied(&proxies, "https://internal.test/"), None);
        assert_eq!(proxied(&proxies, "https://api.internal.test/"), None);
        assert_eq!(proxied(&proxies, "https://x.corp.test/"), None);
        assert_eq!(proxied(&proxies, "http://127.0.0.1:8080/"), None);
        assert!(proxied(&proxies, "https://notinternal.test/").is_some());
        let star = Proxies::new(Some("p:1"), env(&[("no_proxy", "*")])).unwrap();
        assert_eq!(proxied(&star, "https://a.test/"), None);
    }

    #[test]
    fn credentials_become_basic_authorization() {
        let proxy = parse("http://us%40er:p%3Ass@proxy.test:3128").unwrap();
        assert_eq!(proxy.authorization.as_deref(), Some(format!("Basic {}", base64(b"us@er:p:ss")).as_str()));
        assert!(parse("socks5://p:1").is_err());
        assert!(parse("http://").is_err());
    }
}
