//! dnsstub: the slow DNS server of the DNS-at-scale scenario (`bench/dns`).
//!
//! Answers UDP queries on `--addr`:`--port` after a delay drawn for each
//! query, uniformly from `--delay-ms` to `--delay-max-ms` (both 100 unless
//! given): A for NAME.bench.test is 127.0.0.1 (TTL `--ttl`), or `--dead-addr`
//! when NAME starts with `--dead-prefix` (the internet mix, `bench/internet`,
//! makes that address drop SYNs); a name in the zone that starts with
//! `--nx-prefix` is NXDOMAIN with the zone's SOA (so RFC 2308 lets a resolver
//! cache it for the SOA's TTL and minimum, both `--ttl`); AAAA (and any
//! other type) for another such name is an empty NOERROR answer with the
//! zone's SOA; a name outside the zone is NXDOMAIN without one. Loopback
//! only; stops by itself after `--max-seconds`, or on SIGTERM/SIGINT, and
//! then prints its counters, how many queries each name got and its CPU time
//! on stderr. Prints `ready port=PORT` once listening.
//!
//! Written in Rust because a Python asyncio stub spent about 50 µs of CPU per
//! query: at 8,000 queries/s on 2 shared cores it took most of a core from
//! what was measured.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use tokio::net::UdpSocket;
use tokio::signal::unix::{signal, SignalKind};

#[derive(Debug, Parser)]
#[command(name = "dnsstub", about = "Slow DNS server for bench/dns")]
struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    addr: IpAddr,
    #[arg(long, default_value_t = 53)]
    port: u16,
    /// The shortest delay before an answer
    #[arg(long, default_value_t = 100)]
    delay_ms: u64,
    /// The longest (default: --delay-ms)
    #[arg(long)]
    delay_max_ms: Option<u64>,
    /// Seed of the delays drawn
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Names starting with this get --dead-addr
    #[arg(long)]
    dead_prefix: Option<String>,
    #[arg(long, default_value = "127.0.0.2")]
    dead_addr: Ipv4Addr,
    /// Names in the zone starting with this do not exist (NXDOMAIN, with the SOA)
    #[arg(long)]
    nx_prefix: Option<String>,
    #[arg(long, default_value_t = 60)]
    ttl: u32,
    #[arg(long, default_value_t = 600)]
    max_seconds: u64,
}

const ZONE: &[u8] = b"\x05bench\x04test\x00";
/// A burst of thousands of queries overflows the default receive buffer
/// (about 200 KB); a lost query costs the client a 5 s retry.
const BUFFER: libc::c_int = 32 << 20;

#[derive(Default)]
struct Counts {
    a: AtomicU64,
    empty: AtomicU64,
    nxdomain: AtomicU64,
    bad: AtomicU64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.addr.is_loopback() {
        bail!("--addr {} is not a loopback address", args.addr);
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let std_socket = std::net::UdpSocket::bind(SocketAddr::new(args.addr, args.port)).context("bind")?;
    std_socket.set_nonblocking(true)?;
    grow_buffers(&std_socket);
    let socket = Arc::new(UdpSocket::from_std(std_socket)?);
    println!("ready port={}", socket.local_addr()?.port());
    let counts = Arc::new(Counts::default());
    let zone = Zone::of(&args);
    let mut delays = Delays::new(&args);
    let mut per_name: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let stop = tokio::time::sleep(Duration::from_secs(args.max_seconds));
    tokio::pin!(stop);
    let mut buf = [0u8; 512];
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let Ok((n, peer)) = received else { continue };
                let Some((reply, name)) = answer(&buf[..n], &zone, &counts) else { continue };
                *per_name.entry(name).or_default() += 1;
                let socket = socket.clone();
                let delay = delays.next();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = socket.send_to(&reply, peer).await;
                });
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
            () = &mut stop => break,
        }
    }
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    eprintln!(
        "dnsstub: A={} empty={} nxdomain={} bad={} cpu={:.2}s",
        get(&counts.a),
        get(&counts.empty),
        get(&counts.nxdomain),
        get(&counts.bad),
        cpu_seconds()
    );
    eprintln!("{}", per_name_line(&per_name));
    Ok(())
}

/// `dnsstub: names=N queries=Q max=M hist=1:a,2:b,...`: how many names
/// were asked, how many queries they got, and how many names got each count
/// (what the resolver's cache is judged by: A and AAAA once is 2).
fn per_name_line(per_name: &HashMap<Vec<u8>, u32>) -> String {
    let queries: u64 = per_name.values().map(|&n| u64::from(n)).sum();
    let mut hist: std::collections::BTreeMap<u32, u32> = Default::default();
    for &n in per_name.values() {
        *hist.entry(n).or_default() += 1;
    }
    let hist: Vec<String> = hist.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!(
        "dnsstub: names={} queries={queries} max={} hist={}",
        per_name.len(),
        per_name.values().max().copied().unwrap_or(0),
        hist.join(",")
    )
}

/// Which answer a name in the zone gets.
struct Zone {
    ttl: u32,
    dead_prefix: Option<Vec<u8>>,
    dead_addr: Ipv4Addr,
    nx_prefix: Option<Vec<u8>>,
}

