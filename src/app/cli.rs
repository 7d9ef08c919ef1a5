//! The command line: clap definitions, turned once into a typed [`Config`]
//! that the rest of the program uses. Nothing past this module sees clap.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use statuscheck::{parse_header, user_agent, DnsServers, Family, OkCodes, Pin, Policy, Proxies};

use super::report::{self, Format, Show};
use super::shard::Shard;

const EXAMPLES: &str = "\
Examples:
  statuscheck sites.txt                      check every URL in the file, concurrently
  statuscheck --sequential sites.txt         the same, one at a time
  cat urls.txt | statuscheck --format tsv -  from stdin, tab-separated for scripts
  statuscheck -u https://example.com/ -u http://localhost:8080/health

Exit status: 0 every URL answered with an accepted code, 1 at least one did not,
2 usage or input error, 130/143 interrupted by SIGINT/SIGTERM.";

const INPUT: &str = "Input";
const CHECKING: &str = "Checking";
const NETWORK: &str = "TLS and network";
const OUTPUT: &str = "Output";
const SCALE: &str = "Scale";

/// Check the HTTP status of many URLs, concurrently, over raw HTTP/1.1.
///
/// Reads URLs (one per line) from files, standard input or --url, checks each
/// with one GET, and prints one result per line as checks finish.
#[derive(Debug, Parser)]
#[command(name = "statuscheck", version, about, after_help = EXAMPLES)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Files with one URL per line ('-' is standard input, which is also read
    /// when no FILE and no --url are given and it is not a terminal)
    #[arg(value_name = "FILE", help_heading = INPUT)]
    pub files: Vec<PathBuf>,

    /// A URL to check (repeatable); checked before the files' URLs
    #[arg(short = 'u', long = "url", value_name = "URL", help_heading = INPUT)]
    pub urls: Vec<String>,

    /// Most checks in flight at once
    #[arg(short = 'c', long, value_name = "N", default_value = "100", env = "STATUSCHECK_CONCURRENCY",
          value_parser = parse_concurrency, allow_negative_numbers = true, help_heading = CHECKING)]
    pub concurrency: usize,

    /// Check one URL at a time, in input order (for comparison timing)
    #[arg(long, help_heading = CHECKING)]
    pub sequential: bool,

    /// Deadline for each whole check: DNS, connect, TLS, request and status line
    #[arg(long, value_name = "DURATION", default_value = "10s", env = "STATUSCHECK_TIMEOUT",
          value_parser = parse_duration, allow_negative_numbers = true, help_heading = CHECKING)]
    pub timeout: Duration,

    /// Deadline for each connection attempt (a host's addresses are tried 250 ms apart)
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration,
          allow_negative_numbers = true, help_heading = CHECKING)]
    pub connect_timeout: Duration,

    /// Status codes that count as success, e.g. 200,204,300-399
    #[arg(long, value_name = "CODES", default_value = "100-399", help_heading = CHECKING)]
    pub ok_codes: OkCodes,

    /// Follow redirects, at most --max-redirs of them; the chain is one check
    /// under one --timeout (--follow=MAX is the old spelling of --max-redirs)
    #[arg(short = 'L', long, value_name = "MAX", num_args = 0..=1, require_equals = true, help_heading = CHECKING)]
    pub follow: Option<Option<usize>>,

    /// Most redirects -L follows, as in curl [default: 10]
    #[arg(long, value_name = "N", help_heading = CHECKING)]
    pub max_redirs: Option<usize>,

    /// Request method, in any case
    #[arg(long, value_enum, ignore_case = true, default_value_t = Method::Get, help_heading = CHECKING)]
    pub method: Method,

    /// Add or replace a request header, 'Name: value' (repeatable; with -L, sent
    /// only to the URL's own origin)
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = parse_header,
          help_heading = CHECKING)]
    pub headers: Vec<(String, String)>,

    /// With -L, send the -H headers to every hop, not only to the URL's own
    /// origin (never after a redirect from https to http)
    #[arg(long, help_heading = CHECKING)]
    pub location_trusted: bool,

    /// The User-Agent header [default: statuscheck/VERSION]
    #[arg(short = 'A', long, value_name = "TEXT", value_parser = parse_user_agent, help_heading = CHECKING)]
    pub user_agent: Option<String>,

    /// A certificate that expires within DAYS counts as a failure (cert-expiring)
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(i64).range(0..=36500), help_heading = CHECKING)]
    pub cert_expiry: Option<i64>,

    /// Also trust the CA certificates in this PEM file
    #[arg(long, value_name = "FILE", help_heading = NETWORK)]
    pub cacert: Option<PathBuf>,

    /// Do not verify TLS certificates
    #[arg(short = 'k', long, help_heading = NETWORK)]
    pub insecure: bool,

    /// Also reach servers that offer only TLS 1.0/1.1 or legacy suites, through
    /// OpenSSL, as curl does; certificates are verified as always (builds with
    /// the cargo feature tls-legacy)
    #[arg(long, help_heading = NETWORK)]
    pub tls_legacy: bool,

    /// Use these addresses for HOST on PORT instead of DNS (repeatable)
    #[arg(long, value_name = "HOST:PORT:ADDR[,ADDR...]", help_heading = NETWORK)]
    pub resolve: Vec<Pin>,

    /// Ask these DNS servers (port 53 unless given) instead of the ones in
    /// /etc/resolv.conf; the hosts file and --resolve still come first
    #[arg(long, value_name = "ADDR[:PORT][,...]", help_heading = NETWORK)]
    pub dns_servers: Option<DnsServers>,

    /// Send every check through this http proxy (CONNECT for https), instead
    /// of http_proxy, HTTPS_PROXY, ALL_PROXY; NO_PROXY still applies
    #[arg(long, value_name = "URL", help_heading = NETWORK)]
    pub proxy: Option<String>,

    /// Refuse to connect to loopback, private, link-local and unique-local
    /// addresses (after DNS, on every redirect): for URLs from untrusted users
    #[arg(long, help_heading = NETWORK)]
    pub deny_private: bool,

    /// Use IPv4 addresses only
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6", help_heading = NETWORK)]
    pub ipv4: bool,

    /// Use IPv6 addresses only
    #[arg(short = '6', long = "ipv6", help_heading = NETWORK)]
    pub ipv6: bool,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text, help_heading = OUTPUT)]
    pub format: Format,

    /// Print results in input order instead of as they finish
    #[arg(long, help_heading = OUTPUT)]
    pub ordered: bool,

    /// Print only the URLs that failed (an error or a code not accepted)
    #[arg(long, conflicts_with = "summary_only", help_heading = OUTPUT)]
    pub only_failed: bool,

    /// Print no results, only the summary
    #[arg(long, help_heading = OUTPUT)]
    pub summary_only: bool,

    /// Print the summary on stderr as one JSON object
    #[arg(long, conflicts_with = "quiet", help_heading = OUTPUT)]
    pub summary_json: bool,

    /// When to colour the text output (NO_COLOR and CLICOLOR_FORCE are honoured with auto)
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto, help_heading = OUTPUT)]
    pub color: ColorChoice,

    /// No summary and no progress line on stderr
    #[arg(short, long, help_heading = OUTPUT)]
    pub quiet: bool,

    /// Check again every DURATION, printing only results that changed (all in
    /// the first round), each with the time; Ctrl-C ends with the summary
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = OUTPUT)]
    pub watch: Option<Duration>,

    /// Text output adds a line per URL: address, phase timings, TLS and certificate
    #[arg(short, long, help_heading = OUTPUT)]
    pub verbose: bool,

    /// Most checks in flight to one host, whatever --concurrency is
    #[arg(long, value_name = "N", default_value = "4", value_parser = clap::value_parser!(u32).range(1..),
          help_heading = SCALE)]
    pub per_host: u32,

    /// Start at most R checks per second (all hosts together), from 0.0001 to
    /// 1000000
    #[arg(long, value_name = "R", value_parser = parse_rate, allow_negative_numbers = true, help_heading = SCALE)]
    pub rate: Option<f64>,

    /// Check each distinct URL once (every line still gets its result)
    #[arg(long, help_heading = SCALE)]
    pub dedupe: bool,

    /// Retry connect, timeout and I/O errors N times (backoff with jitter), and
    /// 429/503 answers that carry Retry-After
    #[arg(long, value_name = "N", default_value = "0", value_parser = clap::value_parser!(u32).range(0..=20),
          help_heading = SCALE)]
    pub retries: u32,

    /// Longest Retry-After delay honoured
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration, help_heading = SCALE)]
    pub retry_after_max: Duration,

    /// Skip the lines a previous --format json run (this file) already answered
    #[arg(long, value_name = "FILE", help_heading = SCALE)]
    pub resume: Option<PathBuf>,

    /// Check only shard K of N (0-based), split by a stable hash of the host
    #[arg(long, value_name = "K/N", help_heading = SCALE)]
    pub shard: Option<Shard>,

    /// Number of shards, with the index from JOB_COMPLETION_INDEX (Kubernetes
    /// Indexed Jobs); Slurm arrays need neither option
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = SCALE)]
    pub shards: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff), e.g. `statuscheck man > statuscheck.1`
    Man,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Method {
    #[value(name = "GET")]
    Get,
    #[value(name = "HEAD")]
    Head,
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
    pub cacert: Option<PathBuf>,
    pub insecure: bool,
    /// `--tls-legacy`, in a build that has it.
    pub tls_legacy: bool,
    pub resolve: Vec<Pin>,
    pub dns_servers: Option<DnsServers>,
    pub report: report::Options,
    pub quiet: bool,
    pub summary_json: bool,
    pub shard: Option<Shard>,
    pub method: statuscheck::Method,
    pub user_agent: String,
    /// `-H`, in order.
    pub headers: Vec<(String, String)>,
    pub location_trusted: bool,
    pub follow: Option<usize>,
    pub family: Option<Family>,
    pub per_host: usize,
    pub rate: Option<f64>,
    pub dedupe: bool,
    pub retries: u32,
    pub retry_after_max: Duration,
    pub resume: Option<PathBuf>,
    pub watch: Option<Duration>,
    pub proxies: Proxies,
    pub deny_private: bool,
}

