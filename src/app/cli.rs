//! The command line: clap definitions, turned once into a typed [`Config`]
//! that the rest of the program uses. Nothing past this module sees clap.
//!
//! Read top to bottom, a flag's road: its field in [`Cli`], then one line in
//! [`engine_options`] or [`limits`] that hands it to the library's builder;
//! [`Config`] carries the built [`Options`] and [`Limits`] to the run.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use statuscheck::{
    parse_header, user_agent, BodyRule, DnsServers, Family, HeaderRule, Limits, OkCodes, Options, Pattern, Pin, Policy,
    Proxies,
};

use super::alert;
use super::input::check_budgets;
use super::report::{self, Format, Show};
use super::shard::Shard;

const EXAMPLES: &str = "\
Examples:
  statuscheck sites.txt                      check every URL in the file, concurrently
  statuscheck --sequential sites.txt         the same, one at a time
  cat urls.txt | statuscheck --format tsv -  from stdin, tab-separated for scripts
  statuscheck -u https://example.com/ -u http://localhost:8080/health
  statuscheck --checks deploy.toml           a deploy gate: names, groups, expectations per URL
  statuscheck --watch 30s --on-change ./notify --fail-after 3 --state st.json \\
      --canary https://example.com/ sites.txt  run ./notify on changes that hold 3 rounds

Exit status: 0 nothing is down (every URL up, or degraded), 1 at least one URL is
down (an error, a code not accepted, an expectation not met, slower than
--down-after) or, with --fail-on degraded, degraded; 2 usage or input error
(a bad checks file included); 3 inconclusive (every --canary failed with a
network error: down reads unknown); 130/143 interrupted by SIGINT/SIGTERM.";

const INPUT: &str = "Input";
const CHECKING: &str = "Checking";
const NETWORK: &str = "TLS and network";
const OUTPUT: &str = "Output";
const SCALE: &str = "Scale";
const ALERTS: &str = "Watch and alerts";

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

    /// A checks file (TOML): URLs with a name, a group and their own request,
    /// timeout and expectations, on top of the command line's (repeatable;
    /// checked after -u, before the FILEs)
    #[arg(long = "checks", value_name = "FILE", help_heading = INPUT)]
    pub checks: Vec<PathBuf>,

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

    /// A check slower than this is degraded: up, but slow (exit 0 unless --fail-on degraded)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = CHECKING)]
    pub degraded_after: Option<Duration>,

    /// A check slower than this is down, whatever it answered
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = CHECKING)]
    pub down_after: Option<Duration>,

    /// Expect a response header: 'Name' (present) or 'Name: value' (equal);
    /// repeatable; the whole head is then read, whatever the code
    #[arg(long, value_name = "NAME[: VALUE]", value_parser = parse_expect_header, help_heading = CHECKING)]
    pub expect_header: Vec<(String, HeaderRule)>,

    /// Expect a response header whose value matches a regular expression,
    /// 'Name: REGEX' (repeatable)
    #[arg(long, value_name = "RULE", value_parser = parse_expect_header_matches, help_heading = CHECKING)]
    pub expect_header_matches: Vec<(String, HeaderRule)>,

    /// Expect the body to contain TEXT within its first 64 KiB (repeatable);
    /// only then is the body read
    #[arg(long, value_name = "TEXT", help_heading = CHECKING)]
    pub expect_body: Vec<String>,

    /// Expect the body's first 64 KiB to match a regular expression (repeatable)
    #[arg(long, value_name = "REGEX", value_parser = parse_pattern, help_heading = CHECKING)]
    pub expect_body_matches: Vec<Pattern>,

    /// The state from which the exit status is 1: down (the default), or
    /// degraded (down or degraded)
    #[arg(long, value_enum, value_name = "STATE", default_value_t = FailOn::Down, help_heading = CHECKING)]
    pub fail_on: FailOn,

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

    /// GitHub Actions: an error annotation (on stderr) on the list's line of
    /// each URL that is down, and a job summary appended to
    /// $GITHUB_STEP_SUMMARY; auto: when GITHUB_ACTIONS=true
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = Github::Auto, help_heading = OUTPUT)]
    pub github: Github,

    /// Check URL first, before the list (each --watch round): when every canary
    /// fails with a network error (dns, connect, timeout, io), the round is
    /// inconclusive: down reads unknown, nothing alerts, exit status 3 (repeatable)
    #[arg(long = "canary", value_name = "URL", help_heading = ALERTS)]
    pub canaries: Vec<String>,

    /// Run `sh -c CMD` when a URL's state changes (needs --watch or --state): the
    /// change is JSON on its stdin and in STATUSCHECK_* variables, never in CMD
    #[arg(long, value_name = "CMD", help_heading = ALERTS)]
    pub on_change: Option<String>,

    /// Kill an --on-change hook, with its process group, after DURATION
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration,
          help_heading = ALERTS)]
    pub on_change_timeout: Duration,

    /// Rounds in a row worse than a URL's state before the change counts
    #[arg(long, value_name = "N", default_value = "1", value_parser = clap::value_parser!(u32).range(1..=1000),
          help_heading = ALERTS)]
    pub fail_after: u32,

    /// Rounds in a row better than a URL's state before the change counts
    #[arg(long, value_name = "N", default_value = "1", value_parser = clap::value_parser!(u32).range(1..=1000),
          help_heading = ALERTS)]
    pub recover_after: u32,

    /// Keep each URL's state in FILE across restarts (read at start, written
    /// after each round), so a restart alerts on nothing that did not change
    #[arg(long, value_name = "FILE", help_heading = ALERTS)]
    pub state: Option<PathBuf>,

    /// Text output adds a line per URL: address, phase timings, TLS and certificate
    #[arg(short, long, help_heading = OUTPUT)]
    pub verbose: bool,

    /// Also write the HTML report to FILE, beside --format's output: at the
    /// end, and with --watch after every round (replaced whole, never half-written)
    #[arg(long, value_name = "FILE", help_heading = OUTPUT)]
    pub html: Option<PathBuf>,

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

