//! The end-of-run tally: counts by verdict, state, status class and error kind,
//! latency percentiles and the slowest URL. Its size is fixed, whatever the
//! length of the list: latencies go into a log-scale histogram, not a list.

use std::time::Duration;

use serde_json::json;

use statuscheck::{ErrorKind, State, TlsCause, Verdict};

use super::format::{human_duration, sanitize, shown_url, Judged};
use crate::app::input::Checked;

#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub ok: u64,
    pub failed: u64,
    pub errors: u64,
    /// Results by state, in the order of `State::ALL`.
    states: [u64; State::ALL.len()],
    /// Responses by status class: index 1 is 1xx … index 5 is 5xx.
    classes: [u64; 6],
    /// Errors by kind, in the order of `ErrorKind::ALL`.
    kinds: [u64; ErrorKind::ALL.len()],
    /// TLS errors by cause, in the order of `TlsCause::ALL`.
    tls_causes: [u64; TlsCause::ALL.len()],
    latency: Histogram,
    slowest: Option<(Duration, String)>,
    /// `--per-host N`, and how long it held checks back while `--concurrency`
    /// had free slots (added up over `--watch` rounds).
    per_host: Option<(usize, Duration)>,
}

/// The per-host note appears when the limit held checks back for at least
/// this share of the run, and at least [`HELD_AT_LEAST`].
const HELD_SHARE: f64 = 0.25;
const HELD_AT_LEAST: Duration = Duration::from_millis(100);

impl Summary {
    pub fn add(&mut self, checked: &Checked, judged: Judged) {
        match judged.verdict {
            Verdict::Ok => self.ok += 1,
            Verdict::Failed => self.failed += 1,
            Verdict::Error => self.errors += 1,
            // A verdict added to the library later: not ok, counted as failed.
            _ => self.failed += 1,
        }
        if let Some(i) = State::ALL.iter().position(|s| *s == judged.state) {
            self.states[i] += 1;
        }
        match &checked.outcome {
            Ok(response) => self.classes[usize::from(response.code / 100).min(5)] += 1,
            Err(error) => {
                if let Some(i) = ErrorKind::ALL.iter().position(|k| *k == error.kind()) {
                    self.kinds[i] += 1;
                }
                if let Some(i) = error.tls_cause().and_then(|c| TlsCause::ALL.iter().position(|k| *k == c)) {
                    self.tls_causes[i] += 1;
                }
            }
        }
        if checked.target.url.is_ok() {
            self.latency.record(checked.elapsed);
            if self.slowest.as_ref().is_none_or(|(d, _)| checked.elapsed > *d) {
                self.slowest = Some((checked.elapsed, shown_url(checked).to_owned()));
            }
        }
    }

    /// A round ended: `--per-host N` held checks back for `held`.
    pub fn held_back(&mut self, per_host: usize, held: Duration) {
        let (_, total) = self.per_host.get_or_insert((per_host, Duration::ZERO));
        *total += held;
    }

    /// `--per-host N` and how long it held the run back, when that was a
    /// noticeable share of `elapsed`.
    fn held_back_noticeably(&self, elapsed: Duration) -> Option<(usize, Duration)> {
        let (limit, held) = self.per_host?;
        let noticeable = held >= HELD_AT_LEAST && held.as_secs_f64() >= HELD_SHARE * elapsed.as_secs_f64();
        noticeable.then_some((limit, held))
    }

    pub fn checked(&self) -> u64 {
        self.ok + self.failed + self.errors
    }

    pub fn all_ok(&self) -> bool {
        self.failed == 0 && self.errors == 0
    }

    /// How many results came to `state`.
    pub fn in_state(&self, state: State) -> u64 {
        State::ALL.iter().zip(self.states).find(|(s, _)| **s == state).map_or(0, |(_, n)| n)
    }

    /// Whether the exit status is 0: nothing down (every result ok), and
    /// nothing degraded either when `fail_on_degraded` (`--fail-on degraded`).
    pub fn healthy(&self, fail_on_degraded: bool) -> bool {
        self.all_ok() && !(fail_on_degraded && self.in_state(State::Degraded) > 0)
    }

