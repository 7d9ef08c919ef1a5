//! The checks file (`--checks FILE`, TOML): URLs with names, groups and
//! their own request, deadline and expectations. Read whole and judged before
//! anything is checked: a bad file is one error naming the file, the line
//! and the key, and the run stops (exit 2).
//!
//! Each URL's profile is built in layers: the command line's
//! ([`Options::profile`](statuscheck::Options::profile)), then the file's
//! `[defaults]`, then its own `[[check]]` or `[[group]]` table. A key of a
//! later layer replaces the earlier one's; the tables `headers` and
//! `expect_headers` add to the earlier ones, name by name.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::Read;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use clap::ValueEnum;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use statuscheck::{parse_header, BodyRule, HeaderRule, HumanDuration, OkCodes, Pattern, Policy, Profile};
use toml::Spanned;

use super::target::{parse_url, Entry};
use crate::app::cli::{parse_duration, Method};

/// The largest checks file read (1 MiB): a few thousand entries, and a bound
/// on what a hostile file can make the parser hold.
pub const MAX_CHECKS_FILE: u64 = 1024 * 1024;

/// The most days `cert_days` may ask for, as `--cert-expiry`.
const MAX_CERT_DAYS: i64 = 36_500;

/// One URL of the file: the line it is on (its `Source`), its text, and the
/// entry it shares with the other URLs of its table.
#[derive(Debug)]
pub struct Planned {
    pub line: u64,
    pub url: String,
    pub entry: Arc<Entry>,
}

/// What is wrong with a checks file, and where.
#[derive(Debug, PartialEq, Eq)]
pub struct ChecksError {
    file: String,
    line: Option<u64>,
    key: Option<String>,
    message: String,
}

impl fmt::Display for ChecksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "checks file {}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key '{key}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ChecksError {}

/// Reads the checks file `name` from `reader` (at most [`MAX_CHECKS_FILE`]
/// bytes) and builds every URL's entry on top of `base`, the command line's
/// profile.
pub fn read(name: &str, reader: impl Read, base: &Profile) -> Result<Vec<Planned>, ChecksError> {
    let mut bytes = Vec::new();
    let whole = |message: String| ChecksError { file: name.into(), line: None, key: None, message };
    reader.take(MAX_CHECKS_FILE + 1).read_to_end(&mut bytes).map_err(|e| whole(format!("cannot read it: {e}")))?;
    if bytes.len() as u64 > MAX_CHECKS_FILE {
        return Err(whole(format!("larger than {} KiB, the limit of a checks file", MAX_CHECKS_FILE / 1024)));
    }
    let text = match std::str::from_utf8(&bytes) {
        Ok(text) => text,
        Err(e) => {
            let line = line_of(&bytes, e.valid_up_to());
            let message = format!("not valid UTF-8 (byte {} of the file)", e.valid_up_to() + 1);
            return Err(ChecksError { file: name.into(), line: Some(line), key: None, message });
        }
    };
    parse(name, text, base)
}

/// Parses `text`, the checks file `name`.
pub fn parse(name: &str, text: &str, base: &Profile) -> Result<Vec<Planned>, ChecksError> {
    let file: ChecksFile = toml::from_str(text).map_err(|e| toml_error(name, text, &e))?;
    let mut planner = Planner { name, text, base, planned: Vec::new(), lines: HashSet::new() };
    // The defaults are judged even when no entry uses them.
    planner.profile(&file.defaults)?;
    for check in &file.check {
        let settings = check.settings().over(&file.defaults);
        let entry = Entry {
            name: label(&planner, &check.name, "name")?,
            group: label(&planner, &check.group, "group")?,
            profile: None,
        };
        planner.add(entry, &settings, std::slice::from_ref(&check.url), "url")?;
    }
    for group in &file.group {
        let settings = group.settings().over(&file.defaults);
        let entry = Entry { name: None, group: label(&planner, &Some(group.name.clone()), "name")?, profile: None };
        planner.add(entry, &settings, &group.urls, "urls")?;
    }
    Ok(planner.planned)
}

/// Builds the entries of one file.
struct Planner<'a> {
    name: &'a str,
    text: &'a str,
    base: &'a Profile,
    planned: Vec<Planned>,
    /// The lines that hold a URL: each must hold one only, since results and
    /// `--resume` name a URL by its line.
    lines: HashSet<u64>,
}

