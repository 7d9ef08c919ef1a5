//! Host name → socket addresses: IP literals as they are, `--resolve` pins,
//! the hosts file, then DNS. DNS is asked by our own async stub resolver
//! (`stub`: a UDP socket per query from a random port, A and AAAA at once,
//! record TTLs, bounded work on every answer) unless the system is set up to resolve names some other way
//! (nsswitch sources beyond `files` and `dns`, an unusable resolv.conf):
//! then getaddrinfo on tokio's blocking pool, as before. Why: `bench/RESULTS.md`,
//! "DNS at scale" and "Issue 14: a lean resolver".
//!
//! Answers are cached per name (whatever the port) so a list with many URLs
//! per host asks once, but never for long: failures are not kept past the
//! lookup in flight, "no such name" and "no address" only for the negative
//! TTL of RFC 2308 (from the zone's SOA: without it, not at all), every
//! answer is dropped at the start of a `--watch` round, and none is used past
//! its TTL (capped) or, from getaddrinfo, past a fixed age.

mod cache;
mod conf;
mod dns;
mod hosts;
mod stub;
mod transport;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cache::Cache;
use conf::Conf;
pub use hosts::Hosts;
use stub::Stub;

use super::sync::lock;
use crate::result::SetupError;
/// UDP sockets one lookup holds at most at once (a socket per query).
pub(crate) use transport::SOCKETS_PER_LOOKUP;

/// The longest a DNS answer is used, whatever its TTL says.
const MAX_TTL: Duration = Duration::from_secs(300);
/// How long a getaddrinfo answer is used (it gives no TTL): curl's default
/// `--dns-cache-timeout`.
const SYSTEM_AGE: Duration = Duration::from_secs(60);

/// `-4` / `-6`: use only addresses of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Family {
    /// IPv4 only.
    V4,
    /// IPv6 only.
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
    type Err = SetupError;

    fn from_str(s: &str) -> Result<Self, SetupError> {
        let usage =
            || SetupError::Pin(format!("'{s}' is not HOST:PORT:ADDR[,ADDR...] (e.g. example.com:443:127.0.0.1)"));
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

/// `--dns-servers ADDR[:PORT][,...]`, as in curl: ask these DNS servers
/// (port 53 unless given) instead of the ones in /etc/resolv.conf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsServers(pub Vec<SocketAddr>);

impl FromStr for DnsServers {
    type Err = SetupError;

    fn from_str(s: &str) -> Result<Self, SetupError> {
        let one = |a: &str| {
            a.parse::<SocketAddr>()
                .or_else(|_| {
                    a.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53))
                })
                .map_err(|_| {
                    SetupError::DnsServers(format!("'{a}' is not ADDR or ADDR:PORT (e.g. 127.0.0.1:5353 or [::1]:53)"))
                })
        };
        s.split(',').map(one).collect::<Result<Vec<_>, _>>().map(DnsServers)
    }
}

/// Who is asked when a name has no pin and no hosts-file line.
enum Backend {
    /// getaddrinfo, one blocking-pool thread per lookup in flight.
    System,
    /// Our stub resolver over UDP (TCP when truncated), after the hosts file.
    Dns { dns: Box<Stub>, hosts: Mutex<Arc<Hosts>>, v6_first: bool },
}

/// Answers "where is this host?" for every check of the run.
pub struct Resolver {
    pins: HashMap<(String, u16), Vec<SocketAddr>>,
    family: Option<Family>,
    backend: Backend,
    cache: Cache,
}

impl Resolver {
    /// The resolver of the run: `servers` if given, else the system's DNS
    /// servers through our stub where that behaves like getaddrinfo would,
    /// else getaddrinfo.
    pub fn new(pins: &[Pin], family: Option<Family>, servers: Option<&DnsServers>) -> Self {
        let backend = match servers {
            Some(servers) => dns_backend(Conf::explicit(&servers.0), family, Hosts::system()),
            None => system_dns(family).unwrap_or(Backend::System),
        };
        Self::with_backend(pins, family, backend)
    }

    fn with_backend(pins: &[Pin], family: Option<Family>, backend: Backend) -> Self {
        let pins = pins
            .iter()
            .map(|pin| {
                let addrs = pin.addrs.iter().map(|&ip| SocketAddr::new(ip, pin.port)).collect();
                ((pin.host.clone(), pin.port), addrs)
            })
            .collect();
        Resolver { pins, family, backend, cache: Cache::default() }
    }

    /// Whether DNS goes through our stub (true) or getaddrinfo (false).
    #[cfg(test)]
    fn is_async(&self) -> bool {
        matches!(self.backend, Backend::Dns { .. })
    }