    /// `states: 8 up, 1 degraded, 1 down`: the states seen, in documented order.
    fn state_counts(&self) -> String {
        let seen = State::ALL.iter().zip(self.states).filter(|(_, n)| *n > 0);
        let counts: Vec<String> = seen.map(|(state, n)| format!("{n} {state}")).collect();
        format!("  states: {}", counts.join(", "))
    }

    /// `10 checked: 8 ok, 1 failed, 1 error in 1.42s`, then, when anything was
    /// checked, a line of counts and a line of latencies.
    pub fn lines(&self, elapsed: Duration) -> Vec<String> {
        let errors = if self.errors == 1 { "error" } else { "errors" };
        let mut lines = vec![format!(
            "{} checked: {} ok, {} failed, {} {errors} in {:.2}s",
            self.checked(),
            self.ok,
            self.failed,
            self.errors,
            elapsed.as_secs_f64()
        )];
        if self.checked() == 0 {
            return lines;
        }
        let mut counts: Vec<String> =
            (1..=5).filter(|&c| self.classes[c] > 0).map(|c| format!("{c}xx {}", self.classes[c])).collect();
        counts.extend(self.kind_counts().map(|(kind, n)| match kind {
            ErrorKind::Tls => format!("{kind} {n} ({})", self.cause_counts().join(", ")),
            _ => format!("{kind} {n}"),
        }));
        lines.push(format!("  {}", counts.join(", ")));
        lines.push(self.state_counts());
        if let (Some([p50, p95, p99]), Some((slowest, url))) = (self.percentiles(), &self.slowest) {
            lines.push(format!(
                "  latency p50 {}, p95 {}, p99 {}; slowest {} {}",
                human_duration(p50),
                human_duration(p95),
                human_duration(p99),
                human_duration(*slowest),
                sanitize(url)
            ));
        }
        if let Some((limit, held)) = self.held_back_noticeably(elapsed) {
            let share = (100.0 * held.as_secs_f64() / elapsed.as_secs_f64().max(1e-9)).min(100.0);
            lines.push(format!(
                "  --per-host {limit} held checks back for {} ({share:.0}% of the run) while --concurrency had room: \
                 raise --per-host if the host can take more",
                human_duration(held)
            ));
        }
        lines
    }

    /// The same, as one JSON object (`--summary-json`).
    pub fn json(&self, elapsed: Duration, interrupted: bool) -> serde_json::Value {
        let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        let classes: serde_json::Map<String, serde_json::Value> =
            (1..=5).map(|c| (format!("{c}xx"), json!(self.classes[c]))).collect();
        let kinds: serde_json::Map<String, serde_json::Value> =
            ErrorKind::ALL.iter().zip(self.kinds).map(|(k, n)| (k.as_str().to_owned(), json!(n))).collect();
        let causes: serde_json::Map<String, serde_json::Value> =
            TlsCause::ALL.iter().zip(self.tls_causes).map(|(c, n)| (c.as_str().to_owned(), json!(n))).collect();
        let states: serde_json::Map<String, serde_json::Value> =
            State::ALL.iter().zip(self.states).map(|(s, n)| (s.as_str().to_owned(), json!(n))).collect();
        let [p50, p95, p99] = self.percentiles().map(|p| p.map(ms)).map_or([None; 3], |p| p.map(Some));
        json!({
            "checked": self.checked(),
            "ok": self.ok,
            "failed": self.failed,
            "errors": self.errors,
            "states": states,
            "interrupted": interrupted,
            "elapsed_ms": ms(elapsed),
            "status_classes": classes,
            "error_kinds": kinds,
            "tls_causes": causes,
            "latency_ms": {"p50": p50, "p95": p95, "p99": p99},
            "slowest": self.slowest.as_ref().map(|(d, url)| json!({"url": url, "elapsed_ms": ms(*d)})),
            "per_host": self.per_host.map(|(limit, held)| json!({
                "limit": limit,
                "held_ms": ms(held),
                "held_back": self.held_back_noticeably(elapsed).is_some(),
            })),
        })
    }

