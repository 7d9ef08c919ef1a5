//! The stub resolver: a host name to its addresses by asking the configured
//! servers, as glibc's resolver does, each query on a socket of its own
//! ([`Transport`], which also says how answers are checked).
//!
//! - The names tried: the search list as glibc applies it ([`Conf::candidates`]);
//!   the next name is tried when one does not exist (NXDOMAIN), has no
//!   address (NODATA) or every server failed on it (SERVFAIL, REFUSED),
//!   and the search stops at a timeout.
//! - For each name, A and AAAA are asked at once; `-4`/`-6` ask one of them,
//!   and so does a machine without an IPv6 stack (only A, as curl does). A
//!   family with no records is no error when the other has some.
//! - Each question goes to the servers in order (from the next one each time
//!   with `rotate`), `timeout` each, for `attempts` rounds; a server that
//!   answered SERVFAIL, REFUSED or garbage, or whose port is closed (refused
//!   twice in a row, [`Transport`]), is not asked that question again.
//!   NXDOMAIN is believed at once, as glibc does.
//! - The answer's TTL is the smallest of the records used, CNAMEs included,
//!   and no longer than the other family's "no records" may be believed.
//! - "No such name" and "no address" come with how long they may be
//!   believed: RFC 2308's negative TTL, from the SOA the server sent with
//!   each of them ([`Outcome`]); any failure on the way (a timeout, SERVFAIL,
//!   a server unreachable, an answer without the SOA) means not at all.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::conf::Conf;
use super::dns::{Name, Question, RecordType, NOERROR, NXDOMAIN};
use super::transport::{Failure, Transport};
use super::Family;

/// Why a host name has no address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsError {
    /// NXDOMAIN: the name does not exist (under any suffix tried).
    NotFound,
    /// The name exists but has no address of the families asked.
    NoAddress,
    /// No server answered in time.
    Timeout,
    /// The server answered with an error code (SERVFAIL, REFUSED, ...).
    Server {
        /// Who answered.
        server: SocketAddr,
        /// The response code.
        rcode: u8,
    },
    /// The server's port is closed, or it cannot be reached.
    Unreachable {
        /// The server.
        server: SocketAddr,
        /// The reason in plain words.
        reason: String,
    },
    /// The server's answer to our question did not parse.
    Malformed {
        /// The server.
        server: SocketAddr,
    },
    /// The host is not a name DNS can carry (an empty label, over 63 or 255 bytes).
    InvalidName,
    /// A local failure: no socket (too many open files), no random numbers.
    Local(String),
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::NotFound => f.write_str("name or service not known"),
            DnsError::NoAddress => f.write_str("no address found"),
            DnsError::Timeout => f.write_str("DNS server did not answer in time"),
            DnsError::Server { server, rcode } => {
                let name = match rcode {
                    1 => "FORMERR".to_string(),
                    2 => "SERVFAIL".to_string(),
                    4 => "NOTIMP".to_string(),
                    5 => "REFUSED".to_string(),
                    other => format!("error code {other}"),
                };
                write!(f, "DNS server {server} answered {name}")
            }
            DnsError::Unreachable { server, reason } => write!(f, "DNS server {server}: {reason}"),
            DnsError::Malformed { server } => write!(f, "DNS server {server} sent an answer that does not parse"),
            DnsError::InvalidName => f.write_str("not a name DNS can look up"),
            DnsError::Local(reason) => f.write_str(reason),
        }
    }
}

/// The addresses of a name (A before AAAA, each in the server's order) and
/// how long they may be used, in seconds.
#[derive(Debug, PartialEq, Eq)]
pub struct Found {
    /// The addresses.
    pub addrs: Vec<IpAddr>,
    /// The smallest TTL of the records used.
    pub ttl: u32,
}

type Asked = Result<(Vec<IpAddr>, Option<u32>), DnsError>;

/// One question's [`Asked`], and for NXDOMAIN or NODATA its negative TTL
/// ([`super::dns::Answer::negative_ttl`]).
type Heard = (Asked, Option<u32>);

