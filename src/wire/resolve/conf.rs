//! Where and how DNS is asked: `/etc/resolv.conf` read as glibc reads it, or
//! the servers of `--dns-servers`.
//!
//! Read from resolv.conf: `nameserver` (the first three, in order, as glibc's
//! MAXNS), `search` and `domain` (the last of them wins; with neither, the
//! domain of the host name, as glibc and hickory did), and `options ndots:N`
//! (at most 15), `timeout:N` (seconds, at most 30), `attempts:N` (at most 5)
//! and `rotate`. Other lines and options are ignored, as glibc does. A file
//! that cannot be read, or has no nameserver, or a nameserver line we cannot
//! read (a scoped `fe80::1%eth0`, say) is unusable: the resolver then stays
//! with getaddrinfo, which knows what to do with it.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// glibc's MAXNS.
const MAX_SERVERS: usize = 3;

/// How DNS is asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conf {
    /// The servers, asked in this order (the next on failure).
    pub servers: Vec<SocketAddr>,
    /// Suffixes tried for names that are not absolute.
    pub search: Vec<String>,
    /// Names with at least this many dots are tried as they are first.
    pub ndots: usize,
    /// How long one server is given to answer one query.
    pub timeout: Duration,
    /// How many rounds over the servers a query gets.
    pub attempts: usize,
    /// Start each query at the next server (spreads load, as glibc's rotate).
    pub rotate: bool,
}

impl Conf {
    /// `--dns-servers`: these servers, no search list, the default options
    /// (what hickory was given before: `ResolverConfig::new()` and
    /// `ResolverOpts::default()`).
    pub fn explicit(servers: &[SocketAddr]) -> Conf {
        Conf {
            servers: servers.to_vec(),
            search: Vec::new(),
            ndots: 1,
            timeout: Duration::from_secs(5),
            attempts: 2,
            rotate: false,
        }
    }

    /// The system's configuration, or `None` if it is unusable.
    pub fn system() -> Option<Conf> {
        let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
        Conf::parse(&text, host_domain().as_deref())
    }

    /// resolv.conf's text; `host_domain` is the search list when the file
    /// names none.
    pub fn parse(text: &str, host_domain: Option<&str>) -> Option<Conf> {
        let mut conf = Conf::explicit(&[]);
        let mut search = None;
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    let ip = words.next()?.parse::<IpAddr>().ok()?;
                    if conf.servers.len() < MAX_SERVERS {
                        conf.servers.push(SocketAddr::new(ip, 53));
                    }
                }
                Some("domain") => search = words.next().map(|d| vec![d.to_owned()]),
                Some("search") => search = Some(words.map(str::to_owned).collect()),
                Some("options") => words.for_each(|option| conf.option(option)),
                _ => {}
            }
        }
        if conf.servers.is_empty() {
            return None;
        }
        let search = search.unwrap_or_else(|| host_domain.map(|d| vec![d.to_owned()]).unwrap_or_default());
        // A lone "." (or glibc's "--" placeholder) is not a suffix.
        conf.search = search
            .into_iter()
            .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty() && d != "--")
            .collect();
        Some(conf)
    }

    fn option(&mut self, option: &str) {
        let (key, value) = option.split_once(':').unwrap_or((option, ""));
        let number = value.parse::<u64>().ok();
        match (key, number) {
            ("ndots", Some(n)) => self.ndots = n.min(15) as usize,
            ("timeout", Some(n)) => self.timeout = Duration::from_secs(n.clamp(1, 30)),
            ("attempts", Some(n)) => self.attempts = n.clamp(1, 5) as usize,
            ("rotate", _) => self.rotate = true,
            _ => {}
        }
    }

    /// The names to ask for `host`, in order, as glibc's res_search: an
    /// absolute name (trailing dot) as it is; a name with at least `ndots`
    /// dots as it is, then with each suffix; one with fewer, with each
    /// suffix first and as it is last.
    pub fn candidates(&self, host: &str) -> Vec<String> {
        if let Some(absolute) = host.strip_suffix('.') {
            return vec![absolute.to_owned()];
        }
        let as_is_first = host.matches('.').count() >= self.ndots;
        let mut names = Vec::with_capacity(1 + self.search.len());
        if as_is_first {
            names.push(host.to_owned());
        }
        names.extend(self.search.iter().map(|suffix| format!("{host}.{suffix}")));
        if !as_is_first {
            names.push(host.to_owned());
        }
        names
    }
}

/// The domain part of this machine's host name (`web1.example.com` →
/// `example.com`), glibc's search list when resolv.conf names none.
fn host_domain() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let (_, domain) = name.trim().split_once('.')?;
    (!domain.is_empty()).then(|| domain.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_as_glibc_reads_it() {
        let text =
            "# comment\nnameserver 10.0.0.1\nnameserver ::1 ; trailing\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n\
                    domain corp.example\nsearch A.example b.example.\nsortlist 10.0.0.0/8\n\
                    options ndots:2 timeout:1 attempts:9 rotate edns0 trust-ad\n";
        let conf = Conf::parse(text, Some("host.example")).unwrap();
        let servers: Vec<SocketAddr> =
            ["10.0.0.1:53", "[::1]:53", "10.0.0.3:53"].iter().map(|a| a.parse().unwrap()).collect();
        assert_eq!(conf.servers, servers, "the first three");
        assert_eq!(conf.search, ["a.example", "b.example"], "the last of search and domain");
        assert_eq!((conf.ndots, conf.timeout, conf.attempts, conf.rotate), (2, Duration::from_secs(1), 5, true));
        let conf = Conf::parse("search a.example\ndomain d.example\nnameserver 10.0.0.1", None).unwrap();
        assert_eq!(conf.search, ["d.example"]);
        let conf = Conf::parse("nameserver 10.0.0.1\n", Some("host.example")).unwrap();
        assert_eq!(conf.search, ["host.example"], "the host's domain");
        assert_eq!((conf.ndots, conf.timeout, conf.attempts, conf.rotate), (1, Duration::from_secs(5), 2, false));
    }

    #[test]
    fn unusable_files_leave_dns_to_getaddrinfo() {
        for bad in ["", "search example.com\n", "nameserver fe80::1%eth0\n", "nameserver\n", "nameserver dns.example\n"]
        {
            assert_eq!(Conf::parse(bad, None), None, "{bad:?}");
        }
    }

    #[test]
    fn search_order_follows_ndots() {
        let conf = Conf { search: vec!["a.example".into(), "b.example".into()], ..Conf::explicit(&[]) };
        assert_eq!(conf.candidates("www"), ["www.a.example", "www.b.example", "www"]);
        assert_eq!(conf.candidates("www.x"), ["www.x", "www.x.a.example", "www.x.b.example"]);
        assert_eq!(conf.candidates("www.x."), ["www.x"]);
        let two = Conf { ndots: 2, ..conf.clone() };
        assert_eq!(two.candidates("www.x"), ["www.x.a.example", "www.x.b.example", "www.x"]);
        assert_eq!(Conf::explicit(&[]).candidates("www"), ["www"]);
    }
}