    fn kind_counts(&self) -> impl Iterator<Item = (ErrorKind, u64)> + '_ {
        ErrorKind::ALL.iter().zip(self.kinds).filter(|(_, n)| *n > 0).map(|(k, n)| (*k, n))
    }

    /// `expired 2, weak-key 1`: the TLS causes seen, in documented order.
    fn cause_counts(&self) -> Vec<String> {
        TlsCause::ALL.iter().zip(self.tls_causes).filter(|(_, n)| *n > 0).map(|(c, n)| format!("{c} {n}")).collect()
    }

    fn percentiles(&self) -> Option<[Duration; 3]> {
        Some([self.latency.quantile(0.50)?, self.latency.quantile(0.95)?, self.latency.quantile(0.99)?])
    }
}

/// Latencies in microseconds, in buckets of ~3 % width (32 per power of
/// two), from 1 µs to about 12 days: fixed memory, good-enough quantiles.
#[derive(Debug, Clone)]
pub(super) struct Histogram {
    buckets: Vec<u64>,
    count: u64,
}

const SUB_BITS: u32 = 5;
const SUBS: usize = 1 << SUB_BITS;
const EXPONENTS: usize = 41;

impl Default for Histogram {
    fn default() -> Self {
        Histogram { buckets: vec![0; EXPONENTS * SUBS], count: 0 }
    }
}

impl Histogram {
    pub(super) fn record(&mut self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let index = bucket(micros).min(self.buckets.len() - 1);
        self.buckets[index] += 1;
        self.count += 1;
    }

    /// The lower bound of the bucket that holds quantile `q`.
    pub(super) fn quantile(&self, q: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (index, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(Duration::from_micros(lower_bound(index)));
            }
        }
        None
    }
}

impl Histogram {
    /// The buckets that hold any latency: (lower bound in µs, count), in
    /// increasing order (for the HTML report's chart).
    pub(super) fn counts(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.buckets.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| (lower_bound(i), *n))
    }
}

fn bucket(micros: u64) -> usize {
    let v = micros.max(1);
    let exponent = 63 - v.leading_zeros();
    let sub = if exponent >= SUB_BITS { v >> (exponent - SUB_BITS) } else { v << (SUB_BITS - exponent) };
    exponent as usize * SUBS + (sub as usize & (SUBS - 1))
}

