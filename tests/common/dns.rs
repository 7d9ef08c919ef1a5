//! Scripted DNS servers on 127.0.0.1 (port 0, UDP and TCP on the same port)
//! for tests.
//!
//! `dns_server(steps)`: A queries, whatever the name, get the script's steps
//! in turn (the last one repeats); every other query gets an empty NOERROR
//! answer. `scripted(handler)`: the handler sees every query (UDP or TCP)
//! and returns the datagrams to send back, in order (none: the query is
//! dropped); `Reply` builds them. `hostile(handler)`: the handler returns
//! [`Act`]s, what an attacker would do besides answering: forge replies from
//! another port, flood every ID at a port, forge an ICMP port unreachable
//! (with a raw socket: root or CAP_NET_RAW); `pointer_chain` builds a 64 KB
//! answer that costs a naive decoder millions of steps.
//!
//! Shared by the resolver's unit tests (`#[path]`) and tests/dns.rs.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// One A record with this TTL in seconds.
    Addr(Ipv4Addr, u32),
    /// The name does not exist.
    NxDomain,
    /// The name does not exist, and the zone's SOA (TTL, MINIMUM) says for
    /// how long that may be believed (RFC 2308).
    NxDomainSoa(u32, u32),
}

pub const A: u16 = 1;
pub const AAAA: u16 = 28;
pub const SERVFAIL: u8 = 2;
pub const NXDOMAIN: u8 = 3;
pub const REFUSED: u8 = 5;

/// One query as the server saw it.
#[derive(Clone, Debug)]
pub struct Query {
    pub id: u16,
    /// Lower-case, dotted, no trailing dot.
    pub name: String,
    pub qtype: u16,
    pub tcp: bool,
    /// The client's source port.
    pub port: u16,
    /// Header and question, as received.
    question: Vec<u8>,
}

pub struct DnsServer {
    pub addr: SocketAddr,
    /// How many A queries arrived.
    pub a_queries: Arc<AtomicUsize>,
    log: Arc<Mutex<Vec<Query>>>,
}

impl DnsServer {
    pub fn a_queries(&self) -> usize {
        self.a_queries.load(Ordering::SeqCst)
    }

    /// Every query so far, in arrival order.
    pub fn queries(&self) -> Vec<Query> {
        self.log.lock().unwrap().clone()
    }

    /// The source ports of the UDP queries so far, in arrival order.
    pub fn ports(&self) -> Vec<u16> {
        self.queries().into_iter().filter(|q| !q.tcp).map(|q| q.port).collect()
    }

    /// (name, type, over TCP) of every query so far.
    pub fn asked(&self) -> Vec<(String, u16, bool)> {
        self.queries().into_iter().map(|q| (q.name, q.qtype, q.tcp)).collect()
    }
}

pub fn dns_server(script: Vec<Step>) -> DnsServer {
    assert!(!script.is_empty());
    let count = Arc::new(AtomicUsize::new(0));
    scripted(move |q| {
        let reply = Reply::to(q);
        if q.qtype != A {
            return vec![reply.bytes()];
        }
        let i = count.fetch_add(1, Ordering::SeqCst);
        match script[i.min(script.len() - 1)] {
            Step::NxDomain => vec![reply.rcode(NXDOMAIN).bytes()],
            Step::NxDomainSoa(ttl, minimum) => {
                let zone = q.name.split_once('.').map_or("", |(_, zone)| zone).to_string();
                vec![reply.rcode(NXDOMAIN).soa(&zone, ttl, minimum).bytes()]
            }
            Step::Addr(ip, ttl) => vec![reply.a(&q.name, ip, ttl).bytes()],
        }
    })
}

pub fn scripted(handler: impl Fn(&Query) -> Vec<Vec<u8>> + Send + Sync + 'static) -> DnsServer {
    hostile(move |q| handler(q).into_iter().map(Act::Reply).collect())
}

/// What a hostile server (or an off-path attacker beside it) does about a
/// query, in order.
#[derive(Clone, Debug)]
pub enum Act {
    /// The datagram to the query's source (or on its TCP connection).
    Reply(Vec<u8>),
    /// The datagram to the query's source from another port of the server's
    /// address: not the server asked.
    FromOtherPort(Vec<u8>),
    /// The datagram under each of the 65,536 IDs, from the server's address
    /// and port to `port` of the client's address.
    Flood(u16, Vec<u8>),
    /// A forged ICMP port unreachable about a datagram from the client's
    /// `port` to the server: the kernel reports ECONNREFUSED on a socket
    /// connected to the server from that port. Needs [`can_forge_icmp`].
    Unreachable(u16),
}

