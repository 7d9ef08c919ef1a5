//! The server's answer to the probe's hello, read only as far as the
//! version and cipher suite its ServerHello picks, or the alert it refuses
//! with. These are attacker bytes, read under the DNS decoder's rules:
//! every read is bounds-checked, every length is checked against the bytes
//! really there, and the loop over records advances by at least one record
//! header each turn, so any input ends. The handshake bytes are gathered
//! into a fixed buffer of [`NEEDED`] bytes (a ServerHello may come in
//! fragments over several records); nothing here allocates.

const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
const SERVER_HELLO: u8 = 2;
const RECORD_HEADER: usize = 5;
/// The largest record a TLS 1.2 peer may send: 2^14 bytes plus 2048 of
/// cipher expansion (RFC 5246 6.2.3).
const MAX_RECORD: usize = (1 << 14) + 2048;
/// The ServerHello bytes that hold what we ask: its header (4), version (2),
/// random (32), session id (1 + at most 32) and cipher suite (2).
pub const NEEDED: usize = 4 + 2 + 32 + 1 + 32 + 2;
/// Any reply of this many bytes is decided: each record either decides or
/// brings at least one handshake byte for its header of five, and
/// [`NEEDED`] handshake bytes decide.
pub const DECIDED_WITHIN: usize = NEEDED * (RECORD_HEADER + 1);
/// A ServerHello body shorter than this cannot hold its fixed fields:
/// version, random, session id length, suite, compression.
const MIN_SERVER_HELLO: usize = 2 + 32 + 1 + 2 + 1;

/// What the server said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A ServerHello: the version and cipher suite it picked.
    Hello {
        /// As on the wire: 0x0301 is TLS 1.0.
        version: u16,
        /// The suite's code.
        suite: u16,
    },
    /// An alert: the server refused our hello too.
    Alert {
        /// 1 warning, 2 fatal.
        level: u8,
        /// The alert's code (40 is handshake_failure).
        description: u8,
    },
    /// Not an answer we can read; why, for tests and debugging.
    Broken(Broken),
}

/// Ways an answer is not a readable TLS answer to a hello.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Broken {
    /// The first bytes are not a TLS record header (plain HTTP, SSL 2).
    NotTls,
    /// A record of no bytes, or of more than TLS allows.
    RecordLength,
    /// A record that is neither a handshake nor an alert before the ServerHello.
    UnexpectedRecord,
    /// The first handshake message is not a ServerHello.
    NotServerHello,
    /// A ServerHello too short for its own fields.
    ShortServerHello,
    /// A session id over 32 bytes.
    SessionIdLength,
    /// An alert record of fewer than two bytes.
    ShortAlert,
}

/// The state of a read: what is in so far may be only the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes could still make an answer of these.
    Incomplete,
    /// The answer; later bytes cannot change it.
    Done(Reply),
}

/// Reads `bytes`, all the server sent so far (see the module doc).
pub fn parse(bytes: &[u8]) -> Parsed {
    let mut gathered = Gathered::default();
    let mut rest = bytes;
    loop {
        let Some(header) = rest.get(..RECORD_HEADER) else { return Parsed::Incomplete };
        let (kind, length) = match record_header(header) {
            Ok(header) => header,
            Err(broken) => return Parsed::Done(Reply::Broken(broken)),
        };
        let body = &rest[RECORD_HEADER..];
        let complete = body.len() >= length;
        let payload = &body[..length.min(body.len())];
        match kind {
            ALERT => return alert(payload, complete),
            HANDSHAKE => {
                gathered.push(payload);
                if let Some(reply) = server_hello(gathered.bytes()) {
                    return Parsed::Done(reply);
                }
            }
            _ => return Parsed::Done(Reply::Broken(Broken::UnexpectedRecord)),
        }
        if !complete {
            return Parsed::Incomplete;
        }
        // At least RECORD_HEADER + 1 bytes: the loop ends on any input.
        rest = &body[length..];
    }
}

/// A record's content type and length, if the header is one TLS allows.
fn record_header(header: &[u8]) -> Result<(u8, usize), Broken> {
    let &[kind, major, minor, high, low] = header else { return Err(Broken::NotTls) };
    if !matches!(kind, CHANGE_CIPHER_SPEC..=APPLICATION_DATA) || major != 3 || minor > 4 {
        return Err(Broken::NotTls);
    }
    let length = usize::from(u16::from_be_bytes([high, low]));
    if length == 0 || length > MAX_RECORD {
        return Err(Broken::RecordLength);
    }
    Ok((kind, length))
}

