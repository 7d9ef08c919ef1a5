//! Property tests of the response head reader and the status-line parser:
//! random bytes, and valid heads with random mutations, fed in random chunk
//! splits. Whatever arrives, the reader never panics, ends (every feed takes
//! bytes or finishes), holds no more than its documented limits
//! ([`MAX_HEAD`] in all, [`MAX_FIELD_LINE`] for a line, [`MAX_STATUS_LINE`]
//! for a status line), and comes to the same answer however the bytes are
//! split into reads. Case counts are bounded so the whole file runs in a few
//! seconds in `cargo test`.

use proptest::prelude::*;

use super::*;

/// Heads to mutate: interim answers, folding, bare LF, CR split from LF,
/// codes with and without wanted headers, a body after the blank line.
const SEEDS: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n\
      HTTP/1.1 301 Moved Permanently\r\nLocation: /next\r\nServer: cloudflare\r\n\r\nbody",
    b"HTTP/1.0 302 Found\nLocation: http://a.test/\n x-folded\nRetry-After: 5\n\n",
    b"HTTP/1.1 503 Busy\r\nRetry-After: 30\r\nX-Datadome: 1\r\n\r\n",
    b"HTTP/1.1 429\r\n\r\n",
    b"HTTP/1.1 404 Not Found\r\nServer: x\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
];

/// The codes whose headers a check reads (as `exchange::wants_headers`).
fn wants(code: u16) -> bool {
    (300..400).contains(&code) || matches!(code, 403 | 429 | 503)
}

/// The fields a check keeps (as `exchange::keeps_header`): names no longer
/// than `LONGEST_KEPT_NAME`, as the reader assumes.
fn keeps(name: &str) -> bool {
    matches!(name, "location" | "retry-after" | "server" | "x-datadome" | "cf-mitigated")
}

/// What reading came to, without the parts that name the bytes received:
/// an error's quote shows the line as far as it had arrived, which depends
/// on the reads, so only its words before the quote are compared.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Head { code: u16, reason: String, headers: Vec<(String, String)>, cut: Option<Cut>, consumed: usize },
    Error(String),
}

/// Feeds `input` in chunks of the sizes in `sizes` (cycled), checking the
/// limits after every feed, then the end of the connection if the head was
/// not done. At most one feed per chunk: the loop ends with the input.
fn read(input: &[u8], sizes: &[usize], wants: fn(u16) -> bool) -> Outcome {
    let mut parser = HeadParser::new(fixed(wants, keeps));
    let mut offset = 0;
    let mut sizes = sizes.iter().copied().filter(|&n| n > 0).cycle();
    while offset < input.len() {
        let size = sizes.next().unwrap_or(input.len()).min(input.len() - offset);
        let before = parser.taken;
        let fed = parser.feed(&input[offset..offset + size]);
        assert_within_limits(&parser);
        match fed {
            Ok(Fed::More) => {
                assert_eq!(parser.taken, before + size, "More, yet the chunk was not all taken");
                offset += size;
            }
            Ok(Fed::Done { used }) => {
                assert!(used <= size, "used {used} of a chunk of {size}");
                return head(parser, offset + used);
            }
            Err(error) => return Outcome::Error(words(&error)),
        }
    }
    match parser.eof() {
        Ok(()) => head(parser, input.len()),
        Err(error) => Outcome::Error(words(&error)),
    }
}

fn head(parser: HeadParser, consumed: usize) -> Outcome {
    let Some(head) = parser.into_head() else { panic!("a done head has its status line") };
    let Response { code, reason, .. } = head.response;
    Outcome::Head { code, reason, headers: head.headers, cut: head.cut, consumed }
}

/// An error's words before its quote of the received bytes.
fn words(error: &str) -> String {
    error.split('"').next().unwrap_or_default().to_owned()
}

/// The documented bounds, checked after every feed.
fn assert_within_limits(parser: &HeadParser) {
    assert!(parser.taken <= MAX_HEAD, "took {} bytes of head", parser.taken);
    let line_limit = if parser.part == Part::StatusLine { MAX_STATUS_LINE } else { MAX_FIELD_LINE + 1 };
    assert!(parser.line.len() <= line_limit, "holds a line of {} bytes", parser.line.len());
    let kept: usize = parser.headers.iter().map(|(name, value)| name.len() + value.len()).sum();
    assert!(kept <= parser.taken, "keeps {kept} bytes of fields from {} read", parser.taken);
}