pub fn hostile(handler: impl Fn(&Query) -> Vec<Act> + Send + Sync + 'static) -> DnsServer {
    let (udp, tcp) = bind_both();
    let addr = udp.local_addr().expect("local addr");
    let a_queries = Arc::new(AtomicUsize::new(0));
    let log = Arc::new(Mutex::new(Vec::new()));
    let handler = Arc::new(handler);
    let seen = {
        let (a_queries, log) = (a_queries.clone(), log.clone());
        move |q: &Query| {
            if q.qtype == A {
                a_queries.fetch_add(1, Ordering::SeqCst);
            }
            log.lock().unwrap().push(q.clone());
        }
    };
    let (udp_handler, udp_seen) = (handler.clone(), seen.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = udp.recv_from(&mut buf) {
            let Some(q) = parse_query(&buf[..n], false, peer.port()) else { continue };
            udp_seen(&q);
            for act in udp_handler(&q) {
                match act {
                    Act::Reply(packet) => drop(udp.send_to(&packet, peer)),
                    other => attack(&udp, peer, other),
                }
            }
        }
    });
    std::thread::spawn(move || {
        for mut stream in tcp.incoming().flatten() {
            let (handler, seen) = (handler.clone(), seen.clone());
            let port = stream.peer_addr().map(|a| a.port()).unwrap_or(0);
            std::thread::spawn(move || {
                let mut len = [0u8; 2];
                while stream.read_exact(&mut len).is_ok() {
                    let mut packet = vec![0u8; u16::from_be_bytes(len) as usize];
                    if stream.read_exact(&mut packet).is_err() {
                        return;
                    }
                    let Some(q) = parse_query(&packet, true, port) else { return };
                    seen(&q);
                    for act in handler(&q) {
                        let Act::Reply(reply) = act else { continue };
                        let _ = stream.write_all(&(reply.len() as u16).to_be_bytes());
                        let _ = stream.write_all(&reply);
                    }
                }
            });
        }
    });
    DnsServer { addr, a_queries, log }
}

/// Carries out one act other than a reply, from the server's socket `udp`
/// about a query from `peer`.
fn attack(udp: &UdpSocket, peer: SocketAddr, act: Act) {
    match act {
        Act::Reply(_) => {}
        Act::FromOtherPort(packet) => {
            let other = UdpSocket::bind("127.0.0.1:0").expect("bind forger");
            let _ = other.send_to(&packet, peer);
        }
        Act::Flood(port, mut packet) => {
            let to = SocketAddr::new(peer.ip(), port);
            for id in 0..=u16::MAX {
                packet[..2].copy_from_slice(&id.to_be_bytes());
                let _ = udp.send_to(&packet, to);
            }
        }
        Act::Unreachable(port) => {
            let server = udp.local_addr().expect("local addr").port();
            forge_unreachable(port, server);
        }
    }
}

/// Whether this process may send raw ICMP (root or CAP_NET_RAW).
pub fn can_forge_icmp() -> bool {
    match raw_icmp_socket() {
        Some(fd) => {
            // SAFETY: closing the descriptor just opened.
            unsafe { libc::close(fd) };
            true
        }
        None => false,
    }
}

fn raw_icmp_socket() -> Option<i32> {
    // SAFETY: plain socket(2); the descriptor is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) };
    (fd >= 0).then_some(fd)
}

/// An ICMP port unreachable to 127.0.0.1 quoting a UDP datagram from
/// 127.0.0.1:`from` to 127.0.0.1:`to`, as a router or the server's kernel
/// would send if `to` were closed.
fn forge_unreachable(from: u16, to: u16) {
    let Some(fd) = raw_icmp_socket() else { panic!("no raw socket: check can_forge_icmp() first") };
    let mut quoted = vec![0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1];
    let sum = checksum(&quoted);
    quoted[10..12].copy_from_slice(&sum.to_be_bytes());
    quoted.extend_from_slice(&from.to_be_bytes());
    quoted.extend_from_slice(&to.to_be_bytes());
    quoted.extend_from_slice(&[0, 8, 0, 0]);
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&quoted);
    let sum = checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let dest = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes([127, 0, 0, 1]) },
        sin_zero: [0; 8],
    };
    // SAFETY: a valid buffer and address of the stated lengths; fd is ours.
    let sent = unsafe {
        let sent = libc::sendto(
            fd,
            icmp.as_ptr().cast(),
            icmp.len(),
            0,
            (&dest as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        libc::close(fd);
        sent
    };
    assert_eq!(sent, icmp.len() as isize, "forged ICMP not sent");
}

/// The Internet checksum (RFC 1071).
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The audit's answer to `q`: 64 KB (for TCP), a 16-link CNAME chain from
/// the question, then A records (10.6.6.6) whose owners point at a 255-byte
/// name of 127 labels, until the packet is full, and last the chain's
/// address (127.0.0.1). Every pointer is legal (backward, one per name). A
/// decoder that reads every owner once per link takes over 8 million steps.
pub fn pointer_chain(q: &Query) -> Vec<u8> {
    pointer_chain_within(q, u16::MAX as usize, [127, 0, 0, 1].as_slice())
}

/// The same answer within `limit` bytes, ending with `last` as the chain's
/// address: 4 bytes an address, anything else an answer that is refused
/// only once every owner has been decoded.
pub fn pointer_chain_within(q: &Query, limit: usize, last: &[u8]) -> Vec<u8> {
    let mut packet = Reply::to(q).bytes();
    let pointer = |at: usize| [0xc0 | (at >> 8) as u8, at as u8];
    let record = |packet: &mut Vec<u8>, owner: &[u8], rtype: u16, data: &[u8]| {
        packet.extend_from_slice(owner);
        packet.extend_from_slice(&rtype.to_be_bytes());
        packet.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
        packet.extend_from_slice(&(data.len() as u16).to_be_bytes());
        packet.extend_from_slice(data);
    };
    let long_at = packet.len() + 11;
    let long: Vec<u8> = (0..127).flat_map(|_| [1, b'x']).chain([0]).collect();
    record(&mut packet, &[0], 10, &long);
    let mut at = 12;
    for i in 0..16u8 {
        let target_at = packet.len() + 12;
        record(&mut packet, &pointer(at), 5, &[2, b'c', b'a' + i, 0]);
        at = target_at;
    }
    let mut count = 17u16;
    while packet.len() + 32 <= limit {
        record(&mut packet, &pointer(long_at), A, &[10, 6, 6, 6]);
        count += 1;
    }
    record(&mut packet, &pointer(at), A, last);
    packet[6..8].copy_from_slice(&(count + 1).to_be_bytes());
    packet
}

/// A UDP socket and a TCP listener on one port of 127.0.0.1.
fn bind_both() -> (UdpSocket, TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind test DNS server");
        let port = udp.local_addr().expect("local addr").port();
        if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)) {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP");
}

