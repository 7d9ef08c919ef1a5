//! A confirmed change of a URL's state, as an `--on-change` hook gets it:
//! one JSON object on its standard input and the same fields in
//! environment variables. Never on its command line: `why` holds what a
//! server sent.

use serde_json::json;
use statuscheck::State;

use super::damping::Transition;
use crate::app::input::Checked;
use crate::app::report::{sanitize, shown_url, status_text, timestamp};

/// One change, with everything a notification needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub url: String,
    pub name: Option<String>,
    pub group: Option<String>,
    /// Where the line is: `sites.txt:3`, `arg:1`.
    pub source: String,
    pub old: State,
    pub new: State,
    /// The result that confirmed it, in words: the status line or the
    /// error, then the expectations not met (escaped: server text).
    pub why: String,
    /// When it was confirmed, `2026-11-25T09:50:05Z`.
    pub at: String,
}

impl Change {
    /// The change `transition` that `checked` confirmed, at `unix` seconds.
    pub fn new(checked: &Checked, transition: Transition, unix: i64) -> Change {
        let target = &checked.target;
        let mut why = status_text(checked);
        for unmet in &checked.unmet {
            why.push_str(&format!("; expected {}, got {}", sanitize(&unmet.expect), sanitize(&unmet.got)));
        }
        Change {
            url: shown_url(checked).to_owned(),
            name: target.name().map(|n| sanitize(n).into_owned()),
            group: target.group().map(|g| sanitize(g).into_owned()),
            source: sanitize(&target.source.to_string()).into_owned(),
            old: transition.old,
            new: transition.new,
            why,
            at: timestamp(unix),
        }
    }

    /// The object on the hook's standard input, one line.
    pub fn json(&self) -> String {
        let object = json!({
            "url": self.url,
            "name": self.name,
            "group": self.group,
            "source": self.source,
            "old": self.old.as_str(),
            "new": self.new.as_str(),
            "why": self.why,
            "at": self.at,
        });
        format!("{object}\n")
    }

    /// The hook's environment variables (an absent name or group is empty).
    pub fn env(&self) -> [(&'static str, String); 8] {
        [
            ("STATUSCHECK_URL", self.url.clone()),
            ("STATUSCHECK_NAME", self.name.clone().unwrap_or_default()),
            ("STATUSCHECK_GROUP", self.group.clone().unwrap_or_default()),
            ("STATUSCHECK_SOURCE", self.source.clone()),
            ("STATUSCHECK_OLD_STATE", self.old.as_str().to_owned()),
            ("STATUSCHECK_NEW_STATE", self.new.as_str().to_owned()),
            ("STATUSCHECK_WHY", self.why.clone()),
            ("STATUSCHECK_AT", self.at.clone()),
        ]
    }

    /// `https://a.test/ (up → down)`, for messages.
    pub fn label(&self) -> String {
        format!("{} ({} → {})", self.url, self.old, self.new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::input::{parse_url, Source, Target};
    use statuscheck::{CheckError, Expectation, Unmet};

    #[test]
    fn server_text_is_escaped_and_every_field_is_there() {
        let target = Target::plain(Source::Arg(2), "a.test".into(), parse_url("http://a.test/"));
        let mut checked = Checked::invalid(target, "");
        checked.outcome = Err(CheckError::Protocol("bad \x1b[31mhead\n".into()));
        checked.unmet = vec![Unmet::new(Expectation::Body, "body contains UP", "no \u{202e}match")];
        let change = Change::new(&checked, Transition { old: State::Up, new: State::Down }, 86_400);
        let parsed: serde_json::Value = serde_json::from_str(&change.json()).unwrap();
        assert_eq!(parsed["url"], "http://a.test/");
        assert_eq!((parsed["old"].as_str(), parsed["new"].as_str()), (Some("up"), Some("down")));
        assert_eq!(parsed["source"], "arg:2");
        assert_eq!(parsed["at"], "1970-01-02T00:00:00Z");
        assert!(parsed["name"].is_null() && parsed["group"].is_null());
        let why = parsed["why"].as_str().unwrap();
        assert!(why.starts_with("error protocol: bad \\u{1b}[31mhead\\n"), "{why}");
        assert!(why.ends_with("; expected body contains UP, got no \\u{202e}match"), "{why}");
        assert!(change.env().iter().all(|(_, v)| !v.chars().any(char::is_control)));
        assert_eq!(change.env()[4], ("STATUSCHECK_OLD_STATE", "up".to_owned()));
        assert_eq!(change.env().len(), parsed.as_object().unwrap().len());
    }
}
