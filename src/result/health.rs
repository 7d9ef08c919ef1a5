//! Healthy, not just up: what a check is expected to show ([`Policy`]: the
//! accepted codes, latency budgets, certificate days left, headers, a body),
//! and what it came to ([`State`], with the [`Unmet`] expectations that say
//! why). Pure functions of a result: the engine reads what the expectations
//! need (the named headers, a bounded prefix of the body) and no more.

use std::time::Duration;

use super::{unix_now, CheckError, Checked, HumanDuration, OkCodes, SetupError, Verdict};

/// The most of a body a body expectation reads (64 KiB, after the head):
/// enough for any health endpoint's answer, and a bound on what a server
/// streaming forever can make a check hold.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The largest compiled pattern accepted (1 MiB, the `regex` crate's unit);
/// matching is linear in the text, whatever the pattern.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

stable_names! {
    /// What a check came to. `Unknown` is never the engine's answer: a
    /// caller that finds its own network down (a canary) gives it to results
    /// that would be `down`, so that nothing alerts on them.
    State {
    /// Answered, every expectation met, within the degraded budget.
    Up => "up",
    /// Answered and met every expectation, but slower than
    /// [`Policy::degraded_after`].
    Degraded => "degraded",
    /// An error, an expectation not met, or slower than [`Policy::down_after`].
    Down => "down",
    /// Not judged: the checker's own network was down.
    Unknown => "unknown",
    }
}

stable_names! {
    /// Which kind of expectation was not met (`unmet[].kind` in JSON).
    Expectation {
    /// The status code ([`Policy::ok_codes`]).
    Status => "status",
    /// The time the check took ([`Policy::degraded_after`], [`Policy::down_after`]).
    Latency => "latency",
    /// Certificate days left ([`Policy::cert_expiry_days`]).
    Certificate => "certificate",
    /// A response header ([`Policy::header`]).
    Header => "header",
    /// The body ([`Policy::body`]).
    Body => "body",
    }
}

/// One expectation a check did not meet: what was expected and what came,
/// in words (server text in `got` is as sent: escape it where it is shown).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unmet {
    /// Which kind of expectation.
    pub kind: Expectation,
    /// What was expected, as in `status 200-299` or `header content-type = application/json`.
    pub expect: String,
    /// What came instead, as in `404` or `no content-type header`.
    pub got: String,
}

impl Unmet {
    /// An unmet expectation of `kind`.
    pub fn new(kind: Expectation, expect: impl Into<String>, got: impl Into<String>) -> Self {
        Unmet { kind, expect: expect.into(), got: got.into() }
    }
}

/// A regular expression of the `regex` crate (linear-time matching, no
/// look-around or back-references), kept with its text.
#[derive(Clone, Debug)]
pub struct Pattern(regex::Regex);

impl Pattern {
    /// Compiles `text`, refusing patterns whose compiled form is over 1 MiB.
    pub fn new(text: &str) -> Result<Pattern, SetupError> {
        regex::RegexBuilder::new(text)
            .size_limit(PATTERN_SIZE_LIMIT)
            .build()
            .map(Pattern)
            .map_err(|e| SetupError::Pattern { pattern: text.to_owned(), reason: e.to_string() })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether the pattern matches anywhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Pattern {}

impl std::hash::Hash for Pattern {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

/// What a response header must be.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderRule {
    /// Present, with any value.
    Present,
    /// Present, with exactly this value (surrounding white space aside).
    Equals(String),
    /// Present, with a value the pattern matches.
    Matches(Pattern),
}

/// What the body must hold, within its first [`BODY_LIMIT`] bytes, as sent
/// (nothing is decompressed; chunked framing is taken off).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BodyRule {
    /// This text, byte for byte.
    Contains(String),
    /// A match of the pattern (the body read as UTF-8, invalid bytes replaced).
    Matches(Pattern),
}

/// What counts as healthy: an accepted code, and, when set, a certificate
/// that lasts longer than [`Policy::cert_expiry_days`], latency budgets,
/// headers and a body. Non-exhaustive: build it with [`Policy::new`] or
/// [`Policy::default`] and the builder methods.
///
/// ```
/// use std::time::Duration;
/// use statuscheck::{BodyRule, HeaderRule, Policy};
///
/// let policy = Policy::new("200".parse()?)
///     .degraded_after(Some(Duration::from_millis(500)))
///     .down_after(Some(Duration::from_secs(3)))
///     .header("Content-Type", HeaderRule::Equals("application/json".into()))
///     .body(BodyRule::Contains(r#""status":"UP""#.into()));
/// assert!(policy.reads_body());
/// # Ok::<(), statuscheck::SetupError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Policy {
    /// The accepted status codes.
    pub ok_codes: OkCodes,
    /// A certificate that expires within this many days fails.
    pub cert_expiry_days: Option<i64>,
    /// Slower than this (the whole check) is degraded.
    pub degraded_after: Option<Duration>,
    /// Slower than this is down, even with an accepted answer.
    pub down_after: Option<Duration>,
    /// Response headers, by lower-case name.
    pub headers: Vec<(String, HeaderRule)>,
    /// What the body must hold.
    pub body: Vec<BodyRule>,
}