fn alert(payload: &[u8], complete: bool) -> Parsed {
    match payload {
        [level, description, ..] => Parsed::Done(Reply::Alert { level: *level, description: *description }),
        _ if complete => Parsed::Done(Reply::Broken(Broken::ShortAlert)),
        _ => Parsed::Incomplete,
    }
}

/// The ServerHello at the start of `handshake`: `None` while more bytes
/// are needed to tell.
fn server_hello(handshake: &[u8]) -> Option<Reply> {
    let broken = |why| Some(Reply::Broken(why));
    if *handshake.first()? != SERVER_HELLO {
        return broken(Broken::NotServerHello);
    }
    let &[_, a, b, c] = handshake.get(..4)? else { return None };
    let length = u32::from_be_bytes([0, a, b, c]) as usize;
    if length < MIN_SERVER_HELLO {
        return broken(Broken::ShortServerHello);
    }
    let version = u16_at(handshake, 4)?;
    let session_id = usize::from(*handshake.get(38)?);
    if session_id > 32 {
        return broken(Broken::SessionIdLength);
    }
    if length < MIN_SERVER_HELLO + session_id {
        return broken(Broken::ShortServerHello);
    }
    let suite = u16_at(handshake, 39 + session_id)?;
    Some(Reply::Hello { version, suite })
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let &[high, low] = bytes.get(at..at.checked_add(2)?)? else { return None };
    Some(u16::from_be_bytes([high, low]))
}

/// The first [`NEEDED`] handshake bytes, from however many records.
struct Gathered {
    bytes: [u8; NEEDED],
    len: usize,
}

impl Default for Gathered {
    fn default() -> Self {
        Gathered { bytes: [0; NEEDED], len: 0 }
    }
}

impl Gathered {
    fn push(&mut self, fragment: &[u8]) {
        let take = fragment.len().min(NEEDED - self.len);
        self.bytes[self.len..self.len + take].copy_from_slice(&fragment[..take]);
        self.len += take;
    }

    fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A ServerHello handshake message: `version`, `suite`, a session id of
    /// `session_id` bytes and `extensions` bytes of extensions.
    pub(crate) fn server_hello_message(version: u16, suite: u16, session_id: usize, extensions: &[u8]) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend([0x5a; 32]);
        body.push(session_id as u8);
        body.extend(vec![0x11; session_id]);
        body.extend(suite.to_be_bytes());
        body.push(0);
        if !extensions.is_empty() {
            body.extend((extensions.len() as u16).to_be_bytes());
            body.extend(extensions);
        }
        let mut message = vec![SERVER_HELLO];
        message.extend(&(body.len() as u32).to_be_bytes()[1..]);
        message.extend(body);
        message
    }

    /// `payload` in one record of `kind`.
    pub(crate) fn record(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![kind, 3, 1];
        out.extend((payload.len() as u16).to_be_bytes());
        out.extend(payload);
        out
    }

    fn hello(version: u16, suite: u16) -> Parsed {
        Parsed::Done(Reply::Hello { version, suite })
    }

    fn broken(why: Broken) -> Parsed {
        Parsed::Done(Reply::Broken(why))
    }

    #[test]
    fn a_server_hello_gives_its_version_and_suite() {
        let reply = record(HANDSHAKE, &server_hello_message(0x0301, 0xc014, 0, &[]));
        assert_eq!(parse(&reply), hello(0x0301, 0xc014));
        // With a full session id and extensions, then a certificate after it.
        let mut reply = record(HANDSHAKE, &server_hello_message(0x0303, 0x002f, 32, &[0xff, 1, 0, 1, 0]));
        reply.extend(record(HANDSHAKE, &[11, 0, 0, 3, 0, 0, 0]));
        assert_eq!(parse(&reply), hello(0x0303, 0x002f));
        // SSL 3.0 and anything else a server may write are reported as sent.
        assert_eq!(parse(&record(HANDSHAKE, &server_hello_message(0x0300, 5, 0, &[]))), hello(0x0300, 5));
        assert_eq!(parse(&record(HANDSHAKE, &server_hello_message(0x7f7f, 1, 0, &[]))), hello(0x7f7f, 1));
    }

    #[test]
    fn a_server_hello_in_fragments_is_put_together() {
        let message = server_hello_message(0x0302, 0x0035, 32, &[]);
        for size in [1, 2, 5, 38, 39, 40, 72] {
            let reply: Vec<u8> = message.chunks(size).flat_map(|chunk| record(HANDSHAKE, chunk)).collect();
            assert_eq!(parse(&reply), hello(0x0302, 0x0035), "fragments of {size}");
        }
    }

    #[test]
    fn alerts_are_read() {
        assert_eq!(parse(&record(ALERT, &[2, 40])), Parsed::Done(Reply::Alert { level: 2, description: 40 }));
        assert_eq!(parse(&[21, 3, 3, 0, 2, 2, 70]), Parsed::Done(Reply::Alert { level: 2, description: 70 }));
        assert_eq!(parse(&record(ALERT, &[2])), broken(Broken::ShortAlert));
        // An alert after part of a ServerHello is still the answer.
        let mut reply = record(HANDSHAKE, &server_hello_message(0x0303, 1, 0, &[])[..10]);
        reply.extend(record(ALERT, &[2, 80]));
        assert_eq!(parse(&reply), Parsed::Done(Reply::Alert { level: 2, description: 80 }));
    }

    #[test]
    fn what_is_not_tls_is_broken_at_once() {
        assert_eq!(parse(b"HTTP/1.1 400 Bad Request\r\n"), broken(Broken::NotTls));
        assert_eq!(parse(&[0x80, 0x2e, 0x04, 0x00, 0x01]), broken(Broken::NotTls), "SSL 2");
        assert_eq!(parse(&[22, 2, 0, 0, 1]), broken(Broken::NotTls), "major version 2");
        assert_eq!(parse(&[22, 3, 5, 0, 1]), broken(Broken::NotTls), "minor version 5");
        assert_eq!(parse(&[19, 3, 1, 0, 1]), broken(Broken::NotTls), "content type 19");
        assert_eq!(parse(&[22, 3, 1, 0, 0]), broken(Broken::RecordLength));
        assert_eq!(parse(&[22, 3, 1, 0x48, 0x01]), broken(Broken::RecordLength));
        assert_eq!(parse(&[23, 3, 3, 0, 1, 0]), broken(Broken::UnexpectedRecord));
        assert_eq!(parse(&[20, 3, 3, 0, 1, 1]), broken(Broken::UnexpectedRecord));
    }

    #[test]
    fn a_broken_server_hello_is_named() {
        let reply = record(HANDSHAKE, &[11, 0, 0, 3, 0, 0, 0]);
        assert_eq!(parse(&reply), broken(Broken::NotServerHello));
        assert_eq!(parse(&record(HANDSHAKE, &[2, 0, 0, 37])), broken(Broken::ShortServerHello));
        let mut long_id = server_hello_message(0x0303, 1, 32, &[]);
        long_id[38] = 33;
        assert_eq!(parse(&record(HANDSHAKE, &long_id)), broken(Broken::SessionIdLength));
        // A length that leaves no room for the session id it announces.
        let mut short = server_hello_message(0x0303, 1, 32, &[]);
        short[3] = (MIN_SERVER_HELLO + 31) as u8;
        assert_eq!(parse(&record(HANDSHAKE, &short)), broken(Broken::ShortServerHello));
    }

    #[test]
    fn every_truncation_is_incomplete_never_wrong() {
        let mut whole = record(HANDSHAKE, &server_hello_message(0x0303, 0xc027, 32, &[0, 23, 0, 0]));
        whole.extend(record(HANDSHAKE, &[11, 0, 0, 0]));
        // The suite's last byte is the first byte that makes the answer.
        let decisive = RECORD_HEADER + 4 + 2 + 32 + 1 + 32 + 2;
        for cut in 0..whole.len() {
            let expected = if cut < decisive { Parsed::Incomplete } else { hello(0x0303, 0xc027) };
            assert_eq!(parse(&whole[..cut]), expected, "cut at {cut}");
        }
        let alert = record(ALERT, &[2, 40]);
        for cut in 0..alert.len() {
            assert_eq!(parse(&alert[..cut]), Parsed::Incomplete, "alert cut at {cut}");
        }
    }

    #[test]
    fn a_truncated_fragmented_hello_is_incomplete_at_every_byte() {
        let message = server_hello_message(0x0301, 0x000a, 7, &[]);
        let whole: Vec<u8> = message.chunks(3).flat_map(|chunk| record(HANDSHAKE, chunk)).collect();
        let last = parse(&whole);
        assert_eq!(last, hello(0x0301, 0x000a));
        let first_done = (0..=whole.len()).find(|&cut| parse(&whole[..cut]) != Parsed::Incomplete).unwrap();
        assert!((first_done..=whole.len()).all(|cut| parse(&whole[..cut]) == last));
    }

    #[test]
    fn one_byte_fragments_are_the_longest_reply_and_decide_at_the_bound() {
        let message = server_hello_message(0x0303, 0x0004, 32, &[]);
        let worst: Vec<u8> = message[..NEEDED].chunks(1).flat_map(|c| record(HANDSHAKE, c)).collect();
        assert_eq!(worst.len(), DECIDED_WITHIN);
        assert_eq!(parse(&worst[..DECIDED_WITHIN - 1]), Parsed::Incomplete);
        assert_eq!(parse(&worst), hello(0x0303, 0x0004));
    }

    #[test]
    fn gathering_stops_at_what_is_needed() {
        let mut gathered = Gathered::default();
        gathered.push(&[1; 50]);
        gathered.push(&[2; 50]);
        assert_eq!(gathered.bytes().len(), NEEDED);
        gathered.push(&[3; 1]);
        assert_eq!(gathered.bytes()[NEEDED - 1], 2);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A valid reply of a few records, to mutate.
        fn valid() -> impl Strategy<Value = Vec<u8>> {
            (any::<u16>(), any::<u16>(), 0usize..=32, 1usize..80).prop_map(|(version, suite, id, chunk)| {
                let message = server_hello_message(version, suite, id, &[0, 23, 0, 0]);
                message.chunks(chunk).flat_map(|c| record(HANDSHAKE, c)).collect()
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn random_bytes_never_panic_and_decide_in_bounds(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
                let parsed = parse(&bytes);
                if bytes.len() >= DECIDED_WITHIN {
                    prop_assert_ne!(parsed, Parsed::Incomplete);
                }
            }

            #[test]
            fn tls_shaped_bytes_never_panic(
                records in proptest::collection::vec(
                    (prop_oneof![Just(21u8), Just(22u8), any::<u8>()], 0u8..=5, proptest::collection::vec(any::<u8>(), 0..120)),
                    0..40,
                )
            ) {
                let bytes: Vec<u8> = records
                    .iter()
                    .flat_map(|(kind, minor, payload)| {
                        let mut out = vec![*kind, 3, *minor];
                        out.extend((payload.len() as u16).to_be_bytes());
                        out.extend(payload);
                        out
                    })
                    .collect();
                let parsed = parse(&bytes);
                if bytes.len() >= DECIDED_WITHIN {
                    prop_assert_ne!(parsed, Parsed::Incomplete);
                }
            }

            #[test]
            fn mutated_replies_never_panic_and_prefixes_agree(
                reply in valid(),
                flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
            ) {
                let mut bytes = reply;
                for (at, value) in flips {
                    let i = at.index(bytes.len());
                    bytes[i] = value;
                }
                let whole = parse(&bytes);
                // Once a prefix decides, every longer prefix decides the same.
                if let Some(first) = (0..=bytes.len()).find(|&cut| parse(&bytes[..cut]) != Parsed::Incomplete) {
                    for cut in first..=bytes.len() {
                        prop_assert_eq!(parse(&bytes[..cut]), whole);
                    }
                }
            }

            #[test]
            fn unmutated_replies_give_what_was_sent(version in any::<u16>(), suite in any::<u16>(), id in 0usize..=32, chunk in 1usize..80) {
                let message = server_hello_message(version, suite, id, &[]);
                let bytes: Vec<u8> = message.chunks(chunk).flat_map(|c| record(HANDSHAKE, c)).collect();
                prop_assert_eq!(parse(&bytes), hello(version, suite));
            }
        }
    }
}
