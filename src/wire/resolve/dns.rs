//! The DNS wire format, as much of it as a stub resolver needs (RFC 1035): a
//! one-question query for A or AAAA, and the parse of its answer: header,
//! the question (which must be ours), then the address records of the name
//! at the end of its CNAME chain and the smallest TTL on the way.
//!
//! Every read is bounds-checked and every name is decoded under two rules
//! that make any packet terminate: a compression pointer must point before
//! itself (as every compressor writes them), and a decoded name stays within
//! 255 bytes. Nothing here allocates but the query and the address list.

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
const CLASS_IN: u16 = 1;
const HEADER: usize = 12;
/// The longest name on the wire, length octets included (RFC 1035 2.3.4).
const MAX_NAME: usize = 255;
/// CNAMEs followed at most within one answer; a longer (or looping) chain
/// ends with the addresses found so far, that is none.
const MAX_CHAIN: usize = 16;

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
}

/// The ID of a packet, if it has a header.
pub fn id(packet: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*packet.first()?, *packet.get(1)?]))
}

/// `packet` read as the answer to `question` asked with `id`.
pub fn parse(packet: &[u8], id: u16, question: &Question) -> Result<Answer, WireError> {
    let header = packet.get(..HEADER).ok_or(WireError::NotOurs)?;
    let flags = u16::from_be_bytes([header[2], header[3]]);
    let count = |at: usize| u16::from_be_bytes([header[at], header[at + 1]]);
    let is_response = flags & 0x8000 != 0 && (flags >> 11) & 0xf == 0;
    if u16::from_be_bytes([header[0], header[1]]) != id || !is_response || count(4) != 1 {
        return Err(WireError::NotOurs);
    }
    let mut name = Name::empty();
    let pos = read_name(packet, HEADER, &mut name).ok_or(WireError::NotOurs)?;
    let qtype = read_u16(packet, pos).ok_or(WireError::NotOurs)?;
    let qclass = read_u16(packet, pos + 2).ok_or(WireError::NotOurs)?;
    if name != question.name || qtype != question.rtype.code() || qclass != CLASS_IN {
        return Err(WireError::NotOurs);
    }
    let rcode = (flags & 0xf) as u8;
    let truncated = flags & 0x0200 != 0;
    let mut answer = Answer { rcode, truncated, addrs: Vec::new(), ttl: None };
    if truncated || rcode != NOERROR {
        return Ok(answer);
    }
    let records = pos + 4;
    let answers = count(6) as usize;
    let (addrs, ttl) = follow_chain(packet, records, answers, question).ok_or(WireError::Malformed)?;
    answer.addrs = addrs;
    answer.ttl = ttl;
    Ok(answer)
}

/// The addresses owned by the question's name, or by the end of the CNAME
/// chain that starts there, with the smallest TTL of the records used.
/// Records of other owners (and other types) are skipped, so an answer
/// cannot slip in addresses for a name it was not asked about.
fn follow_chain(packet: &[u8], start: usize, count: usize, question: &Question) -> Option<(Vec<IpAddr>, Option<u32>)> {
    let mut current = question.name.clone();
    let mut owner = Name::empty();
    let mut chain_ttl: Option<u32> = None;
    for _ in 0..MAX_CHAIN {
        let mut addrs = Vec::new();
        let mut ttl = chain_ttl;
        let mut next: Option<(Name, u32)> = None;
        let mut pos = start;
        for _ in 0..count {
            pos = read_name(packet, pos, &mut owner)?;
            let rtype = read_u16(packet, pos)?;
            let class = read_u16(packet, pos + 2)?;
            let record_ttl = read_u32(packet, pos + 4)?;
            let rdlen = read_u16(packet, pos + 8)? as usize;
            let rdata = pos + 10;
            let data = packet.get(rdata..rdata + rdlen)?;
            pos = rdata + rdlen;
            if class != CLASS_IN || owner != current {
                continue;
            }
            if rtype == question.rtype.code() {
                let ip = match (question.rtype, data.len()) {
                    (RecordType::A, 4) => IpAddr::V4(Ipv4Addr::new(data[0], data[1], data[2], data[3])),
                    (RecordType::Aaaa, 16) => {
                        let mut octets = [0u8; 16];
                        octets.copy_from_slice(data);
                        IpAddr::V6(Ipv6Addr::from(octets))
                    }
                    _ => return None,
                };
                if !addrs.contains(&ip) {
                    addrs.push(ip);
                }
                ttl = Some(ttl.map_or(record_ttl, |t| t.min(record_ttl)));
            } else if rtype == CNAME && next.is_none() {
                let mut target = Name::empty();
                read_name(packet, rdata, &mut target)?;
                next = Some((target, record_ttl));
            }
        }
        match next {
            _ if !addrs.is_empty() => return Some((addrs, ttl)),
            Some((target, cname_ttl)) => {
                chain_ttl = Some(chain_ttl.map_or(cname_ttl, |t| t.min(cname_ttl)));
                current = target;
            }
            None => return Some((Vec::new(), None)),
        }
    }
    Some((Vec::new(), None))
}

/// Decode the (possibly compressed) name at `pos` into `out`, lower-cased;
/// returns where the name ends in the packet (after its first pointer, if
/// any). `None` if it runs off the packet, points forward or grows past 255.
fn read_name(packet: &[u8], mut pos: usize, out: &mut Name) -> Option<usize> {
    out.len = 0;
    let mut end = None;
    loop {
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
                // Only backwards. A pointer then leads to an earlier byte or
                // to labels that grow the name, so with the 255-byte limit
                // the walk ends whatever the packet holds.
                if target >= pos {
                    return None;
                }
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