impl From<Method> for statuscheck::Method {
    fn from(method: Method) -> Self {
        match method {
            Method::Get => statuscheck::Method::Get,
            Method::Head => statuscheck::Method::Head,
        }
    }
}

/// `--fail-on`: the least healthy state that still exits 0 is the one before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Down,
    Degraded,
}

/// When to write for GitHub Actions (`--github`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Github {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The run, as the rest of the program sees it: the engine's settings, built
/// from the flags in one step ([`engine_options`], [`limits`]), and what only
/// the binary uses.
#[derive(Debug)]
pub struct Config {
    /// How each check is made.
    pub options: Options,
    /// How many checks run and how targets are admitted.
    pub limits: Limits,
    pub urls: Vec<String>,
    pub files: Vec<PathBuf>,
    /// `--checks`: read before the FILEs, each entry's profile built on
    /// `options`' own.
    pub checks: Vec<PathBuf>,
    /// `--fail-on degraded`: a degraded URL makes the exit status 1.
    pub fail_on_degraded: bool,
    pub report: report::Options,
    pub quiet: bool,
    pub summary_json: bool,
    pub shard: Option<Shard>,
    pub resume: Option<PathBuf>,
    pub watch: Option<Duration>,
    /// `--canary`: checked before each round.
    pub canaries: Vec<statuscheck::url::Url>,
    /// `--on-change`, `--fail-after`, `--recover-after`, `--state`.
    pub alerts: alert::Settings,
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
        let files = files(&cli)?;
        check_html_file(cli.html.as_deref())?;
        let options = engine_options(&cli)?;
        let shard = shard(&cli)?;
        let report = report_options(&cli);
        let alerts = alert_settings(&cli)?;
        let canaries = canaries(&cli)?;
        Ok(Action::Check(Box::new(Config {
            // Certificates are parsed only when the output shows them.
            options: options.certificates(report.wants_certificates()),
            limits: limits(&cli),
            urls: cli.urls,
            files,
            checks: cli.checks,
            fail_on_degraded: cli.fail_on == FailOn::Degraded,
            report,
            quiet: cli.quiet,
            summary_json: cli.summary_json,
            shard,
            resume: cli.resume,
            watch: cli.watch,
            canaries,
            alerts,
        })))
    }
}