/// What a lookup came to, and for [`DnsError::NotFound`] and
/// [`DnsError::NoAddress`] how long that may be believed, in seconds: the
/// smallest negative TTL of the answers that said so (RFC 2308); `None`,
/// for any other outcome or where one of those answers had no SOA, means it
/// is not to be kept.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The addresses, or why there are none.
    pub result: Result<Found, DnsError>,
    /// How long a negative result may be believed.
    pub negative_ttl: Option<u32>,
}

impl Outcome {
    fn failed(error: DnsError) -> Outcome {
        Outcome { result: Err(error), negative_ttl: None }
    }
}

/// Asks the servers of a [`Conf`].
pub struct Stub {
    conf: Conf,
    types: &'static [RecordType],
    transport: Transport,
    /// Where the next query starts with `rotate`.
    rotation: AtomicUsize,
}

impl Stub {
    /// A resolver for `conf`, asking only for `family` if given.
    pub fn new(conf: Conf, family: Option<Family>) -> Stub {
        let types: &'static [RecordType] = match family {
            Some(Family::V4) => &[RecordType::A],
            Some(Family::V6) => &[RecordType::Aaaa],
            None if has_ipv6_stack() => &[RecordType::A, RecordType::Aaaa],
            None => &[RecordType::A],
        };
        Stub { conf, types, transport: Transport::default(), rotation: AtomicUsize::new(0) }
    }

    /// The addresses of `host`.
    #[cfg(test)]
    pub async fn lookup(&self, host: &str) -> Result<Found, DnsError> {
        self.resolve(host).await.result
    }

    /// The addresses of `host`, or why none and for how long that holds.
    pub async fn resolve(&self, host: &str) -> Outcome {
        let (mut no_data, mut failed) = (false, None);
        let mut valid = false;
        // Every "no" on the way must be one that may be kept for the end
        // result to be kept: the smallest of their negative TTLs.
        let mut negative = Some(u32::MAX);
        for candidate in self.conf.candidates(host) {
            let Some(name) = Name::parse(&candidate) else { continue };
            valid = true;
            let outcome = self.lookup_name(&name).await;
            negative = negative.zip(outcome.negative_ttl).map(|(a, b)| a.min(b));
            match outcome.result {
                Ok(found) => return Outcome { result: Ok(found), negative_ttl: None },
                Err(DnsError::NotFound) => {}
                Err(DnsError::NoAddress) => no_data = true,
                Err(e @ (DnsError::Server { .. } | DnsError::Malformed { .. } | DnsError::Unreachable { .. })) => {
                    failed.get_or_insert(e);
                }
                Err(e) => return Outcome::failed(e),
            }
        }
        match (valid, no_data, failed) {
            (false, _, _) => Outcome::failed(DnsError::InvalidName),
            (_, true, _) => Outcome { result: Err(DnsError::NoAddress), negative_ttl: negative },
            (_, _, Some(e)) => Outcome::failed(e),
            _ => Outcome { result: Err(DnsError::NotFound), negative_ttl: negative },
        }
    }

    /// One name, every type asked at once.
    async fn lookup_name(&self, name: &Name) -> Outcome {
        match self.types {
            [first, second] => {
                let (a, b) = tokio::join!(self.ask(name, *first), self.ask(name, *second));
                combine(&[a, b])
            }
            [only] => combine(&[self.ask(name, *only).await]),
            _ => Outcome::failed(DnsError::NoAddress),
        }
    }

    /// One question, to the servers in turn.
    async fn ask(&self, name: &Name, rtype: RecordType) -> Heard {
        let question = Question { name: name.clone(), rtype };
        let servers = &self.conf.servers;
        let start = if self.conf.rotate { self.rotation.fetch_add(1, Ordering::Relaxed) } else { 0 };
        // Servers that gave an answer not worth asking again.
        let mut done = vec![false; servers.len()];
        let mut last = DnsError::Timeout;
        for _ in 0..self.conf.attempts {
            for i in 0..servers.len() {
                let k = (start + i) % servers.len();
                if done[k] {
                    continue;
                }
                let server = servers[k];
                match self.transport.exchange(server, &question, self.conf.timeout).await {
                    Ok(answer) if answer.rcode == NOERROR => {
                        return (Ok((answer.addrs, answer.ttl)), answer.negative_ttl)
                    }
                    Ok(answer) if answer.rcode == NXDOMAIN => return (Err(DnsError::NotFound), answer.negative_ttl),
                    Ok(answer) => last = DnsError::Server { server, rcode: answer.rcode },
                    // Asked again next round; an answer heard from another
                    // server says more than the silence.
                    Err(Failure::Timeout) => continue,
                    Err(Failure::Unreachable(reason)) => last = DnsError::Unreachable { server, reason },
                    Err(Failure::Malformed) => last = DnsError::Malformed { server },
                    Err(Failure::Local(reason)) => return (Err(DnsError::Local(reason)), None),
                }
                done[k] = true;
            }
            if done.iter().all(|&d| d) {
                break;
            }
        }
        (Err(last), None)
    }
}

