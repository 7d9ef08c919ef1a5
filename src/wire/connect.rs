//! Connecting to a host: Happy Eyeballs (RFC 8305) over the addresses the
//! resolver gave, and `--deny-private`.
//!
//! Addresses are tried in an order that alternates the families, starting
//! with the family of the resolver's first answer (getaddrinfo puts IPv6 first
//! where IPv6 works). The next attempt starts [`ATTEMPT_DELAY`] after the
//! previous one, or at once when it has failed, while earlier attempts go on:
//! a dead first address costs the delay, not `--connect-timeout`. The first
//! connection made wins; the others are dropped, which closes them.

use std::future::{poll_fn, Future};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::{sleep_until, timeout_at, Instant};

use super::resolve::io_reason;
use crate::result::{CheckError, Phase};

/// RFC 8305's "Connection Attempt Delay": how long an attempt has before the
/// next address is tried too. 250 ms, as curl and browsers use.
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// The deadlines one connection is made under.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `--connect-timeout`, for each attempt.
    pub connect_timeout: Duration,
    /// `--timeout`, named when `deadline` is what stops an attempt.
    pub timeout: Duration,
    /// The end of the whole check.
    pub deadline: Instant,
}

/// Connects to the first of `addrs` that answers (see the module doc), and
/// says which one it was.
pub async fn connect(addrs: &[SocketAddr], limits: Limits) -> Result<(TcpStream, SocketAddr), CheckError> {
    let (stream, addr) = race(addrs, limits, ATTEMPT_DELAY, TcpStream::connect).await?;
    close_with_reset(&stream);
    Ok((stream, addr))
}

/// A check is done once the head is in, and most servers have closed their
/// side by then. Closing ours with a reset (`SO_LINGER` 0) instead of a FIN
/// spares both ends the rest of the close: the server keeps no `TIME_WAIT`
/// socket per check, and the client's CPU per HTTP check is about 7 % lower
/// (`bench/RESULTS.md`). A server still sending its body gets the same reset
/// from any client that closes with unread data, as curl does too.
fn close_with_reset(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

/// The race itself, over any `dial` (tests give it scripted connections).
/// When every attempt fails, the last failure is the one reported.
async fn race<S, F>(
    addrs: &[SocketAddr],
    limits: Limits,
    delay: Duration,
    mut dial: impl FnMut(SocketAddr) -> F,
) -> Result<(S, SocketAddr), CheckError>
where
    F: Future<Output = io::Result<S>>,
{
    if let [addr] = addrs {
        // One address (the common case, and every IP literal): nothing to race.
        let (addr, result) = attempt(*addr, dial(*addr), limits).await;
        return result.map(|stream| (stream, addr));
    }
    let mut waiting = interleave(addrs).into_iter();
    let mut running = Vec::new();
    let mut last_error = None;
    let mut next_start = Instant::now();
    loop {
        tokio::select! {
            // A finished attempt is looked at before a new one is started.
            biased;
            (addr, result) = first_done(&mut running), if !running.is_empty() => match result {
                Ok(stream) => return Ok((stream, addr)),
                Err(error) => {
                    last_error = Some(error);
                    next_start = Instant::now();
                }
            },
            () = sleep_until(next_start), if waiting.len() > 0 => {
                if let Some(addr) = waiting.next() {
                    running.push(Box::pin(attempt(addr, dial(addr), limits)));
                }
                next_start = Instant::now() + delay;
            },
            else => {
                return Err(last_error.unwrap_or_else(|| CheckError::Dns {
                    host: "?".into(),
                    reason: "no address found".into(),
                }))
            }
        }
    }
}

/// One connection attempt under `--connect-timeout` (or the end of the whole
/// check, if that comes first, and then named as `--timeout`).
async fn attempt<S>(
    addr: SocketAddr,
    connecting: impl Future<Output = io::Result<S>>,
    limits: Limits,
) -> (SocketAddr, Result<S, CheckError>) {
    let until = limits.deadline.min(super::later(Instant::now(), limits.connect_timeout));
    let limit = if until == limits.deadline { limits.timeout } else { limits.connect_timeout };
    let result = match timeout_at(until, connecting).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(CheckError::Connect { addr, reason: io_reason(&e) }),
        Err(_) => Err(CheckError::Timeout { phase: Phase::Connect, limit }),
    };
    (addr, result)
}

