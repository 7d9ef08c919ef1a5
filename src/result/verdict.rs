//! How a result counts toward a summary's first line ([`Verdict`]), and the
//! accepted status codes ([`OkCodes`]); the rest of what is expected is in
//! `health`.

use std::ops::RangeInclusive;
use std::str::FromStr;

use super::{CheckError, Response, SetupError};

/// How a result counts toward the summary and the exit status.
/// Degraded counts as ok here; [`crate::State`] tells them apart.
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

/// The status codes that count as success; parsed from `200,204,300-399`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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

/// As parsed: `200,204,300-399`.
impl std::fmt::Display for OkCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, range) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            match (range.start(), range.end()) {
                (low, high) if low == high => write!(f, "{sep}{low}")?,
                (low, high) => write!(f, "{sep}{low}-{high}")?,
            }
        }
        Ok(())
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