/// The answers for both types of one name, as one: any address wins; then
/// "does not exist", then a failure, then "no address". The addresses are
/// kept no longer than a family without records may be believed (its
/// negative TTL, where its answer had the SOA).
fn combine(heard: &[Heard]) -> Outcome {
    let smallest = |ttls: &mut dyn Iterator<Item = u32>| ttls.min();
    let addrs: Vec<IpAddr> =
        heard.iter().flat_map(|(asked, _)| asked.iter().flat_map(|(ips, _)| ips)).copied().collect();
    if !addrs.is_empty() {
        let positive = heard.iter().filter_map(|(asked, _)| asked.as_ref().ok().and_then(|(_, ttl)| *ttl));
        let no_data = heard.iter().filter(|(asked, _)| matches!(asked, Ok((ips, _)) if ips.is_empty()));
        let ttl = smallest(&mut positive.chain(no_data.filter_map(|(_, negative)| *negative))).unwrap_or(0);
        return Outcome { result: Ok(Found { addrs, ttl }), negative_ttl: None };
    }
    let not_found: Vec<&Heard> = heard.iter().filter(|(asked, _)| asked == &Err(DnsError::NotFound)).collect();
    if !not_found.is_empty() {
        // One "no such name" with its SOA says it of every type.
        let negative = smallest(&mut not_found.iter().filter_map(|(_, negative)| *negative));
        return Outcome { result: Err(DnsError::NotFound), negative_ttl: negative };
    }
    if let Some((Err(e), _)) = heard.iter().find(|(asked, _)| asked.is_err()) {
        return Outcome::failed(e.clone());
    }
    // NODATA for every type: each must come with its SOA to be kept.
    let negative = heard.iter().try_fold(u32::MAX, |least, (_, negative)| negative.map(|n| least.min(n)));
    Outcome { result: Err(DnsError::NoAddress), negative_ttl: negative }
}