/// What the command line asks for.
pub enum Action {
    Check(Box<Config>),
    /// A subcommand that printed what it was asked for.
    Printed,
}

impl Config {
    pub fn from_cli(cli: Cli) -> anyhow::Result<Action> {
        if let Some(command) = cli.command {
            print_generated(command)?;
            return Ok(Action::Printed);
        }
        let mut files = cli.files;
        if files.is_empty() && cli.urls.is_empty() {
            if std::io::stdin().is_terminal() {
                bail!("no URLs to check: give a FILE, '-' for standard input, or --url URL (see --help)");
            }
            files.push(PathBuf::from("-"));
        }
        if cli.watch.is_some() && files.iter().any(|f| f.as_os_str() == "-") {
            bail!("--watch reads its lists again each round, so it needs FILEs or --url, not standard input");
        }
        if cli.watch.is_some() && cli.format == Format::Prometheus {
            bail!(
                "--watch cannot write Prometheus metrics: a scrape needs one whole exposition, not one per round. \
                 Run statuscheck from a timer instead, writing a file for node_exporter's textfile collector: \
                 statuscheck --format prometheus urls.txt > DIR/statuscheck.prom.tmp; \
                 mv DIR/statuscheck.prom.tmp DIR/statuscheck.prom"
            );
        }
        if cli.tls_legacy && !TLS_LEGACY_BUILT {
            bail!("{NO_TLS_LEGACY}");
        }
        let follow = follow_limit(cli.follow, cli.max_redirs, &files)?;
        let shard = Shard::choose(cli.shard, cli.shards, |name| std::env::var(name).ok())?;
        if let (Some((shard, origin)), false) = (&shard, cli.quiet) {
            if let Some(origin) = origin.environment() {
                report::message(&format!("checking shard {} of {} (from {origin})", shard.index, shard.count));
            }
        }
        let shard = shard.map(|(shard, _)| shard);
        let proxies =
            Proxies::new(cli.proxy.as_deref(), |name| std::env::var(name).ok()).map_err(super::flags::setup_error)?;
        if !cli.quiet {
            for warning in proxies.warnings() {
                report::message(&format!("{warning}; the URLs it applies to get a connect error"));
            }
        }
        let show = match (cli.only_failed, cli.summary_only) {
            (_, true) => Show::Nothing,
            (true, false) => Show::Failed,
            (false, false) => Show::All,
        };
        let report = report::Options {
            format: cli.format,
            color: use_color(cli.color, cli.format, |name| std::env::var_os(name)),
            policy: Policy::new(cli.ok_codes).cert_expiry_days(cli.cert_expiry),
            show,
            progress: !cli.quiet && cli.watch.is_none(),
            watch: cli.watch.is_some(),
            verbose: cli.verbose,
        };
        let method = match cli.method {
            Method::Get => statuscheck::Method::Get,
            Method::Head => statuscheck::Method::Head,
        };
        let family = match (cli.ipv4, cli.ipv6) {
            (true, _) => Some(Family::V4),
            (_, true) => Some(Family::V6),
            _ => None,
        };
        Ok(Action::Check(Box::new(Config {
            urls: cli.urls,
            files,
            concurrency: if cli.sequential { 1 } else { cli.concurrency },
            ordered: cli.ordered || cli.sequential,
            timeout: cli.timeout,
            connect_timeout: cli.connect_timeout.min(cli.timeout),
            cacert: cli.cacert,
            insecure: cli.insecure,
            tls_legacy: cli.tls_legacy,
            resolve: cli.resolve,
            dns_servers: cli.dns_servers,
            report,
            quiet: cli.quiet,
            summary_json: cli.summary_json,
            shard,
            method,
            user_agent: cli.user_agent.unwrap_or_else(user_agent),
            headers: cli.headers,
            location_trusted: cli.location_trusted,
            follow,
            family,
            per_host: cli.per_host as usize,
            rate: cli.rate,
            dedupe: cli.dedupe,
            retries: cli.retries,
            retry_after_max: cli.retry_after_max,
            resume: cli.resume,
            watch: cli.watch,
            proxies,
            deny_private: cli.deny_private,
        })))
    }
}

