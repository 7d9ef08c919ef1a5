//! Queries on the wire: every UDP query on a socket of its own, and TCP for
//! answers that came truncated.
//!
//! What makes an answer hard to forge (the duties of a resolver, written down
//! because we own this code instead of using one; README, "DNS"):
//!
//! - **A fresh source port per query.** Each query (A and AAAA of one name are
//!   two queries, and so is every retry) opens a UDP socket and `connect`s it
//!   to the server, which has the kernel pick its port at random from the
//!   ephemeral range; the socket is closed when the query is over. A port
//!   learned by a side channel (SAD DNS) or by a flood is of no use once its
//!   query has ended. Why per query and not per lookup (one socket for a
//!   name's A and AAAA queries, as glibc does), measured with `bench/dns`
//!   (`bench/RESULTS.md`, "Issue 18: a fresh port per query"): a socket per
//!   lookup cost about 27 µs more client CPU per name than the shared
//!   sockets of before, a socket per query about 33 µs, and 23 µs once its
//!   query is sent before tokio has the socket (socket, ioctl, connect, two
//!   `epoll_ctl` and close per query), all far under the 200 µs of
//!   hickory-resolver. For the ~5 µs between per lookup and per query, no
//!   two queries have a port in common (a retry, or a name's other type, is
//!   not on a port an attacker may have seen), and no shared receive task,
//!   map of waiters or wake-ups are needed: each query reads its own socket.
//! - **A random ID per query**, from the OS random source (`getrandom`, drawn
//!   256 IDs at a time).
//! - **Only the server asked, only the question asked.** The connected socket
//!   gets only datagrams from the server's address and port; a datagram is the
//!   answer only if it has the query's ID and question section (name without
//!   regard to case, type, class). Anything else is dropped and the query
//!   keeps waiting for the real answer until its timeout; so is an answer
//!   that matches but does not parse (then the timeout reports it as
//!   malformed), so a forgery cannot end a query early either, short of
//!   [`MALFORMED`] of them with the right ID (one forged answer would do
//!   more): that many end the query, which bounds the decoding work a query
//!   can be made to do.
//! - **ICMP errors.** A "port unreachable" (`ECONNREFUSED` on receive) ends
//!   the query on that socket only: no other query shares it. The same server
//!   is then asked once more at once, from a fresh port with a fresh ID,
//!   within the same timeout; a second refusal in a row means the port is
//!   closed, and the stub moves on to the next server at once. A forged ICMP
//!   error therefore changes no result unless the attacker also hits the
//!   retry's port, which did not exist when the first error was sent; a
//!   closed port costs two round trips instead of a timeout.
//! - **TCP** (after a truncated answer) is a connection of its own per query;
//!   its answers are read with the same checks and the same work limits
//!   (`dns.rs`) as UDP ones, whatever their size (at most 64 KB).
//!
//! Residual risk (spoofing): an off-path attacker must guess, while a query
//! is in flight (one round trip), its 16-bit ID and its port (about 15 bits
//! of the default ephemeral range), and send from the server's address.
//! Case randomisation of the name (DNS 0x20) is not done: some servers do
//! not echo the case. An on-path attacker sees IDs and ports and can answer
//! anything; only DNSSEC (not done by stub resolvers) stops that.

use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

use super::dns::{self, Answer, Question, WireError};
use super::io_reason;
use crate::wire::sync::lock;

/// Largest datagram read: a 512-byte answer without EDNS, with room to spare
/// for a server that sends more.
const MAX_DATAGRAM: usize = 4096;
/// Sockets a query to one server may use in a row when each is refused
/// (ICMP): the first, and one fresh one in case the refusal was forged.
const REFUSALS: usize = 2;
/// Answers with our ID and question that do not parse, taken at most per
/// query before it ends as malformed: each may cost the decoder its whole
/// budget (about a millisecond), so a server, or a forger who knows the ID,
/// cannot keep a core busy for the whole timeout.
const MALFORMED: usize = 4;
/// UDP sockets one lookup holds at most at once: A and AAAA are asked
/// together, each on its own socket (a retry replaces its socket, never adds
/// one). For the file-descriptor budget.
pub const SOCKETS_PER_LOOKUP: usize = 2;

/// Why one query to one server got no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Nothing in time.
    Timeout,
    /// The server's port is closed (ICMP port unreachable twice, TCP reset),
    /// or it cannot be reached at all: the reason in plain words.
    Unreachable(String),
    /// Our question came back, but the rest did not parse (or cost more
    /// work than any real answer).
    Malformed,
    /// A local failure (no socket, no random numbers): the reason.
    Local(String),
}

/// What one query on one socket came to.
enum Sent {
    /// An answer or a failure.
    Done(Result<Answer, Failure>),
    /// ICMP port unreachable: the reason in plain words.
    Refused(String),
}

/// Sends queries; holds only the source of IDs (sockets are per query).
#[derive(Default)]
pub struct Transport {
    ids: Random,
}

impl Transport {
    /// Ask `server` `question` over UDP, and over TCP if the answer comes
    /// truncated; each exchange gets `timeout`.
    pub async fn exchange(
        &self,
        server: SocketAddr,
        question: &Question,
        timeout: Duration,
    ) -> Result<Answer, Failure> {
        let answer = self.udp(server, question, Instant::now() + timeout).await?;
        if answer.truncated {
            return self.tcp(server, question, timeout).await;
        }
        Ok(answer)
    }

    /// One query over UDP, asked again from a fresh port once if refused.
    async fn udp(&self, server: SocketAddr, question: &Question, deadline: Instant) -> Result<Answer, Failure> {
        let mut reason = String::new();
        for _ in 0..REFUSALS {
            match self.udp_once(server, question, deadline).await {
                Sent::Done(result) => return result,
                Sent::Refused(why) => reason = why,
            }
        }
        Err(Failure::Unreachable(reason))
    }