/// The FILEs to read: standard input when none and no --url are given. The
/// checks of what --watch can read and write come first.
fn files(cli: &Cli) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = cli.files.clone();
    if files.is_empty() && cli.urls.is_empty() && cli.checks.is_empty() {
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
    if cli.watch.is_some() && cli.github == Github::Always {
        bail!(
            "--watch cannot write for GitHub Actions: annotations and the job summary are written once, \
             at the end of a run; leave out --github always (auto is off with --watch)"
        );
    }
    if cli.watch.is_some() && cli.format == Format::Junit {
        bail!(
            "--watch cannot write JUnit XML: a report needs every result of a run before its first line. \
             Run statuscheck once per CI job instead: statuscheck --format junit urls.txt > report.xml"
        );
    }
    if cli.watch.is_some() && cli.format == Format::Html {
        bail!(
            "--watch cannot write the HTML report to standard output, which takes one page, not one per round: \
             use --html FILE, which is replaced after every round (a live status page), with --format for stdout"
        );
    }
    Ok(files)
}

/// `--html FILE` must be a file in a directory that exists and takes new
/// files (the page is written beside FILE and renamed over it): said now,
/// not after the whole run.
fn check_html_file(file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let Some(file) = file else { return Ok(()) };
    if file.as_os_str() == "-" {
        bail!("--html writes a file; for the HTML report on standard output use --format html");
    }
    if file.is_dir() {
        bail!("--html '{}' is a directory: give the path of the page to write", file.display());
    }
    let dir = match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    if let Err(error) = tempfile::Builder::new().prefix(".statuscheck-").tempfile_in(dir) {
        bail!("--html '{}': cannot write in '{}': {error}", file.display(), dir.display());
    }
    Ok(())
}

/// How each check is made: every engine flag passed to its builder method,
/// the one place a flag meets [`Options`]. The ranges were checked by clap;
/// the engine keeps `--connect-timeout` within `--timeout` itself.
pub fn engine_options(cli: &Cli) -> anyhow::Result<Options> {
    if cli.tls_legacy && !TLS_LEGACY_BUILT {
        bail!("{NO_TLS_LEGACY}");
    }
    // -L's FILE is read the same with or without the standard input added.
    let follow = follow_limit(cli.follow, cli.max_redirs, &cli.files)?;
    let family = match (cli.ipv4, cli.ipv6) {
        (true, _) => Some(Family::V4),
        (_, true) => Some(Family::V6),
        _ => None,
    };
    let options = Options::default()
        .timeout(cli.timeout)
        .connect_timeout(cli.connect_timeout)
        .method(cli.method.into())
        .user_agent(cli.user_agent.clone().unwrap_or_else(user_agent))
        .follow(follow)
        .location_trusted(cli.location_trusted)
        .cacert(cli.cacert.clone())
        .insecure(cli.insecure)
        .tls_legacy(cli.tls_legacy)
        .resolve(cli.resolve.clone())
        .dns_servers(cli.dns_servers.clone())
        .family(family)
        .deny_private(cli.deny_private)
        .policy(policy(cli)?)
        .proxies(proxies(cli)?);
    Ok(cli.headers.iter().fold(options, |options, (name, value)| options.header(name, value)))
}

/// What counts as healthy: every expectation flag into the one [`Policy`].
/// Budgets that could never be told apart are refused (see `check_budgets`).
fn policy(cli: &Cli) -> anyhow::Result<Policy> {
    if let Err(why) = check_budgets(cli.degraded_after, cli.down_after, cli.timeout) {
        bail!("--degraded-after, --down-after and --timeout disagree: {why}");
    }
    let mut policy = Policy::new(cli.ok_codes.clone())
        .cert_expiry_days(cli.cert_expiry)
        .degraded_after(cli.degraded_after)
        .down_after(cli.down_after);
    for (name, rule) in cli.expect_header.iter().chain(&cli.expect_header_matches) {
        policy = policy.header(name, rule.clone());
    }
    for text in &cli.expect_body {
        policy = policy.body(BodyRule::Contains(text.clone()));
    }
    for pattern in &cli.expect_body_matches {
        policy = policy.body(BodyRule::Matches(pattern.clone()));
    }
    Ok(policy)
}

