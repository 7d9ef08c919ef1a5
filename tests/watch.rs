//! Watching with alerts, end to end: `--canary` and inconclusive runs (also
//! in a network namespace with no route), `--on-change` hooks that fail,
//! hang (killed with a child they forked) and flood, scripted flap
//! sequences with exact hook counts, and restarts with `--state`.
//!
//! Servers answer from a script per path, by the path's request count, so
//! what a round sees never depends on timing; tests wait (bounded) for a
//! server's count or a file, never for a time.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// A bound for anything that should take a few rounds.
const BOUND: Duration = Duration::from_secs(20);

/// A server whose answer on each path follows a script: the N-th request to
/// the path gets the script's N-th code (the last one once it runs out).
/// Paths without a script answer 200.
struct Scripted {
    server: Server,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

impl Scripted {
    fn new(scripts: &[(&str, &[u16])]) -> Scripted {
        let scripts: HashMap<String, Vec<u16>> = scripts.iter().map(|(p, s)| (p.to_string(), s.to_vec())).collect();
        let counts = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
        let seen = counts.clone();
        let server = serve(move |mut stream| {
            let head = read_head(&mut stream);
            let path = head.split(' ').nth(1).unwrap_or("/").to_string();
            let n = {
                let mut counts = seen.lock().unwrap();
                let n = counts.entry(path.clone()).or_default();
                *n += 1;
                *n
            };
            let code = scripts.get(&path).map_or(200, |s| s[(n - 1).min(s.len() - 1)]);
            let reply = format!("HTTP/1.1 {code} Scripted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = std::io::Write::write_all(&mut stream, reply.as_bytes());
        });
        Scripted { server, counts }
    }

    fn requests(&self, path: &str) -> usize {
        self.counts.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }
}

/// Polls `done` every 20 ms; fails the test after `limit`.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "not within {limit:?}: {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

/// A running `statuscheck --watch`, its output collected as it comes.
struct Watching {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Watching {
    fn start(args: &[&str]) -> Watching {
        let mut child = statuscheck().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let collect = |pipe: Box<dyn std::io::Read + Send>| {
            let text = Arc::new(Mutex::new(String::new()));
            let into = text.clone();
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut text = into.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                }
            });
            text
        };
        let stdout = collect(Box::new(child.stdout.take().unwrap()));
        let stderr = collect(Box::new(child.stderr.take().unwrap()));
        Watching { child, stdout, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn wait_for_stderr(&self, text: &str) {
        wait_until(BOUND, &format!("stderr saying {text:?}"), || self.stderr().contains(text));
    }

    fn signal(&self, signal: i32) {
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// SIGTERM, then the exit status (bounded), stdout and stderr.
    fn stop(mut self) -> (i32, String, String) {
        self.signal(libc::SIGTERM);
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > BOUND {
                let _ = self.child.kill();
                panic!("statuscheck did not end within {BOUND:?} of SIGTERM: {}", self.stderr());
            }
            thread::sleep(Duration::from_millis(20));
        };
        // The pipes close with the process: let the readers finish.
        wait_until(SLACK, "stderr closed", || Arc::strong_count(&self.stderr) == 1);
        wait_until(SLACK, "stdout closed", || Arc::strong_count(&self.stdout) == 1);
        let out = self.stdout.lock().unwrap().clone();
        (status.code().unwrap_or(-1), out, self.stderr())
    }
}

/// An executable hook script in a directory of its own; `{dir}` in `body`
/// is that directory.
fn hook(body: &str) -> (PathBuf, PathBuf) {
    let script = temp_path("notify");
    let dir = script.parent().unwrap().to_path_buf();
    let body = body.replace("{dir}", dir.to_str().unwrap());
    std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, dir)
}

/// A hook that logs `URL OLD NEW` (from its environment) and its stdin.
fn logging_hook() -> (PathBuf, PathBuf) {
    hook(
        r#"printf '%s %s %s\n' "$STATUSCHECK_URL" "$STATUSCHECK_OLD_STATE" "$STATUSCHECK_NEW_STATE" >> {dir}/log
cat >> {dir}/stdin"#,
    )
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).map(|t| t.lines().map(str::to_owned).collect()).unwrap_or_default()
}

