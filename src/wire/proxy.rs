//! Proxies, as curl uses them: `--proxy URL` for every check, else the
//! environment (`http_proxy` for http URLs — lower case only, as curl, since
//! `HTTP_PROXY` can be set by a CGI request —, `HTTPS_PROXY`/`https_proxy`
//! for https, `ALL_PROXY`/`all_proxy` for both), minus the hosts in
//! `NO_PROXY`/`no_proxy`. https goes through a `CONNECT` tunnel; http is
//! sent to the proxy in absolute form.

use percent_encoding::percent_decode_str;
use url::Url;

use super::mask_userinfo;
use crate::result::SetupError;

/// A proxy to talk to: where it is, and its `Proxy-Authorization`, if any.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub url: Url,
    pub authorization: Option<String>,
}

/// Credentials masked: `Proxies` and `Options` print with `{:?}`.
impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("url", &mask_userinfo(self.url.as_str(), true))
            .field("authorization", &self.authorization.as_ref().map(|_| "***"))
            .finish()
    }
}

/// How URLs of one scheme are reached.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Route {
    Via(Proxy),
    /// A proxy from the environment that we cannot use (socks, not a URL):
    /// each URL it applies to fails with this message instead of the whole
    /// run, since the variable may be meant for other programs.
    Unusable(String),
}

/// Which proxy each URL goes through, as curl chooses (see [`Proxies::new`]);
/// the default is none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Proxies {
    http: Option<Route>,
    https: Option<Route>,
    no_proxy: Vec<String>,
}

impl Proxies {
    /// `explicit` (from `--proxy`) wins over the environment, read by `env`.
    /// Only an unusable `--proxy` is an error; messages never show credentials.
    pub fn new(explicit: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Result<Proxies, SetupError> {
        let first = |names: &[&'static str]| {
            names.iter().find_map(|&n| env(n).filter(|v| !v.trim().is_empty()).map(|v| (n, v)))
        };
        let (http, https) = match explicit {
            Some(text) => {
                let route = Route::Via(parse(text).map_err(|reason| SetupError::Proxy { reason })?);
                (Some(route.clone()), Some(route))
            }
            None => {
                let all = first(&["ALL_PROXY", "all_proxy"]);
                let http = first(&["http_proxy"]).or(all.clone());
                let https = first(&["HTTPS_PROXY", "https_proxy"]).or(all);
                (http.map(from_env), https.map(from_env))
            }
        };
        let no_proxy = first(&["NO_PROXY", "no_proxy"]).map(|(_, v)| v).unwrap_or_default();
        Ok(Proxies {
            http,
            https,
            no_proxy: no_proxy
                .split(',')
                .map(|h| h.trim().trim_start_matches('.').to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
        })
    }

    /// Why a proxy from the environment will not be used, once per proxy,
    /// for a warning at the start of the run; none when `NO_PROXY` is `*`.
    pub fn warnings(&self) -> Vec<&str> {
        let mut warnings = Vec::new();
        if self.no_proxy.iter().any(|skip| skip == "*") {
            return warnings;
        }
        for route in [&self.http, &self.https].into_iter().flatten() {
            if let Route::Unusable(reason) = route {
                if !warnings.contains(&reason.as_str()) {
                    warnings.push(reason.as_str());
                }
            }
        }
        warnings
    }

    /// The proxy for `url`, or `None` to connect directly; an error (masked)
    /// when the environment names a proxy for it that we cannot use.
    pub fn for_url(&self, url: &Url) -> Result<Option<&Proxy>, &str> {
        let route = if url.scheme() == "https" { self.https.as_ref() } else { self.http.as_ref() };
        let Some(route) = route else { return Ok(None) };
        let Some(host) = url.host_str() else { return Ok(None) };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let bypass = self.no_proxy.iter().any(|skip| {
            skip == "*" || host == *skip || host.strip_suffix(skip.as_str()).is_some_and(|rest| rest.ends_with('.'))
        });
        match route {
            _ if bypass => Ok(None),
            Route::Via(proxy) => Ok(Some(proxy)),
            Route::Unusable(reason) => Err(reason),
        }
    }
}

/// A proxy named by environment variable `name`.
fn from_env((name, text): (&str, String)) -> Route {
    match parse(&text) {
        Ok(proxy) => Route::Via(proxy),
        Err(reason) => Route::Unusable(format!("{name} proxy {reason}")),
    }
}

/// `http://[user:password@]host[:port]`; a bare `host:port` is taken as http.
/// An error starts with the proxy, its user-info masked.
fn parse(text: &str) -> Result<Proxy, String> {
    let text = text.trim();
    let shown = mask_userinfo(text, false);
    let with_scheme = if text.contains("://") { text.to_owned() } else { format!("http://{text}") };
    let url = Url::parse(&with_scheme).map_err(|e| format!("{shown} is not a URL: {e}"))?;
    if url.scheme() != "http" {
        return Err(format!("{shown} is not supported (only http://)"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{shown} has no host"));
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
        proxies.for_url(&Url::parse(url).unwrap()).unwrap().map(|p| p.url.to_string())
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

    #[test]
    fn debug_never_shows_proxy_credentials() {
        let proxies = Proxies::new(Some("http://alice:S3cretPW@p.test:3128"), env(&[])).unwrap();
        let debug = format!("{proxies:?}");
        assert!(!debug.contains("S3cretPW") && !debug.contains("Basic") && debug.contains("***@p.test"), "{debug}");
    }

    #[test]
    fn messages_never_show_proxy_credentials() {
        let explicit = Proxies::new(Some("socks5://alice:S3cretPW@p.test:1080"), env(&[])).unwrap_err();
        let SetupError::Proxy { reason } = &explicit else { panic!("{explicit:?}") };
        assert_eq!(reason, "socks5://***@p.test:1080 is not supported (only http://)");
        assert_eq!(explicit.to_string(), format!("the proxy {reason}"));
        for bad in ["alice:S3cretPW@p.test:port", "http://alice:S3cretPW@", "http://alice:S3cretPW@/x"] {
            let message = parse(bad).unwrap_err();
            assert!(!message.contains("S3cretPW") && message.contains("***@"), "{message}");
        }
    }

    #[test]
    fn an_unusable_proxy_from_the_environment_fails_only_the_urls_it_applies_to() {
        let vars = env(&[("ALL_PROXY", "socks5://alice:S3cretPW@p.test:1080"), ("http_proxy", "p1:3128")]);
        let proxies = Proxies::new(None, vars).unwrap();
        let message = "ALL_PROXY proxy socks5://***@p.test:1080 is not supported (only http://)";
        assert_eq!(proxies.warnings(), [message]);
        assert_eq!(proxies.for_url(&Url::parse("https://a.test/").unwrap()), Err(message));
        assert_eq!(proxied(&proxies, "http://a.test/").as_deref(), Some("http://p1:3128/"));
        let bypassed = Proxies::new(None, env(&[("all_proxy", "socks5://p:1"), ("NO_PROXY", "*")])).unwrap();
        assert_eq!(proxied(&bypassed, "https://a.test/"), None, "NO_PROXY wins");
        assert!(bypassed.warnings().is_empty(), "nothing to warn about: no URL uses it");
        let both = Proxies::new(None, env(&[("all_proxy", "socks5://p:1")])).unwrap();
        assert_eq!(both.warnings().len(), 1, "one warning for both schemes");
    }
}
