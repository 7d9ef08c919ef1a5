//! The DNS wire format, as much of it as a stub resolver needs (RFC 1035): a
//! one-question query for A or AAAA, and the parse of its answer: header,
//! the question (which must be ours), then the address records of the name
//! at the end of its CNAME chain and the smallest TTL on the way; for an
//! answer that has none (NXDOMAIN, or NODATA), how long RFC 2308 lets that be
//! believed, from the SOA of the zone in the authority section.
//!
//! The bytes of an answer are the attacker's (anyone who can guess a query's
//! port and ID, or a hostile server), so every loop over them is bounded:
//!
//! - every read is bounds-checked;
//! - a name: a compression pointer must point before itself, at most
//!   [`MAX_HOPS`] pointers are followed, and the name stays within 255 bytes
//!   (so at most 128 labels);
//! - a packet: every label read and pointer followed is a step, and a packet
//!   that needs more than [`MAX_STEPS`] is refused as malformed;
//! - the CNAME chain: the records are walked twice whatever the chain (once
//!   for the first [`MAX_CNAMES`] CNAMEs, once for the addresses), and at
//!   most [`MAX_CHAIN`] links are followed among the CNAMEs kept; at most
//!   [`MAX_ADDRS`] addresses are kept.
//!
//! Nothing here allocates but the query, the address list, the chain (one
//! name without CNAMEs) and the CNAMEs of an answer that has some.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The record types a stub asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordType {
    /// IPv4 addresses.
    A,
    /// IPv6 addresses.
    Aaaa,
}

impl RecordType {
    fn code(self) -> u16 {
        match self {
            RecordType::A => 1,
            RecordType::Aaaa => 28,
        }
    }
}

const CNAME: u16 = 5;
const SOA: u16 = 6;
const CLASS_IN: u16 = 1;
const HEADER: usize = 12;
/// The longest name on the wire, length octets included (RFC 1035 2.3.4).
const MAX_NAME: usize = 255;
/// CNAMEs followed at most within one answer; a longer (or looping) chain
/// ends with the addresses found so far, that is none.
const MAX_CHAIN: usize = 16;
/// CNAME records of an answer read at most (the chain is followed among
/// them): a real chain is a few links long.
const MAX_CNAMES: usize = 32;
/// Addresses kept per answer (more are skipped): more than any check tries.
const MAX_ADDRS: usize = 32;
/// Compression pointers followed at most within one name. A compressor
/// writes one pointer per name, to a name written earlier that may itself end
/// in one: real answers need a few hops.
pub const MAX_HOPS: u32 = 16;
/// Steps (labels read, pointers followed) one packet may cost. The largest
/// real answer, 64 KB over TCP of about 4,000 address records, costs about
/// 7 steps per record; more than that is refused as malformed. The audit's
/// 64 KB answer, which runs into it, took 0.97 ms to refuse (release build),
/// so no answer can hold up a check's deadline or other checks.
pub const MAX_STEPS: u32 = 1 << 17;

/// Response codes (RFC 1035 4.1.1).
pub const NOERROR: u8 = 0;
/// The name does not exist.
pub const NXDOMAIN: u8 = 3;

/// A name in wire form (length-prefixed labels, ending with the root's 0),
/// lower-cased: the question of a query, or one decoded from an answer.
#[derive(Clone)]
pub struct Name {
    bytes: [u8; MAX_NAME],
    len: u8,
}

impl Name {
    /// `host` (dotted, a trailing dot allowed) in wire form; `None` if it
    /// is not a DNS name: an empty label, a label over 63 bytes, over 255
    /// bytes in all.
    pub fn parse(host: &str) -> Option<Name> {
        let host = host.strip_suffix('.').unwrap_or(host);
        let mut name = Name { bytes: [0; MAX_NAME], len: 0 };
        if host.is_empty() {
            return None;
        }
        for label in host.split('.') {
            if label.is_empty() || label.len() > 63 {
                return None;
            }
            name.push_label(label.as_bytes())?;
        }
        name.push_label(&[])?;
        Some(name)
    }

    fn empty() -> Name {
        Name { bytes: [0; MAX_NAME], len: 0 }
    }

    fn push_label(&mut self, label: &[u8]) -> Option<()> {
        let start = self.len as usize;
        let end = start + 1 + label.len();
        if end > MAX_NAME {
            return None;
        }
        self.bytes[start] = label.len() as u8;
        for (to, from) in self.bytes[start + 1..end].iter_mut().zip(label) {
            *to = from.to_ascii_lowercase();
        }
        self.len = end as u8;
        Some(())
    }

    fn wire(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// Whether `self` is `name` or a zone above it (`test.` of `a.test.`),
    /// on label boundaries.
    fn is_at_or_above(&self, name: &Name) -> bool {
        let (zone, name) = (self.wire(), name.wire());
        let mut pos = 0;
        while pos < name.len() {
            if name[pos..] == *zone {
                return true;
            }
            pos += 1 + name[pos] as usize;
        }
        false
    }
}

/// Equal names: the bytes in use (those past `len` are left from earlier
/// decodes and mean nothing).
impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.wire() == other.wire()
    }
}

impl Eq for Name {}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut pos = 0;
        let wire = self.wire();
        while let Some(&len) = wire.get(pos) {
            if len == 0 {
                break;
            }
            let label = wire.get(pos + 1..pos + 1 + len as usize).unwrap_or_default();
            write!(f, "{}.", String::from_utf8_lossy(label))?;
            pos += 1 + len as usize;
        }
        Ok(())
    }
}

