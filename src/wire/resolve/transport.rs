//! Queries on the wire: a few UDP sockets shared by every lookup in flight,
//! and TCP for answers that came truncated.
//!
//! Why a shared pool: a socket per query (what hickory did) costs about ten
//! system calls per query (socket, bind, setsockopt, getsockopt, three
//! epoll_ctl, sendto, recvfrom, close); a shared socket costs a send and,
//! amortised over the answers one wake-up drains, a receive.
//!
//! - Per server, [`SOCKETS`] UDP sockets, each bound to a port the kernel
//!   picks at random from the ephemeral range and `connect`ed to the server:
//!   the kernel then delivers only datagrams whose source is that server's
//!   address and port, and reports a closed port (ICMP) as `ECONNREFUSED`,
//!   which fails the lookups over to the next server at once.
//! - Each query gets a random 16-bit ID not in use on its socket, from the
//!   OS random source (`getrandom`, drawn 256 IDs at a time).
//! - One receive task per socket reads every datagram and hands it to the
//!   lookup waiting under its ID only if its question section is the one
//!   asked (name without regard to case, type, class); anything else is
//!   dropped, and the lookup keeps waiting for the real answer.
//! - Rotation: a socket carries at most [`QUERIES_PER_SOCKET`] queries, then
//!   a new one (a new random port) takes its place; the old one stays open
//!   only until its last answer is in.
//!
//! Residual risk (spoofing): an off-path attacker must guess, while a query
//! is in flight, its 16-bit ID and its port (about 15 bits of the default
//! ephemeral range), and send from the server's address; every packet that
//! misses is dropped. A port lives for a few hundred queries, so a port
//! found by a side channel (SAD DNS) is useful only that long. Case
//! randomisation of the name (DNS 0x20) is not done: some servers do not
//! echo the case. An on-path attacker sees IDs and ports and can answer
//! anything; only DNSSEC (not done by stub resolvers) stops that.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{oneshot, Notify};

use super::dns::{self, Answer, Question, WireError};
use super::io_reason;

/// UDP sockets per server: enough ports that one is not the whole story,
/// few enough to cost nothing (each has a receive task).
const SOCKETS: usize = 4;
/// Queries a socket carries before a new one takes its place.
const QUERIES_PER_SOCKET: usize = 256;
/// Largest datagram read: a 512-byte answer without EDNS, with room to spare
/// for a server that sends more.
const MAX_DATAGRAM: usize = 4096;

/// Why one query to one server got no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Nothing in time.
    Timeout,
    /// The server's port is closed (ICMP port unreachable, TCP reset), or it
    /// cannot be reached at all: the reason in plain words.
    Unreachable(String),
    /// Our question came back, but the rest did not parse.
    Malformed,
    /// A local failure (no socket, no random numbers): the reason.
    Local(String),
}

/// The sockets of a resolver, created when first needed.
#[derive(Default)]
pub struct Transport {
    pools: Mutex<HashMap<SocketAddr, Pool>>,
    ids: Random,
}

#[derive(Default)]
struct Pool {
    sockets: Vec<Arc<Socket>>,
    next: usize,
}

struct Socket {
    udp: UdpSocket,
    pending: Mutex<HashMap<u16, Waiter>>,
    sent: AtomicUsize,
    /// No new queries; the receive task ends once `pending` is empty.
    retired: AtomicBool,
    /// Wakes the receive task to look at `retired` again.
    wake: Notify,
}