impl Policy {
    /// Success is a code in `ok_codes`; nothing else is expected.
    pub fn new(ok_codes: OkCodes) -> Self {
        Policy { ok_codes, ..Policy::default() }
    }

    /// A certificate of the chain that expires within `days` fails the check.
    pub fn cert_expiry_days(mut self, days: Option<i64>) -> Self {
        self.cert_expiry_days = days;
        self
    }

    /// A check slower than this is degraded.
    pub fn degraded_after(mut self, budget: Option<Duration>) -> Self {
        self.degraded_after = budget;
        self
    }

    /// A check slower than this is down.
    pub fn down_after(mut self, budget: Option<Duration>) -> Self {
        self.down_after = budget;
        self
    }

    /// Expects the header `name` (any case) to follow `rule`; the head is
    /// then read whatever the status code, for the URLs of this policy only.
    pub fn header(mut self, name: &str, rule: HeaderRule) -> Self {
        self.headers.push((name.to_ascii_lowercase(), rule));
        self
    }

    /// Expects the body to follow `rule`: up to [`BODY_LIMIT`] bytes of it
    /// are then read, for the URLs of this policy only.
    pub fn body(mut self, rule: BodyRule) -> Self {
        self.body.push(rule);
        self
    }

    /// Whether the engine must read a body prefix for this policy.
    pub fn reads_body(&self) -> bool {
        !self.body.is_empty()
    }

    /// Whether the engine must read the whole head (and keep these names).
    pub fn reads_headers(&self) -> bool {
        !self.headers.is_empty()
    }

    /// Whether a header of this lower-case name is expected.
    pub fn expects_header(&self, name: &str) -> bool {
        self.headers.iter().any(|(expected, _)| expected == name)
    }

    /// How `checked` counts under this policy: an error, an answer that is
    /// down, or one that is up (or degraded). The header and body findings
    /// are the engine's (`checked.unmet`); codes, certificate and latency
    /// are judged here. A checked result already carries the verdict of the
    /// policy it was checked with: [`Checked::verdict`].
    pub fn verdict<T>(&self, checked: &Checked<T>) -> Verdict {
        let content = checked.unmet.iter().filter(|u| matches!(u.kind, Expectation::Header | Expectation::Body));
        match self.judge(checked, content.cloned().collect()).0 {
            _ if checked.outcome.is_err() => Verdict::Error,
            State::Down => Verdict::Failed,
            _ => Verdict::Ok,
        }
    }

    /// Whether a certificate of the chain expires within
    /// [`Policy::cert_expiry_days`] days.
    pub fn cert_expiring<T>(&self, checked: &Checked<T>) -> bool {
        let (Some(days), Some(certificate)) = (self.cert_expiry_days, checked.earliest_expiry()) else {
            return false;
        };
        certificate.days_left(unix_now()) < days
    }