/// Waits for the first of `running` to finish and takes it out; the others
/// keep running. Never finishes when `running` is empty.
async fn first_done<F: Future + ?Sized>(running: &mut Vec<Pin<Box<F>>>) -> F::Output {
    poll_fn(|cx| {
        let done = running.iter_mut().enumerate().find_map(|(i, f)| match f.as_mut().poll(cx) {
            Poll::Ready(output) => Some((i, output)),
            Poll::Pending => None,
        });
        match done {
            Some((i, output)) => {
                drop(running.swap_remove(i));
                Poll::Ready(output)
            }
            None => Poll::Pending,
        }
    })
    .await
}

/// The order to try `addrs` in: the family of the first answer first, then
/// the families alternating, each family in the resolver's order.
pub fn interleave(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else { return Vec::new() };
    let (same, other): (Vec<SocketAddr>, Vec<SocketAddr>) =
        addrs.iter().partition(|addr| addr.is_ipv4() == first.is_ipv4());
    let (mut same, mut other) = (same.into_iter(), other.into_iter());
    let mut order = Vec::with_capacity(addrs.len());
    loop {
        match (same.next(), other.next()) {
            (None, None) => return order,
            (a, b) => order.extend(a.into_iter().chain(b)),
        }
    }
}

/// `--deny-private`: the addresses of `addrs` that may be connected to. When
/// none is left, the error names the first one refused.
pub fn public_only(addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, CheckError> {
    let refused = addrs.iter().find_map(|addr| refusal(*addr));
    let public: Vec<SocketAddr> = addrs.into_iter().filter(|addr| private_range(addr.ip()).is_none()).collect();
    match refused {
        Some(error) if public.is_empty() => Err(error),
        _ => Ok(public),
    }
}

/// `--deny-private` for a URL whose host is an IP literal: refused before
/// anything is sent, even to a proxy (which would connect to it for us).
pub fn deny_literal(host: &url::Host<&str>, port: u16) -> Result<(), CheckError> {
    let ip = match host {
        url::Host::Ipv4(ip) => IpAddr::V4(*ip),
        url::Host::Ipv6(ip) => IpAddr::V6(*ip),
        url::Host::Domain(_) => return Ok(()),
    };
    refusal(SocketAddr::new(ip, port)).map_or(Ok(()), Err)
}

fn refusal(addr: SocketAddr) -> Option<CheckError> {
    private_range(addr.ip()).map(|range| CheckError::PrivateAddress { addr, range })
}

/// Which non-public range `ip` is in, in words, or `None` for an address
/// on the internet. IPv6 forms that carry an IPv4 address (mapped,
/// compatible, NAT64) are judged by that IPv4 address.
pub fn private_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => private_v4(ip),
        IpAddr::V6(ip) => private_v6(ip),
    }
}

fn private_v4(ip: Ipv4Addr) -> Option<&'static str> {
    match ip.octets() {
        // 0.0.0.0/8, "this network": connecting to it reaches this host.
        [0, ..] => Some("unspecified"),
        [127, ..] => Some("loopback"),
        [10, ..] | [172, 16..=31, ..] | [192, 168, ..] => Some("private (RFC 1918)"),
        [169, 254, ..] => Some("link-local"),
        [100, 64..=127, ..] => Some("shared (CGNAT, RFC 6598)"),
        _ => None,
    }
}