/// Whether this build has the cargo feature `tls-legacy` (OpenSSL). The
/// flag is in every build, so that `--help` is the same in all of them.
const TLS_LEGACY_BUILT: bool = cfg!(feature = "tls-legacy");

const NO_TLS_LEGACY: &str = "--tls-legacy: this build of statuscheck lacks the cargo feature `tls-legacy`; \
build one that has it with `cargo install --path . --features tls-legacy` (or `cargo build --release \
--features tls-legacy`), which needs OpenSSL's headers (libssl-dev and pkg-config on Debian and Ubuntu)";

/// The redirect limit, or `None` without `-L`. `--follow 2` reads `2` as a
/// FILE (the limit needs `--follow=2`): when no such file exists, say what
/// was meant instead; when one does and no limit was given, it is read,
/// and a warning says how it was taken, how to get the limit, and how to
/// read the file without the warning (`./2`).
fn follow_limit(
    follow: Option<Option<usize>>,
    max_redirs: Option<usize>,
    files: &[PathBuf],
) -> anyhow::Result<Option<usize>> {
    let Some(old_form) = follow else { return Ok(None) };
    let digits = |f: &&PathBuf| f.to_str().is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    let limit_given = old_form.is_some() || max_redirs.is_some();
    for file in files.iter().filter(digits) {
        let number = file.display();
        if !file.exists() {
            bail!(
                "there is no file '{number}': to follow at most {number} redirects, use --max-redirs {number} with -L"
            );
        }
        if !limit_given {
            report::message(&number_file_warning(&number.to_string()));
        }
    }
    match (old_form, max_redirs) {
        (Some(a), Some(b)) if a != b => bail!("--follow={a} and --max-redirs {b} disagree: use -L --max-redirs N"),
        (Some(limit), _) | (None, Some(limit)) => Ok(Some(limit)),
        (None, None) => Ok(Some(10)),
    }
}