/// What was asked: the name and type (class IN).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// The name asked for.
    pub name: Name,
    /// A or AAAA.
    pub rtype: RecordType,
}

/// The query for `question` with this ID, recursion desired, no EDNS (as
/// glibc's default): answers over 512 bytes come truncated, then over TCP.
pub fn query(id: u16, question: &Question) -> Vec<u8> {
    let name = question.name.wire();
    let mut out = Vec::with_capacity(HEADER + name.len() + 4);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD; one question
    out.extend_from_slice(name);
    out.extend_from_slice(&question.rtype.code().to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out
}

/// Why a packet is not the answer to a question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Not a response to our question (another ID, name, type or class, a
    /// query, not one question): drop it, the answer may still come.
    NotOurs,
    /// Our question, but the rest does not parse.
    Malformed,
}

/// The parts of an answer a stub uses.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    /// The response code (NOERROR, NXDOMAIN, SERVFAIL, ...).
    pub rcode: u8,
    /// TC: cut to fit UDP; ask again over TCP.
    pub truncated: bool,
    /// The addresses of the name (at the end of its CNAME chain).
    pub addrs: Vec<IpAddr>,
    /// The smallest TTL of the records used (CNAMEs and addresses); `None`
    /// when there are no addresses.
    pub ttl: Option<u32>,
    /// For NXDOMAIN, or NOERROR without addresses: how long that may be
    /// believed (RFC 2308 section 5: the TTL of the SOA in the authority
    /// section, at most its MINIMUM field), if the SOA is there and is that
    /// of a zone at or above the name asked (or a name of its CNAME chain).
    /// `None`: no such SOA, so the answer is not to be kept.
    pub negative_ttl: Option<u32>,
}

/// `packet` read as the answer to `question` asked with `id`.
pub fn parse(packet: &[u8], id: u16, question: &Question) -> Result<Answer, WireError> {
    let mut work = Work::default();
    let result = parse_counted(packet, id, question, &mut work);
    #[cfg(test)]
    STEPS.with(|steps| steps.set(steps.get() + u64::from(work.steps)));
    result
}

/// [`parse`], with the work it took counted in `work`.
fn parse_counted(packet: &[u8], id: u16, question: &Question, work: &mut Work) -> Result<Answer, WireError> {
    let header = packet.get(..HEADER).ok_or(WireError::NotOurs)?;
    let flags = u16::from_be_bytes([header[2], header[3]]);
    let count = |at: usize| u16::from_be_bytes([header[at], header[at + 1]]);
    let is_response = flags & 0x8000 != 0 && (flags >> 11) & 0xf == 0;
    if u16::from_be_bytes([header[0], header[1]]) != id || !is_response || count(4) != 1 {
        return Err(WireError::NotOurs);
    }
    let mut name = Name::empty();
    let pos = read_name(packet, HEADER, &mut name, work).ok_or(WireError::NotOurs)?;
    let qtype = read_u16(packet, pos).ok_or(WireError::NotOurs)?;
    let qclass = read_u16(packet, pos + 2).ok_or(WireError::NotOurs)?;
    if name != question.name || qtype != question.rtype.code() || qclass != CLASS_IN {
        return Err(WireError::NotOurs);
    }
    let rcode = (flags & 0xf) as u8;
    let truncated = flags & 0x0200 != 0;
    let mut answer = Answer { rcode, truncated, addrs: Vec::new(), ttl: None, negative_ttl: None };
    if truncated || (rcode != NOERROR && rcode != NXDOMAIN) {
        return Ok(answer);
    }
    let records = Records { packet, start: pos + 4, count: count(6) as usize };
    if rcode == NXDOMAIN {
        // What NXDOMAIN carries is read only for how long to believe it: a
        // part that does not parse means "not at all", as before.
        answer.negative_ttl = records.chain(&question.name, work).and_then(|chain| {
            let authority = Records { packet, start: records.end(work)?, count: count(8) as usize };
            authority.negative_ttl(&chain, work)
        });
        return Ok(answer);
    }
    let chain = records.chain(&question.name, work).ok_or(WireError::Malformed)?;
    let (addrs, ttl) = records.addresses(&chain, question.rtype, work).ok_or(WireError::Malformed)?;
    if addrs.is_empty() {
        answer.negative_ttl = records
            .end(work)
            .and_then(|start| Records { packet, start, count: count(8) as usize }.negative_ttl(&chain, work));
    }
    answer.addrs = addrs;
    answer.ttl = ttl;
    Ok(answer)
}

// Steps (labels read, pointers followed) counted by every `parse` on this
// thread: what the tests of the resolver assert work bounds with.
#[cfg(test)]
thread_local! {
    static STEPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The steps every [`parse`] on this thread has taken so far.
#[cfg(test)]
pub fn steps_on_this_thread() -> u64 {
    STEPS.with(std::cell::Cell::get)
}

/// The work spent on one packet: every label read and every compression
/// pointer followed is a step, and a packet gets at most [`MAX_STEPS`].
#[derive(Clone, Copy, Debug, Default)]
struct Work {
    steps: u32,
    /// The most pointers followed within one name.
    most_hops: u32,
}

impl Work {
    /// One more step, if the budget has room.
    fn step(&mut self) -> Option<()> {
        if self.steps >= MAX_STEPS {
            return None;
        }
        self.steps += 1;
        Some(())
    }
}

/// One link of a CNAME chain: the name, and the smallest TTL of the CNAMEs
/// that led to it.
struct Link {
    name: Name,
    ttl: Option<u32>,
}

/// The answer section of a packet.
struct Records<'a> {
    packet: &'a [u8],
    start: usize,
    count: usize,
}