    /// A new `--watch` round: every cached answer is asked again, and the
    /// hosts file is read again.
    pub fn new_round(&self) {
        self.cache.clear();
        if let Backend::Dns { hosts, .. } = &self.backend {
            let mut hosts = lock(hosts);
            if let Some(now) = hosts.reread() {
                *hosts = Arc::new(now);
            }
        }
    }

    /// Whether [`Resolver::lookup`] of `domain` on `port` would ask DNS (or
    /// getaddrinfo, or the hosts file) right now: no pin, no fresh answer and
    /// no lookup in flight. What a lookup run ahead of its check asks first.
    pub fn would_ask(&self, domain: &str, port: u16) -> bool {
        let pinned = self.pins.contains_key(&(domain.to_owned(), port)) || self.pins.contains_key(&("*".into(), port));
        !pinned && !self.cache.has(domain)
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
                    // Boxed: the lookup future holds two questions, and
                    // every check in flight would carry it, pinned or not.
                    None => {
                        let ips = self.cache.get_or_lookup(domain, Box::pin(self.ask(domain))).await?;
                        ips.into_iter().map(|ip| SocketAddr::new(ip, port)).collect()
                    }
                }
            }
        };
        let wanted: Vec<SocketAddr> = addrs.into_iter().filter(|a| self.wanted(a)).collect();
        match (wanted.is_empty(), self.family) {
            (false, _) => Ok(wanted),
            (true, Some(Family::V4)) => Err("no IPv4 address (only IPv4 asked for)".into()),
            (true, Some(Family::V6)) => Err("no IPv6 address (only IPv6 asked for)".into()),
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

    /// One lookup, not cached: the answer and how long it may be used (a
    /// failure: not at all; "no such name" or "no address": RFC 2308's
    /// negative TTL, if the server gave one).
    async fn ask(&self, domain: &str) -> (Result<Vec<IpAddr>, String>, Duration) {
        let seconds = |ttl: u32| Duration::from_secs(ttl.into()).min(MAX_TTL);
        match &self.backend {
            Backend::System => match tokio::net::lookup_host((domain, 0)).await {
                Ok(addrs) => (Ok(addrs.map(|a| a.ip()).collect()), SYSTEM_AGE),
                Err(e) => (Err(io_reason(&e)), Duration::ZERO),
            },
            Backend::Dns { dns, hosts, v6_first } => {
                let hosts = lock(hosts).clone();
                if let Some(ips) = hosts.get(domain) {
                    let mut ips = ips.to_vec();
                    order_families(&mut ips, *v6_first);
                    return (Ok(ips), SYSTEM_AGE);
                }
                let outcome = dns.resolve(domain).await;
                match outcome.result {
                    Ok(mut found) => {
                        order_families(&mut found.addrs, *v6_first);
                        (Ok(found.addrs), seconds(found.ttl))
                    }
                    Err(e) => (Err(e.to_string()), outcome.negative_ttl.map_or(Duration::ZERO, seconds)),
                }
            }
        }
    }
}

/// Our stub on the system's resolv.conf, or `None` where getaddrinfo must
/// stay: nsswitch names other sources, or resolv.conf is missing or unusable.
fn system_dns(family: Option<Family>) -> Option<Backend> {
    let nsswitch = std::fs::read_to_string("/etc/nsswitch.conf").ok();
    if !nsswitch_is_files_and_dns(nsswitch.as_deref()) {
        return None;
    }
    Some(dns_backend(Conf::system()?, family, Hosts::system()))
}

/// Whether the `hosts:` line of nsswitch.conf uses only `files` and `dns`
/// (the actions in brackets aside). No file or no line: glibc's default,
/// `dns files`.
fn nsswitch_is_files_and_dns(nsswitch: Option<&str>) -> bool {
    let Some(text) = nsswitch else { return true };
    let line = text.lines().map(|l| l.split('#').next().unwrap_or("").trim()).find_map(|l| l.strip_prefix("hosts:"));
    let Some(sources) = line else { return true };
    let mut in_action = false;
    sources.split_whitespace().all(|word| {
        let plain = !in_action && !word.starts_with('[');
        in_action = (in_action || word.starts_with('[')) && !word.ends_with(']');
        !plain || word == "files" || word == "dns"
    })
}

fn dns_backend(conf: Conf, family: Option<Family>, hosts: Hosts) -> Backend {
    let dns = Box::new(Stub::new(conf, family));
    Backend::Dns { dns, hosts: Mutex::new(Arc::new(hosts)), v6_first: has_ipv6_route() }
}