/// How many checks run and how targets are admitted: every scale flag passed
/// to its builder method. `--sequential` is concurrency 1, in input order.
pub fn limits(cli: &Cli) -> Limits {
    Limits::default()
        .concurrency(if cli.sequential { 1 } else { cli.concurrency })
        .ordered(cli.ordered || cli.sequential)
        .per_host(cli.per_host as usize)
        .dedupe(cli.dedupe)
        .retries(cli.retries)
        .retry_after_max(cli.retry_after_max)
        .rate(cli.rate)
}

/// `--proxy`, or the proxy variables of the environment; those that cannot
/// be used are named on stderr.
fn proxies(cli: &Cli) -> anyhow::Result<Proxies> {
    let proxies =
        Proxies::new(cli.proxy.as_deref(), |name| std::env::var(name).ok()).map_err(super::flags::setup_error)?;
    if !cli.quiet {
        for warning in proxies.warnings() {
            report::message(&format!("{warning}; the URLs it applies to get a connect error"));
        }
    }
    Ok(proxies)
}

/// `--shard`/`--shards`, or the job array's; where it came from is said on
/// stderr when that was the environment.
fn shard(cli: &Cli) -> anyhow::Result<Option<Shard>> {
    let shard = Shard::choose(cli.shard, cli.shards, |name| std::env::var(name).ok())?;
    if let (Some((shard, origin)), false) = (&shard, cli.quiet) {
        if let Some(origin) = origin.environment() {
            report::message(&format!("checking shard {} of {} (from {origin})", shard.index, shard.count));
        }
    }
    Ok(shard.map(|(shard, _)| shard))
}

/// `--on-change`, `--fail-after`, `--recover-after` and `--state`. Alerts
/// compare with an earlier state: a later round (`--watch`) or a saved one.
fn alert_settings(cli: &Cli) -> anyhow::Result<alert::Settings> {
    let damping = alert::damping::Damping { fail_after: cli.fail_after, recover_after: cli.recover_after };
    let hook = cli.on_change.clone().map(|command| alert::hooks::Hook { command, timeout: cli.on_change_timeout });
    let asked = hook.is_some() || damping != alert::damping::Damping::default();
    if asked && cli.watch.is_none() && cli.state.is_none() {
        bail!("--on-change, --fail-after and --recover-after compare rounds: use them with --watch or --state FILE");
    }
    Ok(alert::Settings { hook, damping, state: cli.state.clone() })
}

/// `--canary` URLs, parsed as list lines are: a bad one is a usage error.
fn canaries(cli: &Cli) -> anyhow::Result<Vec<statuscheck::url::Url>> {
    let parse =
        |text: &String| super::input::parse_url(text).map_err(|why| anyhow::anyhow!("--canary '{text}': {why}"));
    cli.canaries.iter().map(parse).collect()
}

/// How results are shown.
fn report_options(cli: &Cli) -> report::Options {
    let show = match (cli.only_failed, cli.summary_only) {
        (_, true) => Show::Nothing,
        (true, false) => Show::Failed,
        (false, false) => Show::All,
    };
    let page = report::PageOptions {
        stdout: cli.format == Format::Html && show != Show::Nothing,
        file: cli.html.clone(),
        refresh: cli.watch,
        up_rows: if cli.only_failed { 0 } else { report::UP_ROWS },
    };
    report::Options {
        html: (page.stdout || page.file.is_some()).then_some(page),
        format: cli.format,
        color: use_color(cli.color, cli.format, |name| std::env::var_os(name)),
        show,
        progress: !cli.quiet && cli.watch.is_none(),
        watch: cli.watch.is_some(),
        verbose: cli.verbose,
        github: github(cli.github, cli.watch.is_some(), |name| std::env::var_os(name)),
    }
}