/// One resource record, its owner name not decoded.
struct Record {
    owner: usize,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: usize,
    rdlen: usize,
}

impl Records<'_> {
    /// Calls `each` with every record in turn. `None` if a record runs off
    /// the packet, `each` says `None`, or the work runs out.
    fn each(&self, work: &mut Work, mut each: impl FnMut(&Record, &mut Work) -> Option<()>) -> Option<usize> {
        let mut pos = self.start;
        for _ in 0..self.count {
            let record = self.record_at(pos, work)?;
            each(&record, work)?;
            pos = record.rdata + record.rdlen;
        }
        Some(pos)
    }

    /// Where the next section starts.
    fn end(&self, work: &mut Work) -> Option<usize> {
        self.each(work, |_, _| Some(()))
    }

    /// The negative TTL of RFC 2308 from the first SOA (class IN) of a zone
    /// at or above a name of `chain`: the record's TTL, at most the SOA's
    /// MINIMUM. `None` if there is none, or it does not parse.
    fn negative_ttl(&self, chain: &[Link], work: &mut Work) -> Option<u32> {
        let mut found = None;
        let mut owner = Name::empty();
        self.each(work, |record, work| {
            if record.rtype != SOA || record.class != CLASS_IN || found.is_some() {
                return Some(());
            }
            read_name(self.packet, record.owner, &mut owner, work)?;
            if !chain.iter().any(|link| owner.is_at_or_above(&link.name)) {
                return Some(());
            }
            // MNAME, RNAME, then SERIAL, REFRESH, RETRY, EXPIRE and MINIMUM.
            let pos = skip_name(self.packet, record.rdata, work)?;
            let pos = skip_name(self.packet, pos, work)?;
            if pos + 20 != record.rdata + record.rdlen {
                return None;
            }
            found = Some(record.ttl.min(read_u32(self.packet, pos + 16)?));
            Some(())
        })?;
        found
    }

    fn record_at(&self, owner: usize, work: &mut Work) -> Option<Record> {
        let packet = self.packet;
        let pos = skip_name(packet, owner, work)?;
        let rdlen = read_u16(packet, pos + 8)? as usize;
        let rdata = pos + 10;
        packet.get(rdata..rdata + rdlen)?;
        Some(Record {
            owner,
            rtype: read_u16(packet, pos)?,
            class: read_u16(packet, pos + 2)?,
            ttl: read_u32(packet, pos + 4)?,
            rdata,
            rdlen,
        })
    }

    /// The CNAME chain from `name` (`name` first): at most [`MAX_CHAIN`]
    /// links after it, from the first [`MAX_CNAMES`] CNAME records, in any
    /// order. One walk over the records however long the chain; a loop just
    /// runs into the limit.
    fn chain(&self, name: &Name, work: &mut Work) -> Option<Vec<Link>> {
        let mut cnames: Vec<(Name, Name, u32)> = Vec::new();
        self.each(work, |record, work| {
            if record.rtype != CNAME || record.class != CLASS_IN || cnames.len() >= MAX_CNAMES {
                return Some(());
            }
            let (mut owner, mut target) = (Name::empty(), Name::empty());
            read_name(self.packet, record.owner, &mut owner, work)?;
            read_name(self.packet, record.rdata, &mut target, work)?;
            cnames.push((owner, target, record.ttl));
            Some(())
        })?;
        let mut chain = vec![Link { name: name.clone(), ttl: None }];
        while chain.len() <= MAX_CHAIN {
            let Some(last) = chain.last() else { break };
            // The first CNAME of a name counts, as every resolver reads them.
            let Some((_, target, cname_ttl)) = cnames.iter().find(|(owner, ..)| *owner == last.name) else { break };
            let ttl = Some(last.ttl.map_or(*cname_ttl, |t| t.min(*cname_ttl)));
            chain.push(Link { name: target.clone(), ttl });
        }
        Some(chain)
    }

    /// The addresses (at most [`MAX_ADDRS`]) owned by the first name of
    /// `chain` that has any, with the smallest TTL of the records used.
    /// Records of other owners (and other types) are skipped, so an answer
    /// cannot slip in addresses for a name it was not asked about.
    fn addresses(&self, chain: &[Link], rtype: RecordType, work: &mut Work) -> Option<(Vec<IpAddr>, Option<u32>)> {
        let (mut addrs, mut ttl, mut best) = (Vec::new(), None, chain.len());
        let mut owner = Name::empty();
        self.each(work, |record, work| {
            if record.rtype != rtype.code() || record.class != CLASS_IN {
                return Some(());
            }
            read_name(self.packet, record.owner, &mut owner, work)?;
            let Some(at) = chain.iter().position(|link| link.name == owner).filter(|&at| at <= best) else {
                return Some(());
            };
            let ip = address(rtype, self.packet.get(record.rdata..record.rdata + record.rdlen)?)?;
            if at < best {
                (best, ttl) = (at, chain[at].ttl);
                addrs.clear();
            }
            if addrs.len() < MAX_ADDRS && !addrs.contains(&ip) {
                addrs.push(ip);
            }
            ttl = Some(ttl.map_or(record.ttl, |t: u32| t.min(record.ttl)));
            Some(())
        })?;
        Some((addrs, ttl))
    }
}