/// What `-L 2` means when a file `2` exists: the file is read, as any FILE
/// is, but the user may have meant a redirect limit.
fn number_file_warning(number: &str) -> String {
    format!(
        "warning: reading the file '{number}' as a list of URLs; to follow at most {number} redirects instead, \
         use -L --max-redirs {number} (write ./{number} to read the file without this warning)"
    )
}

/// Completion scripts and the man page, from the same clap definitions.
/// Made whole first (clap_complete panics on a failed write), then written:
/// a reader that went away (`| head -1`) is a quiet success.
fn print_generated(command: Command) -> anyhow::Result<()> {
    let mut cli = Cli::command();
    let mut text = Vec::new();
    match command {
        Command::Completions { shell } => clap_complete::generate(shell, &mut cli, "statuscheck", &mut text),
        Command::Man => clap_mangen::Man::new(cli).render(&mut text)?,
    }
    let mut out = std::io::stdout().lock();
    match out.write_all(&text).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => Ok(written?),
    }
}

/// Colour only for text. With `auto`: never if `NO_COLOR` is set, always if
/// `CLICOLOR_FORCE` is set (and not `0`), else only on a terminal.
fn use_color(choice: ColorChoice, format: Format, env: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    format == Format::Text
        && match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto if set("NO_COLOR") => false,
            ColorChoice::Auto if set("CLICOLOR_FORCE") && env("CLICOLOR_FORCE").is_some_and(|v| v != "0") => true,
            ColorChoice::Auto => std::io::stdout().is_terminal(),
        }
}

