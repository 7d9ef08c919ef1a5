//! One target from start to result: wait for `--rate`, check, and with
//! `--retries` try again after connect, timeout and I/O errors (exponential
//! backoff with jitter), or after the delay a 429/503 names in `Retry-After`
//! (capped by `--retry-after-max`); meanwhile that host is paused for every
//! check. A real HTTP status is never retried otherwise.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::{sleep_until, Instant};

use super::check::{Answer, Checker};
use super::Target;
use crate::result::{CheckError, Checked, ErrorKind, State};
use crate::wire::later;
use crate::wire::sync::lock;

/// First backoff; doubled per retry, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// How targets are tried, shared by all tasks of the run.
pub struct Tries {
    retries: u32,
    retry_after_max: Duration,
    /// `--rate`: the earliest start of the next check.
    rate: Option<(Duration, Mutex<Instant>)>,
    /// Hosts paused by a `Retry-After`, until when.
    paused: Mutex<HashMap<String, Instant>>,
    jitter: AtomicU64,
}

impl Tries {
    /// `--retries`, `--retry-after-max` and `--rate` (checks per second).
    pub fn new(retries: u32, retry_after_max: Duration, rate: Option<f64>) -> Self {
        // `--rate` is checked to be in range; a slot too far off to express is "never".
        let interval = |per_second: f64| Duration::try_from_secs_f64(1.0 / per_second).unwrap_or(Duration::MAX);
        let rate = rate.map(|per_second| (interval(per_second), Mutex::new(Instant::now())));
        Tries {
            retries,
            retry_after_max,
            rate,
            paused: Mutex::default(),
            jitter: AtomicU64::new(0x9e37_79b9_7f4a_7c15),
        }
    }

    /// Waits for this check's turn under `--rate`: each start reserves the
    /// next slot, so starts are spaced evenly whatever the concurrency.
    async fn wait_for_rate(&self) {
        let Some((interval, next)) = &self.rate else { return };
        let at = {
            let mut next = lock(next);
            let at = (*next).max(Instant::now());
            *next = later(at, *interval);
            at
        };
        sleep_until(at).await;
    }

    async fn wait_for_host(&self, host: &str) {
        let until = lock(&self.paused).get(host).copied();
        if let Some(until) = until {
            sleep_until(until).await;
        }
    }

