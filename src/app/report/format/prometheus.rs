//! The Prometheus text format (blackbox_exporter's metric names), kept
//! and written once at the end of the run.

use std::collections::hash_map::{Entry, HashMap};
use std::fmt::Write as _;

use statuscheck::{State, Verdict};

use super::{shown_url, Export, Judged, Style};
use crate::app::input::Checked;

/// The Prometheus text format groups series by metric, each metric once with
/// its `# HELP` and `# TYPE`, so results are kept (a few lines per URL) and
/// written when the run ends. Names follow blackbox_exporter's.
///
/// A label set may appear only once, so a URL listed twice (or two invalid
/// lines with the same text) keeps one set of series: the answer that came last.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Where each `url` label's series are in `series`.
    seen: HashMap<String, usize>,
    /// Per URL, in the order first seen: its lines of each metric.
    series: Vec<[String; METRICS.len()]>,
}

const METRICS: [(&str, &str); 9] = [
    ("probe_success", "Whether the check succeeded (1) or not (0)"),
    ("probe_http_status_code", "Status code of the final response, 0 if there was none"),
    ("probe_duration_seconds", "How long the whole check took"),
    ("probe_http_duration_seconds", "Duration of each phase of the last request"),
    ("probe_http_redirects", "Number of redirects followed"),
    ("probe_http_version", "HTTP version of the final response, 0 if there was none"),
    ("probe_ip_protocol", "IP version of the address connected to, 0 if none"),
    ("probe_ssl_earliest_cert_expiry", "Earliest expiry of the verified certificate chain, as a Unix time"),
    ("statuscheck_state", "The state of the check (up, degraded, down, unknown): 1 for its state, 0 for the others"),
];

impl Metrics {
    /// Keeps the series of one result.
    pub fn add(&mut self, checked: &Checked, judged: Judged) {
        let url = label_value(shown_url(checked));
        let response = checked.outcome.as_ref().ok();
        let trace = &checked.trace;
        let mut series: [String; METRICS.len()] = Default::default();
        let mut put = |metric: usize, labels: &str, value: f64| {
            let _ = writeln!(series[metric], "{}{{url=\"{url}\"{labels}}} {value}", METRICS[metric].0);
        };
        put(0, "", f64::from(u8::from(judged.verdict == Verdict::Ok)));
        put(1, "", f64::from(response.map_or(0, |r| r.code)));
        put(2, "", checked.elapsed.as_secs_f64());
        for (phase, took) in
            [("resolve", trace.dns), ("connect", trace.connect), ("tls", trace.tls), ("processing", trace.ttfb)]
        {
            put(3, &format!(",phase=\"{phase}\""), took.unwrap_or_default().as_secs_f64());
        }
        put(4, "", checked.redirects.len() as f64);
        put(5, "", response.map_or(0.0, |r| if r.version.number() == "1.0" { 1.0 } else { 1.1 }));
        put(6, "", trace.address.map_or(0.0, |a| if a.is_ipv4() { 4.0 } else { 6.0 }));
        if let Some(cert) = checked.earliest_expiry() {
            put(7, "", cert.not_after as f64);
        }
        // One series per state, as blackbox_exporter does for enumerations.
        for state in State::ALL {
            put(8, &format!(",state=\"{state}\""), f64::from(u8::from(*state == judged.state)));
        }
        match self.seen.entry(url) {
            Entry::Occupied(known) => self.series[*known.get()] = series,
            Entry::Vacant(new) => {
                new.insert(self.series.len());
                self.series.push(series);
            }
        }
    }

    /// The whole exposition, one metric after another.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (metric, (name, help)) in METRICS.iter().enumerate() {
            if self.series.iter().any(|url| !url[metric].is_empty()) {
                let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n");
                self.series.iter().for_each(|url| out.push_str(&url[metric]));
            }
        }
        out
    }
}

/// A label value as the format wants it: `\`, `"` and line feeds escaped.
pub(super) fn label_value(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Export for Metrics {
    fn record(&mut self, _: &mut String, _: Style, checked: &Checked, judged: Judged) {
        self.add(checked, judged);
    }

    fn end(&mut self) -> Option<String> {
        Some(self.text())
    }

    fn next_round(&mut self) {
        *self = Metrics::default();
    }

    fn shows_certificates(&self) -> bool {
        true
    }
}
