//! The command line: clap definitions, turned once into a typed [`Config`]
//! that the rest of the program uses. Nothing past this module sees clap.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::{Parser, ValueEnum};

use crate::outcome::OkCodes;
use crate::resolve::Pin;

const EXAMPLES: &str = "\
Examples:
  statuscheck sites.txt                       check every URL in the file, concurrently
  statuscheck --sequential sites.txt          the same, one at a time
  cat urls.txt | statuscheck --format tsv -   from stdin, tab-separated for scripts
  statuscheck -u https://example.com/ -u http://localhost:8080/health

Exit status: 0 every URL answered with an accepted code, 1 at least one did not,
2 usage or input error, 130/143 interrupted by SIGINT/SIGTERM.";

/// Check the HTTP status of many URLs, concurrently, over raw HTTP/1.1.
#[derive(Debug, Parser)]
#[command(name = "statuscheck", version, about, after_help = EXAMPLES)]
pub struct Cli {
    /// Files with one URL per line ('-' is standard input; read when no FILE
    /// and no --url are given and standard input is not a terminal)
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// A URL to check (repeatable); checked before the files' URLs
    #[arg(short = 'u', long = "url", value_name = "URL")]
    pub urls: Vec<String>,

    /// Most checks in flight at once
    #[arg(short = 'c', long, value_name = "N", default_value = "100", value_parser = parse_concurrency, allow_negative_numbers = true)]
    pub concurrency: usize,

    /// Check one URL at a time, in input order (for comparison timing)
    #[arg(long)]
    pub sequential: bool,

    /// Print results in input order instead of as they finish
    #[arg(long)]
    pub ordered: bool,

    /// Deadline for each whole check: DNS, connect, TLS, request and status line
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration, allow_negative_numbers = true)]
    pub timeout: Duration,

    /// Deadline for each connection attempt (one per address of a host)
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, allow_negative_numbers = true)]
    pub connect_timeout: Duration,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// When to colour the text output
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Status codes that count as success, e.g. 200,204,300-399
    #[arg(long, value_name = "CODES", default_value = "100-399")]
    pub ok_codes: OkCodes,

    /// Also trust the CA certificates in this PEM file
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Do not verify TLS certificates
    #[arg(short = 'k', long)]
    pub insecure: bool,

    /// Use these addresses for HOST on PORT instead of DNS (repeatable)
    #[arg(long, value_name = "HOST:PORT:ADDR[,ADDR...]")]
    pub resolve: Vec<Pin>,

    /// Do not print the summary line on stderr
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people
    Text,
    /// url, code, reason, elapsed_ms, error; tab-separated, no header
    Tsv,
    /// One JSON object per line (JSON Lines)
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The run, as the rest of the program sees it.
#[derive(Debug)]
pub struct Config {
    pub urls: Vec<String>,
    pub files: Vec<PathBuf>,
    /// 1 for `--sequential`.
    pub concurrency: usize,
    pub ordered: bool,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub format: Format,
    pub color: bool,
    pub ok_codes: OkCodes,
    pub cacert: Option<PathBuf>,
    pub insecure: bool,
    pub resolve: Vec<Pin>,
    pub quiet: bool,
}

impl Config {
    pub fn from_cli(cli: Cli) -> anyhow::Result<Config> {
        let mut files = cli.files;
        if files.is_empty() && cli.urls.is_empty() {
            if std::io::stdin().is_terminal() {
                bail!("no URLs to check: give a FILE, '-' for standard input, or --url URL (see --help)");
            }
            files.push(PathBuf::from("-"));
        }
        Ok(Config {
            urls: cli.urls,
            files,
            concurrency: if cli.sequential { 1 } else { cli.concurrency },
            ordered: cli.ordered || cli.sequential,
            timeout: cli.timeout,
            connect_timeout: cli.connect_timeout.min(cli.timeout),
            format: cli.format,
            color: use_color(cli.color, cli.format),
            ok_codes: cli.ok_codes,
            cacert: cli.cacert,
            insecure: cli.insecure,
            resolve: cli.resolve,
            quiet: cli.quiet,
        })
    }
}

/// Colour only for text, and with `auto` only on a terminal without `NO_COLOR`.
fn use_color(choice: ColorChoice, format: Format) -> bool {
    format == Format::Text
        && match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        }
}

fn parse_concurrency(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n @ 1..=1_000_000) => Ok(n),
        _ => Err("use a whole number from 1 to 1000000".into()),
    }
}

/// `10`, `2.5`, `10s`, `500ms`, `1m`: a positive duration of at most a day.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        _ => f64::NAN,
    };
    let seconds = number.trim().parse::<f64>().unwrap_or(f64::NAN) * scale;
    if !(seconds > 0.0 && seconds <= 86_400.0) {
        return Err("use a positive duration of at most a day: 10, 2.5s, 500ms or 1m".into());
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("statuscheck").chain(args.iter().copied()))
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_match_the_docs() {
        let cli = parse(&["-u", "example.com"]).unwrap();
        assert_eq!(cli.concurrency, 100);
        assert_eq!(cli.timeout, Duration::from_secs(10));
        assert_eq!(cli.connect_timeout, Duration::from_secs(5));
        assert_eq!(cli.format, Format::Text);
        assert_eq!(cli.ok_codes, OkCodes::default());
    }

    #[test]
    fn durations_accept_units_and_refuse_nonsense() {
        assert_eq!(parse_duration("2.5").unwrap(), Duration::from_millis(2500));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        for bad in ["-1", "0", "abc", "5h", "", "1e9", "NaN", "inf"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nonsense_option_values_are_refused_with_what_is_allowed() {
        for (args, allowed) in [
            (&["--concurrency", "0"][..], "from 1 to"),
            (&["--timeout", "-1"], "positive duration"),
            (&["--ok-codes", "99-700"], "100 to 599"),
            (&["--format", "xml"], "possible values"),
            (&["--resolve", "nope"], "HOST:PORT:ADDR"),
        ] {
            let err = parse(args).unwrap_err().to_string();
            assert!(err.contains(allowed), "{args:?}: {err}");
        }
    }

    #[test]
    fn sequential_means_one_at_a_time_in_order() {
        let config =
            Config::from_cli(parse(&["--sequential", "-c", "50", "-u", "x.test"]).unwrap())
                .unwrap();
        assert_eq!((config.concurrency, config.ordered), (1, true));
    }

    #[test]
    fn color_only_for_text() {
        assert!(use_color(ColorChoice::Always, Format::Text));
        assert!(!use_color(ColorChoice::Always, Format::Json));
        assert!(!use_color(ColorChoice::Never, Format::Text));
    }
}