    fn pause_host(&self, host: &str, until: Instant) {
        let mut paused = lock(&self.paused);
        let entry = paused.entry(host.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// How long to wait before trying again, or `None` to stop here.
    fn retry_delay(&self, answer: &Answer, attempt: u32) -> Option<Duration> {
        if attempt > self.retries {
            return None;
        }
        match &answer.outcome {
            // An unusable proxy stays unusable: no point in asking again.
            Err(CheckError::UnusableProxy(_)) => None,
            Err(e) if matches!(e.kind(), ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::Io) => {
                Some(self.backoff(attempt))
            }
            Ok(response) if matches!(response.code, 429 | 503) => {
                response.retry_after.map(|seconds| Duration::from_secs(seconds).min(self.retry_after_max))
            }
            _ => None,
        }
    }

    /// Exponential backoff with jitter: between half and all of
    /// 250 ms × 2^(attempt-1), at most 8 s.
    fn backoff(&self, attempt: u32) -> Duration {
        let full = FIRST_BACKOFF.saturating_mul(1 << (attempt - 1).min(16)).min(MAX_BACKOFF);
        // xorshift: cheap, and good enough to keep retries from marching in step.
        let mut x = self.jitter.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter.store(x, Ordering::Relaxed);
        full / 2 + full.mul_f64((x % 1000) as f64 / 2000.0)
    }
}

/// One target, checked (and retried) to its final result.
pub async fn check_one<T: Target>(checker: Arc<Checker>, tries: Arc<Tries>, target: T) -> Checked<T> {
    let url = match target.url() {
        Ok(url) => url.clone(),
        Err(reason) => {
            let reason = reason.to_owned();
            return Checked::invalid(target, reason);
        }
    };
    let host = url.host_str().unwrap_or("").to_owned();
    let started = Instant::now();
    let mut attempt = 0;
    let profile = target.profile().unwrap_or(checker.profile());
    let answer = loop {
        attempt += 1;
        tries.wait_for_host(&host).await;
        tries.wait_for_rate().await;
        let answer = checker.check_as(&url, profile).await;
        let Some(delay) = tries.retry_delay(&answer, attempt) else { break answer };
        let resume_at = later(Instant::now(), delay);
        if answer.outcome.is_ok() {
            // The server asked us to come back later: pause the whole host.
            tries.pause_host(&host, resume_at);
        }
        sleep_until(resume_at).await;
    };
    let mut checked = Checked {
        elapsed: started.elapsed(),
        target,
        outcome: answer.outcome,
        trace: answer.trace,
        redirects: answer.redirects,
        final_url: answer.final_url,
        attempts: attempt,
        state: State::Down,
        unmet: Vec::new(),
    };
    let policy = &checked.target.profile().unwrap_or(checker.profile()).policy;
    (checked.state, checked.unmet) = policy.judge(&checked, answer.unmet);
    checked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{CheckError, HttpVersion, Phase, Response, Trace};

    fn answer(outcome: Result<Response, CheckError>) -> Answer {
        Answer { outcome, trace: Trace::default(), redirects: Vec::new(), final_url: None, unmet: Vec::new() }
    }

    fn status(code: u16, retry_after: Option<u64>) -> Answer {
        let mut response = Response::new(HttpVersion::Http11, code, "");
        response.retry_after = retry_after;
        answer(Ok(response))
    }

    #[test]
    fn only_network_errors_and_retry_after_are_retried() {
        let tries = Tries::new(2, Duration::from_secs(60), None);
        let timeout = answer(Err(CheckError::Timeout { phase: Phase::Read, limit: Duration::from_secs(1) }));
        assert!(tries.retry_delay(&timeout, 1).is_some());
        assert!(tries.retry_delay(&timeout, 3).is_none(), "out of retries");
        assert!(tries.retry_delay(&answer(Err(CheckError::tls(crate::TlsCause::Expired, "expired"))), 1).is_none());
        assert!(tries.retry_delay(&answer(Err(CheckError::UnusableProxy("socks5".into()))), 1).is_none());
        assert!(tries.retry_delay(&status(500, None), 1).is_none(), "a real status is an answer");
        assert!(tries.retry_delay(&status(503, None), 1).is_none(), "503 without Retry-After");
        assert_eq!(tries.retry_delay(&status(429, Some(5)), 1), Some(Duration::from_secs(5)));
        assert_eq!(tries.retry_delay(&status(503, Some(600)), 1), Some(Duration::from_secs(60)), "capped");
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let tries = Tries::new(10, Duration::from_secs(60), None);
        for attempt in 1..=8 {
            let full = (FIRST_BACKOFF * (1 << (attempt - 1))).min(MAX_BACKOFF);
            let delay = tries.backoff(attempt);
            assert!(delay >= full / 2 && delay <= full, "attempt {attempt}: {delay:?} vs {full:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn rate_spaces_starts_evenly() {
        let tries = Tries::new(0, Duration::from_secs(1), Some(10.0));
        let start = Instant::now();
        for _ in 0..5 {
            tries.wait_for_rate().await;
        }
        assert_eq!(start.elapsed(), Duration::from_millis(400));
    }

    /// Slots far beyond any clock (a rate of one per 10^18 s, or 10^300 s)
    /// must not overflow: the later starts simply wait "forever".
    #[tokio::test(start_paused = true)]
    async fn tiny_rates_do_not_overflow_the_clock() {
        for rate in [1e-18, 1e-300, f64::MIN_POSITIVE] {
            let tries = Tries::new(0, Duration::from_secs(1), Some(rate));
            tries.wait_for_rate().await;
            for _ in 0..3 {
                let waited = tokio::time::timeout(Duration::from_secs(86_400), tries.wait_for_rate()).await;
                assert!(waited.is_err(), "rate {rate}: the next slot is far away");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_smallest_allowed_rate_waits_its_interval() {
        let tries = Tries::new(0, Duration::from_secs(1), Some(0.0001));
        let start = Instant::now();
        tries.wait_for_rate().await;
        tries.wait_for_rate().await;
        assert_eq!(start.elapsed(), Duration::from_secs(10_000));
    }

    #[test]
    fn later_saturates_instead_of_overflowing() {
        let now = Instant::now();
        assert_eq!(later(now, Duration::from_secs(5)), now + Duration::from_secs(5));
        assert!(later(now, Duration::MAX) > now + Duration::from_secs(86_400 * 365));
    }
}