impl Planner<'_> {
    fn error(&self, span: Range<usize>, key: &str, message: impl Into<String>) -> ChecksError {
        let line = line_of(self.text.as_bytes(), span.start);
        ChecksError { file: self.name.into(), line: Some(line), key: Some(key.into()), message: message.into() }
    }

    /// The URLs of one table, sharing one entry with its profile.
    fn add(
        &mut self,
        mut entry: Entry,
        settings: &Settings,
        urls: &[Spanned<String>],
        key: &str,
    ) -> Result<(), ChecksError> {
        entry.profile = self.profile(settings)?;
        let entry = Arc::new(entry);
        for url in urls {
            let line = line_of(self.text.as_bytes(), url.span().start);
            if let Err(reason) = parse_url(url.get_ref().trim()) {
                return Err(self.error(url.span(), key, format!("not a URL to check: {reason}")));
            }
            if !self.lines.insert(line) {
                let message = "a second URL on this line: put each URL on a line of its own (results and --resume \
                               name a URL by its line)";
                return Err(self.error(url.span(), key, message));
            }
            self.planned.push(Planned { line, url: url.get_ref().trim().to_owned(), entry: entry.clone() });
        }
        Ok(())
    }

    /// The command line's profile with `settings` on top; `None` when the
    /// file sets nothing, so the run's own profile applies.
    fn profile(&self, s: &Settings) -> Result<Option<Profile>, ChecksError> {
        if s.is_empty() {
            return Ok(None);
        }
        let policy = self.policy(self.base.policy_ref().clone(), s)?;
        let profile = self.request(self.base.clone(), s)?.policy(policy);
        self.budgets_fit(&profile, s)?;
        Ok(Some(profile))
    }

    /// The request and the deadline: `timeout`, `method`, `headers`.
    fn request(&self, mut profile: Profile, s: &Settings) -> Result<Profile, ChecksError> {
        if let Some(timeout) = &s.timeout {
            profile = profile.timeout(self.duration(timeout, "timeout")?);
        }
        if let Some(method) = &s.method {
            let parsed = Method::from_str(method.get_ref(), true)
                .map_err(|_| self.error(method.span(), "method", "use GET or HEAD"))?;
            profile = profile.method(parsed.into());
        }
        for (name, value) in s.headers.iter().flatten() {
            // `-H`'s rules; the message names the header, never its value.
            let (name, value) = parse_header(&format!("{name}: {}", value.get_ref()))
                .map_err(|e| self.error(value.span(), "headers", e.to_string()))?;
            profile = profile.header(name, value);
        }
        Ok(profile)
    }

    /// The expectations: codes, budgets, certificate days, headers, body.
    fn policy(&self, mut policy: Policy, s: &Settings) -> Result<Policy, ChecksError> {
        if let Some(codes) = &s.codes {
            let parsed = codes.get_ref().0.parse::<OkCodes>();
            policy.ok_codes = parsed.map_err(|e| self.error(codes.span(), "codes", e.to_string()))?;
        }
        if let Some(budget) = &s.degraded_after {
            policy.degraded_after = Some(self.duration(budget, "degraded_after")?);
        }
        if let Some(budget) = &s.down_after {
            policy.down_after = Some(self.duration(budget, "down_after")?);
        }
        if let Some(days) = &s.cert_days {
            if !(0..=MAX_CERT_DAYS).contains(days.get_ref()) {
                return Err(self.error(days.span(), "cert_days", format!("use 0 to {MAX_CERT_DAYS} days")));
            }
            policy.cert_expiry_days = Some(*days.get_ref());
        }
        for (name, rule) in s.expect_headers.iter().flatten() {
            let rule = self.header_rule(name, rule)?;
            let lower = name.to_ascii_lowercase();
            policy.headers.retain(|(known, _)| *known != lower);
            policy = policy.header(name, rule);
        }
        if let Some(texts) = &s.body_contains {
            policy.body.retain(|rule| !matches!(rule, BodyRule::Contains(_)));
            for text in &texts.get_ref().0 {
                policy = policy.body(BodyRule::Contains(text.clone()));
            }
        }
        if let Some(patterns) = &s.body_matches {
            policy.body.retain(|rule| !matches!(rule, BodyRule::Matches(_)));
            for text in &patterns.get_ref().0 {
                let pattern =
                    Pattern::new(text).map_err(|e| self.error(patterns.span(), "body_matches", e.to_string()))?;
                policy = policy.body(BodyRule::Matches(pattern));
            }
        }
        Ok(policy)
    }

    fn duration(&self, value: &Spanned<Scalar>, key: &str) -> Result<Duration, ChecksError> {
        parse_duration(&value.get_ref().0).map_err(|e| self.error(value.span(), key, e))
    }

    fn header_rule(&self, name: &str, rule: &Spanned<Expect>) -> Result<HeaderRule, ChecksError> {
        let error = |message: String| self.error(rule.span(), "expect_headers", message);
        // A header name is a token; the value checks are `-H`'s.
        let value = match rule.get_ref() {
            Expect::Equals(value) | Expect::Matches(value) => value.as_str(),
            Expect::Present => "",
        };
        parse_header(&format!("{name}: {value}")).map_err(|e| error(e.to_string()))?;
        Ok(match rule.get_ref() {
            Expect::Present => HeaderRule::Present,
            Expect::Equals(value) => HeaderRule::Equals(value.clone()),
            Expect::Matches(pattern) => HeaderRule::Matches(Pattern::new(pattern).map_err(|e| error(e.to_string()))?),
        })
    }

    /// The latency budgets make sense against each other and the deadline
    /// (see [`check_budgets`]), reported at the key the file set.
    fn budgets_fit(&self, profile: &Profile, s: &Settings) -> Result<(), ChecksError> {
        let policy = profile.policy_ref();
        let Err(message) = check_budgets(policy.degraded_after, policy.down_after, profile.timeout_limit()) else {
            return Ok(());
        };
        let keys = [("degraded_after", &s.degraded_after), ("down_after", &s.down_after), ("timeout", &s.timeout)];
        let (key, span) =
            keys.iter().find_map(|(key, value)| value.as_ref().map(|v| (*key, v.span()))).unwrap_or(("timeout", 0..0));
        Err(self.error(span, key, message))
    }
}