/// The stub lists the A answers, then the AAAA answers. Put them in the
/// order getaddrinfo's RFC 6724 sort would: IPv6 first
/// where this host has an IPv6 route, IPv4 first where it has none (so Happy
/// Eyeballs starts with a family that can work). Stable within a family.
fn order_families(addrs: &mut [IpAddr], v6_first: bool) {
    addrs.sort_by_key(|addr| addr.is_ipv6() != v6_first);
}

/// Whether the kernel has a route to global IPv6 addresses. Connecting a UDP
/// socket only looks the route up; nothing is sent.
fn has_ipv6_route() -> bool {
    let probe = std::net::UdpSocket::bind((std::net::Ipv6Addr::UNSPECIFIED, 0));
    probe.and_then(|socket| socket.connect("[2001:db8::1]:9")).is_ok()
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

/// The scripted DNS server of the integration tests.
#[cfg(test)]
#[path = "../../tests/common/dns.rs"]
pub(crate) mod test_dns;

#[cfg(test)]
mod tests {
    use super::*;
    use test_dns::{dns_server, Step};

    /// A resolver that asks only `server`, with `hosts` as its hosts file.
    fn asking(server: &test_dns::DnsServer, pins: &[Pin], hosts: &str) -> Resolver {
        let backend = dns_backend(Conf::explicit(&[server.addr]), None, Hosts::parse(hosts));
        Resolver::with_backend(pins, None, backend)
    }

    fn v4(last: u8, port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, last)), port)
    }

    #[tokio::test]
    async fn a_failed_lookup_is_asked_again() {
        let server = dns_server(vec![Step::NxDomain, Step::Addr([127, 0, 0, 5].into(), 300)]);
        let resolver = asking(&server, &[], "");
        let first = resolver.lookup(&url::Host::Domain("moved.test"), 80).await;
        assert_eq!(first.unwrap_err(), "name or service not known");
        assert!(resolver.would_ask("moved.test", 80), "a failure is not kept");
        let second = resolver.lookup(&url::Host::Domain("moved.test"), 80).await;
        assert_eq!(second.unwrap(), [v4(5, 80)]);
        assert_eq!(server.a_queries(), 2);
        assert!(!resolver.would_ask("moved.test", 80), "answered: cached");
        assert!(!resolver.would_ask("moved.test", 443), "cached per name, whatever the port");
    }

    /// RFC 2308: NXDOMAIN with the zone's SOA is kept for the SOA's TTL, at
    /// most its MINIMUM (here 1 s), and then asked again; with a TTL of 0
    /// it is not kept at all.
    #[tokio::test]
    async fn no_such_name_is_kept_as_long_as_its_soa_says() {
        let server = dns_server(vec![Step::NxDomainSoa(300, 1), Step::Addr([127, 0, 0, 5].into(), 300)]);
        let resolver = asking(&server, &[], "");
        let host = url::Host::Domain("gone.test");
        assert_eq!(resolver.lookup(&host, 80).await.unwrap_err(), "name or service not known");
        assert!(!resolver.would_ask("gone.test", 80), "kept");
        assert_eq!(resolver.lookup(&host, 443).await.unwrap_err(), "name or service not known");
        assert_eq!(server.a_queries(), 1, "the second check did not ask");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert!(resolver.would_ask("gone.test", 80), "past its negative TTL");
        assert_eq!(resolver.lookup(&host, 80).await.unwrap(), [v4(5, 80)]);
        assert_eq!(server.a_queries(), 2);

        let server = dns_server(vec![Step::NxDomainSoa(0, 300), Step::Addr([127, 0, 0, 6].into(), 300)]);
        let resolver = asking(&server, &[], "");
        assert!(resolver.lookup(&host, 80).await.is_err());
        assert!(resolver.would_ask("gone.test", 80), "SOA TTL 0: not kept");
        assert_eq!(resolver.lookup(&host, 80).await.unwrap(), [v4(6, 80)]);
    }

    /// What DNS says of a name does not depend on the port: an http and an
    /// https URL of a host ask once (pins stay per port).
    #[tokio::test]
    async fn a_name_is_asked_once_whatever_the_port() {
        let server = dns_server(vec![Step::Addr([127, 0, 0, 5].into(), 300), Step::Addr([127, 0, 0, 6].into(), 300)]);
        let resolver = asking(&server, &[], "");
        let host = url::Host::Domain("both.test");
        assert_eq!(resolver.lookup(&host, 80).await.unwrap(), [v4(5, 80)]);
        assert!(!resolver.would_ask("both.test", 443));
        assert_eq!(resolver.lookup(&host, 443).await.unwrap(), [v4(5, 443)]);
        assert_eq!(server.a_queries(), 1);
    }

    #[tokio::test]
    async fn answers_last_as_long_as_their_ttl() {
        let server = dns_server(vec![
            Step::Addr([127, 0, 0, 5].into(), 0),
            Step::Addr([127, 0, 0, 6].into(), 300),
            Step::Addr([127, 0, 0, 7].into(), 300),
        ]);
        let resolver = asking(&server, &[], "");
        let host = url::Host::Domain("ttl.test");
        assert_eq!(resolver.lookup(&host, 80).await.unwrap(), [v4(5, 80)]);
        assert_eq!(resolver.lookup(&host, 80).await.unwrap(), [v4(6, 80)], "TTL 0: asked again");
        assert_eq!(resolver.lookup(&host, 80).await.unwrap(), [v4(6, 80)], "TTL 300: kept");
        assert_eq!(server.a_queries(), 2);
    }

    #[tokio::test]
    async fn a_new_round_asks_again() {
        let server = dns_server(vec![Step::Addr([127, 0, 0, 5].into(), 300), Step::Addr([127, 0, 0, 6].into(), 300)]);
        let resolver = asking(&server, &[], "");
        let host = url::Host::Domain("round.test");
        assert_eq!(resolver.lookup(&host, 80).await.unwrap(), [v4(5, 80)]);
        resolver.new_round();
        assert_eq!(resolver.lookup(&host, 80).await.unwrap(), [v4(6, 80)]);
    }

    #[tokio::test]
    async fn the_hosts_file_and_pins_win_over_dns() {
        let server = dns_server(vec![Step::Addr([127, 0, 0, 5].into(), 300)]);
        let pins = ["pinned.test:80:127.0.0.8".parse().unwrap()];
        let hosts =
            "# comment\n127.0.0.7 Listed.test alias.test # trailing\n::1 listed.test\nfe80::1%eth0 zoned.test\n";
        let resolver = asking(&server, &pins, hosts);
        let listed = resolver.lookup(&url::Host::Domain("listed.test"), 80).await.unwrap();
        let mut both: [IpAddr; 2] = [[127, 0, 0, 7].into(), "::1".parse().unwrap()];
        order_families(&mut both, has_ipv6_route());
        let both: Vec<SocketAddr> = both.iter().map(|&ip| SocketAddr::new(ip, 80)).collect();
        assert_eq!(listed, both, "both lines; no DNS");
        assert_eq!(resolver.lookup(&url::Host::Domain("alias.test"), 80).await.unwrap(), [v4(7, 80)]);
        assert_eq!(resolver.lookup(&url::Host::Domain("pinned.test"), 80).await.unwrap(), [v4(8, 80)]);
        assert_eq!(server.a_queries(), 0);
        assert_eq!(resolver.lookup(&url::Host::Domain("other.test"), 80).await.unwrap(), [v4(5, 80)]);
        assert_eq!(server.a_queries(), 1);
    }

    #[tokio::test]
    async fn the_hosts_file_is_read_again_each_round() {
        let server = dns_server(vec![Step::Addr([127, 0, 0, 5].into(), 300)]);
        let dir = std::env::temp_dir().join(format!("statuscheck-hosts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hosts");
        std::fs::write(&path, "127.0.0.7 edited.test\n").unwrap();
        let backend = dns_backend(Conf::explicit(&[server.addr]), None, Hosts::read(&path));
        let resolver = Resolver::with_backend(&[], None, backend);
        let host = url::Host::Domain("edited.test");
        assert_eq!(resolver.lookup(&host, 80).await.unwrap(), [v4(7, 80)]);
        std::fs::write(&path, "127.0.0.9 edited.test\n").unwrap();
        resolver.new_round();
        assert_eq!(resolver.lookup(&host, 80).await.unwrap(), [v4(9, 80)]);
        std::fs::remove_file(&path).unwrap();
        resolver.new_round();
        assert_eq!(resolver.lookup(&host, 80).await.unwrap(), [v4(5, 80)], "gone from the file: DNS");
        let _ = std::fs::remove_dir(&dir);
    }

    #[test]
    fn both_families_in_a_fixed_order() {
        let mixed: Vec<IpAddr> = ["127.0.0.1", "::1", "127.0.0.2", "::2"].iter().map(|a| a.parse().unwrap()).collect();
        let mut v6_first = mixed.clone();
        order_families(&mut v6_first, true);
        assert_eq!(v6_first, [mixed[1], mixed[3], mixed[0], mixed[2]]);
        let mut v4_first = mixed.clone();
        order_families(&mut v4_first, false);
        assert_eq!(v4_first, [mixed[0], mixed[2], mixed[1], mixed[3]]);
    }

    #[test]
    fn dns_servers_parse_like_curl() {
        let servers: DnsServers = "127.0.0.1,127.0.0.2:5353,::1,[::1]:5353".parse().unwrap();
        let want: Vec<SocketAddr> =
            ["127.0.0.1:53", "127.0.0.2:5353", "[::1]:53", "[::1]:5353"].iter().map(|a| a.parse().unwrap()).collect();
        assert_eq!(servers.0, want);
        for bad in ["", "example.com", "127.0.0.1:x", "1.2.3.4,"] {
            assert!(bad.parse::<DnsServers>().is_err(), "{bad}");
        }
        assert!(Resolver::new(&[], None, Some(&servers)).is_async());
    }

    #[test]
    fn getaddrinfo_stays_where_nsswitch_names_other_sources() {
        for ok in [
            None,
            Some(""),
            Some("passwd: files\nhosts:          files dns\n"),
            Some("hosts: files [NOTFOUND=return] dns # comment\n"),
            Some("hosts: dns [!UNAVAIL=return] files"),
        ] {
            assert!(nsswitch_is_files_and_dns(ok), "{ok:?}");
        }
        for other in [
            "hosts: files mdns4_minimal [NOTFOUND=return] dns myhostname",
            "hosts: files resolve [!UNAVAIL=return] dns",
            "hosts: files ldap dns",
            "hosts: files [ NOTFOUND=return ] mdns dns",
        ] {
            assert!(!nsswitch_is_files_and_dns(Some(other)), "{other}");
        }
    }

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
        let resolver = Resolver::new(&["a.test:80:127.0.0.2,127.0.0.1".parse().unwrap()], None, None);
        let addrs = resolver.lookup(&url::Host::Domain("a.test"), 80).await.unwrap();
        assert_eq!(addrs, ["127.0.0.2:80".parse().unwrap(), "127.0.0.1:80".parse::<SocketAddr>().unwrap()]);
    }

    #[tokio::test]
    async fn a_wildcard_pin_covers_hosts_without_their_own() {
        let pins = ["*:443:127.0.0.9".parse().unwrap(), "a.test:443:127.0.0.1".parse().unwrap()];
        let resolver = Resolver::new(&pins, None, None);
        let a = resolver.lookup(&url::Host::Domain("a.test"), 443).await.unwrap();
        assert_eq!(a, ["127.0.0.1:443".parse().unwrap()]);
        let b = resolver.lookup(&url::Host::Domain("b.test"), 443).await.unwrap();
        assert_eq!(b, ["127.0.0.9:443".parse().unwrap()]);
        assert!(resolver.cache.len() == 0, "no DNS asked");
        assert!(!resolver.would_ask("a.test", 443) && !resolver.would_ask("b.test", 443));
        assert!(resolver.would_ask("b.test", 80), "pins are per port");
    }

    #[tokio::test]
    async fn one_family_only() {
        let pins = ["a.test:80:::1,127.0.0.1".parse().unwrap()];
        let v4 = Resolver::new(&pins, Some(Family::V4), None);
        assert_eq!(v4.lookup(&url::Host::Domain("a.test"), 80).await.unwrap(), ["127.0.0.1:80".parse().unwrap()]);
        let v6 = Resolver::new(&pins, Some(Family::V6), None);
        assert_eq!(v6.lookup(&url::Host::Domain("a.test"), 80).await.unwrap(), ["[::1]:80".parse().unwrap()]);
        let literal = url::Host::Ipv4("127.0.0.1".parse().unwrap());
        assert_eq!(v6.lookup(&literal, 80).await.unwrap_err(), "no IPv6 address (only IPv6 asked for)");
    }

    #[tokio::test]
    async fn system_answers_are_cached() {
        let resolver = Resolver::new(&[], None, None);
        let first = resolver.lookup(&url::Host::Domain("localhost"), 80).await;
        let second = resolver.lookup(&url::Host::Domain("localhost"), 80).await;
        assert_eq!(first, second);
        assert_eq!(resolver.cache.len(), 1);
    }

    #[test]
    fn os_errors_lose_their_decoration() {
        let e = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(io_reason(&e), "connection refused");
        let e = io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(io_reason(&e), "too many open files");
    }
}
