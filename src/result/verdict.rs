//! How a result counts: the accepted status codes and the certificate
//! policy, giving each [`Checked`] its [`Verdict`].

use std::ops::RangeInclusive;
use std::str::FromStr;

use super::{unix_now, CheckError, Checked, Response, SetupError};

/// How a result counts toward the summary and the exit status.
/// Non-exhaustive: health states (degraded, ...) are to come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// A status code in the accepted set.
    Ok,
    /// A status code outside the accepted set.
    Failed,
    /// No status code at all.
    Error,
}

/// What counts as success: an accepted code, and with
/// [`Policy::cert_expiry_days`] a certificate that lasts longer than that. Non-exhaustive (expectations
/// are to come): build it with [`Policy::new`] or [`Policy::default`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// The accepted status codes.
    pub ok_codes: OkCodes,
    /// A certificate that expires within this many days fails.
    pub cert_expiry_days: Option<i64>,
}

impl Policy {
    /// Success is a code in `ok_codes`; certificates do not count.
    pub fn new(ok_codes: OkCodes) -> Self {
        Policy { ok_codes, cert_expiry_days: None }
    }

    /// A certificate of the chain that expires within `days` fails the check.
    pub fn cert_expiry_days(mut self, days: Option<i64>) -> Self {
        self.cert_expiry_days = days;
        self
    }

    /// How `checked` counts.
    pub fn verdict<T>(&self, checked: &Checked<T>) -> Verdict {
        match &checked.outcome {
            Ok(_) if self.cert_expiring(checked) => Verdict::Failed,
            outcome => self.ok_codes.verdict(outcome),
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
}

/// The status codes that count as success; parsed from `200,204,300-399`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OkCodes(Vec<RangeInclusive<u16>>);

impl OkCodes {
    /// How an outcome counts under these codes alone.
    pub fn verdict(&self, outcome: &Result<Response, CheckError>) -> Verdict {
        match outcome {
            Ok(response) if self.accepts(response.code) => Verdict::Ok,
            Ok(_) => Verdict::Failed,
            Err(_) => Verdict::Error,
        }
    }

    /// Whether `code` is accepted.
    pub fn accepts(&self, code: u16) -> bool {
        self.0.iter().any(|range| range.contains(&code))
    }
}

impl Default for OkCodes {
    fn default() -> Self {
        OkCodes(vec![100..=399])
    }
}

impl FromStr for OkCodes {
    type Err = SetupError;

    /// `200,204,300-399`: codes and inclusive ranges, each within 100–599.
    fn from_str(s: &str) -> Result<Self, SetupError> {
        parse_ok_codes(s).map_err(SetupError::OkCodes)
    }
}

fn parse_ok_codes(s: &str) -> Result<OkCodes, String> {
    let parse_code = |text: &str| -> Result<u16, String> {
        match text.trim().parse::<u16>() {
            Ok(code @ 100..=599) => Ok(code),
            _ => Err(format!(
                "'{}' is not a status code: use numbers from 100 to 599, \
                     as in 200,204,300-399",
                text.trim()
            )),
        }
    };
    let mut ranges = Vec::new();
    for part in s.split(',') {
        let range = match part.split_once('-') {
            Some((low, high)) => {
                let (low, high) = (parse_code(low)?, parse_code(high)?);
                if low > high {
                    return Err(format!("range '{}' is empty: write low-high", part.trim()));
                }
                low..=high
            }
            None => {
                let code = parse_code(part)?;
                code..=code
            }
        };
        ranges.push(range);
    }
    Ok(OkCodes(ranges))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::HttpVersion;

    fn response(code: u16) -> Result<Response, CheckError> {
        Ok(Response::new(HttpVersion::Http11, code, ""))
    }

    #[test]
    fn ok_codes_parse_lists_and_ranges() {
        let codes: OkCodes = "200,204, 300-399".parse().unwrap();
        assert!(codes.accepts(200) && codes.accepts(204) && codes.accepts(399));
        assert!(!codes.accepts(201) && !codes.accepts(400));
    }

    #[test]
    fn ok_codes_reject_out_of_range_and_garbage() {
        for bad in ["99-700", "99", "600", "abc", "", "300-200", "200,"] {
            let err = bad.parse::<OkCodes>().unwrap_err().to_string();
            assert!(err.contains("100 to 599") || err.contains("empty"), "{bad}: {err}");
        }
    }

    #[test]
    fn verdict_follows_ok_codes() {
        let codes = OkCodes::default();
        assert_eq!(codes.verdict(&response(200)), Verdict::Ok);
        assert_eq!(codes.verdict(&response(301)), Verdict::Ok);
        assert_eq!(codes.verdict(&response(404)), Verdict::Failed);
        let err = Err(CheckError::Protocol("x".into()));
        assert_eq!(codes.verdict(&err), Verdict::Error);
    }
}