/// `seed` with `edits` applied: each replaces, inserts or deletes one byte
/// at a position taken modulo the length (so every edit lands somewhere).
fn mutate(seed: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for &(at, byte, kind) in edits {
        let at = at % (bytes.len() + 1);
        match kind % 3 {
            0 if at < bytes.len() => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => bytes.push(byte),
        }
    }
    bytes
}

/// Bytes a head is made of, more often than chance would pick them.
fn head_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => prop::sample::select(&b"\r\n :\t0123456789HTTP/1.LocationRetry-After"[..]),
        1 => any::<u8>(),
    ]
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    prop::collection::vec((any::<usize>(), head_byte(), any::<u8>()), 0..8)
}

fn sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1..40usize, 1..16)
}

fn either_wants() -> impl Strategy<Value = fn(u16) -> bool> {
    prop_oneof![Just(wants as fn(u16) -> bool), Just((|_| true) as fn(u16) -> bool)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_in_any_split_read_the_same(
        input in prop::collection::vec(any::<u8>(), 0..600),
        sizes in sizes(),
        wants in either_wants(),
    ) {
        prop_assert_eq!(read(&input, &sizes, wants), read(&input, &[input.len().max(1)], wants));
    }

    #[test]
    fn mutated_heads_in_any_split_read_the_same(
        seed in prop::sample::select(SEEDS),
        edits in edits(),
        sizes in sizes(),
        wants in either_wants(),
    ) {
        let input = mutate(seed, &edits);
        let whole = read(&input, &[input.len().max(1)], wants);
        prop_assert_eq!(read(&input, &sizes, wants), whole.clone());
        prop_assert_eq!(read(&input, &[1], wants), whole);
    }

    #[test]
    fn a_status_line_that_parses_is_exactly_what_was_sent(
        seed in prop::sample::select(SEEDS),
        edits in edits(),
    ) {
        let input = mutate(seed, &edits);
        let line = input.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Ok(response) = parse_status_line(line) {
            prop_assert!((100..=599).contains(&response.code));
            let version = if response.version == HttpVersion::Http11 { "1.1" } else { "1.0" };
            let separator = if line.len() > 12 { " " } else { "" };
            let rebuilt = format!("HTTP/{version} {:03}{separator}{}", response.code, response.reason);
            prop_assert_eq!(rebuilt.as_bytes(), line);
        }
    }
}

/// Heads at the limits: a kept field line and the whole head around
/// [`MAX_FIELD_LINE`] and [`MAX_HEAD`], and endless interim answers, in
/// random splits up to whole. Big, so fewer cases.
fn big_head() -> impl Strategy<Value = Vec<u8>> {
    let near = |limit: usize| (limit - 3)..(limit + 3);
    prop_oneof![
        near(MAX_FIELD_LINE).prop_map(|n| {
            let mut head = b"HTTP/1.1 302 Found\r\nLocation: /".to_vec();
            head.resize(head.len() + n - 11, b'a');
            head.extend_from_slice(b"\r\nRetry-After: 1\r\n\r\n");
            head
        }),
        near(MAX_HEAD).prop_map(|n| {
            let mut head = b"HTTP/1.1 503 Busy\r\nRetry-After: 5\r\n".to_vec();
            while head.len() + 40 < n {
                head.extend_from_slice(b"Server: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
            }
            head.resize(n, b'b');
            head.extend_from_slice(b"\r\n\r\n");
            head
        }),
        near(MAX_HEAD).prop_map(|n| {
            let mut head = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(n / 25);
            head.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
            head
        }),
        near(MAX_STATUS_LINE).prop_map(|n| {
            let mut head = b"HTTP/1.1 200 ".to_vec();
            head.resize(n, b'r');
            head.extend_from_slice(b"\r\n\r\n");
            head
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn heads_at_the_limits_stay_within_them_in_any_split(
        input in big_head(),
        sizes in prop::collection::vec(prop_oneof![1..64usize, 1000..70_000usize], 1..8),
        edits in edits(),
    ) {
        let input = mutate(&input, &edits);
        prop_assert_eq!(read(&input, &sizes, wants), read(&input, &[input.len()], wants));
    }
}