/// `--github`: whether to annotate and summarise for GitHub Actions (auto:
/// when `GITHUB_ACTIONS=true`, and never with `--watch`, which has no end
/// of run), and the job summary's file, `$GITHUB_STEP_SUMMARY`, if set.
fn github(choice: Github, watch: bool, env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<Option<PathBuf>> {
    let on = match choice {
        Github::Always => true,
        Github::Never => false,
        Github::Auto => !watch && env("GITHUB_ACTIONS").is_some_and(|v| v == "true"),
    };
    on.then(|| env("GITHUB_STEP_SUMMARY").filter(|path| !path.is_empty()).map(PathBuf::from))
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

/// `Name` (present) or `Name: value` (equal), a name and value as `-H` takes them.
fn parse_expect_header(text: &str) -> Result<(String, HeaderRule), String> {
    match text.split_once(':') {
        Some(_) => parse_header(text).map(|(name, value)| (name, HeaderRule::Equals(value))),
        None => parse_header(&format!("{text}:")).map(|(name, _)| (name, HeaderRule::Present)),
    }
    .map_err(|e| e.to_string())
}

/// `Name: REGEX`.
fn parse_expect_header_matches(text: &str) -> Result<(String, HeaderRule), String> {
    let Some((name, pattern)) = text.split_once(':') else {
        return Err(format!("'{text}' is not 'Name: REGEX'"));
    };
    let (name, _) = parse_header(&format!("{name}:")).map_err(|e| e.to_string())?;
    Ok((name, HeaderRule::Matches(parse_pattern(pattern.trim())?)))
}

fn parse_pattern(text: &str) -> Result<Pattern, String> {
    Pattern::new(text).map_err(|e| e.to_string())
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

    /// The engine's settings the flags build, as text: `Options` shows its
    /// settings only through `Debug`.
    fn built(args: &[&str]) -> String {
        format!("{:?}", config(args).options)
    }

    /// The same from builder calls, with the environment's proxies as the
    /// command line takes them.
    fn expected(options: Options) -> String {
        format!("{:?}", options.proxies(env_proxies(None)))
    }

    fn env_proxies(explicit: Option<&str>) -> Proxies {
        Proxies::new(explicit, |name| std::env::var(name).ok()).unwrap()
    }

    #[test]
    fn every_engine_flag_reaches_its_builder() {
        #[rustfmt::skip]
        let args = [
            "--timeout", "3s", "--connect-timeout", "4s", "--method", "head", "-A", "probe/2",
            "-H", "X-A: 1", "-H", "X-B: 2", "-L", "--max-redirs", "3", "--location-trusted",
            "--cacert", "ca.pem", "-k", "--resolve", "a.test:443:127.0.0.1", "--dns-servers", "127.0.0.53",
            "--proxy", "http://proxy.test:3128", "--deny-private", "-4",
            "--ok-codes", "200-299", "--cert-expiry", "14", "--degraded-after", "500ms", "--down-after", "2s",
            "--expect-header", "X-Served-By", "--expect-header", "Content-Type: application/json",
            "--expect-header-matches", "Server: ^nginx/1[.]", "--expect-body", "\"status\":\"UP\"",
            "--expect-body-matches", "version.:.2[.]", "-u", "x",
        ];
        let policy = Policy::new("200-299".parse().unwrap())
            .cert_expiry_days(Some(14))
            .degraded_after(Some(Duration::from_millis(500)))
            .down_after(Some(Duration::from_secs(2)))
            .header("X-Served-By", HeaderRule::Present)
            .header("Content-Type", HeaderRule::Equals("application/json".into()))
            .header("Server", HeaderRule::Matches(Pattern::new("^nginx/1[.]").unwrap()))
            .body(BodyRule::Contains("\"status\":\"UP\"".into()))
            .body(BodyRule::Matches(Pattern::new("version.:.2[.]").unwrap()));
        let options = Options::default()
            .timeout(Duration::from_secs(3))
            .connect_timeout(Duration::from_secs(4))
            .method(statuscheck::Method::Head)
            .user_agent("probe/2")
            .follow(Some(3))
            .location_trusted(true)
            .cacert(Some(PathBuf::from("ca.pem")))
            .insecure(true)
            .resolve(vec!["a.test:443:127.0.0.1".parse().unwrap()])
            .dns_servers(Some("127.0.0.53".parse().unwrap()))
            .family(Some(Family::V4))
            .deny_private(true)
            .proxies(env_proxies(Some("http://proxy.test:3128")))
            .header("X-A", "1")
            .header("X-B", "2")
            .policy(policy);
        assert_eq!(built(&args), format!("{options:?}"));
        assert!(config(&args).options.is_insecure());
        assert_eq!(built(&["-u", "x"]), expected(Options::default()), "no flags, the library's defaults");
    }

    #[test]
    fn every_scale_flag_reaches_its_builder() {
        #[rustfmt::skip]
        let args = [
            "-c", "7", "--ordered", "--per-host", "2", "--dedupe", "--retries", "3",
            "--retry-after-max", "5s", "--rate", "10", "-u", "x",
        ];
        let limits = Limits::default()
            .concurrency(7)
            .ordered(true)
            .per_host(2)
            .dedupe(true)
            .retries(3)
            .retry_after_max(Duration::from_secs(5))
            .rate(Some(10.0));
        assert_eq!(format!("{:?}", config(&args).limits), format!("{limits:?}"));
        assert_eq!(format!("{:?}", config(&["-u", "x"]).limits), format!("{:?}", Limits::default()));
    }

    #[test]
    fn certificates_are_captured_only_when_shown() {
        assert_eq!(built(&["-v", "-u", "x"]), expected(Options::default().certificates(true)));
        // --cert-expiry is an expectation: the engine parses the certificates of its checks.
        let expiry = Policy::default().cert_expiry_days(Some(7));
        assert_eq!(built(&["--cert-expiry", "7", "-u", "x"]), expected(Options::default().policy(expiry)));
        assert_eq!(built(&["-u", "x"]), expected(Options::default().certificates(false)));
    }

    #[test]
    fn expectations_that_make_no_sense_are_refused() {
        let refused = |args: &[&str]| Config::from_cli(parse(args).unwrap()).err().unwrap().to_string();
        let why = refused(&["--degraded-after", "2s", "--down-after", "1s", "-u", "x"]);
        assert!(why.contains("the degraded budget (2s) is above the down budget (1s)"), "{why}");
        let why = refused(&["--timeout", "1s", "--down-after", "2s", "-u", "x"]);
        assert!(why.contains("the down budget (2s) is above the timeout (1s)"), "{why}");
        let why = refused(&["--degraded-after", "11s", "-u", "x"]);
        assert!(why.contains("above the timeout (10s)"), "the default timeout counts: {why}");
        for (args, wanted) in [
            (&["--expect-header", "Bad Name"][..], "not a header name"),
            (&["--expect-header", "X-A: a\u{1}b"], "control character"),
            (&["--expect-header-matches", "Server"], "not 'name: regex'"),
            (&["--expect-header-matches", "Server: (unclosed"], "regex"),
            (&["--expect-body-matches", "(a{1000}){1000}"], "regex"),
            (&["--fail-on", "up"], "possible values"),
        ] {
            let err = parse(&[args, &["-u", "x"]].concat()).unwrap_err().to_string();
            assert!(err.to_lowercase().contains(wanted), "{args:?}: {err}");
        }
        assert!(config(&["--fail-on", "degraded", "-u", "x"]).fail_on_degraded);
        assert!(!config(&["-u", "x"]).fail_on_degraded);
        assert_eq!(config(&["--checks", "deploy.toml"]).files, Vec::<PathBuf>::new(), "no stdin with --checks");
    }

    #[test]
    fn alert_flags_build_the_settings_and_need_rounds_to_compare() {
        let settings = config(&[
            "--watch",
            "1s",
            "--on-change",
            "./notify --to ops",
            "--on-change-timeout",
            "3s",
            "--fail-after",
            "3",
            "--recover-after",
            "2",
            "--state",
            "st.json",
            "--canary",
            "http://canary.test/",
            "-u",
            "x",
        ]);
        let hook = alert::hooks::Hook { command: "./notify --to ops".into(), timeout: Duration::from_secs(3) };
        assert_eq!(settings.alerts.hook, Some(hook));
        assert_eq!(settings.alerts.damping, alert::damping::Damping { fail_after: 3, recover_after: 2 });
        assert_eq!(settings.alerts.state, Some(PathBuf::from("st.json")));
        assert_eq!(settings.canaries[0].as_str(), "http://canary.test/");
        assert_eq!(config(&["-u", "x"]).alerts, alert::Settings::default());
        assert_eq!(parse(&["-u", "x"]).unwrap().on_change_timeout, Duration::from_secs(10));
        for args in [&["--on-change", "true", "-u", "x"][..], &["--fail-after", "2", "-u", "x"]] {
            let error = Config::from_cli(parse(args).unwrap()).err().unwrap().to_string();
            assert!(error.contains("with --watch or --state"), "{args:?}: {error}");
        }
        assert!(Config::from_cli(parse(&["--on-change", "true", "--state", "s", "-u", "x"]).unwrap()).is_ok());
        let error = Config::from_cli(parse(&["--canary", "ftp://a.test/", "-u", "x"]).unwrap()).err().unwrap();
        assert!(error.to_string().starts_with("--canary 'ftp://a.test/'"), "{error}");
        assert!(parse(&["--fail-after", "0", "-u", "x"]).is_err());
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
        let limits = config(&["--sequential", "-c", "50", "-u", "x.test"]).limits;
        assert_eq!(format!("{limits:?}"), format!("{:?}", Limits::default().concurrency(1).ordered(true)));
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
        assert_eq!(built(&["-L", "list.txt"]), expected(Options::default().follow(Some(10))));
        assert_eq!(built(&["--follow=3", "list.txt"]), expected(Options::default().follow(Some(3))));
        assert_eq!(built(&["list.txt"]), expected(Options::default().follow(None)));
        assert_eq!(config(&["-L", "list.txt"]).files, [PathBuf::from("list.txt")]);
    }

    #[test]
    fn max_redirs_sets_the_limit_and_a_number_for_a_file_names_it() {
        let two = expected(Options::default().follow(Some(2)));
        assert_eq!(built(&["-L", "--max-redirs", "2", "list.txt"]), two);
        let none = expected(Options::default().follow(None));
        assert_eq!(built(&["--max-redirs", "2", "list.txt"]), none, "as in curl: no -L, no following");
        assert_eq!(built(&["--follow=2", "--max-redirs", "2", "list.txt"]), two);
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
            assert_eq!(built(&["--method", given, "-u", "x"]), expected(Options::default().method(sent)));
        }
        assert!(parse(&["--method", "POST", "-u", "x"]).is_err());
    }

    #[test]
    fn request_options_build_the_spec() {
        let options = Options::default().method(statuscheck::Method::Head).user_agent("probe/2").header("X-A", "1");
        assert_eq!(built(&["--method", "head", "-A", "probe/2", "-H", "X-A: 1", "-u", "x"]), expected(options));
        let trusted = expected(Options::default().location_trusted(true));
        assert_eq!(built(&["--location-trusted", "-u", "x"]), trusted);
        assert!(parse(&["-H", "Bad Name: x", "-u", "x"]).is_err());
        assert!(parse(&["-A", "a\rb", "-u", "x"]).is_err());
        assert_eq!(built(&["-6", "-u", "x"]), expected(Options::default().family(Some(Family::V6))));
        assert!(parse(&["-4", "-6", "-u", "x"]).is_err());
    }

    #[test]
    fn tls_legacy_needs_the_feature() {
        let asked = Config::from_cli(parse(&["--tls-legacy", "-u", "x"]).unwrap());
        match asked {
            Ok(Action::Check(config)) => {
                let asked = format!("{:?}", config.options);
                assert!(TLS_LEGACY_BUILT && asked == expected(Options::default().tls_legacy(true)), "{asked}");
            }
            Ok(Action::Printed) => panic!("not a check"),
            Err(error) => {
                assert!(!TLS_LEGACY_BUILT && error.to_string().contains("lacks the cargo feature"), "{error}")
            }
        }
        assert_eq!(built(&["-u", "x"]), expected(Options::default().tls_legacy(false)));
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

    #[test]
    fn github_output_is_on_in_github_actions_or_when_asked() {
        let env = |pairs: &'static [(&str, &str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| std::ffi::OsString::from(v))
        };
        let actions = env(&[("GITHUB_ACTIONS", "true"), ("GITHUB_STEP_SUMMARY", "/tmp/summary.md")]);
        assert_eq!(github(Github::Auto, false, actions), Some(Some(PathBuf::from("/tmp/summary.md"))));
        assert_eq!(github(Github::Auto, true, actions), None, "--watch has no end of run");
        assert_eq!(github(Github::Never, false, actions), None);
        assert_eq!(github(Github::Auto, false, env(&[("GITHUB_ACTIONS", "false")])), None);
        assert_eq!(github(Github::Always, false, env(&[])), Some(None));
        assert_eq!(github(Github::Always, false, env(&[("GITHUB_STEP_SUMMARY", "")])), Some(None));
    }
}