/// The latency budgets a run may have: degraded within down, both within
/// the deadline (a check slower than the deadline ends in a timeout error,
/// so a longer budget could never be met). Shared with the command line.
pub fn check_budgets(degraded: Option<Duration>, down: Option<Duration>, timeout: Duration) -> Result<(), String> {
    let human = HumanDuration;
    if let (Some(degraded), Some(down)) = (degraded, down) {
        if degraded > down {
            return Err(format!(
                "the degraded budget ({}) is above the down budget ({}): a check would be down before it could be \
                 degraded",
                human(degraded),
                human(down)
            ));
        }
    }
    for (what, budget) in [("degraded", degraded), ("down", down)] {
        if let Some(budget) = budget.filter(|b| *b > timeout) {
            return Err(format!(
                "the {what} budget ({}) is above the timeout ({}): a check that slow ends in a timeout error",
                human(budget),
                human(timeout)
            ));
        }
    }
    Ok(())
}

/// A name or a group as reports show it: no control characters.
fn label(planner: &Planner, value: &Option<Spanned<String>>, key: &str) -> Result<Option<String>, ChecksError> {
    let Some(value) = value else { return Ok(None) };
    if value.get_ref().chars().any(char::is_control) {
        return Err(planner.error(value.span(), key, "holds a control character"));
    }
    Ok(Some(value.get_ref().clone()))
}

/// Line number (from 1) of byte `offset` of `bytes`.
fn line_of(bytes: &[u8], offset: usize) -> u64 {
    let end = offset.min(bytes.len());
    bytes[..end].iter().filter(|&&b| b == b'\n').count() as u64 + 1
}

/// A parse error of `toml`, with the line its span starts on and the key of
/// that line (the nearest `key =` at or above it, or the `[table]` header).
fn toml_error(name: &str, text: &str, error: &toml::de::Error) -> ChecksError {
    let message = error.message().trim().to_owned();
    let Some(span) = error.span() else {
        return ChecksError { file: name.into(), line: None, key: None, message };
    };
    let line = line_of(text.as_bytes(), span.start);
    let key = text.lines().take(line as usize).collect::<Vec<_>>().into_iter().rev().find_map(key_of_line);
    ChecksError { file: name.into(), line: Some(line), key, message }
}

/// The key a line sets (`timeout = …` → `timeout`), or the table it opens.
fn key_of_line(line: &str) -> Option<String> {
    let line = line.trim();
    if line.starts_with('[') {
        return Some(line.trim_matches(['[', ']', ' ']).to_owned());
    }
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches(['"', '\'']);
    (!key.is_empty() && !key.starts_with('#')).then(|| key.to_owned())
}

