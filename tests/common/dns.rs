//! Scripted DNS servers on 127.0.0.1 (port 0, UDP and TCP on the same port)
//! for tests.
//!
//! `dns_server(steps)`: A queries, whatever the name, get the script's steps
//! in turn (the last one repeats); every other query gets an empty NOERROR
//! answer. `scripted(handler)`: the handler sees every query (UDP or TCP)
//! and returns the datagrams to send back, in order (none: the query is
//! dropped); `Reply` builds them.
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
            Step::Addr(ip, ttl) => vec![reply.a(&q.name, ip, ttl).bytes()],
        }
    })
}

pub fn scripted(handler: impl Fn(&Query) -> Vec<Vec<u8>> + Send + Sync + 'static) -> DnsServer {
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
            let Some(q) = parse_query(&buf[..n], false) else { continue };
            udp_seen(&q);
            for packet in udp_handler(&q) {
                let _ = udp.send_to(&packet, peer);
            }
        }
    });
    std::thread::spawn(move || {
        for mut stream in tcp.incoming().flatten() {
            let (handler, seen) = (handler.clone(), seen.clone());
            std::thread::spawn(move || {
                let mut len = [0u8; 2];
                while stream.read_exact(&mut len).is_ok() {
                    let mut packet = vec![0u8; u16::from_be_bytes(len) as usize];
                    if stream.read_exact(&mut packet).is_err() {
                        return;
                    }
                    let Some(q) = parse_query(&packet, true) else { return };
                    seen(&q);
                    for reply in handler(&q) {
                        let _ = stream.write_all(&(reply.len() as u16).to_be_bytes());
                        let _ = stream.write_all(&reply);
                    }
                }
            });
        }
    });
    DnsServer { addr, a_queries, log }
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

fn parse_query(packet: &[u8], tcp: bool) -> Option<Query> {
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
    Some(Query { id, name: labels.join("."), qtype, tcp, question })
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
}

impl Reply {
    pub fn to(q: &Query) -> Reply {
        let mut packet = q.question.clone();
        packet[2] = 0x80 | (packet[2] & 0x01);
        packet[3] = 0x80;
        packet[6..12].fill(0);
        Reply { packet, answers: 0 }
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

    pub fn bytes(mut self) -> Vec<u8> {
        self.packet[6..8].copy_from_slice(&self.answers.to_be_bytes());
        self.packet
    }
}
