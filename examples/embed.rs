//! An embedder's program against the library's public API only, so CI
//! (`cargo build --examples`) proves it compiles: the typed setup error
//! matched on, a check's error carried by `?` into `Box<dyn Error>`, the
//! re-exported `url`, `{:?}` of the engine and the runner, the scheme rule,
//! wildcard arms for the `#[non_exhaustive]` enums, and health: a target of
//! its own with its own profile (expectations), judged into a `State`.
//!
//! ```sh
//! cargo run --example embed -- https://example.com/ [CA_FILE]
//! ```

use std::error::Error;
use std::process::ExitCode;

use std::time::Duration;

use statuscheck::url::Url;
use statuscheck::{
    BodyRule, Checker, ErrorKind, HeaderRule, Limits, Options, Policy, Profile, Runner, SetupError, State, Target,
    Verdict,
};

/// A row of the embedder's own: a URL and, for some, stricter expectations.
struct Endpoint {
    url: Url,
    profile: Option<Profile>,
}

impl Target for Endpoint {
    type Parked = Endpoint;

    fn url(&self) -> Result<&Url, &str> {
        Ok(&self.url)
    }

    fn park(self) -> Endpoint {
        self
    }

    fn unpark(parked: Endpoint) -> Endpoint {
        parked
    }

    fn profile(&self) -> Option<&Profile> {
        self.profile.as_ref()
    }
}

/// A health endpoint's expectations, on top of the engine's own settings.
fn health(base: &Profile) -> Result<Profile, SetupError> {
    let policy = Policy::new("200".parse()?)
        .degraded_after(Some(Duration::from_millis(500)))
        .down_after(Some(Duration::from_secs(3)))
        .header("Content-Type", HeaderRule::Matches(statuscheck::Pattern::new("json")?))
        .body(BodyRule::Contains(r#""status":"UP""#.into()));
    Ok(base.clone().timeout(Duration::from_secs(5)).policy(policy))
}

/// The engine, or a message that says what to fix.
fn engine(cacert: Option<String>) -> Result<Checker, String> {
    match Checker::new(Options::default().follow(Some(5)).cacert(cacert.map(Into::into))) {
        Ok(checker) => Ok(checker),
        Err(SetupError::CaFileUnreadable { path, source }) => Err(format!("{}: {source}", path.display())),
        Err(SetupError::CaFileEmpty { path }) => Err(format!("{}: no certificate in it", path.display())),
        Err(SetupError::TlsLegacyUnavailable) => Err("rebuild with the feature tls-legacy".into()),
        // SetupError is non-exhaustive: causes added later land here.
        Err(other) => Err(other.to_string()),
    }
}

/// The status code, or the check's error through `?`.
async fn status(checker: &Checker, url: &Url) -> Result<u16, Box<dyn Error>> {
    Ok(checker.check(url).await.outcome?.code)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<ExitCode, Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let url = Url::parse(args.next().as_deref().unwrap_or("https://example.com/"))?;
    let checker = match engine(args.next()) {
        Ok(checker) => checker,
        Err(message) => {
            eprintln!("setup: {message}");
            return Ok(ExitCode::from(2));
        }
    };
    println!("{checker:?}");

    // The scheme rule: no traffic, an invalid-url error.
    let ftp = Url::parse("ftp://127.0.0.1/")?;
    let refused = checker.check(&ftp).await.outcome.err().map(|e| e.kind());
    assert_eq!(refused, Some(ErrorKind::InvalidUrl));

    match status(&checker, &url).await {
        Ok(code) => println!("{url}: {code}"),
        Err(error) => println!("{url}: {error}"),
    }

    let health = health(checker.profile())?;
    let runner = Runner::new(checker, Limits::default().concurrency(4));
    println!("{runner:?}");
    let endpoints =
        [Endpoint { url: url.clone(), profile: None }, Endpoint { url: url.join("/health")?, profile: Some(health) }];
    let mut results = runner.check_all(endpoints);
    let mut all_ok = true;
    while let Some(checked) = results.next().await {
        all_ok &= match checked.verdict() {
            Verdict::Ok => true,
            // Verdict is non-exhaustive: anything else is not ok.
            _ => false,
        };
        match checked.state {
            State::Up => println!("{}: up", checked.target.url),
            // State is non-exhaustive: degraded, down and any state to come.
            state => {
                let why: Vec<String> = checked.unmet.iter().map(|u| format!("{} (got {})", u.expect, u.got)).collect();
                println!("{}: {state} {}", checked.target.url, why.join("; "));
            }
        }
        if let Err(error) = &checked.outcome {
            match error.kind() {
                ErrorKind::Timeout => println!("slow: {error}"),
                ErrorKind::Tls => println!("TLS ({:?}): {error}", error.tls_cause()),
                _ => println!("{}: {error}", error.kind()),
            }
        }
    }
    Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