impl Zone {
    fn of(args: &Args) -> Zone {
        let prefix = |p: &Option<String>| p.as_ref().map(|p| p.to_ascii_lowercase().into_bytes());
        Zone {
            ttl: args.ttl,
            dead_prefix: prefix(&args.dead_prefix),
            dead_addr: args.dead_addr,
            nx_prefix: prefix(&args.nx_prefix),
        }
    }

    /// Whether the first label of wire-format `name` starts with `prefix`.
    fn starts(name: &[u8], prefix: &Option<Vec<u8>>) -> bool {
        let Some(prefix) = prefix else { return false };
        let label = name.get(1..1 + usize::from(name[0])).unwrap_or(&[]);
        label.len() >= prefix.len() && label[..prefix.len()].eq_ignore_ascii_case(prefix)
    }
}

/// The delay of each answer: uniform over the range, from a seeded
/// xorshift (the same run, the same delays in the same order).
struct Delays {
    min: u64,
    span: u64,
    state: u64,
}

impl Delays {
    fn new(args: &Args) -> Delays {
        let max = args.delay_max_ms.unwrap_or(args.delay_ms).max(args.delay_ms);
        Delays { min: args.delay_ms, span: max - args.delay_ms + 1, state: args.seed | 1 }
    }

    fn next(&mut self) -> Duration {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        Duration::from_millis(self.min + self.state % self.span)
    }
}

fn grow_buffers(socket: &std::net::UdpSocket) {
    use std::os::fd::AsRawFd;
    for (forced, plain) in [(libc::SO_RCVBUFFORCE, libc::SO_RCVBUF), (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF)] {
        let size = &BUFFER as *const libc::c_int as *const libc::c_void;
        let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: a valid socket and a c_int option value of the stated length.
        let forced_ok = unsafe { libc::setsockopt(socket.as_raw_fd(), libc::SOL_SOCKET, forced, size, len) } == 0;
        if !forced_ok {
            // SAFETY: as above.
            unsafe { libc::setsockopt(socket.as_raw_fd(), libc::SOL_SOCKET, plain, size, len) };
        }
    }
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// The reply to one query and the name asked (lower case, wire format),
/// or `None` for a packet that is not one.
fn answer(packet: &[u8], zone: &Zone, counts: &Counts) -> Option<(Vec<u8>, Vec<u8>)> {
    let question_end = question_end(packet);
    let Some((name_end, end)) = question_end else {
        counts.bad.fetch_add(1, Ordering::Relaxed);
        return None;
    };
    let name = &packet[12..name_end];
    let qtype = u16::from_be_bytes([packet[name_end], packet[name_end + 1]]);
    let in_zone = ends_with_ignore_case(name, ZONE);
    let rd = packet[2] & 0x01;
    let mut out = Vec::with_capacity(end + 64);
    out.extend_from_slice(&packet[..2]);
    let (rcode, answers, authority) = match (in_zone, qtype) {
        (false, _) => (3, 0, 0),
        (true, _) if Zone::starts(name, &zone.nx_prefix) => (3, 0, 1),
        (true, 1) => (0, 1, 0),
        (true, _) => (0, 0, 1),
    };
    let counter = match (rcode, answers) {
        (3, _) => &counts.nxdomain,
        (_, 1) => &counts.a,
        _ => &counts.empty,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    let ttl = zone.ttl;
    out.extend_from_slice(&[0x84 | rd, 0x80 | rcode, 0, 1, 0, answers, 0, authority, 0, 0]);
    out.extend_from_slice(&packet[12..end]);
    if answers == 1 {
        let addr = if Zone::starts(name, &zone.dead_prefix) { zone.dead_addr } else { Ipv4Addr::LOCALHOST };
        out.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&[0, 4]);
        out.extend_from_slice(&addr.octets());
    }
    if authority == 1 {
        let mut rdata = Vec::new();
        rdata.extend_from_slice(ZONE);
        rdata.extend_from_slice(ZONE);
        for v in [1u32, 3600, 600, 86400, ttl] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(ZONE);
        out.extend_from_slice(&[0, 6, 0, 1]);
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    Some((out, name.to_ascii_lowercase()))
}

/// (end of the question's name, end of the question) of a one-question query.
fn question_end(packet: &[u8]) -> Option<(usize, usize)> {
    if packet.len() < 12 || packet[2] & 0x80 != 0 || packet[4..6] != [0, 1] {
        return None;
    }
    let mut pos = 12;
    loop {
        let len = *packet.get(pos)? as usize;
        if len & 0xc0 != 0 {
            return None;
        }
        pos += 1 + len;
        if len == 0 {
            break;
        }
    }
    (pos + 4 <= packet.len()).then_some((pos, pos + 4))
}

/// Whether wire-format `name` ends with wire-format `zone` on a label boundary.
fn ends_with_ignore_case(name: &[u8], zone: &[u8]) -> bool {
    let mut pos = 0;
    while pos < name.len() {
        if name[pos..].eq_ignore_ascii_case(zone) {
            return true;
        }
        pos += 1 + name[pos] as usize;
    }
    false
}