fn lower_bound(index: usize) -> u64 {
    let exponent = (index / SUBS) as u32;
    let sub = (index % SUBS) as u64 | SUBS as u64;
    if exponent >= SUB_BITS {
        sub << (exponent - SUB_BITS)
    } else {
        sub >> (SUB_BITS - exponent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_within_a_few_percent() {
        for micros in [1u64, 7, 31, 32, 33, 1000, 12_345, 999_999, 86_400_000_000] {
            let low = lower_bound(bucket(micros));
            assert!(low <= micros, "{micros}: {low}");
            assert!(micros - low <= micros / 30 + 1, "{micros}: {low}");
        }
    }

    #[test]
    fn every_error_kind_is_counted_in_the_json() {
        use crate::app::input::{parse_url, Source, Target};
        use statuscheck::CheckError;
        let target = Target::plain(Source::Arg(1), "a.test".into(), parse_url("a.test"));
        let mut checked = Checked::invalid(target, "");
        checked.outcome = Err(CheckError::Redirect("more than 10 redirects".into()));
        let mut summary = Summary::default();
        summary.add(&checked, Judged::of(&checked));
        let json = summary.json(Duration::from_secs(1), false);
        assert_eq!(json["error_kinds"]["redirect"], 1);
        assert_eq!(json["error_kinds"].as_object().unwrap().len(), ErrorKind::ALL.len());
        assert_eq!(json["tls_causes"].as_object().unwrap().len(), TlsCause::ALL.len());
        assert!(json["tls_causes"].as_object().unwrap().values().all(|n| n == 0));
    }

    #[test]
    fn tls_errors_are_counted_by_cause() {
        use crate::app::input::{parse_url, Source, Target};
        use statuscheck::CheckError;
        let target = Target::plain(Source::Arg(1), "a.test".into(), parse_url("https://a.test"));
        let mut summary = Summary::default();
        for cause in [TlsCause::Expired, TlsCause::WeakKey, TlsCause::Expired] {
            let mut checked = Checked::invalid(target.clone(), "");
            checked.outcome = Err(CheckError::tls(cause, "words"));
            summary.add(&checked, Judged::of(&checked));
        }
        let json = summary.json(Duration::from_secs(1), false);
        assert_eq!(
            (json["tls_causes"]["expired"].as_u64(), json["tls_causes"]["weak-key"].as_u64()),
            (Some(2), Some(1))
        );
        assert_eq!(json["error_kinds"]["tls"], 3);
        assert_eq!(summary.lines(Duration::from_secs(1))[1], "  tls 3 (expired 2, weak-key 1)");
    }

    #[test]
    fn states_are_counted_on_a_line_of_their_own_and_in_the_json() {
        use crate::app::input::{parse_url, Source, Target};
        use statuscheck::{HttpVersion, Response};
        let target = Target::plain(Source::Arg(1), "a.test".into(), parse_url("a.test"));
        let mut summary = Summary::default();
        for state in [State::Up, State::Degraded, State::Up, State::Down] {
            let mut checked = Checked::invalid(target.clone(), "");
            checked.outcome = Ok(Response::new(HttpVersion::Http11, 200, "OK"));
            checked.state = state;
            summary.add(&checked, Judged::of(&checked));
        }
        let lines = summary.lines(Duration::from_secs(1));
        assert_eq!(lines[0], "4 checked: 3 ok, 1 failed, 0 errors in 1.00s", "the first line's contract");
        assert_eq!(lines[2], "  states: 2 up, 1 degraded, 1 down");
        let json = summary.json(Duration::from_secs(1), false);
        assert_eq!(json["states"], serde_json::json!({"up": 2, "degraded": 1, "down": 1, "unknown": 0}));
        assert!(!summary.healthy(false), "something is down");
        let mut degraded = Summary::default();
        let mut checked = Checked::invalid(target, "");
        checked.outcome = Ok(Response::new(HttpVersion::Http11, 200, "OK"));
        checked.state = State::Degraded;
        degraded.add(&checked, Judged::of(&checked));
        assert!(degraded.healthy(false) && !degraded.healthy(true), "degraded fails only with --fail-on degraded");
    }

    #[test]
    fn the_per_host_note_needs_a_noticeable_share() {
        let mut summary = Summary { ok: 1, ..Summary::default() };
        summary.held_back(4, Duration::from_millis(300));
        let note = |summary: &Summary, secs| {
            summary.lines(Duration::from_secs(secs)).iter().any(|l| l.contains("--per-host 4 held"))
        };
        assert!(note(&summary, 1));
        assert!(!note(&summary, 2), "15% of the run is not noticeable");
        assert_eq!(summary.json(Duration::from_secs(1), false)["per_host"]["held_back"], true);
        assert_eq!(summary.json(Duration::from_secs(2), false)["per_host"]["held_ms"], 300.0);
        summary.held_back(4, Duration::from_millis(300));
        assert!(note(&summary, 2), "--watch rounds add up");
        assert!(Summary::default().json(Duration::from_secs(1), false)["per_host"].is_null());
    }

    #[test]
    fn quantiles_of_a_known_spread() {
        let mut h = Histogram::default();
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms));
        }
        let near = |q: f64, ms: f64| {
            let got = h.quantile(q).unwrap().as_secs_f64() * 1000.0;
            assert!((got - ms).abs() <= ms * 0.04, "q{q}: {got} vs {ms}");
        };
        near(0.5, 50.0);
        near(0.95, 95.0);
        near(0.99, 99.0);
        assert_eq!(Histogram::default().quantile(0.5), None);
    }
}
