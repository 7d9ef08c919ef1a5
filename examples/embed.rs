//! An embedder's program against the library's public API only, so CI
//! (`cargo build --examples`) proves it compiles: the typed setup error
//! matched on, a check's error carried by `?` into `Box<dyn Error>`, the
//! re-exported `url`, `{:?}` of the engine and the runner, the scheme rule,
//! and wildcard arms for the `#[non_exhaustive]` enums.
//!
//! ```sh
//! cargo run --example embed -- https://example.com/ [CA_FILE]
//! ```

use std::error::Error;
use std::process::ExitCode;

use statuscheck::url::Url;
use statuscheck::{Checker, ErrorKind, Limits, Options, Runner, SetupError, Verdict};

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

    let runner = Runner::new(checker, Limits::default().concurrency(4));
    println!("{runner:?}");
    let policy = statuscheck::Policy::default();
    let mut results = runner.check_all([url]);
    let mut all_ok = true;
    while let Some(checked) = results.next().await {
        all_ok &= match policy.verdict(&checked) {
            Verdict::Ok => true,
            // Verdict is non-exhaustive: anything else is not ok.
            _ => false,
        };
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
