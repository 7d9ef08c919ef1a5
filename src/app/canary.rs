//! `--canary URL`: URLs trusted to be up, checked with the same engine
//! before each round's list. When every canary fails with a network error
//! ([`statuscheck::ErrorKind::is_network`]: dns, connect, timeout, io) the
//! problem is ours, not the sites': the round is *inconclusive*. Any HTTP
//! answer, of any code, means the network works. A canary's own result goes
//! to stderr, never into the list's output.

use statuscheck::url::Url;
use statuscheck::{Checked, Runner};

use super::flags;
use super::report;

/// The canaries and what they said last round (in `--watch`, a canary's
/// line is printed only when it changes).
pub struct Canaries {
    urls: Vec<Url>,
    last: Vec<String>,
    last_inconclusive: bool,
    quiet: bool,
}

impl Canaries {
    pub fn new(urls: Vec<Url>, quiet: bool) -> Canaries {
        Canaries { urls, last: Vec::new(), last_inconclusive: false, quiet }
    }

    /// Checks every canary; whether the round is inconclusive. Without
    /// canaries every round is conclusive.
    pub async fn check(&mut self, runner: &Runner) -> bool {
        if self.urls.is_empty() {
            return false;
        }
        let mut results = runner.check_all(self.urls.clone());
        let mut seen = Vec::with_capacity(self.urls.len());
        while let Some(checked) = results.next().await {
            seen.push(checked);
        }
        seen.sort_by(|a, b| a.target.as_str().cmp(b.target.as_str()));
        let inconclusive = inconclusive(&seen);
        self.tell(&seen, inconclusive);
        inconclusive
    }

    /// Each canary's result on stderr, when it is new; and when rounds turn
    /// inconclusive (or conclusive again).
    fn tell(&mut self, seen: &[Checked<Url>], inconclusive: bool) {
        let lines: Vec<String> = seen.iter().map(line).collect();
        if !self.quiet && lines != self.last {
            for line in &lines {
                report::message(line);
            }
        }
        if inconclusive && !self.last_inconclusive {
            report::message(
                "every --canary failed with a network error: the round is inconclusive; \
                 results that are down read unknown and alert nothing",
            );
        } else if !inconclusive && self.last_inconclusive {
            report::message("a --canary answers again: rounds are conclusive");
        }
        self.last = lines;
        self.last_inconclusive = inconclusive;
    }
}

/// Whether every canary failed with a network error (none answered).
pub fn inconclusive<T>(seen: &[Checked<T>]) -> bool {
    !seen.is_empty() && seen.iter().all(|c| c.outcome.as_ref().is_err_and(|e| e.kind().is_network()))
}

/// `canary https://a.test/: HTTP/1.1 200 OK` or `canary …: error dns: …`
/// (escaped where printed).
fn line(checked: &Checked<Url>) -> String {
    let outcome = match &checked.outcome {
        Ok(response) => response.to_string(),
        Err(error) => format!("error {}: {}", error.kind(), flags::message(error)),
    };
    format!("canary {}: {outcome}", checked.target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use statuscheck::{CheckError, Phase, Response};

    fn checked(outcome: Result<Response, CheckError>) -> Checked<Url> {
        let mut checked = Checked::invalid(Url::parse("https://canary.test/").unwrap(), "");
        checked.outcome = outcome;
        checked
    }

    #[test]
    fn only_network_errors_everywhere_make_a_round_inconclusive() {
        let dns = || checked(Err(CheckError::Dns { host: "canary.test".into(), reason: "no answer".into() }));
        let timeout = || checked(Err(CheckError::Timeout { phase: Phase::Connect, limit: Default::default() }));
        let tls = || checked(Err(CheckError::tls(statuscheck::TlsCause::Expired, "expired")));
        let answer = |code| checked(Ok(Response::new(statuscheck::HttpVersion::Http11, code, "")));
        assert!(inconclusive(&[dns(), timeout()]));
        assert!(!inconclusive(&[dns(), answer(503)]), "one answered, of any code");
        assert!(!inconclusive(&[answer(500)]));
        assert!(!inconclusive(&[tls()]), "a TLS failure means something answered");
        assert!(!inconclusive::<Url>(&[]), "no canary: conclusive");
    }
}