fn private_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => Some("unspecified"),
        [0, 0, 0, 0, 0, 0, 0, 1] => Some("loopback"),
        // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::a.b.c.d (NAT64).
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => {
            private_v4(embedded())
        }
        [first, ..] if first & 0xffc0 == 0xfe80 => Some("link-local"),
        [first, ..] if first & 0xffc0 == 0xfec0 => Some("site-local"),
        [first, ..] if first & 0xfe00 == 0xfc00 => Some("unique-local"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn addrs(texts: &[&str]) -> Vec<SocketAddr> {
        texts.iter().map(|t| addr(t)).collect()
    }

    #[test]
    fn families_alternate_starting_with_the_first_answer() {
        let v6_first = addrs(&["[::1]:80", "[::2]:80", "[::3]:80", "1.0.0.1:80", "1.0.0.2:80"]);
        assert_eq!(interleave(&v6_first), addrs(&["[::1]:80", "1.0.0.1:80", "[::2]:80", "1.0.0.2:80", "[::3]:80"]));
        let v4_first = addrs(&["1.0.0.1:80", "1.0.0.2:80", "[::1]:80", "1.0.0.3:80"]);
        assert_eq!(interleave(&v4_first), addrs(&["1.0.0.1:80", "[::1]:80", "1.0.0.2:80", "1.0.0.3:80"]));
        let one_family = addrs(&["1.0.0.2:80", "1.0.0.1:80"]);
        assert_eq!(interleave(&one_family), one_family);
        assert!(interleave(&[]).is_empty());
    }

    #[test]
    fn private_ranges() {
        let table = [
            ("0.0.0.0", Some("unspecified")),
            ("0.1.2.3", Some("unspecified")),
            ("127.0.0.1", Some("loopback")),
            ("127.255.255.254", Some("loopback")),
            ("10.0.0.1", Some("private (RFC 1918)")),
            ("172.16.0.1", Some("private (RFC 1918)")),
            ("172.31.255.255", Some("private (RFC 1918)")),
            ("172.32.0.1", None),
            ("172.15.255.255", None),
            ("192.168.1.1", Some("private (RFC 1918)")),
            ("192.169.0.1", None),
            ("169.254.169.254", Some("link-local")),
            ("100.64.0.1", Some("shared (CGNAT, RFC 6598)")),
            ("100.127.255.255", Some("shared (CGNAT, RFC 6598)")),
            ("100.128.0.1", None),
            ("100.63.255.255", None),
            ("1.1.1.1", None),
            ("93.184.216.34", None),
            ("::", Some("unspecified")),
            ("::1", Some("loopback")),
            ("fe80::1", Some("link-local")),
            ("febf::1", Some("link-local")),
            ("fec0::1", Some("site-local")),
            ("fc00::1", Some("unique-local")),
            ("fd00:ec2::254", Some("unique-local")),
            ("fe00::1", None),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:10.1.2.3", Some("private (RFC 1918)")),
            ("::ffff:169.254.169.254", Some("link-local")),
            ("::ffff:8.8.8.8", None),
            ("::127.0.0.1", Some("loopback")),
            ("::192.168.0.1", Some("private (RFC 1918)")),
            ("::8.8.8.8", None),
            ("64:ff9b::10.0.0.1", Some("private (RFC 1918)")),
            ("64:ff9b::8.8.8.8", None),
            ("2001:db8::1", None),
            ("2606:4700::1111", None),
        ];
        for (ip, expected) in table {
            assert_eq!(private_range(ip.parse().unwrap()), expected, "{ip}");
        }
    }

    #[test]
    fn deny_private_keeps_public_addresses_and_names_a_refused_one() {
        let mixed = addrs(&["127.0.0.1:80", "8.8.8.8:80"]);
        assert_eq!(public_only(mixed).unwrap(), addrs(&["8.8.8.8:80"]));
        let err = public_only(addrs(&["[::1]:8080", "127.0.0.1:8080"])).unwrap_err();
        assert_eq!(err.kind().as_str(), "private-address");
        assert_eq!(err.to_string(), "refusing [::1]:8080: loopback address");
        let literal = url::Host::Ipv4("10.0.0.1".parse().unwrap());
        let err = deny_literal(&literal, 443).unwrap_err();
        assert_eq!(err.to_string(), "refusing 10.0.0.1:443: private (RFC 1918) address");
        assert!(deny_literal(&url::Host::Domain("localhost"), 80).is_ok(), "names are judged after DNS");
    }

    /// A scripted connection: after `after`, succeeds (`Some`) or fails.
    fn scripted(
        script: &[(&str, u64, bool)],
    ) -> impl FnMut(SocketAddr) -> Pin<Box<dyn Future<Output = io::Result<SocketAddr>>>> {
        let script: Vec<(SocketAddr, u64, bool)> = script.iter().map(|&(a, ms, ok)| (addr(a), ms, ok)).collect();
        move |to: SocketAddr| {
            let (_, ms, ok) = *script.iter().find(|(a, _, _)| *a == to).unwrap();
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                if ok {
                    Ok(to)
                } else {
                    Err(io::Error::from(io::ErrorKind::ConnectionRefused))
                }
            })
        }
    }

    fn limits(connect_ms: u64, timeout_ms: u64) -> Limits {
        Limits {
            connect_timeout: Duration::from_millis(connect_ms),
            timeout: Duration::from_millis(timeout_ms),
            deadline: Instant::now() + Duration::from_millis(timeout_ms),
        }
    }

    const NEVER: u64 = 1_000_000;

    #[tokio::test(start_paused = true)]
    async fn a_dead_first_address_costs_the_attempt_delay() {
        let start = Instant::now();
        let dial = scripted(&[("[::1]:80", NEVER, true), ("127.0.0.1:80", 10, true)]);
        let list = addrs(&["[::1]:80", "127.0.0.1:80"]);
        let (_, won) = race(&list, limits(5000, 10_000), ATTEMPT_DELAY, dial).await.unwrap();
        assert_eq!(won, addr("127.0.0.1:80"));
        assert_eq!(start.elapsed(), ATTEMPT_DELAY + Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_first_attempt_still_wins_when_it_answers_first() {
        let start = Instant::now();
        let dial = scripted(&[("[::1]:80", 300, true), ("127.0.0.1:80", 200, true)]);
        let list = addrs(&["[::1]:80", "127.0.0.1:80"]);
        let (_, won) = race(&list, limits(5000, 10_000), ATTEMPT_DELAY, dial).await.unwrap();
        assert_eq!(won, addr("[::1]:80"), "the first attempt goes on after the next starts");
        assert_eq!(start.elapsed(), Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_starts_the_next_attempt_at_once() {
        let start = Instant::now();
        let dial = scripted(&[("[::1]:80", 5, false), ("127.0.0.1:80", 5, false), ("[::2]:80", 5, true)]);
        let list = addrs(&["[::1]:80", "[::2]:80", "127.0.0.1:80"]);
        let (_, won) = race(&list, limits(5000, 10_000), ATTEMPT_DELAY, dial).await.unwrap();
        assert_eq!(won, addr("[::2]:80"));
        assert_eq!(start.elapsed(), Duration::from_millis(15));
    }

    #[tokio::test(start_paused = true)]
    async fn when_all_fail_the_last_failure_is_reported() {
        let dial = scripted(&[("127.0.0.1:80", NEVER, true), ("127.0.0.2:80", 5, false)]);
        let list = addrs(&["127.0.0.1:80", "127.0.0.2:80"]);
        let start = Instant::now();
        let err = race(&list, limits(2000, 10_000), ATTEMPT_DELAY, dial).await.unwrap_err();
        assert_eq!(err.to_string(), "no connection after 2s", "--connect-timeout named");
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        let dial = scripted(&[("127.0.0.1:80", 5, false)]);
        let err = race(&addrs(&["127.0.0.1:80"]), limits(2000, 10_000), ATTEMPT_DELAY, dial).await.unwrap_err();
        assert_eq!(err.to_string(), "connection refused (127.0.0.1:80)");
    }

    #[tokio::test(start_paused = true)]
    async fn the_whole_check_deadline_is_named_when_it_ends_the_attempt() {
        let dial = scripted(&[("127.0.0.1:80", NEVER, true)]);
        let err = race(&addrs(&["127.0.0.1:80"]), limits(5000, 1000), ATTEMPT_DELAY, dial).await.unwrap_err();
        assert_eq!(err.to_string(), "no connection after 1s");
        assert_eq!(err, CheckError::Timeout { phase: Phase::Connect, limit: Duration::from_secs(1) });
    }

    #[tokio::test(start_paused = true)]
    async fn the_losing_attempts_are_dropped_when_one_wins() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        /// Counts the attempts dropped (a real one closes its socket then).
        struct Dropped(Arc<AtomicUsize>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicUsize::new(0));
        let list = addrs(&["127.0.0.1:80", "127.0.0.2:80", "127.0.0.3:80"]);
        let dial = |to: SocketAddr| {
            let guard = Dropped(dropped.clone());
            async move {
                let _guard = guard;
                let ms = if to == addr("127.0.0.3:80") { 10 } else { NEVER };
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(to)
            }
        };
        let (_, won) = race(&list, limits(5000, 10_000), ATTEMPT_DELAY, dial).await.unwrap();
        assert_eq!(won, addr("127.0.0.3:80"));
        assert_eq!(dropped.load(Ordering::SeqCst), 3, "the winner's attempt and both losers");
    }

    /// A listener on 127.0.0.2 whose accept queue is full: further SYNs are
    /// dropped, so a connection attempt to it hangs.
    fn dead_listener() -> (std::net::TcpListener, Vec<std::net::TcpStream>) {
        use std::os::fd::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
        // SAFETY: listen on a socket we own; a second listen() only changes the backlog.
        assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
        let filler = vec![std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap()];
        (listener, filler)
    }

    #[tokio::test]
    async fn real_sockets_dead_address_then_live_one() {
        let (dead, _filler) = dead_listener();
        let live = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let list = [dead.local_addr().unwrap(), live.local_addr().unwrap()];
        let started = std::time::Instant::now();
        let limits = Limits {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            deadline: Instant::now() + Duration::from_secs(10),
        };
        let (stream, won) = connect(&list, limits).await.unwrap();
        assert_eq!(won, list[1]);
        assert_eq!(stream.peer_addr().unwrap(), list[1]);
        assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    }
}
