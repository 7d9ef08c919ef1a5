//! A scripted DNS server on 127.0.0.1 (UDP, port 0) for tests. A queries,
//! whatever the name, get the script's steps in turn (the last one repeats);
//! every other query gets an empty NOERROR answer.
//!
//! Shared by the resolver's unit tests (`#[path]`) and tests/dns.rs.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// One A record with this TTL in seconds.
    Addr(Ipv4Addr, u32),
    /// The name does not exist.
    NxDomain,
}

pub struct DnsServer {
    pub addr: SocketAddr,
    /// How many A queries arrived.
    pub a_queries: Arc<AtomicUsize>,
}

impl DnsServer {
    pub fn a_queries(&self) -> usize {
        self.a_queries.load(Ordering::SeqCst)
    }
}

pub fn dns_server(script: Vec<Step>) -> DnsServer {
    assert!(!script.is_empty());
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind test DNS server");
    let addr = socket.local_addr().expect("local addr");
    let a_queries = Arc::new(AtomicUsize::new(0));
    let count = a_queries.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let Some((question_end, qtype)) = question(&buf[..n]) else { continue };
            let step = if qtype == 1 {
                let i = count.fetch_add(1, Ordering::SeqCst);
                Some(script[i.min(script.len() - 1)])
            } else {
                None
            };
            let _ = socket.send_to(&reply(&buf[..question_end], step), peer);
        }
    });
    DnsServer { addr, a_queries }
}

/// Where the question ends, and its type.
fn question(packet: &[u8]) -> Option<(usize, u16)> {
    let mut pos = 12;
    loop {
        let len = *packet.get(pos)? as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        pos += len;
    }
    let qtype = u16::from_be_bytes([*packet.get(pos)?, *packet.get(pos + 1)?]);
    (pos + 4 <= packet.len()).then_some((pos + 4, qtype))
}

/// The answer to `query` (header and question): `step` for an A query,
/// `None` for an empty NOERROR.
fn reply(query: &[u8], step: Option<Step>) -> Vec<u8> {
    let rd = query[2] & 0x01;
    let (rcode, answer) = match step {
        Some(Step::NxDomain) => (3, None),
        Some(Step::Addr(ip, ttl)) => (0, Some((ip, ttl))),
        None => (0, None),
    };
    let mut out = Vec::with_capacity(query.len() + 16);
    out.extend_from_slice(&query[..2]); // id
    out.extend_from_slice(&[0x80 | rd, 0x80 | rcode]); // QR, RD as asked, RA
    out.extend_from_slice(&[0, 1, 0, answer.is_some() as u8, 0, 0, 0, 0]);
    out.extend_from_slice(&query[12..]);
    if let Some((ip, ttl)) = answer {
        out.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]); // the question's name, A, IN
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&[0, 4]);
        out.extend_from_slice(&ip.octets());
    }
    out
}