/// Whether this machine has an IPv6 stack at all (curl's `Curl_ipv6works`:
/// an IPv6 socket can be made). Without one, AAAA is not asked.
fn has_ipv6_stack() -> bool {
    std::net::UdpSocket::bind((std::net::Ipv6Addr::UNSPECIFIED, 0)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::super::test_dns::{
        can_forge_icmp, dns_server, hostile, pointer_chain, pointer_chain_within, scripted, Act, Reply, Step, A, AAAA,
        REFUSED, SERVFAIL,
    };
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// `servers` with a short timeout (real time: the servers are threads).
    fn conf(servers: &[SocketAddr]) -> Conf {
        Conf { timeout: Duration::from_millis(300), ..Conf::explicit(servers) }
    }

    /// `servers` with a timeout no test waits for: where the server's
    /// attacks (a flood of 65,536 datagrams) take time before the answer.
    fn patient(servers: &[SocketAddr]) -> Conf {
        Conf { timeout: Duration::from_secs(10), ..Conf::explicit(servers) }
    }

    /// A port on 127.0.0.1 where nothing listens (ICMP port unreachable).
    fn closed_port() -> SocketAddr {
        std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
    }

    fn a_names(server: &super::super::test_dns::DnsServer) -> Vec<String> {
        server.asked().into_iter().filter(|(_, t, _)| *t == A).map(|(n, _, _)| n).collect()
    }

    #[tokio::test]
    async fn a_lost_query_is_asked_again_after_the_timeout() {
        let lost = AtomicUsize::new(0);
        let server = scripted(move |q| match lost.fetch_add(1, Ordering::SeqCst) {
            0 => vec![],
            _ => vec![Reply::to(q).a(&q.name, [127, 0, 0, 5].into(), 60).bytes()],
        });
        let stub = Stub::new(conf(&[server.addr]), Some(Family::V4));
        let found = stub.lookup("slow.test").await.unwrap();
        assert_eq!(found, Found { addrs: vec![ip("127.0.0.5")], ttl: 60 });
        assert_eq!(server.a_queries(), 2, "the lost query, then the retry");
        let silent = scripted(|_| vec![]);
        let stub = Stub::new(conf(&[silent.addr]), Some(Family::V4));
        assert_eq!(stub.lookup("slow.test").await, Err(DnsError::Timeout));
        assert_eq!(silent.a_queries(), 2, "attempts: 2");
    }

    #[tokio::test]
    async fn the_search_list_follows_ndots() {
        let server = scripted(|q| {
            let reply = Reply::to(q);
            match q.name.as_str() {
                "www.corp.test" => vec![reply.a(&q.name, [127, 0, 0, 1].into(), 60).bytes()],
                "api.x.corp.test" => vec![reply.a(&q.name, [127, 0, 0, 2].into(), 60).bytes()],
                "empty.corp.test" => vec![reply.bytes()],
                _ => vec![reply.rcode(super::super::test_dns::NXDOMAIN).bytes()],
            }
        });
        let search = Conf { search: vec!["corp.test".into()], ..conf(&[server.addr]) };
        let stub = Stub::new(search.clone(), Some(Family::V4));
        assert_eq!(stub.lookup("www").await.unwrap().addrs, [ip("127.0.0.1")]);
        assert_eq!(a_names(&server), ["www.corp.test"], "no dot: the suffix first");
        assert_eq!(stub.lookup("api.x").await.unwrap().addrs, [ip("127.0.0.2")]);
        assert_eq!(a_names(&server)[1..], ["api.x", "api.x.corp.test"], "one dot: as it is first");
        assert_eq!(stub.lookup("nothing").await, Err(DnsError::NotFound));
        assert_eq!(a_names(&server)[3..], ["nothing.corp.test", "nothing"]);
        assert_eq!(stub.lookup("empty").await, Err(DnsError::NoAddress), "NODATA under a suffix, then NXDOMAIN");
        assert_eq!(stub.lookup("www.corp.test.").await.unwrap().addrs, [ip("127.0.0.1")]);
        assert_eq!(a_names(&server).last().unwrap(), "www.corp.test", "absolute: no suffix");
        let two = Stub::new(Conf { ndots: 2, ..search }, Some(Family::V4));
        let before = a_names(&server).len();
        assert_eq!(two.lookup("api.x").await.unwrap().addrs, [ip("127.0.0.2")]);
        assert_eq!(a_names(&server)[before..], ["api.x.corp.test"], "ndots 2: the suffix first");
    }

    #[tokio::test]
    async fn a_failing_server_hands_over_to_the_next() {
        let failing = scripted(|q| vec![Reply::to(q).rcode(SERVFAIL).bytes()]);
        let good = dns_server(vec![Step::Addr([127, 0, 0, 5].into(), 60)]);
        let servers = [closed_port(), failing.addr, good.addr];
        let stub = Stub::new(conf(&servers), Some(Family::V4));
        let started = std::time::Instant::now();
        assert_eq!(stub.lookup("a.test").await.unwrap().addrs, [ip("127.0.0.5")]);
        assert!(started.elapsed() < Duration::from_millis(300), "a closed port and SERVFAIL cost no timeout");
        assert_eq!(failing.a_queries(), 1);
        let refusing = scripted(|q| vec![Reply::to(q).rcode(REFUSED).bytes()]);
        let stub = Stub::new(conf(&[refusing.addr]), Some(Family::V4));
        let error = stub.lookup("a.test").await.unwrap_err();
        assert_eq!(error.to_string(), format!("DNS server {} answered REFUSED", refusing.addr));
        assert_eq!(refusing.a_queries(), 1, "not asked again in the second round");
    }

    #[tokio::test]
    async fn rotate_spreads_queries_over_the_servers() {
        let (one, two) = (
            dns_server(vec![Step::Addr([127, 0, 0, 1].into(), 60)]),
            dns_server(vec![Step::Addr([127, 0, 0, 1].into(), 60)]),
        );
        let stub = Stub::new(Conf { rotate: true, ..conf(&[one.addr, two.addr]) }, Some(Family::V4));
        for i in 0..4 {
            stub.lookup(&format!("h{i}.test")).await.unwrap();
        }
        assert_eq!((one.a_queries(), two.a_queries()), (2, 2));
    }

    #[tokio::test]
    async fn one_family_may_have_no_records() {
        let server = scripted(|q| {
            let reply = Reply::to(q);
            match (q.name.as_str(), q.qtype) {
                ("v6only.test", AAAA) => vec![reply.aaaa(&q.name, std::net::Ipv6Addr::LOCALHOST, 60).bytes()],
                ("v4only.test", A) => vec![reply.a(&q.name, [127, 0, 0, 1].into(), 60).bytes()],
                _ => vec![reply.bytes()],
            }
        });
        let stub = Stub::new(conf(&[server.addr]), None);
        if stub.types.len() == 2 {
            assert_eq!(stub.lookup("v6only.test").await.unwrap().addrs, [ip("::1")]);
        }
        assert_eq!(stub.lookup("v4only.test").await.unwrap().addrs, [ip("127.0.0.1")]);
        assert_eq!(stub.lookup("neither.test").await, Err(DnsError::NoAddress));
        let v6 = Stub::new(conf(&[server.addr]), Some(Family::V6));
        assert_eq!(v6.lookup("v4only.test").await, Err(DnsError::NoAddress));
        assert!(server.asked().iter().filter(|(n, _, _)| n == "v4only.test").count() >= 2);
    }

    /// A stub that asks A and AAAA whatever this machine's IPv6 stack.
    fn both_types(servers: &[SocketAddr]) -> Stub {
        Stub { types: &[RecordType::A, RecordType::Aaaa], ..Stub::new(conf(servers), None) }
    }

    /// The real answer: 127.0.0.N for nN.test, nothing for AAAA.
    fn real(q: &super::super::test_dns::Query) -> Vec<u8> {
        let n: u8 = q.name.trim_start_matches('n').split('.').next().and_then(|n| n.parse().ok()).unwrap_or(0);
        match q.qtype {
            A => Reply::to(q).a(&q.name, [127, 0, 0, n].into(), 60).bytes(),
            _ => Reply::to(q).bytes(),
        }
    }

    #[tokio::test]
    async fn every_query_has_a_port_of_its_own() {
        let server = scripted(|q| vec![real(q)]);
        let stub = both_types(&[server.addr]);
        for i in 0..1000 {
            let found = stub.lookup(&format!("n{}.test", i % 200)).await.unwrap();
            assert_eq!(found.addrs, [ip(&format!("127.0.0.{}", i % 200))]);
        }
        let ports = server.ports();
        let mut distinct = ports.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(ports.len(), 2000, "A and AAAA per lookup");
        // The kernel picks each port at random from about 28,000: some come
        // again by chance (about 70 in 2,000), none because it was kept.
        assert!(distinct.len() >= 1800, "{} distinct ports over 1,000 lookups", distinct.len());
    }

    #[tokio::test]
    async fn a_flood_of_every_id_at_the_last_lookups_ports_changes_nothing() {
        let last: std::sync::Mutex<(String, Vec<u16>, Vec<u16>)> = Default::default();
        let server = hostile(move |q| {
            let mut last = last.lock().unwrap();
            if last.0 != q.name {
                let current = std::mem::take(&mut last.2);
                *last = (q.name.clone(), current, Vec::new());
            }
            last.2.push(q.port);
            // Every ID of a forged answer to this very question, at each
            // port the previous lookup used (unless the kernel happened to
            // give this query the same port: then it was not learned).
            let forged = Reply::to(q).a(&q.name, [10, 6, 6, 6].into(), 86400).bytes();
            let mut acts: Vec<Act> =
                last.1.iter().filter(|&&p| p != q.port).map(|&p| Act::Flood(p, forged.clone())).collect();
            acts.push(Act::Reply(real(q)));
            acts
        });
        let stub = Stub::new(patient(&[server.addr]), Some(Family::V4));
        for i in 1..=3 {
            assert_eq!(stub.lookup(&format!("n{i}.test")).await.unwrap().addrs, [ip(&format!("127.0.0.{i}"))]);
        }
        assert_eq!(server.a_queries(), 3, "each answered at once, none asked again");
    }

    #[tokio::test]
    async fn forged_icmp_errors_change_no_result() {
        if !can_forge_icmp() {
            // CI runs as root: there a missing raw socket is a failure, never a skip.
            let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
            assert!(!ci, "CI=true: forging ICMP needs a raw socket (root or CAP_NET_RAW)");
            eprintln!("no raw socket to forge ICMP (needs root or CAP_NET_RAW); skipping");
            return;
        }
        // The first query of each name gets a forged port unreachable (at
        // its own port and at every port learned before), and no answer;
        // a query asked again gets the real answer.
        let learned: std::sync::Mutex<(Vec<String>, Vec<u16>)> = Default::default();
        let server = hostile(move |q| {
            let mut learned = learned.lock().unwrap();
            if learned.0.contains(&q.name) {
                return vec![Act::Reply(real(q))];
            }
            learned.0.push(q.name.clone());
            learned.1.push(q.port);
            learned.1.iter().map(|&port| Act::Unreachable(port)).collect()
        });
        let stub = std::sync::Arc::new(Stub::new(patient(&[server.addr]), Some(Family::V4)));
        let mut lookups = tokio::task::JoinSet::new();
        for i in 1..=8 {
            let stub = stub.clone();
            lookups.spawn(async move { (i, stub.lookup(&format!("n{i}.test")).await) });
        }
        while let Some(done) = lookups.join_next().await {
            let (i, found) = done.unwrap();
            assert_eq!(found.unwrap().addrs, [ip(&format!("127.0.0.{i}"))]);
        }
        let queries = server.queries();
        for i in 1..=8 {
            let ports: Vec<u16> = queries.iter().filter(|q| q.name == format!("n{i}.test")).map(|q| q.port).collect();
            assert_eq!(ports.len(), 2, "refused, then asked again at once: {ports:?}");
            assert_ne!(ports[0], ports[1], "from a fresh port");
        }
    }

    #[tokio::test]
    async fn forgeries_are_ignored_and_the_real_answer_awaited() {
        let server = hostile(|q| {
            let forged = |r: Reply| r.a(&q.name, [10, 6, 6, 6].into(), 60);
            let mut malformed = Reply::to(q).a(&q.name, [10, 6, 6, 6].into(), 60).bytes();
            malformed.truncate(malformed.len() - 2);
            vec![
                Act::FromOtherPort(forged(Reply::to(q)).bytes()),
                Act::Reply(forged(Reply::to(q).id(q.id ^ 1)).bytes()),
                Act::Reply(forged(Reply::to(q).question_name("other.test")).bytes()),
                Act::Reply(malformed),
                Act::Reply(real(q)),
            ]
        });
        let stub = Stub::new(patient(&[server.addr]), Some(Family::V4));
        assert_eq!(stub.lookup("n7.test").await.unwrap().addrs, [ip("127.0.0.7")]);
        assert_eq!(server.a_queries(), 1, "nothing ended the query early");
    }

    /// A "no such name" that would be kept (NXDOMAIN with its SOA) goes
    /// through the same checks as an address: from another port, with
    /// another ID or for another name it is dropped, and the real answer
    /// is awaited.
    #[tokio::test]
    async fn a_forged_no_such_name_with_its_soa_is_ignored() {
        let server = hostile(|q| {
            let gone = |r: Reply| r.rcode(super::super::test_dns::NXDOMAIN).soa("test", 300, 300).bytes();
            vec![
                Act::FromOtherPort(gone(Reply::to(q))),
                Act::Reply(gone(Reply::to(q).id(q.id ^ 1))),
                Act::Reply(gone(Reply::to(q).question_name("other.test"))),
                Act::Reply(real(q)),
            ]
        });
        let stub = Stub::new(patient(&[server.addr]), Some(Family::V4));
        let outcome = stub.resolve("n7.test").await;
        assert_eq!(outcome.result.unwrap().addrs, [ip("127.0.0.7")]);
        assert_eq!(outcome.negative_ttl, None);
        assert_eq!(server.a_queries(), 1, "nothing ended the query early");
    }

    #[tokio::test]
    async fn an_answer_that_does_not_parse_is_reported_at_the_timeout() {
        // Our ID and question, then a record cut short: the query waits for
        // a better answer (a forger could have sent it), and says what it got.
        let server = scripted(|q| {
            let mut cut = Reply::to(q).a(&q.name, [10, 6, 6, 6].into(), 60).bytes();
            cut.truncate(cut.len() - 2);
            vec![cut]
        });
        let stub = Stub::new(conf(&[server.addr]), Some(Family::V4));
        assert_eq!(stub.lookup("cut.test").await, Err(DnsError::Malformed { server: server.addr }));
        assert_eq!(server.a_queries(), 1, "garbage: not asked again");
    }

    #[tokio::test]
    async fn a_stream_of_costly_garbage_ends_the_query() {
        use super::super::dns::steps_on_this_thread;
        // Answers with our ID and question in which every owner is a pointer
        // to a 255-byte name, refused only at the last record (an address of
        // 3 bytes): each costs the decoder thousands of steps.
        let costly = |q: &super::super::test_dns::Query| pointer_chain_within(q, 4000, &[127, 0, 0]);
        let steps_of = |stub: Stub, name: &'static str| async move {
            let before = steps_on_this_thread();
            let result = stub.lookup(name).await;
            (result, steps_on_this_thread() - before)
        };
        let one = scripted(move |q| vec![costly(q), real(q)]);
        let (found, one_costs) = steps_of(Stub::new(patient(&[one.addr]), Some(Family::V4)), "n1.test").await;
        assert_eq!(found.unwrap().addrs, [ip("127.0.0.1")], "dropped, and the real answer awaited");
        let ten = scripted(move |q| vec![costly(q); 10]);
        let (found, ten_cost) = steps_of(Stub::new(patient(&[ten.addr]), Some(Family::V4)), "n2.test").await;
        assert_eq!(found, Err(DnsError::Malformed { server: ten.addr }), "ended, not timed out");
        assert!(one_costs > 10_000, "{one_costs} steps for one");
        assert!(ten_cost <= 4 * one_costs, "the fourth ends the query: {ten_cost} steps against {one_costs} for one");
    }

    #[tokio::test]
    async fn a_pointer_chain_answer_costs_bounded_work_and_holds_up_nothing() {
        use super::super::dns::{steps_on_this_thread, MAX_STEPS};
        let chain = scripted(|q| match q.tcp {
            false => vec![Reply::to(q).truncated().bytes()],
            true => vec![pointer_chain(q)],
        });
        let good = scripted(|q| vec![real(q)]);
        let hostile = Stub { conf: patient(&[chain.addr]), ..both_types(&[]) };
        let unrelated = Stub::new(conf(&[good.addr]), Some(Family::V4));
        let before = steps_on_this_thread();
        // One thread runs both: what the hostile answer costs, the other
        // lookup waits for.
        let (bad, fine) = tokio::join!(hostile.lookup("n9.test"), unrelated.lookup("n5.test"));
        let steps = steps_on_this_thread() - before;
        assert_eq!(bad, Err(DnsError::Malformed { server: chain.addr }), "refused, not timed out");
        assert_eq!(fine.unwrap().addrs, [ip("127.0.0.5")]);
        let over_tcp = chain.asked().iter().filter(|(_, _, tcp)| *tcp).count() as u64;
        assert_eq!(over_tcp, 2, "A and AAAA, once each: malformed is not asked again");
        assert!(steps >= u64::from(MAX_STEPS), "the A answer ran into the budget: {steps} steps");
        assert!(steps <= over_tcp * u64::from(MAX_STEPS) + 1_000, "{steps} steps");
    }

    #[test]
    fn both_families_combine() {
        let v4: Heard = (Ok((vec![ip("127.0.0.1")], Some(60))), None);
        let v6: Heard = (Ok((vec![ip("::1")], Some(30))), None);
        let found = |h: &[Heard]| combine(h).result.unwrap();
        assert_eq!(found(&[v4.clone(), v6]), Found { addrs: vec![ip("127.0.0.1"), ip("::1")], ttl: 30 });
        let none: Heard = (Ok((vec![], None)), None);
        assert_eq!(found(&[v4.clone(), none.clone()]).ttl, 60, "NODATA for one family is fine");
        let none_for_20: Heard = (Ok((vec![], None)), Some(20));
        assert_eq!(found(&[v4.clone(), none_for_20.clone()]).ttl, 20, "as long as that NODATA holds");
        assert_eq!(found(&[v4.clone(), (Err(DnsError::Timeout), None)]).addrs, [ip("127.0.0.1")]);
        assert_eq!(combine(&[v4]).negative_ttl, None);
        let not_found_for_30: Heard = (Err(DnsError::NotFound), Some(30));
        assert_eq!(combine(&[none.clone(), none.clone()]), Outcome::failed(DnsError::NoAddress));
        assert_eq!(
            combine(&[none_for_20.clone(), (Ok((vec![], None)), Some(40))]),
            Outcome { result: Err(DnsError::NoAddress), negative_ttl: Some(20) }
        );
        assert_eq!(
            combine(&[none_for_20.clone(), none.clone()]).negative_ttl,
            None,
            "one NODATA without its SOA: not kept"
        );
        assert_eq!(
            combine(&[none.clone(), not_found_for_30.clone()]),
            Outcome { result: Err(DnsError::NotFound), negative_ttl: Some(30) }
        );
        assert_eq!(combine(&[(Err(DnsError::NotFound), None), none.clone()]), Outcome::failed(DnsError::NotFound));
        assert_eq!(combine(&[(Err(DnsError::Timeout), None), none_for_20]), Outcome::failed(DnsError::Timeout));
        assert_eq!(combine(&[(Err(DnsError::Timeout), None), not_found_for_30]).negative_ttl, Some(30));
    }

    #[test]
    fn errors_read_as_before() {
        assert_eq!(DnsError::NotFound.to_string(), "name or service not known");
        assert_eq!(DnsError::NoAddress.to_string(), "no address found");
        assert_eq!(DnsError::Timeout.to_string(), "DNS server did not answer in time");
        let server = "127.0.0.1:53".parse().unwrap();
        assert_eq!(DnsError::Server { server, rcode: 2 }.to_string(), "DNS server 127.0.0.1:53 answered SERVFAIL");
    }
}