    /// Judges a finished check: its state and every expectation it did not
    /// meet. `content` holds what the engine found unmet in the headers and
    /// body (see [`Policy::judge_content`]); an error is down with nothing
    /// unmet (the error says why).
    pub fn judge<T>(&self, checked: &Checked<T>, content: Vec<Unmet>) -> (State, Vec<Unmet>) {
        let Ok(response) = &checked.outcome else { return (State::Down, Vec::new()) };
        let mut unmet = Vec::new();
        if !self.ok_codes.accepts(response.code) {
            unmet.push(Unmet::new(Expectation::Status, format!("status {}", self.ok_codes), response.code.to_string()));
        }
        if let (Some(days), Some(cert)) = (self.cert_expiry_days, checked.earliest_expiry()) {
            let left = cert.days_left(unix_now());
            if left < days {
                let expect = format!("certificate valid for {days} more days");
                unmet.push(Unmet::new(Expectation::Certificate, expect, format!("{left} days left")));
            }
        }
        unmet.extend(content);
        let took = checked.elapsed;
        let over = |budget: Option<Duration>| budget.filter(|budget| took > *budget);
        let too_slow = |budget: Duration| {
            let expect = format!("latency at most {}", HumanDuration(budget));
            // To the millisecond: `1.823s`, not `1.823417529s`.
            let took = Duration::from_millis(u64::try_from(took.as_millis()).unwrap_or(u64::MAX));
            Unmet::new(Expectation::Latency, expect, HumanDuration(took).to_string())
        };
        if let Some(budget) = over(self.down_after) {
            unmet.push(too_slow(budget));
            return (State::Down, unmet);
        }
        if !unmet.is_empty() {
            return (State::Down, unmet);
        }
        match over(self.degraded_after) {
            Some(budget) => (State::Degraded, vec![too_slow(budget)]),
            None => (State::Up, unmet),
        }
    }

    /// The header and body expectations `response` does not meet. `headers`
    /// are the fields read (lower-case names, values as sent); `body` is
    /// what was read of the body (at most [`BODY_LIMIT`] bytes), `None` when
    /// none was read, with why it ended early if it did.
    pub fn judge_content(
        &self,
        headers: &[(String, String)],
        body: Option<&[u8]>,
        body_cut: Option<&str>,
    ) -> Vec<Unmet> {
        let mut unmet = Vec::new();
        for (name, rule) in &self.headers {
            let value = headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.trim());
            let (expect, met) = match rule {
                HeaderRule::Present => (format!("header {name}"), value.is_some()),
                HeaderRule::Equals(wanted) => (format!("header {name} = {wanted}"), value == Some(wanted.trim())),
                HeaderRule::Matches(pattern) => {
                    (format!("header {name} ~ /{}/", pattern.as_str()), value.is_some_and(|v| pattern.is_match(v)))
                }
            };
            if !met {
                let got = value.map_or_else(|| format!("no {name} header"), str::to_owned);
                unmet.push(Unmet::new(Expectation::Header, expect, got));
            }
        }
        if self.body.is_empty() {
            return unmet;
        }
        let text = body.map(String::from_utf8_lossy);
        for rule in &self.body {
            let (expect, met) = match rule {
                BodyRule::Contains(wanted) => {
                    (format!("body contains {wanted:?}"), body.is_some_and(|b| contains(b, wanted.as_bytes())))
                }
                BodyRule::Matches(pattern) => {
                    (format!("body ~ /{}/", pattern.as_str()), text.as_deref().is_some_and(|t| pattern.is_match(t)))
                }
            };
            if !met {
                let got = match (body, body_cut) {
                    (None, _) => "no body".to_owned(),
                    (Some(b), Some(cut)) => format!("not in the {} bytes read ({cut})", b.len()),
                    (Some(b), None) => format!("not in the body ({} bytes)", b.len()),
                };
                unmet.push(Unmet::new(Expectation::Body, expect, got));
            }
        }
        unmet
    }
}

/// Whether `needle` occurs in `haystack` (an empty needle always does):
/// memchr's substring search, linear and vectorised, where comparing every
/// window cost 121 µs per 32 KiB body (bench/RESULTS.md, issue 20).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

impl<T> Checked<T> {
    /// How this result counts toward a summary's first line (`N ok, N
    /// failed, N errors`): an error, an answer that is down (or unknown), or
    /// one that is up or degraded.
    pub fn verdict(&self) -> Verdict {
        match (&self.outcome, self.state) {
            (Err(_), _) => Verdict::Error,
            (Ok(_), State::Up | State::Degraded) => Verdict::Ok,
            (Ok(_), _) => Verdict::Failed,
        }
    }

