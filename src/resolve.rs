//! Host name → socket addresses: IP literals as they are, `--resolve` pins,
//! then the system resolver (getaddrinfo, on tokio's blocking pool), whose
//! answers are cached for the run so a list with many URLs per host asks once.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

/// Host names cached at most; past this the cache starts over, so memory
/// stays bounded on lists of millions of distinct hosts.
const CACHE_LIMIT: usize = 10_000;

/// `-4` / `-6`: use only addresses of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

/// `--resolve HOST:PORT:ADDR[,ADDR…]`, as in curl: check HOST on PORT at these
/// addresses, in this order, without asking DNS. HOST `*` stands for every
/// host name without a pin of its own (handy for local benchmarks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    host: String,
    port: u16,
    addrs: Vec<IpAddr>,
}

impl FromStr for Pin {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let usage = || format!("'{s}' is not HOST:PORT:ADDR[,ADDR...] (e.g. example.com:443:127.0.0.1)");
        let (host, rest) = s.split_once(':').ok_or_else(usage)?;
        let (port, addrs) = rest.split_once(':').ok_or_else(usage)?;
        let port = port.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(usage)?;
        let addrs = addrs
            .split(',')
            .map(|a| a.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| usage())?;
        if host.is_empty() {
            return Err(usage());
        }
        Ok(Pin { host: host.to_ascii_lowercase(), port, addrs })
    }
}

type Lookup = Arc<OnceCell<Result<Vec<SocketAddr>, String>>>;

/// Answers "where is this host?" for every check of the run.
#[derive(Debug, Default)]
pub struct Resolver {
    pins: HashMap<(String, u16), Vec<SocketAddr>>,
    family: Option<Family>,
    /// One entry per host and port; concurrent checks of a host share the
    /// lookup in flight.
    cache: Mutex<HashMap<(String, u16), Lookup>>,
}

impl Resolver {
    pub fn new(pins: &[Pin], family: Option<Family>) -> Self {
        let pins = pins
            .iter()
            .map(|pin| {
                let addrs = pin.addrs.iter().map(|&ip| SocketAddr::new(ip, pin.port)).collect();
                ((pin.host.clone(), pin.port), addrs)
            })
            .collect();
        Resolver { pins, family, cache: Mutex::default() }
    }

    /// All addresses of `host`, in the order they should be tried. The error
    /// is the resolver's reason in plain words.
    pub async fn lookup(&self, host: &url::Host<&str>, port: u16) -> Result<Vec<SocketAddr>, String> {
        let addrs = match host {
            url::Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(*ip), port)],
            url::Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(*ip), port)],
            url::Host::Domain(domain) => {
                let pinned = self.pins.get(&(domain.to_string(), port)).or_else(|| self.pins.get(&("*".into(), port)));
                match pinned {
                    Some(addrs) => addrs.clone(),
                    None => self.cached(domain, port).await?,
                }
            }
        };
        let wanted: Vec<SocketAddr> = addrs.into_iter().filter(|a| self.wanted(a)).collect();
        match (wanted.is_empty(), self.family) {
            (false, _) => Ok(wanted),
            (true, Some(Family::V4)) => Err("no IPv4 address (-4)".into()),
            (true, Some(Family::V6)) => Err("no IPv6 address (-6)".into()),
            (true, None) => Err("no address found".into()),
        }
    }

    fn wanted(&self, addr: &SocketAddr) -> bool {
        match self.family {
            None => true,
            Some(Family::V4) => addr.is_ipv4(),
            Some(Family::V6) => addr.is_ipv6(),
        }
    }

    /// The system resolver's answer, asked once per host and port.
    async fn cached(&self, domain: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        let cell = {
            let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.entry((domain.to_owned(), port)).or_default().clone()
        };
        let answer = cell.get_or_init(|| async {
            match tokio::net::lookup_host((domain, port)).await {
                Ok(addrs) => Ok(addrs.collect::<Vec<_>>()),
                Err(e) => Err(io_reason(&e)),
            }
        });
        answer.await.clone()
    }
}

/// An OS error without its decoration: `Connection refused (os error 111)` →
/// `connection refused`.
pub fn io_reason(error: &io::Error) -> String {
    let text = error.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let text = text.strip_prefix("failed to lookup address information: ").unwrap_or(text);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => format!("{:?}", error.kind()).to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_like_curl() {
        let pin: Pin = "Example.com:443:127.0.0.1,[::1]".parse().unwrap();
        assert_eq!(pin.host, "example.com");
        assert_eq!(pin.port, 443);
        assert_eq!(pin.addrs, ["127.0.0.1".parse::<IpAddr>().unwrap(), "::1".parse().unwrap()]);
        for bad in [
            "example.com",
            "example.com:443",
            "example.com:x:1.2.3.4",
            "example.com:443:nope",
            ":443:1.2.3.4",
            "a:0:1.2.3.4",
        ] {
            assert!(bad.parse::<Pin>().is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn pins_win_over_dns_and_keep_their_order() {
        let resolver = Resolver::new(&["a.test:80:127.0.0.2,127.0.0.1".parse().unwrap()], None);
        let addrs = resolver.lookup(&url::Host::Domain("a.test"), 80).await.unwrap();
        assert_eq!(addrs, ["127.0.0.2:80".parse().unwrap(), "127.0.0.1:80".parse::<SocketAddr>().unwrap()]);
    }

    #[tokio::test]
    async fn a_wildcard_pin_covers_hosts_without_their_own() {
        let pins = ["*:443:127.0.0.9".parse().unwrap(), "a.test:443:127.0.0.1".parse().unwrap()];
        let resolver = Resolver::new(&pins, None);
        let a = resolver.lookup(&url::Host::Domain("a.test"), 443).await.unwrap();
        assert_eq!(a, ["127.0.0.1:443".parse().unwrap()]);
        let b = resolver.lookup(&url::Host::Domain("b.test"), 443).await.unwrap();
        assert_eq!(b, ["127.0.0.9:443".parse().unwrap()]);
        assert!(resolver.cache.lock().unwrap().is_empty(), "no DNS asked");
    }

    #[tokio::test]
    async fn one_family_only() {
        let pins = ["a.test:80:::1,127.0.0.1".parse().unwrap()];
        let v4 = Resolver::new(&pins, Some(Family::V4));
        assert_eq!(v4.lookup(&url::Host::Domain("a.test"), 80).await.unwrap(), ["127.0.0.1:80".parse().unwrap()]);
        let v6 = Resolver::new(&pins, Some(Family::V6));
        assert_eq!(v6.lookup(&url::Host::Domain("a.test"), 80).await.unwrap(), ["[::1]:80".parse().unwrap()]);
        let literal = url::Host::Ipv4("127.0.0.1".parse().unwrap());
        assert_eq!(v6.lookup(&literal, 80).await.unwrap_err(), "no IPv6 address (-6)");
    }

    #[tokio::test]
    async fn system_answers_are_cached() {
        let resolver = Resolver::new(&[], None);
        let first = resolver.lookup(&url::Host::Domain("localhost"), 80).await;
        let second = resolver.lookup(&url::Host::Domain("localhost"), 80).await;
        assert_eq!(first, second);
        assert_eq!(resolver.cache.lock().unwrap().len(), 1);
    }

    #[test]
    fn os_errors_lose_their_decoration() {
        let e = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(io_reason(&e), "connection refused");
        let e = io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(io_reason(&e), "too many open files");
    }
}