/// Whether process `pid` is gone (or a zombie, dead and waiting to be reaped).
fn is_dead(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

#[test]
fn flapping_urls_alert_once_per_real_change() {
    let flap: &[u16] = &[200, 500, 200, 500, 500, 200, 500, 500, 200, 200];
    let real: &[u16] = &[200, 500, 500, 500, 500, 200, 500, 200, 200, 200];
    let server = Scripted::new(&[("/flap", flap), ("/real", real), ("/steady", &[200])]);
    let (notify, dir) = logging_hook();
    #[rustfmt::skip]
    let watch = Watching::start(&[
        "--watch", "50ms", "--fail-after", "3", "--recover-after", "2", "--on-change", notify.to_str().unwrap(),
        "-u", &server.url("/flap"), "-u", &server.url("/real"), "-u", &server.url("/steady"),
    ]);
    // The 11th request to each path: the 10 scripted rounds are done.
    wait_until(BOUND, "eleven rounds", || ["/flap", "/real", "/steady"].iter().all(|p| server.requests(p) >= 11));
    let (code, stdout, stderr) = watch.stop();
    assert_eq!(code, 143, "{stderr}");
    let mut alerts = lines(&dir.join("log"));
    alerts.sort();
    let real_url = server.url("/real");
    assert_eq!(alerts, [format!("{real_url} down up"), format!("{real_url} up down")], "{stderr}");
    // The same changes as JSON on the hooks' stdin.
    let changes: Vec<serde_json::Value> =
        lines(&dir.join("stdin")).iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(changes.len(), 2);
    for change in &changes {
        assert_eq!(change["url"], real_url.as_str());
        assert_eq!(change["source"], "arg:2");
        assert!(change["name"].is_null() && change["at"].as_str().unwrap().ends_with('Z'), "{change}");
    }
    let down = changes.iter().find(|c| c["new"] == "down").unwrap();
    assert_eq!(down["why"], "HTTP/1.1 500 Scripted; expected status 100-399, got 500");
    // Every change of status still prints its line (undamped): the first
    // round's and six changes.
    assert_eq!(stdout.lines().filter(|l| l.contains("/flap")).count(), 7, "{stdout}");
}

#[test]
fn a_failing_hook_is_reported_and_the_watch_goes_on() {
    let server = Scripted::new(&[("/a", &[200, 500])]);
    let (notify, _) = hook("echo 'hook says hi'; exit 3");
    let url = server.url("/a");
    let watch = Watching::start(&["--watch", "50ms", "--on-change", notify.to_str().unwrap(), "-u", &url]);
    watch.wait_for_stderr(&format!("--on-change for {url} (up → down): exited with status 3"));
    let rounds = server.requests("/a");
    wait_until(BOUND, "more rounds after the failed hook", || server.requests("/a") > rounds + 2);
    let (code, stdout, stderr) = watch.stop();
    assert_eq!(code, 143);
    assert!(stderr.contains("hook says hi"), "the hook's output goes to stderr: {stderr}");
    assert!(!stdout.contains("hook says hi"), "never into the results: {stdout}");
}

#[test]
fn a_hanging_hook_is_killed_with_the_child_it_forked() {
    let server = Scripted::new(&[("/a", &[200, 500])]);
    let (notify, dir) = hook("sleep 1000 &\necho $! > {dir}/child.pid\necho $$ > {dir}/hook.pid\nwait");
    let url = server.url("/a");
    #[rustfmt::skip]
    let watch = Watching::start(&[
        "--watch", "50ms", "--on-change", notify.to_str().unwrap(), "--on-change-timeout", "300ms", "-u", &url,
    ]);
    watch.wait_for_stderr(&format!("--on-change for {url} (up → down): still running after 300ms: killed"));
    let (child, hook_pid) = (lines(&dir.join("child.pid")), lines(&dir.join("hook.pid")));
    assert_eq!((child.len(), hook_pid.len()), (1, 1), "one hook, which forked one child");
    wait_until(SLACK, "the forked child dead", || is_dead(&child[0]));
    assert!(is_dead(&hook_pid[0]));
    let (code, _, stderr) = watch.stop();
    assert_eq!(code, 143, "{stderr}");
}

#[test]
fn a_signal_gives_a_running_hook_its_timeout_then_kills_its_group() {
    let server = Scripted::new(&[("/a", &[200, 500])]);
    let (notify, dir) = hook("sleep 1000 &\necho $! > {dir}/child.pid\necho $$ > {dir}/hook.pid\nwait");
    let url = server.url("/a");
    #[rustfmt::skip]
    let watch = Watching::start(&[
        "--watch", "50ms", "--on-change", notify.to_str().unwrap(), "--on-change-timeout", "5s", "-u", &url,
    ]);
    wait_until(BOUND, "the hook started", || lines(&dir.join("child.pid")).len() == 1);
    let (code, _, stderr) = watch.stop();
    assert_eq!(code, 143, "{stderr}");
    assert!(stderr.contains("waiting for 1 --on-change hook to end"), "{stderr}");
    assert!(stderr.contains("still running after 5s: killed with its process group"), "{stderr}");
    assert!(is_dead(&lines(&dir.join("child.pid"))[0]), "the hook's child outlived statuscheck");
    assert!(is_dead(&lines(&dir.join("hook.pid"))[0]));
}

#[test]
fn a_second_signal_kills_the_running_hooks_at_once() {
    let server = Scripted::new(&[("/a", &[200, 500])]);
    let (notify, dir) = hook("sleep 1000 &\necho $! > {dir}/child.pid\nwait");
    let url = server.url("/a");
    // A timeout longer than the test waits: only the second signal can end the hook.
    #[rustfmt::skip]
    let watch = Watching::start(&[
        "--watch", "50ms", "--on-change", notify.to_str().unwrap(), "--on-change-timeout", "60s", "-u", &url,
    ]);
    wait_until(BOUND, "the hook started", || lines(&dir.join("child.pid")).len() == 1);
    watch.signal(libc::SIGINT);
    watch.wait_for_stderr("waiting for 1 --on-change hook to end");
    let (code, _, stderr) = watch.stop();
    assert_eq!(code, 130, "the first signal's status: {stderr}");
    assert!(stderr.contains("killed with its process group at a second signal"), "{stderr}");
    assert!(is_dead(&lines(&dir.join("child.pid"))[0]));
}

#[test]
fn a_flood_of_changes_runs_at_most_four_hooks_and_counts_what_it_drops() {
    const URLS: usize = 100;
    let paths: Vec<String> = (0..URLS).map(|i| format!("/{i}")).collect();
    let scripts: Vec<(&str, &[u16])> = paths.iter().map(|p| (p.as_str(), &[200u16, 500][..])).collect();
    let server = Scripted::new(&scripts);
    // Each hook notes how many hooks run with it, then waits for the test
    // (at most 20 s) to release them all.
    let (notify, dir) = hook(
        r#"mkdir -p {dir}/running; : > {dir}/running/$$
ls {dir}/running | wc -l >> {dir}/counts
i=0; while [ ! -e {dir}/release ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
rm {dir}/running/$$; echo done >> {dir}/finished"#,
    );
    let list = write_file("flood.txt", paths.iter().map(|p| server.url(p) + "\n").collect::<String>());
    #[rustfmt::skip]
    let watch = Watching::start(&[
        "--watch", "50ms", "--per-host", "100", "--on-change", notify.to_str().unwrap(), "--on-change-timeout", "30s",
        list.to_str().unwrap(),
    ]);
    watch.wait_for_stderr("changes were not run");
    let stderr = watch.stderr();
    let dropped: usize = stderr
        .lines()
        .find_map(|l| l.strip_prefix("statuscheck: --on-change: ")?.split(' ').next()?.parse().ok())
        .unwrap();
    assert!((URLS - 64 - 4..=URLS - 64).contains(&dropped), "a queue of 64 and 4 running: {stderr}");
    std::fs::write(dir.join("release"), "").unwrap();
    wait_until(BOUND, "every hook not dropped has run", || lines(&dir.join("finished")).len() == URLS - dropped);
    let (code, _, stderr) = watch.stop();
    assert_eq!(code, 143, "{stderr}");
    let counts: Vec<usize> = lines(&dir.join("counts")).iter().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(counts.len(), URLS - dropped, "no hook ran twice, none was lost");
    assert!(counts.iter().all(|&n| (1..=4).contains(&n)), "at most 4 at once: {counts:?}");
}

#[test]
fn a_restart_with_state_alerts_on_nothing_that_did_not_change() {
    // /flip: up in the first two runs, down after.
    let server = Scripted::new(&[("/flip", &[200, 200, 500]), ("/down", &[503])]);
    let (notify, dir) = logging_hook();
    let state = dir.join("st.json");
    let (flip, down, steady) = (server.url("/flip"), server.url("/down"), server.url("/steady"));
    let run_list = |list: &str| {
        let file = write_file("list.txt", list);
        let args =
            ["--state", state.to_str().unwrap(), "--on-change", notify.to_str().unwrap(), file.to_str().unwrap()];
        run(&args)
    };
    let first = run_list(&format!("{flip}\n{down}\n"));
    assert_eq!(first.code, 1, "{}", first.stderr);
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!((saved["format"].as_str(), saved["version"].as_u64()), (Some("statuscheck-state"), Some(1)));
    assert_eq!(saved["states"].as_array().unwrap().len(), 2);
    // A line inserted above: keyed by URL, nothing moves.
    let second = run_list(&format!("{steady}\n{flip}\n{down}\n"));
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert_eq!(lines(&dir.join("log")), Vec::<String>::new(), "first sight and restarts alert on nothing");
    // /flip goes down: one alert, and the run waits for its hook.
    let third = run_list(&format!("{steady}\n{flip}\n{down}\n"));
    assert_eq!(third.code, 1, "{}", third.stderr);
    assert_eq!(lines(&dir.join("log")), [format!("{flip} up down")]);
    // A truncated state file: said, treated as empty (so nothing alerts), replaced whole.
    let text = std::fs::read_to_string(&state).unwrap();
    std::fs::write(&state, &text[..text.len() / 2]).unwrap();
    let fourth = run_list(&format!("{steady}\n{flip}\n{down}\n"));
    assert!(
        fourth.stderr.contains(&format!("--state '{}': it is not a state file statuscheck wrote", state.display()))
            && fourth.stderr.contains("starting with no saved states"),
        "{}",
        fourth.stderr
    );
    assert_eq!(lines(&dir.join("log")).len(), 1, "nothing new alerted");
    let whole: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(whole["states"].as_array().unwrap().len(), 3);
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!names.iter().any(|n| n.to_string_lossy().starts_with(".statuscheck-state")), "{names:?}");
}

#[test]
fn a_restarted_watch_alerts_on_nothing_that_did_not_change() {
    // /flip answers 503 from its 4th request on: in the second watch.
    let server = Scripted::new(&[("/down", &[503]), ("/flip", &[200, 200, 200, 503])]);
    let (notify, dir) = logging_hook();
    let state = dir.join("st.json");
    let (down, flip) = (server.url("/down"), server.url("/flip"));
    #[rustfmt::skip]
    let args = [
        "--watch", "50ms", "--state", state.to_str().unwrap(), "--on-change", notify.to_str().unwrap(),
        "-u", &down, "-u", &flip,
    ];
    let first = Watching::start(&args);
    wait_until(BOUND, "three rounds", || server.requests("/flip") >= 3);
    assert_eq!(first.stop().0, 143);
    let rounds = server.requests("/flip");
    let second = Watching::start(&args);
    wait_until(BOUND, "two more rounds", || server.requests("/flip") >= rounds + 2);
    let (code, _, stderr) = second.stop();
    assert_eq!(code, 143, "{stderr}");
    // /down was down before the restart: no alert; /flip changed once (in
    // the second watch, or in the first if its fourth round came before
    // SIGTERM): one alert, never a second one for the same change.
    assert_eq!(lines(&dir.join("log")), [format!("{flip} up down")], "{stderr}");
}

#[test]
fn a_state_file_in_a_missing_directory_is_a_usage_error() {
    let state = temp_path("nowhere").join("st.json");
    let out = run(&["--state", state.to_str().unwrap(), "-u", "http://127.0.0.1:1/"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("cannot write --state"), "{}", out.stderr);
}

#[test]
fn a_refused_canary_makes_the_run_inconclusive() {
    let server = Scripted::new(&[("/down", &[500])]);
    let canary = format!("http://127.0.0.1:{}/", refused_port());
    let (up, down) = (server.url("/up"), server.url("/down"));
    let refused = format!("http://127.0.0.1:{}/", refused_port());
    let args = ["--format", "json", "--summary-json", "--canary", &canary, "-u", &up, "-u", &down, "-u", &refused];
    let out = run(&args);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let states: Vec<(String, String)> = out
        .json()
        .iter()
        .map(|r| (r["url"].as_str().unwrap().to_owned(), r["state"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [(up.clone(), "up"), (down.clone(), "unknown"), (refused.clone(), "unknown")];
    for (url, state) in expected {
        assert!(states.contains(&(url.clone(), state.to_owned())), "{url} {state}: {states:?}");
    }
    assert!(!out.stdout.contains(&canary), "the canary is not a result: {}", out.stdout);
    assert!(out.stderr.contains(&format!("canary {canary}: error connect: ")), "{}", out.stderr);
    let summary: serde_json::Value = serde_json::from_str(out.stderr.lines().last().unwrap()).unwrap();
    assert_eq!((&summary["inconclusive"], &summary["interrupted"]), (&true.into(), &false.into()));
    // Text shows it; the summary says why.
    let text = run(&["--canary", &canary, "-u", &down]);
    assert_eq!(text.code, 3);
    assert!(text.stdout.contains("[unknown: every --canary failed]"), "{}", text.stdout);
    assert!(text.stderr.contains("inconclusive: every --canary failed with a network error"), "{}", text.stderr);
    assert!(text.stderr.contains("\n1 checked: 0 ok, 1 failed, 0 errors in "), "not interrupted: {}", text.stderr);
    // A canary that answers, whatever its code: conclusive.
    let answering = server.url("/down");
    let out = run(&["--format", "json", "--canary", &answering, "-u", &down]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.record()["state"], "down");
}

#[test]
fn an_inconclusive_run_alerts_nothing_and_keeps_the_saved_states() {
    let server = Scripted::new(&[("/flip", &[200, 500])]);
    let (notify, dir) = logging_hook();
    let state = dir.join("st.json");
    let flip = server.url("/flip");
    let refused = format!("http://127.0.0.1:{}/", refused_port());
    let good = server.url("/canary");
    let with_canary = |canary: &str| {
        run(&[
            "--state",
            state.to_str().unwrap(),
            "--on-change",
            notify.to_str().unwrap(),
            "--canary",
            canary,
            "-u",
            &flip,
        ])
    };
    assert_eq!(with_canary(&good).code, 0);
    let saved = std::fs::read_to_string(&state).unwrap();
    let inconclusive = with_canary(&refused);
    assert_eq!(inconclusive.code, 3, "{}", inconclusive.stderr);
    assert_eq!(lines(&dir.join("log")), Vec::<String>::new());
    assert_eq!(std::fs::read_to_string(&state).unwrap(), saved, "no streak advanced");
    let conclusive = with_canary(&good);
    assert_eq!(conclusive.code, 1);
    assert_eq!(lines(&dir.join("log")), [format!("{flip} up down")]);
}

/// `unshare -n` (as root) or `unshare -rn` (as a user, where user
/// namespaces are allowed): a network namespace with only a loopback that
/// is down, so no address is reachable and no name resolves.
fn dead_network() -> Option<&'static [&'static str]> {
    [&["unshare", "-n"][..], &["unshare", "-rn"]]
        .into_iter()
        .find(|w| have_command(w[0], &[&w[1..], &["true"]].concat()))
}

#[test]
fn a_dead_network_is_inconclusive_not_all_down() {
    let wrapper = dead_network();
    if !require("a network namespace (unshare -n)", wrapper.is_some(), "run as root, or allow user namespaces") {
        return;
    }
    let wrapper = wrapper.unwrap();
    #[rustfmt::skip]
    let args = [
        "--format", "json", "--summary-json", "--timeout", "3s", "--canary", "http://192.0.2.1/",
        "-u", "http://127.0.0.1:9/", "-u", "https://example.test/", "-u", "http://198.51.100.7:8080/health",
    ];
    let out = finish(statuscheck_under(wrapper).args(args).output().unwrap());
    assert_eq!(out.code, 3, "{}", out.stderr);
    let records = out.json();
    assert_eq!(records.len(), 3);
    for record in &records {
        assert_eq!(record["state"], "unknown", "{record}");
        assert!(["dns", "connect", "timeout", "io"].contains(&record["error"]["kind"].as_str().unwrap()), "{record}");
    }
    assert!(out.stderr.contains("canary http://192.0.2.1/: error"), "{}", out.stderr);
    // The same run without a canary reads all down.
    let args: Vec<&str> = args.iter().copied().filter(|a| *a != "--canary" && *a != "http://192.0.2.1/").collect();
    let out = finish(statuscheck_under(wrapper).args(&args).output().unwrap());
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.json().iter().all(|r| r["state"] == "down"), "{}", out.stdout);
}

/// The README's monitoring watch, with a checks file: a health endpoint
/// whose body turns `DOWN` alerts once, after `--fail-after 3` rounds, named
/// as the checks file names it; a restart with `--state` alerts on nothing.
#[test]
fn the_readmes_monitoring_watch_alerts_once_and_not_again_after_a_restart() {
    let requests = Arc::new(Mutex::new(0usize));
    let seen = requests.clone();
    // UP for the first two requests, DOWN after (always 200: only the body tells).
    let health = serve(move |mut stream| {
        let _ = read_head(&mut stream);
        let n = {
            let mut n = seen.lock().unwrap();
            *n += 1;
            *n
        };
        let body = if n <= 2 { r#"{"status":"UP"}"# } else { r#"{"status":"DOWN"}"# };
        let reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        let _ = std::io::Write::write_all(&mut stream, reply.as_bytes());
    });
    let canary = http_server();
    let (notify, dir) = logging_hook();
    let state = dir.join("st.json");
    let url = health.url("/health");
    let site = write_file(
        "site.toml",
        format!(
            "[[check]]\nurl = \"{url}\"\nname = \"API health\"\ngroup = \"api\"\nbody_contains = '\"status\":\"UP\"'\n"
        ),
    );
    #[rustfmt::skip]
    let args = [
        "--watch", "50ms", "--checks", site.to_str().unwrap(), "--on-change", notify.to_str().unwrap(),
        "--fail-after", "3", "--state", state.to_str().unwrap(), "--canary", &canary.url("/"),
    ];
    let rounds = || *requests.lock().unwrap();
    let watch = Watching::start(&args);
    // Two rounds up, three down (the third confirms), one more.
    wait_until(BOUND, "six rounds", || rounds() >= 6);
    let (code, _, stderr) = watch.stop();
    assert_eq!(code, 143, "{stderr}");
    assert_eq!(lines(&dir.join("log")), [format!("{url} up down")], "{stderr}");
    let change: serde_json::Value = serde_json::from_str(&lines(&dir.join("stdin"))[0]).unwrap();
    assert_eq!((change["name"].as_str(), change["group"].as_str()), (Some("API health"), Some("api")));
    assert!(change["why"].as_str().unwrap().contains(r#"body contains "\"status\":\"UP\"""#), "{change}");
    // Restarted: still down, as saved: no alert.
    let before = rounds();
    let watch = Watching::start(&args);
    wait_until(BOUND, "three more rounds", || rounds() >= before + 3);
    let (code, _, stderr) = watch.stop();
    assert_eq!(code, 143, "{stderr}");
    assert_eq!(lines(&dir.join("log")).len(), 1, "a restart alerts on nothing new: {stderr}");
}
