//! A small exporter built on the statuscheck library: checks the URLs of a
//! list every INTERVAL seconds and serves the last round's results as a
//! Prometheus `/metrics` endpoint on 127.0.0.1.
//!
//! ```sh
//! cargo run --example metrics -- urls.txt 9115 30
//! curl -s http://127.0.0.1:9115/metrics
//! ```

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use statuscheck::{Checked, Checker, Limits, Options, Policy, Runner, Verdict};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let list = args.next().context("usage: metrics LIST [PORT] [INTERVAL_SECONDS]")?;
    let port: u16 = args.next().as_deref().unwrap_or("9115").parse().context("PORT")?;
    let every = Duration::from_secs(args.next().as_deref().unwrap_or("30").parse().context("INTERVAL_SECONDS")?);

    let checker = Checker::new(Options::default().timeout(Duration::from_secs(10)).follow(Some(5)))?;
    let runner = Runner::new(checker, Limits::default().concurrency(50));
    let exposition = Arc::new(Mutex::new(String::new()));

    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("serving http://{}/metrics", listener.local_addr()?);
    tokio::spawn(serve(listener, exposition.clone()));

    loop {
        let urls = read_list(&list)?;
        let mut results = runner.check_all(urls);
        let mut round = Vec::new();
        while let Some(checked) = results.next().await {
            round.push(checked);
        }
        let text = render(&round);
        *exposition.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = text;
        runner.checker().new_round();
        tokio::time::sleep(every).await;
    }
}

/// One URL a line; blank lines and `#` comments skipped, bad lines reported.
fn read_list(path: &str) -> anyhow::Result<Vec<Url>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let lines = text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#'));
    Ok(lines
        .filter_map(|line| match Url::parse(line) {
            Ok(url) => Some(url),
            Err(error) => {
                eprintln!("skipping {line:?}: {error}");
                None
            }
        })
        .collect())
}

/// How one metric's value comes from a result.
type Value = fn(&Checked<Url>, &Policy) -> f64;

/// The round as Prometheus text, with blackbox_exporter's metric names.
fn render(round: &[Checked<Url>]) -> String {
    let policy = Policy::default();
    let mut out = String::new();
    let metrics: [(&str, &str, Value); 3] = [
        ("probe_success", "Whether the URL answered with an accepted code", |c, policy| {
            f64::from(u8::from(policy.verdict(c) == Verdict::Ok))
        }),
        ("probe_http_status_code", "Status code of the final response, 0 if none", |c, _| {
            c.outcome.as_ref().map_or(0.0, |response| f64::from(response.code))
        }),
        ("probe_duration_seconds", "How long the whole check took", |c, _| c.elapsed.as_secs_f64()),
    ];
    for (name, help, value) in metrics {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for checked in round {
            let url = checked.target.as_str().replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(out, "{name}{{url=\"{url}\"}} {}", value(checked, &policy));
        }
    }
    out
}

/// Answers every request with the last exposition.
async fn serve(listener: TcpListener, exposition: Arc<Mutex<String>>) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let exposition = exposition.clone();
        tokio::spawn(async move {
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await;
            let body = exposition.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
        });
    }
}