/// The file: defaults, then entries.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChecksFile {
    #[serde(default)]
    defaults: Settings,
    #[serde(default)]
    check: Vec<CheckTable>,
    #[serde(default)]
    group: Vec<GroupTable>,
}

/// The settings keys, written once: `[defaults]`, `[[check]]` and
/// `[[group]]` each take all of them (serde's `flatten` cannot be combined
/// with `deny_unknown_fields`, so each table lists them through this macro).
macro_rules! settings {
    ($( $(#[$doc:meta])* $field:ident: $ty:ty, )*) => {
        /// What a table may set for its URLs; `None` leaves the layer below.
        #[derive(Clone, Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Settings {
            $( $(#[$doc])* #[serde(default)] $field: Option<$ty>, )*
        }

        impl Settings {
            /// Every settings key, as the file spells it.
            #[cfg(test)]
            const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            fn is_empty(&self) -> bool {
                true $( && self.$field.is_none() )*
            }

            /// These settings on top of `base`.
            fn over(self, base: &Settings) -> Settings {
                Settings { $( $field: Layer::layer(self.$field, &base.$field), )* }
            }
        }

        /// `[[check]]`: one URL.
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct CheckTable {
            url: Spanned<String>,
            #[serde(default)]
            name: Option<Spanned<String>>,
            #[serde(default)]
            group: Option<Spanned<String>>,
            $( #[serde(default)] $field: Option<$ty>, )*
        }

        /// `[[group]]`: URLs that share a group name and settings.
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct GroupTable {
            name: Spanned<String>,
            urls: Vec<Spanned<String>>,
            $( #[serde(default)] $field: Option<$ty>, )*
        }

        impl CheckTable {
            fn settings(&self) -> Settings {
                Settings { $( $field: self.$field.clone(), )* }
            }
        }

        impl GroupTable {
            fn settings(&self) -> Settings {
                Settings { $( $field: self.$field.clone(), )* }
            }
        }
    };
}

settings! {
    /// The deadline of the whole check (`--timeout`).
    timeout: Spanned<Scalar>,
    /// `GET` or `HEAD` (`--method`).
    method: Spanned<String>,
    /// Request headers (`-H`), name → value.
    headers: BTreeMap<String, Spanned<String>>,
    /// Accepted status codes (`--ok-codes`).
    codes: Spanned<Scalar>,
    /// Slower is degraded (`--degraded-after`).
    degraded_after: Spanned<Scalar>,
    /// Slower is down (`--down-after`).
    down_after: Spanned<Scalar>,
    /// Certificate days left (`--cert-expiry`).
    cert_days: Spanned<i64>,
    /// Response headers: `true` present, a string equal, `{ matches = "RE" }`.
    expect_headers: BTreeMap<String, Spanned<Expect>>,
    /// Text the body contains (`--expect-body`): one or a list.
    body_contains: Spanned<Texts>,
    /// Patterns the body matches (`--expect-body-matches`): one or a list.
    body_matches: Spanned<Texts>,
}

/// How one setting of a lower layer gives way to a higher one's.
trait Layer: Sized + Clone {
    fn layer(top: Option<Self>, base: &Option<Self>) -> Option<Self>;
}

/// A value: the higher layer's replaces the lower's.
impl<T: Clone> Layer for Spanned<T> {
    fn layer(top: Option<Self>, base: &Option<Self>) -> Option<Self> {
        top.or_else(|| base.clone())
    }
}

/// A table: the higher layer's names are added, replacing the same names.
impl<V: Clone> Layer for BTreeMap<String, V> {
    fn layer(top: Option<Self>, base: &Option<Self>) -> Option<Self> {
        match (top, base) {
            (Some(top), Some(base)) => Some(base.clone().into_iter().chain(top).collect()),
            (top, base) => top.or_else(|| base.clone()),
        }
    }
}

/// An expected response header, as the file writes it.
#[derive(Clone, Debug)]
enum Expect {
    /// `true`
    Present,
    /// `"value"`
    Equals(String),
    /// `{ matches = "REGEX" }`
    Matches(String),
}

impl<'de> Deserialize<'de> for Expect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Rule;
        impl<'de> Visitor<'de> for Rule {
            type Value = Expect;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true (present), a string (equal to) or { matches = \"REGEX\" }")
            }

            fn visit_bool<E: de::Error>(self, present: bool) -> Result<Expect, E> {
                match present {
                    true => Ok(Expect::Present),
                    false => Err(E::custom("false expects nothing: leave the header out")),
                }
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Expect, E> {
                Ok(Expect::Equals(value.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Expect, A::Error> {
                let mut pattern = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key != "matches" || pattern.is_some() {
                        return Err(de::Error::unknown_field(&key, &["matches"]));
                    }
                    pattern = Some(map.next_value::<String>()?);
                }
                pattern.map(Expect::Matches).ok_or_else(|| de::Error::missing_field("matches"))
            }
        }
        deserializer.deserialize_any(Rule)
    }
}

/// A value written as a string or a number, read as the command line reads
/// its text: `timeout = 5` is `timeout = "5"` (seconds), `codes = 200` is
/// `codes = "200"`.
#[derive(Clone, Debug)]
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = Scalar;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a number")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Scalar, E> {
                Ok(Scalar(text.to_owned()))
            }

            fn visit_i64<E: de::Error>(self, number: i64) -> Result<Scalar, E> {
                Ok(Scalar(number.to_string()))
            }

            fn visit_u64<E: de::Error>(self, number: u64) -> Result<Scalar, E> {
                Ok(Scalar(number.to_string()))
            }

            fn visit_f64<E: de::Error>(self, number: f64) -> Result<Scalar, E> {
                Ok(Scalar(number.to_string()))
            }
        }
        deserializer.deserialize_any(Text)
    }
}

/// One string or a list of them.
#[derive(Clone, Debug)]
struct Texts(Vec<String>);

impl<'de> Deserialize<'de> for Texts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrMany;
        impl<'de> Visitor<'de> for OneOrMany {
            type Value = Texts;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Texts, E> {
                Ok(Texts(vec![text.to_owned()]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Texts, A::Error> {
                let mut texts = Vec::new();
                while let Some(text) = seq.next_element::<String>()? {
                    texts.push(text);
                }
                Ok(Texts(texts))
            }
        }
        deserializer.deserialize_any(OneOrMany)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use statuscheck::{Options, Policy};

    fn base() -> Profile {
        Options::default().profile().clone()
    }

    fn planned(text: &str) -> Vec<Planned> {
        parse("deploy.toml", text, &base()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(text: &str) -> String {
        match parse("deploy.toml", text, &base()) {
            Ok(planned) => panic!("{text:?} was accepted: {planned:?}"),
            Err(error) => error.to_string(),
        }
    }

    fn policy(planned: &Planned) -> Policy {
        planned.entry.profile.as_ref().expect("a profile of its own").policy_ref().clone()
    }

    #[test]
    fn entries_take_defaults_and_override_them() {
        let got = planned(
            r#"
[defaults]
timeout = "5s"
codes = "200-299"
degraded_after = "500ms"
headers = { X-Team = "web" }

[[check]]
url = "https://a.test/health"
name = "API health"
group = "api"
degraded_after = "1s"
expect_headers = { Content-Type = "application/json", X-Served-By = true, Server = { matches = "^nginx" } }
body_contains = ['"status":"UP"']

[[group]]
name = "static"
urls = [
  "https://b.test/",
  "c.test/logo.png",
]
method = "head"
"#,
        );
        let summary: Vec<_> =
            got.iter().map(|p| (p.line, p.url.as_str(), p.entry.name.as_deref(), p.entry.group.as_deref())).collect();
        assert_eq!(
            summary,
            [
                (9, "https://a.test/health", Some("API health"), Some("api")),
                (19, "https://b.test/", None, Some("static")),
                (20, "c.test/logo.png", None, Some("static")),
            ]
        );
        let api = policy(&got[0]);
        assert_eq!(api.degraded_after, Some(Duration::from_secs(1)), "the entry's key wins");
        assert_eq!(api.ok_codes, "200-299".parse().unwrap(), "the default applies");
        assert_eq!(api.headers.len(), 3);
        assert!(api.reads_body());
        let profile = got[0].entry.profile.as_ref().unwrap();
        assert_eq!(profile.timeout_limit(), Duration::from_secs(5));
        assert!(format!("{profile:?}").contains("\"X-Team\""), "{profile:?}");
        assert!(Arc::ptr_eq(&got[1].entry, &got[2].entry), "a group's URLs share one entry");
        assert!(format!("{:?}", got[1].entry.profile).contains("method: \"HEAD\""));
        assert_eq!(policy(&got[1]).degraded_after, Some(Duration::from_millis(500)));
    }

    #[test]
    fn the_command_line_is_the_first_layer() {
        let options = Options::default()
            .timeout(Duration::from_secs(3))
            .header("Authorization", "secret")
            .policy(Policy::default().cert_expiry_days(Some(9)).header("x-a", HeaderRule::Present));
        let text = "[[check]]\nurl = \"a.test\"\ncodes = \"200\"\nexpect_headers = { X-A = \"1\" }\n";
        let got = parse("c.toml", text, options.profile()).unwrap();
        let profile = got[0].entry.profile.as_ref().unwrap();
        assert_eq!(profile.timeout_limit(), Duration::from_secs(3));
        assert_eq!(profile.policy_ref().cert_expiry_days, Some(9));
        assert_eq!(profile.policy_ref().headers, [("x-a".to_owned(), HeaderRule::Equals("1".into()))]);
        assert!(format!("{profile:?}").contains("Authorization") && !format!("{profile:?}").contains("secret"));
        let plain = parse("c.toml", "[[check]]\nurl = \"a.test\"\nname = \"A\"\n", options.profile()).unwrap();
        assert!(plain[0].entry.profile.is_none(), "nothing set: the run's profile applies");
    }

    #[test]
    fn every_settings_key_is_accepted_in_every_table() {
        let values = [
            ("timeout", "\"2s\""),
            ("method", "\"GET\""),
            ("headers", "{ Accept = \"text/html\" }"),
            ("codes", "\"200\""),
            ("degraded_after", "\"100ms\""),
            ("down_after", "\"1s\""),
            ("cert_days", "14"),
            ("expect_headers", "{ Server = true }"),
            ("body_contains", "\"ok\""),
            ("body_matches", "[\"o+k\"]"),
        ];
        assert_eq!(values.map(|(k, _)| k), Settings::KEYS, "a value for each key");
        let settings: String = values.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
        let text = format!(
            "[defaults]\n{settings}\n[[check]]\nurl = \"a.test\"\n{settings}\n[[group]]\nname = \"g\"\nurls = [\"b.test\"]\n{settings}"
        );
        assert_eq!(planned(&text).len(), 2);
    }

    #[test]
    fn hostile_files_name_file_line_and_key() {
        for (text, wanted) in [
            (
                "[defaults]\ntimeout = true\n",
                "deploy.toml:2: key 'timeout': invalid type: boolean `true`, expected a string or a number",
            ),
            ("[defaults]\ntimeout = -5\n", "deploy.toml:2: key 'timeout': use a positive duration"),
            ("[defaults]\ntimeout = 1e300\n", "deploy.toml:2: key 'timeout': use a positive duration"),
            ("[defaults]\n\ntimout = \"5s\"\n", "deploy.toml:3: key 'timout': unknown field `timout`"),
            ("[[check]]\nurl = \"a.test\"\nretries = 3\n", "deploy.toml:3: key 'retries': unknown field"),
            (
                "[defaults]\ntimeout = \"2d\"\n",
                "deploy.toml:2: key 'timeout': use a positive duration of at most a day",
            ),
            ("[defaults]\ntimeout = \"100000s\"\n", "key 'timeout': use a positive duration of at most a day"),
            ("[defaults]\ncert_days = 99999999999\n", "deploy.toml:2: key 'cert_days': use 0 to 36500 days"),
            ("[defaults]\ncodes = \"99-700\"\n", "deploy.toml:2: key 'codes':"),
            ("[[check]]\nurl = \"ftp://a.test/\"\n", "deploy.toml:2: key 'url': not a URL to check: scheme 'ftp'"),
            ("[[check]]\nname = \"x\"\n", "missing field `url`"),
            ("[[check]]\nurl = \"a.test\"\nbody_matches = \"(unclosed\"\n", "deploy.toml:3: key 'body_matches':"),
            (
                "[[check]]\nurl = \"a.test\"\nexpect_headers = { Server = { matches = \"(a{1000}){1000}\" } }\n",
                "deploy.toml:3: key 'expect_headers':",
            ),
            (
                "[[check]]\nurl = \"a.test\"\nheaders = { X-A = \"a\\r\\nX-B: b\" }\n",
                "deploy.toml:3: key 'headers': the value of 'X-A' holds a control character",
            ),
            (
                "[[check]]\nurl = \"a.test\"\nheaders = { \"Bad Name\" = \"x\" }\n",
                "key 'headers': 'Bad Name' is not a header name",
            ),
            (
                "[[check]]\nurl = \"a.test\"\nexpect_headers = { X = false }\n",
                "key 'expect_headers': false expects nothing",
            ),
            ("[[check]]\nurl = \"a.test\"\nmethod = \"POST\"\n", "deploy.toml:3: key 'method': use GET or HEAD"),
            (
                "[[group]]\nname = \"g\"\nurls = [\"a.test\", \"b.test\"]\n",
                "deploy.toml:3: key 'urls': a second URL on this line",
            ),
            (
                "[[check]]\nurl = \"a.test\"\ndegraded_after = \"2s\"\ndown_after = \"1s\"\n",
                "deploy.toml:3: key 'degraded_after': the degraded budget (2s) is above the down budget (1s)",
            ),
            (
                "[[check]]\nurl = \"a.test\"\ntimeout = \"1s\"\ndown_after = \"2s\"\n",
                "deploy.toml:4: key 'down_after': the down budget (2s) is above the timeout (1s)",
            ),
            (
                "[[check]]\nurl = \"a.test\"\nname = \"a\\u001b[31m\"\n",
                "deploy.toml:3: key 'name': holds a control character",
            ),
            ("[defaults\n", "deploy.toml:1"),
            (
                "[[check]]\nurl = \"a.test\"\n[[check]]\nurl = [\"b.test\"]\n",
                "deploy.toml:4: key 'url': invalid type: sequence",
            ),
            ("check = 3\n", "deploy.toml:1: key 'check': invalid type: integer `3`"),
        ] {
            let got = error(text);
            assert!(
                got.starts_with("checks file deploy.toml") && got.contains(wanted),
                "{text:?}:\n  {got}\n  wanted {wanted}"
            );
        }
    }

    #[test]
    fn secrets_never_appear_in_errors() {
        let got = error("[[check]]\nurl = \"a.test\"\nheaders = { Authorization = \"Bearer S3\\ncret\" }\n");
        assert!(!got.contains("S3") && !got.contains("cret") && got.contains("'Authorization'"), "{got}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let depth = 100_000;
        let text = format!("x = {}{}\n", "[".repeat(depth), "]".repeat(depth));
        assert!(error(&text).starts_with("checks file deploy.toml:1"));
        let text = format!("x = {}1{}\n", "{ a = ".repeat(depth), " }".repeat(depth));
        assert!(error(&text).starts_with("checks file deploy.toml:1"));
    }

    #[test]
    fn oversized_and_invalid_utf8_files_are_refused() {
        let big = vec![b'#'; MAX_CHECKS_FILE as usize + 1];
        let got = read("big.toml", &big[..], &base()).unwrap_err().to_string();
        assert_eq!(got, "checks file big.toml: larger than 1024 KiB, the limit of a checks file");
        let got = read("bad.toml", &b"[[check]]\nurl = \"a\xff.test\"\n"[..], &base()).unwrap_err().to_string();
        assert_eq!(got, "checks file bad.toml:2: not valid UTF-8 (byte 19 of the file)");
    }

    #[test]
    fn numbers_read_as_the_command_line_reads_them() {
        let got = planned("[[check]]\nurl = \"a.test\"\ntimeout = 2.5\ncodes = 204\ndown_after = 2\n");
        let profile = got[0].entry.profile.as_ref().unwrap();
        assert_eq!(profile.timeout_limit(), Duration::from_millis(2500));
        assert_eq!(profile.policy_ref().ok_codes, "204".parse().unwrap());
        assert_eq!(profile.policy_ref().down_after, Some(Duration::from_secs(2)));
    }

    #[test]
    fn budgets_against_each_other_and_the_deadline() {
        let s = Duration::from_secs;
        assert!(check_budgets(Some(s(1)), Some(s(2)), s(10)).is_ok());
        assert!(check_budgets(Some(s(2)), Some(s(2)), s(2)).is_ok(), "equal is allowed");
        assert!(check_budgets(Some(s(3)), Some(s(2)), s(10)).unwrap_err().contains("above the down budget"));
        assert!(check_budgets(Some(s(11)), None, s(10)).unwrap_err().contains("degraded budget"));
        assert!(check_budgets(None, Some(s(11)), s(10)).unwrap_err().contains("above the timeout"));
    }
}