/// The address in an A or AAAA record's data; `None` if it is not one.
fn address(rtype: RecordType, data: &[u8]) -> Option<IpAddr> {
    match rtype {
        RecordType::A => <[u8; 4]>::try_from(data).ok().map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        RecordType::Aaaa => <[u8; 16]>::try_from(data).ok().map(|b| IpAddr::V6(Ipv6Addr::from(b))),
    }
}

/// Where the (possibly compressed) name at `pos` ends, without decoding it:
/// its labels in place are read, a pointer ends it.
fn skip_name(packet: &[u8], mut pos: usize, work: &mut Work) -> Option<usize> {
    loop {
        work.step()?;
        let len = *packet.get(pos)?;
        match len & 0xc0 {
            0x00 if len == 0 => return Some(pos + 1),
            0x00 => pos += 1 + len as usize,
            0xc0 => return packet.get(pos + 1).map(|_| pos + 2),
            _ => return None,
        }
    }
}

/// Decode the (possibly compressed) name at `pos` into `out`, lower-cased;
/// returns where the name ends in the packet (after its first pointer, if
/// any). `None` if it runs off the packet, points forward, follows more than
/// [`MAX_HOPS`] pointers, grows past 255 bytes or the work runs out.
fn read_name(packet: &[u8], mut pos: usize, out: &mut Name, work: &mut Work) -> Option<usize> {
    out.len = 0;
    let mut end = None;
    let mut hops = 0;
    loop {
        work.step()?;
        let len = *packet.get(pos)?;
        match len & 0xc0 {
            0x00 => {
                let label = packet.get(pos + 1..pos + 1 + len as usize)?;
                out.push_label(label)?;
                pos += 1 + len as usize;
                if len == 0 {
                    return Some(end.unwrap_or(pos));
                }
            }
            0xc0 => {
                let target = (usize::from(len & 0x3f) << 8) | usize::from(*packet.get(pos + 1)?);
                // Only backwards, and only so many: a pointer then leads to
                // an earlier byte, so the walk ends whatever the packet
                // holds, and within [`MAX_HOPS`] + 128 steps.
                if target >= pos || hops >= MAX_HOPS {
                    return None;
                }
                hops += 1;
                work.most_hops = work.most_hops.max(hops);
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return None, // 0x40 and 0x80: extended label types, not in answers we use
        }
    }
}

fn read_u16(packet: &[u8], pos: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*packet.get(pos)?, *packet.get(pos + 1)?]))
}

