//! The JSON Lines format: one object per result, its field set a
//! documented contract (and what `--resume` reads back).

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::json;
use statuscheck::result::{date, unix_now};
use statuscheck::Verdict;

use super::{elapsed_ms, timestamp, Export, Judged, Style};
use crate::app::input::Checked;

/// One JSON object per line.
pub struct Json;

impl Export for Json {
    fn record(&mut self, out: &mut String, style: Style, checked: &Checked, judged: Judged) {
        jsonl(out, checked, judged, style.timestamp);
    }

    fn shows_certificates(&self) -> bool {
        true
    }
}

/// One JSON object per line; the field set is a documented contract.
fn jsonl(out: &mut String, checked: &Checked, judged: Judged, with_time: bool) {
    let target = &checked.target;
    let response = checked.outcome.as_ref().ok();
    let trace = &checked.trace;
    let ms = |d: Option<Duration>| d.map(|d| (d.as_secs_f64() * 1e6).round() / 1e3);
    let tls = trace.tls_session.as_ref().map(|session| {
        let cert = session.certificate.as_ref();
        let earliest = session.earliest_expiry.as_ref();
        json!({
            "version": session.version,
            "cipher": session.cipher,
            "subject": cert.map(|c| c.subject.as_str()),
            "issuer": cert.map(|c| c.issuer.as_str()),
            "not_after": cert.map(|c| date(c.not_after)),
            "days_left": earliest.map(|c| c.days_left(unix_now())),
            "expiring": judged.expiring,
            "earliest_expiry": earliest.map(|c| json!({"subject": c.subject, "not_after": date(c.not_after)})),
        })
    });
    let mut record = json!({
        "input": target.input,
        "source": target.source.to_string(),
        "url": target.url.as_ref().ok().map(|u| u.as_str()),
        "ok": judged.verdict == Verdict::Ok,
        "code": response.map(|r| r.code),
        "reason": response.map(|r| r.reason.as_str()),
        "http_version": response.map(|r| r.version.number()),
        "elapsed_ms": elapsed_ms(checked),
        "error": checked.outcome.as_ref().err().map(|e| json!({
            "kind": e.kind().as_str(),
            "cause": e.tls_cause().map(|c| c.as_str()),
            "message": crate::app::flags::message(e),
        })),
        "location": response.and_then(|r| r.location.as_deref()),
        "redirects": checked.redirects.iter().map(|hop| json!({"url": hop.url.as_str(), "code": hop.code})).collect::<Vec<_>>(),
        "final_url": checked.final_url.as_ref().map(|u| u.as_str()),
        "blocked": response.is_some_and(|r| r.blocked_by.is_some()),
        "blocked_by": response.and_then(|r| r.blocked_by),
        "retry_after": response.and_then(|r| r.retry_after),
        "address": trace.address.map(|a| a.to_string()),
        "timings_ms": {
            "dns": ms(trace.dns),
            "connect": ms(trace.connect),
            "tls": ms(trace.tls),
            "ttfb": ms(trace.ttfb),
            "total": elapsed_ms(checked),
        },
        "tls": tls,
        "attempts": checked.attempts,
        "state": judged.state.as_str(),
        "unmet": checked.unmet.iter().map(|u| json!({"kind": u.kind.as_str(), "expect": u.expect, "got": u.got})).collect::<Vec<_>>(),
        "name": target.name(),
        "group": target.group(),
    });
    if with_time {
        // `--watch`: when the result was printed.
        record["checked_at"] = json!(timestamp(unix_now()));
    }
    let _ = writeln!(out, "{record}");
}