/// A query in flight. Its entry stays until the query's [`Registered`]
/// goes, so its ID cannot be drawn again before then; `reply` is taken by
/// the first answer.
struct Waiter {
    question: Question,
    reply: Option<oneshot::Sender<Result<Answer, Failure>>>,
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
        let answer = self.udp(server, question, timeout).await?;
        if answer.truncated {
            return self.tcp(server, question, timeout).await;
        }
        Ok(answer)
    }

    async fn udp(&self, server: SocketAddr, question: &Question, timeout: Duration) -> Result<Answer, Failure> {
        let socket = self.socket(server)?;
        let (reply, answer) = oneshot::channel();
        let id = self.register(&socket, question, reply)?;
        // Dropped on every way out (answer, timeout, the check's deadline):
        // the ID is free again and a retired socket may close.
        let _registered = Registered { socket: &socket, id };
        if let Err(e) = socket.udp.send(&dns::query(id, question)).await {
            return Err(send_failure(&e));
        }
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Failure::Local("DNS socket closed".into())),
            Err(_) => Err(Failure::Timeout),
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

    /// The next socket of `server`'s pool, a new one in place of one that
    /// has carried its share or failed.
    fn socket(&self, server: SocketAddr) -> Result<Arc<Socket>, Failure> {
        let mut pools = lock(&self.pools);
        let pool = pools.entry(server).or_default();
        let slot = pool.next % SOCKETS;
        pool.next = pool.next.wrapping_add(1);
        if let Some(socket) = pool.sockets.get(slot) {
            if !socket.retired.load(Ordering::Relaxed)
                && socket.sent.fetch_add(1, Ordering::Relaxed) < QUERIES_PER_SOCKET
            {
                return Ok(socket.clone());
            }
            socket.retire();
        }
        let socket =
            Arc::new(Socket::open(server).map_err(|e| Failure::Local(format!("DNS socket: {}", io_reason(&e))))?);
        socket.sent.store(1, Ordering::Relaxed);
        tokio::spawn(receive(socket.clone()));
        match pool.sockets.get_mut(slot) {
            Some(old) => *old = socket.clone(),
            None => pool.sockets.push(socket.clone()),
        }
        Ok(socket)
    }

    /// A random ID not in use on `socket`, with `reply` waiting under it.
    fn register(
        &self,
        socket: &Socket,
        question: &Question,
        reply: oneshot::Sender<Result<Answer, Failure>>,
    ) -> Result<u16, Failure> {
        // At most a few thousand of the 65,536 IDs are in use: a free one
        // comes within a draw or two.
        loop {
            let id = self.ids.next()?;
            let mut pending = lock(&socket.pending);
            if let std::collections::hash_map::Entry::Vacant(slot) = pending.entry(id) {
                slot.insert(Waiter { question: question.clone(), reply: Some(reply) });
                return Ok(id);
            }
        }
    }
}

impl Drop for Transport {
    /// The receive tasks end with the resolver (once their lookups are over).
    fn drop(&mut self) {
        for pool in lock(&self.pools).values() {
            pool.sockets.iter().for_each(|socket| socket.retire());
        }
    }
}

impl Socket {
    fn open(server: SocketAddr) -> io::Result<Socket> {
        let any: SocketAddr = match server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let std = std::net::UdpSocket::bind(any)?;
        std.connect(server)?;
        std.set_nonblocking(true)?;
        Ok(Socket {
            udp: UdpSocket::from_std(std)?,
            pending: Mutex::default(),
            sent: AtomicUsize::new(0),
            retired: AtomicBool::new(false),
            wake: Notify::new(),
        })
    }

    fn retire(&self) {
        self.retired.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Hand `packet` to the lookup it answers, if any.
    fn dispatch(&self, packet: &[u8]) {
        let Some(id) = dns::id(packet) else { return };
        let mut pending = lock(&self.pending);
        let Some(waiter) = pending.get_mut(&id) else { return };
        if waiter.reply.is_none() {
            return; // answered already
        }
        let result = match dns::parse(packet, id, &waiter.question) {
            Err(WireError::NotOurs) => return,
            Err(WireError::Malformed) => Err(Failure::Malformed),
            Ok(answer) => Ok(answer),
        };
        if let Some(reply) = waiter.reply.take() {
            drop(pending);
            let _ = reply.send(result);
        }
    }

    /// Every lookup waiting on this socket gets `failure`.
    fn fail_all(&self, failure: &Failure) {
        let replies: Vec<_> = lock(&self.pending).values_mut().filter_map(|w| w.reply.take()).collect();
        for reply in replies {
            let _ = reply.send(Err(failure.clone()));
        }
    }

    fn done(&self) -> bool {
        self.retired.load(Ordering::Relaxed) && lock(&self.pending).is_empty()
    }
}

/// The receive task of one socket: reads until the socket is retired and
/// has no lookup waiting.
async fn receive(socket: Arc<Socket>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while !socket.done() {
        tokio::select! {
            received = socket.udp.recv(&mut buf) => match received {
                Ok(n) => socket.dispatch(&buf[..n]),
                // A closed port on the server: every query there is lost.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    socket.fail_all(&Failure::Unreachable(io_reason(&e)));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    socket.retire();
                    socket.fail_all(&Failure::Local(format!("DNS socket: {}", io_reason(&e))));
                }
            },
            () = socket.wake.notified() => {}
        }
    }
}

struct Registered<'a> {
    socket: &'a Socket,
    id: u16,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let empty = {
            let mut pending = lock(&self.socket.pending);
            pending.remove(&self.id);
            pending.is_empty()
        };
        if empty && self.socket.retired.load(Ordering::Relaxed) {
            self.socket.wake.notify_one();
        }
    }
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

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