    /// The error, if the check ended in one.
    pub fn error(&self) -> Option<&CheckError> {
        self.outcome.as_ref().err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{HttpVersion, Response, Trace};

    fn checked(code: u16, elapsed_ms: u64) -> Checked<()> {
        let mut checked = Checked::invalid((), "");
        checked.outcome = Ok(Response::new(HttpVersion::Http11, code, "OK"));
        checked.elapsed = Duration::from_millis(elapsed_ms);
        checked.trace = Trace::default();
        checked
    }

    #[test]
    fn budgets_make_degraded_and_down() {
        let policy =
            Policy::default().degraded_after(Some(Duration::from_millis(500))).down_after(Some(Duration::from_secs(2)));
        assert_eq!(policy.judge(&checked(200, 500), vec![]), (State::Up, vec![]));
        let (state, unmet) = policy.judge(&checked(200, 501), vec![]);
        assert_eq!(
            (state, unmet[0].kind, unmet[0].expect.as_str()),
            (State::Degraded, Expectation::Latency, "latency at most 500ms")
        );
        let (state, unmet) = policy.judge(&checked(200, 2001), vec![]);
        assert_eq!((state, unmet.len(), unmet[0].expect.as_str()), (State::Down, 1, "latency at most 2s"));
    }

    #[test]
    fn an_unmet_code_is_down_and_says_what_came() {
        let policy = Policy::new("200".parse().unwrap()).degraded_after(Some(Duration::from_millis(1)));
        let (state, unmet) = policy.judge(&checked(404, 10), vec![]);
        assert_eq!(state, State::Down);
        assert_eq!(unmet, vec![Unmet::new(Expectation::Status, "status 200", "404")]);
    }

    #[test]
    fn an_error_is_down_with_nothing_unmet() {
        let policy = Policy::default();
        let error = Checked::invalid((), "not a URL");
        assert_eq!(policy.judge(&error, vec![]), (State::Down, vec![]));
    }

    #[test]
    fn headers_are_present_equal_or_matching() {
        let policy = Policy::default()
            .header("X-Served-By", HeaderRule::Present)
            .header("Content-Type", HeaderRule::Equals("application/json".into()))
            .header("server", HeaderRule::Matches(Pattern::new("^nginx/1\\.").unwrap()));
        let read = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
        };
        let all = read(&[("x-served-by", "a"), ("content-type", " application/json "), ("server", "nginx/1.25")]);
        assert!(policy.judge_content(&all, None, None).is_empty());
        let unmet = policy.judge_content(&read(&[("content-type", "text/html"), ("server", "apache")]), None, None);
        let got: Vec<&str> = unmet.iter().map(|u| u.got.as_str()).collect();
        assert_eq!(got, ["no x-served-by header", "text/html", "apache"]);
        assert_eq!(unmet[1].expect, "header content-type = application/json");
    }

    #[test]
    fn body_rules_read_the_prefix() {
        let policy = Policy::default()
            .body(BodyRule::Contains("\"status\":\"UP\"".into()))
            .body(BodyRule::Matches(Pattern::new("version\":\"2\\.\\d+").unwrap()));
        let body = br#"{"status":"UP","version":"2.14"}"#;
        assert!(policy.judge_content(&[], Some(body), None).is_empty());
        let unmet = policy.judge_content(&[], Some(b"{\"status\":\"DOWN\"}"), Some("the 64 KiB limit"));
        assert_eq!(unmet.len(), 2);
        assert_eq!(unmet[0].got, "not in the 17 bytes read (the 64 KiB limit)");
        assert_eq!(policy.judge_content(&[], None, None)[0].got, "no body");
    }

    #[test]
    fn hostile_patterns_are_refused_by_size() {
        let error = Pattern::new("(a{1000}){1000}").unwrap_err();
        assert!(matches!(error, SetupError::Pattern { .. }), "{error:?}");
        assert!(Pattern::new("(unclosed").is_err());
    }
}