fn read_u32(packet: &[u8], pos: usize) -> Option<u32> {
    let b = packet.get(pos..pos + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(name: &str, rtype: RecordType) -> Question {
        Question { name: Name::parse(name).unwrap(), rtype }
    }

    /// The reply header for query `id` plus our question, with `an` answers.
    fn reply(id: u16, rcode: u8, flags: u8, q: &Question, an: u16) -> Vec<u8> {
        let mut p = query(id, q);
        p[2] = 0x81 | flags;
        p[3] = 0x80 | rcode;
        p[6..8].copy_from_slice(&an.to_be_bytes());
        p
    }

    fn record(p: &mut Vec<u8>, owner: &[u8], rtype: u16, ttl: u32, data: &[u8]) {
        p.extend_from_slice(owner);
        p.extend_from_slice(&rtype.to_be_bytes());
        p.extend_from_slice(&CLASS_IN.to_be_bytes());
        p.extend_from_slice(&ttl.to_be_bytes());
        p.extend_from_slice(&(data.len() as u16).to_be_bytes());
        p.extend_from_slice(data);
    }

    #[test]
    fn a_query_is_one_question_with_recursion_desired() {
        let q = query(0xabcd, &question("Www.Example.COM.", RecordType::Aaaa));
        let want = b"\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x1c\x00\x01";
        assert_eq!(q, want);
    }

    #[test]
    fn names_that_are_not_dns_names_are_refused() {
        for bad in ["", ".", "a..b", &"x".repeat(64), &["abcdefghi"; 26].join(".")] {
            assert!(Name::parse(bad).is_none(), "{bad}");
        }
        assert!(Name::parse(&"x".repeat(63)).is_some());
        assert!(Name::parse(&["a"; 127].join(".")).is_some(), "253 characters");
    }

    #[test]
    fn an_answer_with_a_compressed_owner() {
        let q = question("a.test", RecordType::A);
        let mut p = reply(7, NOERROR, 0, &q, 2);
        record(&mut p, &[0xc0, 12], 1, 300, &[127, 0, 0, 5]);
        record(&mut p, &[0xc0, 12], 1, 60, &[127, 0, 0, 6]);
        let answer = parse(&p, 7, &q).unwrap();
        assert_eq!(answer.addrs, ["127.0.0.5".parse::<IpAddr>().unwrap(), "127.0.0.6".parse().unwrap()]);
        assert_eq!(answer.ttl, Some(60));
    }

    #[test]
    fn a_cname_chain_is_followed_in_any_order_and_its_ttls_count() {
        let q = question("www.a.test", RecordType::Aaaa);
        let mut p = reply(1, NOERROR, 0, &q, 4);
        let cdn_at = p.len() + 12; // where the first record's rdata starts
                                   // www.a.test CNAME edge.cdn.test (written out), then edge CNAME
                                   // final.cdn.test (via a pointer to cdn.test), then an unrelated
                                   // AAAA, then final's AAAA: owner names compressed.
        record(&mut p, &[0xc0, 12], CNAME, 600, b"\x04edge\x03cdn\x04test\x00");
        let final_at = p.len() + 12; // where the second record's rdata starts
        let mut final_name = b"\x05final".to_vec();
        final_name.extend_from_slice(&[0xc0, (cdn_at + 5) as u8]);
        record(&mut p, &[0xc0, cdn_at as u8], CNAME, 30, &final_name);
        record(&mut p, b"\x05other\x04test\x00", 28, 1, &[0xfe; 16]);
        record(&mut p, &[0xc0, final_at as u8], 28, 120, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let answer = parse(&p, 1, &q).unwrap();
        assert_eq!(answer.addrs, ["::1".parse::<IpAddr>().unwrap()]);
        assert_eq!(answer.ttl, Some(30));
    }

    /// An SOA record of `zone` (TTL `ttl`, MINIMUM `minimum`), uncompressed.
    fn soa(p: &mut Vec<u8>, zone: &[u8], ttl: u32, minimum: u32) {
        let mut data = zone.to_vec();
        data.extend_from_slice(zone);
        for v in [1u32, 3600, 600, 86400, minimum] {
            data.extend_from_slice(&v.to_be_bytes());
        }
        record(p, zone, SOA, ttl, &data);
    }

    /// RFC 2308: NXDOMAIN and NODATA may be kept for the SOA's TTL, at most
    /// its MINIMUM, only with the SOA of a zone at or above the name asked.
    #[test]
    fn no_answer_is_kept_only_as_long_as_its_soa_says() {
        let q = question("www.example.test", RecordType::A);
        let with = |rcode: u8, zone: &[u8], ttl: u32, minimum: u32| {
            let mut p = reply(7, rcode, 0, &q, 0);
            p[9] = 1; // one authority record
            soa(&mut p, zone, ttl, minimum);
            parse(&p, 7, &q).unwrap()
        };
        let zone = b"\x07example\x04test\x00";
        assert_eq!(with(NXDOMAIN, zone, 300, 60).negative_ttl, Some(60), "at most MINIMUM");
        assert_eq!(with(NXDOMAIN, zone, 30, 60).negative_ttl, Some(30), "at most the record's TTL");
        assert_eq!(with(NOERROR, zone, 30, 60).negative_ttl, Some(30), "NODATA");
        assert_eq!(with(NXDOMAIN, b"\x04test\x00", 30, 60).negative_ttl, Some(30), "a zone above");
        assert_eq!(with(NXDOMAIN, b"\x03www\x07example\x04test\x00", 30, 60).negative_ttl, Some(30), "the name");
        assert_eq!(with(NXDOMAIN, b"\x05other\x04test\x00", 30, 60).negative_ttl, None, "another zone");
        assert_eq!(with(NXDOMAIN, b"\x07xample\x04test\x00", 30, 60).negative_ttl, None, "not on a label boundary");
        assert_eq!(with(2, zone, 30, 60).negative_ttl, None, "SERVFAIL is never kept");
        let bare = parse(&reply(7, NXDOMAIN, 0, &q, 0), 7, &q).unwrap();
        assert_eq!((bare.rcode, bare.negative_ttl), (NXDOMAIN, None), "no SOA: not kept");
        let mut cut = reply(7, NXDOMAIN, 0, &q, 0);
        cut[9] = 1;
        soa(&mut cut, zone, 30, 60);
        cut.truncate(cut.len() - 3);
        let cut = parse(&cut, 7, &q).unwrap();
        assert_eq!((cut.rcode, cut.negative_ttl), (NXDOMAIN, None), "an SOA cut short: NXDOMAIN, not kept");
        let mut found = reply(7, NOERROR, 0, &q, 1);
        record(&mut found, q.name.wire(), 1, 60, &[127, 0, 0, 1]);
        found[9] = 1;
        soa(&mut found, zone, 30, 60);
        assert_eq!(parse(&found, 7, &q).unwrap().negative_ttl, None, "addresses: nothing negative");
    }

    #[test]
    fn a_cname_loop_ends_with_no_address() {
        let q = question("a.test", RecordType::A);
        let mut p = reply(1, NOERROR, 0, &q, 2);
        record(&mut p, &[0xc0, 12], CNAME, 60, b"\x01b\x04test\x00");
        record(&mut p, b"\x01b\x04test\x00", CNAME, 60, b"\x01a\x04test\x00");
        assert!(parse(&p, 1, &q).unwrap().addrs.is_empty());
    }

    #[test]
    fn addresses_of_other_names_are_not_taken() {
        let q = question("a.test", RecordType::A);
        let mut p = reply(1, NOERROR, 0, &q, 1);
        record(&mut p, b"\x01b\x04test\x00", 1, 60, &[10, 0, 0, 1]);
        let answer = parse(&p, 1, &q).unwrap();
        assert_eq!((answer.addrs, answer.ttl), (vec![], None));
    }

    #[test]
    fn another_id_name_type_or_a_query_is_not_ours() {
        let q = question("a.test", RecordType::A);
        let ok = reply(9, NOERROR, 0, &q, 0);
        assert!(parse(&ok, 9, &q).is_ok());
        assert_eq!(parse(&ok, 8, &q), Err(WireError::NotOurs), "ID");
        assert_eq!(parse(&ok, 9, &question("b.test", RecordType::A)), Err(WireError::NotOurs), "name");
        assert_eq!(parse(&ok, 9, &question("a.test", RecordType::Aaaa)), Err(WireError::NotOurs), "type");
        assert!(parse(&reply(9, NOERROR, 0, &question("A.TeSt", RecordType::A), 0), 9, &q).is_ok(), "case");
        let mut asked = ok.clone();
        asked[2] &= 0x7f;
        assert_eq!(parse(&asked, 9, &q), Err(WireError::NotOurs), "a query, not a response");
        let mut chaos = ok.clone();
        let end = chaos.len();
        chaos[end - 1] = 3;
        assert_eq!(parse(&chaos, 9, &q), Err(WireError::NotOurs), "class");
    }

    #[test]
    fn rcode_and_truncation_are_reported() {
        let q = question("a.test", RecordType::A);
        let nx = parse(&reply(1, NXDOMAIN, 0, &q, 0), 1, &q).unwrap();
        assert_eq!((nx.rcode, nx.truncated), (NXDOMAIN, false));
        let mut tc = reply(1, NOERROR, 0x02, &q, 3); // TC; the records cut off
        tc.extend_from_slice(&[0xc0]);
        let tc = parse(&tc, 1, &q).unwrap();
        assert!(tc.truncated);
    }

    #[test]
    fn pointer_loops_and_forward_pointers_end() {
        let q = question("a.test", RecordType::A);
        let mut p = reply(1, NOERROR, 0, &q, 1);
        let at = p.len();
        p.extend_from_slice(&[0xc0, at as u8]); // points at itself
        p.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
        assert_eq!(parse(&p, 1, &q), Err(WireError::Malformed));
        let mut fwd = reply(1, NOERROR, 0, &q, 1);
        let at = fwd.len();
        fwd.extend_from_slice(&[0xc0, (at + 2) as u8, 0]);
        assert_eq!(parse(&fwd, 1, &q), Err(WireError::Malformed));
        // Two pointers pointing at each other: the second points forward.
        let mut pair = reply(1, NOERROR, 0, &q, 1);
        let at = pair.len();
        pair.extend_from_slice(&[0xc0, (at + 2) as u8, 0xc0, at as u8]);
        assert_eq!(parse(&pair, 1, &q), Err(WireError::Malformed));
    }

    #[test]
    fn a_long_pointer_chain_stops_at_255_bytes() {
        // Each label points back at the previous one: a name that grows
        // by 64 bytes per hop, legal pointers, but too long a name.
        let q = question("a.test", RecordType::A);
        let mut p = reply(1, NOERROR, 0, &q, 1);
        let mut prev = 12usize;
        for _ in 0..8 {
            let at = p.len();
            p.push(63);
            p.extend_from_slice(&[b'x'; 63]);
            p.extend_from_slice(&[0xc0 | (prev >> 8) as u8, prev as u8]);
            prev = at;
        }
        let owner_at = p.len();
        p.extend_from_slice(&[0xc0 | (prev >> 8) as u8, prev as u8]);
        p.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
        assert!(owner_at > 0);
        assert_eq!(parse(&p, 1, &q), Err(WireError::Malformed));
    }

    /// A pointer (two bytes) to `at`.
    fn pointer(at: usize) -> [u8; 2] {
        [0xc0 | (at >> 8) as u8, at as u8]
    }

    /// `q`'s reply with one NULL record whose data holds `hops` names, each
    /// a label and a pointer to the one before (the first to the question):
    /// where the last starts, a name `hops` pointers deep.
    fn nested(q: &Question, hops: usize, answers: u16) -> (Vec<u8>, usize) {
        let mut p = reply(1, NOERROR, 0, q, answers);
        let mut data = Vec::new();
        let start = p.len() + 1 + 10; // after the NULL record's root owner and fixed fields
        let (mut prev, mut last) = (HEADER, HEADER);
        for i in 0..hops {
            last = start + data.len();
            data.extend_from_slice(&[1, b'a' + (i % 26) as u8]);
            data.extend_from_slice(&pointer(prev));
            prev = last;
        }
        record(&mut p, &[0], 10, 60, &data);
        (p, last)
    }

    /// What parsing `p` as the answer to `q` (ID 1) costs.
    fn counted(p: &[u8], q: &Question) -> (Result<Answer, WireError>, Work) {
        let mut work = Work::default();
        (parse_counted(p, 1, q, &mut work), work)
    }

    #[test]
    fn a_name_follows_at_most_16_pointers() {
        let q = question("a.test", RecordType::A);
        for (deep, parses) in [(MAX_HOPS as usize - 1, true), (MAX_HOPS as usize, false)] {
            // The owner's own pointer is one more hop.
            let (mut p, last) = nested(&q, deep, 2);
            record(&mut p, &pointer(last), 1, 60, &[10, 0, 0, 1]);
            let (result, work) = counted(&p, &q);
            assert!(work.most_hops <= MAX_HOPS);
            match result {
                Ok(answer) => assert!(parses && answer.addrs.is_empty(), "another owner: no address"),
                Err(e) => assert!(!parses && e == WireError::Malformed, "{deep} + 1 hops"),
            }
        }
    }

    /// The audit's answer: 64 KB over TCP, a 16-link CNAME chain, then
    /// about 4,000 address records whose owners point at a 255-byte name
    /// of 127 labels. Every name is legal; decoding every owner on every
    /// link of the chain would be over 8 million steps.
    fn audit_answer(q: &Question) -> Vec<u8> {
        let mut p = reply(1, NOERROR, 0, q, 0);
        let long_at = p.len() + 1 + 10;
        let long: Vec<u8> = (0..127).flat_map(|_| [1, b'x']).chain([0]).collect();
        record(&mut p, &[0], 10, 60, &long);
        let mut links = vec![HEADER];
        for i in 0..16u8 {
            let owner = pointer(*links.last().unwrap_or(&HEADER));
            let target_at = p.len() + owner.len() + 10;
            record(&mut p, &owner, CNAME, 60, &[&[2, b'c', b'a' + i][..], &pointer(HEADER + 2)].concat());
            links.push(target_at);
        }
        let mut answers = 17u16;
        while p.len() + 16 <= u16::MAX as usize {
            record(&mut p, &pointer(long_at), 1, 60, &[10, 6, 6, 6]);
            answers += 1;
        }
        record(&mut p, &pointer(*links.last().unwrap_or(&HEADER)), 1, 60, &[127, 0, 0, 1]);
        p[6..8].copy_from_slice(&(answers + 1).to_be_bytes());
        p
    }

    #[test]
    fn the_audits_pointer_chain_answer_costs_bounded_work() {
        let q = question("a.test", RecordType::A);
        let p = audit_answer(&q);
        assert!(p.len() > 65_000);
        let (result, work) = counted(&p, &q);
        assert_eq!(result, Err(WireError::Malformed));
        assert_eq!(work.steps, MAX_STEPS, "refused once its work ran out, not before");
        // Without the 4,000 heavy records the same chain is followed.
        let mut light = reply(1, NOERROR, 0, &q, 17);
        let mut at = HEADER;
        for i in 0..16u8 {
            let target_at = light.len() + 12;
            record(
                &mut light,
                &pointer(at),
                CNAME,
                60 - u32::from(i),
                &[&[2, b'c', b'a' + i][..], &pointer(HEADER + 2)].concat(),
            );
            at = target_at;
        }
        record(&mut light, &pointer(at), 1, 300, &[127, 0, 0, 1]);
        let (result, work) = counted(&light, &q);
        let answer = result.unwrap();
        assert_eq!((answer.addrs, answer.ttl), (vec!["127.0.0.1".parse::<IpAddr>().unwrap()], Some(45)));
        assert!(work.steps < 500, "{} steps", work.steps);
    }

    #[test]
    fn the_largest_real_answer_fits_the_budget() {
        // 64 KB of A records for one name, owners compressed as servers do.
        let q = question("www.example.test", RecordType::A);
        let mut p = reply(1, NOERROR, 0, &q, 0);
        let mut n = 0u16;
        while p.len() + 16 <= u16::MAX as usize {
            record(&mut p, &[0xc0, 12], 1, 60, &[10, 0, (n >> 8) as u8, n as u8]);
            n += 1;
        }
        p[6..8].copy_from_slice(&n.to_be_bytes());
        let (result, work) = counted(&p, &q);
        assert_eq!(result.unwrap().addrs.len(), MAX_ADDRS);
        assert!(n > 4000 && work.steps < MAX_STEPS / 4, "{n} records, {} steps", work.steps);
    }

    #[test]
    fn a_cname_loop_or_a_long_chain_costs_two_walks() {
        let q = question("a.test", RecordType::A);
        let mut p = reply(1, NOERROR, 0, &q, 2);
        record(&mut p, &[0xc0, 12], CNAME, 60, b"\x01b\x04test\x00");
        record(&mut p, b"\x01b\x04test\x00", CNAME, 60, &[0xc0, 12]);
        let (result, work) = counted(&p, &q);
        assert!(result.unwrap().addrs.is_empty());
        // The question, two records skipped twice, two CNAMEs decoded once.
        assert!(work.steps < 40, "{} steps", work.steps);
    }

    #[test]
    fn every_truncation_of_an_answer_is_an_error_not_a_panic() {
        let q = question("www.a.test", RecordType::A);
        let mut p = reply(1, NOERROR, 0, &q, 2);
        record(&mut p, &[0xc0, 12], CNAME, 600, b"\x01b\x04test\x00");
        record(&mut p, b"\x01b\x04test\x00", 1, 60, &[10, 0, 0, 1]);
        assert_eq!(parse(&p, 1, &q).unwrap().addrs.len(), 1);
        for cut in 0..p.len() {
            assert!(parse(&p[..cut], 1, &q).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small xorshift over every byte position of a real answer.
        let q = question("a.test", RecordType::A);
        let mut base = reply(1, NOERROR, 0, &q, 1);
        record(&mut base, &[0xc0, 12], 1, 60, &[10, 0, 0, 1]);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut p = base.clone();
            for _ in 0..3 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let at = (x as usize) % p.len();
                p[at] = (x >> 32) as u8;
            }
            let _ = parse(&p, 1, &q);
        }
    }
}

/// Property tests of the decoder: whatever the bytes, a parse ends, never
/// panics, and costs at most its budget (counted steps, not time).
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn question() -> Question {
        Question { name: Name::parse("www.a.test").unwrap(), rtype: RecordType::A }
    }

    /// A real answer: a CNAME chain, compressed owners, two addresses.
    fn valid_answer() -> Vec<u8> {
        let q = question();
        let mut p = query(7, &q);
        p[2] = 0x81;
        p[3] = 0x80;
        p[6..8].copy_from_slice(&4u16.to_be_bytes());
        let mut record = |owner: &[u8], rtype: u16, data: &[u8]| {
            p.extend_from_slice(owner);
            p.extend_from_slice(&rtype.to_be_bytes());
            p.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            p.extend_from_slice(&(data.len() as u16).to_be_bytes());
            p.extend_from_slice(data);
        };
        record(&[0xc0, 12], CNAME, b"\x04edge\xc0\x10"); // edge.a.test
        record(&[0xc0, 40], CNAME, b"\x03end\xc0\x10");
        record(&[0xc0, 59], 1, &[127, 0, 0, 1]);
        record(&[0xc0, 59], 1, &[127, 0, 0, 2]);
        p
    }

    /// `len` bytes that make names (lengths, pointers, offsets, letters, the
    /// root) from `seed`: generated from one number, so a case costs no
    /// per-byte strategy.
    fn name_bytes() -> impl Strategy<Value = Vec<u8>> {
        (any::<u64>(), 1usize..4000).prop_map(|(seed, len)| {
            let mut x = seed | 1;
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    match x % 6 {
                        0 => 0,
                        1 => 0xc0 | (x >> 8) as u8 & 0x0f,
                        2 => (x >> 8) as u8 & 0x3f,
                        3 => b'x',
                        _ => (x >> 16) as u8,
                    }
                })
                .collect()
        })
    }

    /// A random name at the end of `p`: up to 2 short labels, then the root or a
    /// pointer back to a name written before (`starts`), so names nest.
    fn push_name(p: &mut Vec<u8>, starts: &mut Vec<usize>, x: &mut u64) {
        starts.push(p.len());
        for _ in 0..next(x) % 3 {
            let len = 1 + next(x) % 4;
            p.push(len as u8);
            p.extend((0..len).map(|i| b'a' + (i % 26) as u8));
        }
        match starts.len() - 1 {
            earlier if earlier > 0 && next(x) % 8 != 0 => {
                let to = starts[(next(x) as usize) % earlier];
                p.extend_from_slice(&[0xc0 | (to >> 8) as u8 & 0x3f, to as u8]);
            }
            _ => p.push(0),
        }
    }

    fn next(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    /// Our question, then `records` well-formed records with random names
    /// (pointers anywhere back, so chains of them), types A, CNAME and
    /// NULL, and an answer count that may be off.
    fn random_records() -> impl Strategy<Value = Vec<u8>> {
        (any::<u64>(), 0usize..3000, any::<bool>()).prop_map(|(seed, records, miscount)| {
            let mut x = seed | 1;
            let mut p = valid_answer()[..28].to_vec();
            let mut starts = vec![HEADER];
            for _ in 0..records {
                push_name(&mut p, &mut starts, &mut x);
                let rtype: u16 = [1, 5, 10][(next(&mut x) % 3) as usize];
                p.extend_from_slice(&rtype.to_be_bytes());
                p.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
                let at = p.len();
                p.extend_from_slice(&[0, 0]);
                match rtype {
                    1 => p.extend_from_slice(&[127, 0, 0, (next(&mut x) % 4) as u8]),
                    _ => push_name(&mut p, &mut starts, &mut x),
                }
                let rdlen = (p.len() - at - 2) as u16;
                p[at..at + 2].copy_from_slice(&rdlen.to_be_bytes());
                if p.len() > 65_000 {
                    break;
                }
            }
            let count = if miscount { next(&mut x) as u16 } else { records as u16 };
            p[6..8].copy_from_slice(&count.to_be_bytes());
            p
        })
    }

    /// The parse's result and work, after checking the bounds every parse
    /// must keep.
    fn check(packet: &[u8], id: u16) -> Result<Answer, WireError> {
        let mut work = Work::default();
        let result = parse_counted(packet, id, &question(), &mut work);
        assert!(work.steps <= MAX_STEPS, "{} steps", work.steps);
        assert!(work.most_hops <= MAX_HOPS, "{} hops", work.most_hops);
        if let Ok(answer) = &result {
            assert!(answer.addrs.len() <= MAX_ADDRS);
        }
        result
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn random_bytes(packet in prop::collection::vec(any::<u8>(), 0..600)) {
            let id = u16::from_be_bytes([packet.first().copied().unwrap_or(0), packet.get(1).copied().unwrap_or(0)]);
            let _ = check(&packet, id);
        }

        #[test]
        fn random_records_after_our_question(packet in random_records()) {
            let _ = check(&packet, 7);
        }

        #[test]
        fn random_bytes_after_our_question(tail in name_bytes(), answers in any::<u16>()) {
            let mut packet = valid_answer()[..28].to_vec();
            packet[6..8].copy_from_slice(&answers.to_be_bytes());
            packet.extend_from_slice(&tail);
            let _ = check(&packet, 7);
        }

        #[test]
        fn mutated_answers(
            writes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
            cut_it in any::<bool>(),
        ) {
            let mut packet = valid_answer();
            for (at, byte) in writes {
                let at = at.index(packet.len());
                packet[at] = byte;
            }
            if cut_it {
                packet.truncate(cut.index(packet.len()));
            }
            if let Ok(answer) = check(&packet, 7) {
                // Whatever was changed, only addresses of the chain's names.
                prop_assert!(answer.addrs.len() <= 2 || answer.addrs.iter().all(|a| a.is_ipv4()));
            }
        }

        #[test]
        fn one_name(packet in name_bytes(), at in any::<prop::sample::Index>()) {
            let mut work = Work::default();
            let mut name = Name::empty();
            let end = read_name(&packet, at.index(packet.len()), &mut name, &mut work);
            // At most 128 labels and MAX_HOPS pointers, and the step that failed.
            prop_assert!(work.steps <= 128 + MAX_HOPS + 1, "{} steps", work.steps);
            if let Some(end) = end {
                prop_assert!(end <= packet.len() && name.wire().len() <= MAX_NAME);
            }
        }
    }

    #[test]
    fn the_valid_answer_is_valid() {
        let answer = check(&valid_answer(), 7).unwrap();
        assert_eq!(answer.addrs.len(), 2, "{answer:?}");
    }
}