    /// One query on a socket of its own, until its answer or `deadline`.
    async fn udp_once(&self, server: SocketAddr, question: &Question, deadline: Instant) -> Sent {
        let id = match self.ids.next() {
            Ok(id) => id,
            Err(failure) => return Sent::Done(Err(failure)),
        };
        let query = dns::query(id, question);
        let local = |e: io::Error| Sent::Done(Err(Failure::Local(format!("DNS socket: {}", io_reason(&e)))));
        let socket = match open(server) {
            Ok(socket) => socket,
            Err(e) => return local(e),
        };
        // Sent before tokio has the socket: a fresh socket can send at once,
        // and tokio's send would first wait for the reactor to report it
        // writable (a wake-up and a poll of the lookup for every query).
        let sent = socket.send(&query);
        let socket = match UdpSocket::from_std(socket.into()) {
            Ok(socket) => socket,
            Err(e) => return local(e),
        };
        let sent = match sent {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => socket.send(&query).await,
            sent => sent,
        };
        if let Err(e) = sent {
            return Sent::Done(Err(send_failure(&e)));
        }
        let mut buf = Vec::with_capacity(MAX_DATAGRAM);
        let mut malformed = 0;
        // Ends at the deadline whatever arrives: each datagram is one
        // receive and a parse of bounded work.
        loop {
            buf.clear();
            let received = match tokio::time::timeout_at(deadline, socket.recv_buf(&mut buf)).await {
                Ok(received) => received,
                Err(_) => return Sent::Done(Err(if malformed > 0 { Failure::Malformed } else { Failure::Timeout })),
            };
            match received {
                Ok(_) => match dns::parse(&buf, id, question) {
                    Ok(answer) => return Sent::Done(Ok(answer)),
                    Err(WireError::NotOurs) => {}
                    Err(WireError::Malformed) => {
                        malformed += 1;
                        if malformed == MALFORMED {
                            return Sent::Done(Err(Failure::Malformed));
                        }
                    }
                },
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Sent::Refused(io_reason(&e)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Sent::Done(Err(Failure::Local(format!("DNS socket: {}", io_reason(&e))))),
            }
        }
    }

    /// One query on a TCP connection of its own (RFC 7766 framing).
    async fn tcp(&self, server: SocketAddr, question: &Question, timeout: Duration) -> Result<Answer, Failure> {
        let id = self.ids.next()?;
        let query = dns::query(id, question);
        let exchange = async {
            let mut stream = TcpStream::connect(server).await.map_err(|e| send_failure(&e))?;
            let mut framed = Vec::with_capacity(2 + query.len());
            framed.extend_from_slice(&(query.len() as u16).to_be_bytes());
            framed.extend_from_slice(&query);
            let lost = |e: io::Error| Failure::Unreachable(io_reason(&e));
            stream.write_all(&framed).await.map_err(lost)?;
            // Ends at the timeout: each message is at most 64 KB read and a
            // parse of bounded work.
            loop {
                let mut len = [0u8; 2];
                stream.read_exact(&mut len).await.map_err(lost)?;
                let mut packet = vec![0u8; u16::from_be_bytes(len) as usize];
                stream.read_exact(&mut packet).await.map_err(lost)?;
                match dns::parse(&packet, id, question) {
                    Err(WireError::NotOurs) => continue,
                    Ok(answer) if !answer.truncated => return Ok(answer),
                    Ok(_) | Err(WireError::Malformed) => return Err(Failure::Malformed),
                }
            }
        };
        tokio::time::timeout(timeout, exchange).await.unwrap_or(Err(Failure::Timeout))
    }
}

/// A UDP socket connected to `server` from a port the kernel picks at random
/// (`connect` binds it): the kernel then delivers only datagrams from the
/// server's address and port, and reports ICMP errors about them.
fn open(server: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(server), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_nonblocking(true)?;
    socket.connect(&server.into())?;
    Ok(socket)
}

fn send_failure(e: &io::Error) -> Failure {
    match e.kind() {
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset => Failure::Unreachable(io_reason(e)),
        _ if e.raw_os_error().is_some_and(|code| [101, 113].contains(&code)) => {
            Failure::Unreachable(io_reason(e)) // ENETUNREACH, EHOSTUNREACH
        }
        _ => Failure::Local(format!("DNS socket: {}", io_reason(e))),
    }
}

/// Query IDs from the OS random source, drawn in blocks so a query costs
/// no system call of its own.
struct Random {
    block: Mutex<([u8; 512], usize)>,
}

impl Default for Random {
    fn default() -> Random {
        Random { block: Mutex::new(([0; 512], 0)) }
    }
}

impl Random {
    fn next(&self) -> Result<u16, Failure> {
        let mut guard = lock(&self.block);
        let (block, used) = &mut *guard;
        if *used == 0 || *used + 2 > block.len() {
            getrandom::getrandom(block).map_err(|e| Failure::Local(format!("no random numbers: {e}")))?;
            *used = 0;
        }
        let id = u16::from_be_bytes([block[*used], block[*used + 1]]);
        *used += 2;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_not_a_sequence() {
        let random = Random::default();
        let ids: Vec<u16> = (0..1000).map(|_| random.next().unwrap()).collect();
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() > 980, "about 8 collisions expected in 1000 draws, got {}", 1000 - distinct.len());
        assert!(ids.windows(2).filter(|w| w[1] == w[0].wrapping_add(1)).count() < 5);
    }
}