/// Slowest `--rate`: one start every 10,000 s (2.8 hours).
const MIN_RATE: f64 = 0.0001;
const MAX_RATE: f64 = 1e6;

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (MIN_RATE..=MAX_RATE).contains(&rate) => Ok(rate),
        _ => Err("use checks per second from 0.0001 (one every 2.8 hours) to 1000000, e.g. 50 or 0.5".into()),
    }
}

fn parse_user_agent(text: &str) -> Result<String, String> {
    parse_header(&format!("User-Agent: {text}")).map(|(_, value)| value).map_err(|e| e.to_string())
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
    use std::ffi::OsString;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("statuscheck").chain(args.iter().copied()))
    }

    fn config(args: &[&str]) -> Config {
        match Config::from_cli(parse(args).unwrap()).unwrap() {
            Action::Check(config) => *config,
            Action::Printed => panic!("not a check"),
        }
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
            (&["--dns-servers", "dns.example"], "ADDR or ADDR:PORT"),
            (&["--only-failed", "--summary-only"], "cannot be used with"),
        ] {
            let err = parse(args).unwrap_err().to_string();
            assert!(err.contains(allowed), "{args:?}: {err}");
        }
    }

    #[test]
    fn rates_outside_the_range_are_refused_with_the_range() {
        for bad in ["1e-300", "1e-18", "0.00009", "0", "-1", "1000001", "inf", "NaN", "x"] {
            let err = parse(&["--rate", bad, "-u", "x"]).unwrap_err().to_string();
            assert!(err.contains("from 0.0001") && err.contains("to 1000000"), "{bad}: {err}");
        }
        for good in ["0.0001", "0.5", "50", "1000000"] {
            assert!(parse(&["--rate", good, "-u", "x"]).is_ok(), "{good}");
        }
    }

    #[test]
    fn sequential_means_one_at_a_time_in_order() {
        let config = config(&["--sequential", "-c", "50", "-u", "x.test"]);
        assert_eq!((config.concurrency, config.ordered), (1, true));
    }

    #[test]
    fn output_filters() {
        assert_eq!(config(&["--only-failed", "-u", "x"]).report.show, Show::Failed);
        assert_eq!(config(&["--summary-only", "-u", "x"]).report.show, Show::Nothing);
        assert_eq!(config(&["-u", "x"]).report.show, Show::All);
        assert!(!config(&["-q", "-u", "x"]).report.progress);
    }

    #[test]
    fn follow_takes_an_optional_max_without_eating_a_file() {
        assert_eq!(config(&["-L", "list.txt"]).follow, Some(10));
        assert_eq!(config(&["--follow=3", "list.txt"]).follow, Some(3));
        assert_eq!(config(&["list.txt"]).follow, None);
        assert_eq!(config(&["-L", "list.txt"]).files, [PathBuf::from("list.txt")]);
    }

    #[test]
    fn max_redirs_sets_the_limit_and_a_number_for_a_file_names_it() {
        assert_eq!(config(&["-L", "--max-redirs", "2", "list.txt"]).follow, Some(2));
        assert_eq!(config(&["--max-redirs", "2", "list.txt"]).follow, None, "as in curl: no -L, no following");
        assert_eq!(config(&["--follow=2", "--max-redirs", "2", "list.txt"]).follow, Some(2));
        let conflict = Config::from_cli(parse(&["--follow=2", "--max-redirs", "3", "x"]).unwrap()).err().unwrap();
        assert!(conflict.to_string().contains("disagree"), "{conflict}");
        let error = Config::from_cli(parse(&["--follow", "2", "-u", "x"]).unwrap()).err().unwrap().to_string();
        assert!(error.contains("there is no file '2'") && error.contains("use --max-redirs 2 with -L"), "{error}");
        assert_eq!(config(&["2"]).files, [PathBuf::from("2")], "without -L a number is a file like any other");
    }

    #[test]
    fn a_number_that_is_a_file_is_read_with_a_warning() {
        let warning = number_file_warning("2");
        assert!(warning.contains("reading the file '2'") && warning.contains("-L --max-redirs 2"), "{warning}");
        assert!(warning.contains("./2"), "{warning}");
        let dir = std::env::temp_dir().join(format!("statuscheck-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("7");
        std::fs::write(&file, "").unwrap();
        // Only a bare number is taken for a limit; a path with a directory is a file.
        let limit = follow_limit(Some(None), None, std::slice::from_ref(&file)).unwrap();
        assert_eq!(limit, Some(10));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn method_in_any_case() {
        use statuscheck::Method::{Get, Head};
        for (given, sent) in [("HEAD", Head), ("Head", Head), ("get", Get), ("GET", Get)] {
            assert_eq!(config(&["--method", given, "-u", "x"]).method, sent);
        }
        assert!(parse(&["--method", "POST", "-u", "x"]).is_err());
    }

    #[test]
    fn request_options_build_the_spec() {
        let c = config(&["--method", "head", "-A", "probe/2", "-H", "X-A: 1", "-u", "x"]);
        assert_eq!(c.method, statuscheck::Method::Head);
        assert_eq!((c.user_agent.as_str(), c.headers.as_slice()), ("probe/2", &[("X-A".into(), "1".into())][..]));
        assert!(!c.location_trusted);
        assert!(config(&["--location-trusted", "-u", "x"]).location_trusted);
        assert!(parse(&["-H", "Bad Name: x", "-u", "x"]).is_err());
        assert!(parse(&["-A", "a\rb", "-u", "x"]).is_err());
        assert_eq!(config(&["-6", "-u", "x"]).family, Some(Family::V6));
        assert!(parse(&["-4", "-6", "-u", "x"]).is_err());
    }

    #[test]
    fn tls_legacy_needs_the_feature() {
        let asked = Config::from_cli(parse(&["--tls-legacy", "-u", "x"]).unwrap());
        match asked {
            Ok(Action::Check(config)) => assert!(TLS_LEGACY_BUILT && config.tls_legacy),
            Ok(Action::Printed) => panic!("not a check"),
            Err(error) => {
                assert!(!TLS_LEGACY_BUILT && error.to_string().contains("lacks the cargo feature"), "{error}")
            }
        }
        assert!(!config(&["-u", "x"]).tls_legacy);
    }

    #[test]
    fn subcommands_parse() {
        assert!(matches!(parse(&["completions", "bash"]).unwrap().command, Some(Command::Completions { .. })));
        assert!(matches!(parse(&["man"]).unwrap().command, Some(Command::Man)));
        assert!(parse(&["completions", "tcsh"]).is_err());
    }

    #[test]
    fn color_rules() {
        let none = |_: &str| None;
        assert!(use_color(ColorChoice::Always, Format::Text, none));
        assert!(!use_color(ColorChoice::Always, Format::Json, none));
        assert!(!use_color(ColorChoice::Never, Format::Text, none));
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
        };
        assert!(use_color(ColorChoice::Auto, Format::Text, env(&[("CLICOLOR_FORCE", "1")])));
        assert!(!use_color(ColorChoice::Auto, Format::Text, env(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")])));
        assert!(use_color(ColorChoice::Always, Format::Text, env(&[("NO_COLOR", "1")])));
    }
}