fn parse_query(packet: &[u8], tcp: bool, port: u16) -> Option<Query> {
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = *packet.get(pos)? as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(packet.get(pos..pos + len)?).to_ascii_lowercase());
        pos += len;
    }
    let qtype = u16::from_be_bytes([*packet.get(pos)?, *packet.get(pos + 1)?]);
    let question = packet.get(..pos + 4)?.to_vec();
    let id = u16::from_be_bytes([packet[0], packet[1]]);
    Some(Query { id, name: labels.join("."), qtype, tcp, port, question })
}

/// `name` in wire form, uncompressed.
pub fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// A reply under construction: the query's ID and question, QR, RD as
/// asked, RA, NOERROR, no records.
pub struct Reply {
    packet: Vec<u8>,
    answers: u16,
    authority: u16,
}

impl Reply {
    pub fn to(q: &Query) -> Reply {
        let mut packet = q.question.clone();
        packet[2] = 0x80 | (packet[2] & 0x01);
        packet[3] = 0x80;
        packet[6..12].fill(0);
        Reply { packet, answers: 0, authority: 0 }
    }

    pub fn rcode(mut self, rcode: u8) -> Reply {
        self.packet[3] = (self.packet[3] & 0xf0) | rcode;
        self
    }

    /// TC: the answer did not fit.
    pub fn truncated(mut self) -> Reply {
        self.packet[2] |= 0x02;
        self
    }

    pub fn id(mut self, id: u16) -> Reply {
        self.packet[..2].copy_from_slice(&id.to_be_bytes());
        self
    }

    /// The question's name replaced (a reply to some other question).
    pub fn question_name(mut self, name: &str) -> Reply {
        let end = self.packet.len() - 4;
        let tail = self.packet[end..].to_vec();
        self.packet.truncate(12);
        self.packet.extend_from_slice(&wire_name(name));
        self.packet.extend_from_slice(&tail);
        self
    }

    pub fn a(self, owner: &str, ip: Ipv4Addr, ttl: u32) -> Reply {
        self.record(owner, A, ttl, &ip.octets())
    }

    pub fn aaaa(self, owner: &str, ip: Ipv6Addr, ttl: u32) -> Reply {
        self.record(owner, AAAA, ttl, &ip.octets())
    }

    pub fn cname(self, owner: &str, target: &str, ttl: u32) -> Reply {
        self.record(owner, 5, ttl, &wire_name(target))
    }

    fn record(mut self, owner: &str, rtype: u16, ttl: u32, data: &[u8]) -> Reply {
        self.packet.extend_from_slice(&wire_name(owner));
        self.packet.extend_from_slice(&rtype.to_be_bytes());
        self.packet.extend_from_slice(&[0, 1]);
        self.packet.extend_from_slice(&ttl.to_be_bytes());
        self.packet.extend_from_slice(&(data.len() as u16).to_be_bytes());
        self.packet.extend_from_slice(data);
        self.answers += 1;
        self
    }

    /// The SOA of `zone` in the authority section (call it after the
    /// answers): what lets NXDOMAIN or NODATA be kept (RFC 2308).
    pub fn soa(mut self, zone: &str, ttl: u32, minimum: u32) -> Reply {
        let mut data = wire_name(&format!("ns.{zone}"));
        data.extend_from_slice(&wire_name(&format!("admin.{zone}")));
        for v in [1u32, 3600, 600, 86400, minimum] {
            data.extend_from_slice(&v.to_be_bytes());
        }
        let answers = self.answers;
        self = self.record(zone, 6, ttl, &data);
        self.answers = answers;
        self.authority += 1;
        self
    }

    pub fn bytes(mut self) -> Vec<u8> {
        self.packet[6..8].copy_from_slice(&self.answers.to_be_bytes());
        self.packet[8..10].copy_from_slice(&self.authority.to_be_bytes());
        self.packet
    }
}
