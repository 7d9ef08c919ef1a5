//! The recipes of `deploy/`: the Kubernetes Indexed Job manifest is checked
//! against the Job schema as far as a YAML parser can (and its command is run
//! here as each pod would run it), sharding under GNU parallel gives the
//! single-process run, and the Slurm batch script parses and maps exit
//! statuses as documented. The real Slurm run is `tests/slurm/run`.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use yaml_rust2::{Yaml, YamlLoader};

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_file(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `doc[a][b]...`, or a panic naming the path.
fn at<'a>(doc: &'a Yaml, path: &[&str]) -> &'a Yaml {
    let mut node = doc;
    for (i, key) in path.iter().enumerate() {
        node = &node[*key];
        assert!(!node.is_badvalue(), "missing {}", path[..=i].join("."));
    }
    node
}

fn string<'a>(doc: &'a Yaml, path: &[&str]) -> &'a str {
    at(doc, path).as_str().unwrap_or_else(|| panic!("{} is not a string", path.join(".")))
}

fn keys(node: &Yaml) -> Vec<&str> {
    node.as_hash().map(|h| h.keys().filter_map(Yaml::as_str).collect()).unwrap_or_default()
}

/// Fails on a key the Kubernetes API does not know at this level (kubectl's
/// strict field validation would refuse the manifest).
fn known_keys(node: &Yaml, what: &str, allowed: &[&str]) {
    for key in keys(node) {
        assert!(allowed.contains(&key), "{what} has a field Kubernetes does not know: {key}");
    }
}

const OBJECT: &[&str] = &["apiVersion", "kind", "metadata", "spec", "data", "binaryData", "immutable"];
const JOB_SPEC: &[&str] = &[
    "activeDeadlineSeconds",
    "backoffLimit",
    "backoffLimitPerIndex",
    "completionMode",
    "completions",
    "managedBy",
    "manualSelector",
    "maxFailedIndexes",
    "parallelism",
    "podFailurePolicy",
    "podReplacementPolicy",
    "selector",
    "successPolicy",
    "suspend",
    "template",
    "ttlSecondsAfterFinished",
];
const POD_SPEC: &[&str] = &[
    "activeDeadlineSeconds",
    "affinity",
    "automountServiceAccountToken",
    "containers",
    "dnsConfig",
    "dnsPolicy",
    "enableServiceLinks",
    "ephemeralContainers",
    "hostAliases",
    "hostIPC",
    "hostNetwork",
    "hostPID",
    "hostUsers",
    "hostname",
    "imagePullSecrets",
    "initContainers",
    "nodeName",
    "nodeSelector",
    "os",
    "overhead",
    "preemptionPolicy",
    "priority",
    "priorityClassName",
    "readinessGates",
    "resourceClaims",
    "resources",
    "restartPolicy",
    "runtimeClassName",
    "schedulerName",
    "schedulingGates",
    "securityContext",
    "serviceAccountName",
    "setHostnameAsFQDN",
    "shareProcessNamespace",
    "subdomain",
    "terminationGracePeriodSeconds",
    "tolerations",
    "topologySpreadConstraints",
    "volumes",
];
const CONTAINER: &[&str] = &[
    "args",
    "command",
    "env",
    "envFrom",
    "image",
    "imagePullPolicy",
    "lifecycle",
    "livenessProbe",
    "name",
    "ports",
    "readinessProbe",
    "resizePolicy",
    "resources",
    "restartPolicy",
    "securityContext",
    "startupProbe",
    "stdin",
    "stdinOnce",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "tty",
    "volumeDevices",
    "volumeMounts",
    "workingDir",
];

/// A DNS-1123 label: what Kubernetes accepts as a Job, container or volume name.
fn dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// The manifest's two documents: the Job and the ConfigMap.
struct Manifest {
    job: Yaml,
    config_map: Yaml,
}

fn manifest() -> Manifest {
    let text = read("deploy/kubernetes/indexed-job.yaml");
    let docs = YamlLoader::load_from_str(&text).expect("indexed-job.yaml is valid YAML");
    let find = |kind: &str| {
        let found: Vec<&Yaml> = docs.iter().filter(|d| d["kind"].as_str() == Some(kind)).collect();
        assert_eq!(found.len(), 1, "one {kind} document in indexed-job.yaml");
        found[0].clone()
    };
    assert_eq!(docs.len(), 2, "the Job and its ConfigMap");
    Manifest { job: find("Job"), config_map: find("ConfigMap") }
}

/// The one container of the Job's pods.
fn container(job: &Yaml) -> &Yaml {
    let containers = at(job, &["spec", "template", "spec", "containers"]).as_vec().expect("containers is a list");
    assert_eq!(containers.len(), 1, "one container");
    &containers[0]
}

/// The container's command and args, as a list of words.
fn command_words(container: &Yaml) -> Vec<String> {
    let mut words = Vec::new();
    for field in ["command", "args"] {
        if let Some(list) = container[field].as_vec() {
            for word in list {
                words.push(word.as_str().unwrap_or_else(|| panic!("{field} holds a non-string: {word:?}")).to_string());
            }
        }
    }
    words
}

fn positive(job: &Yaml, field: &str) -> i64 {
    let n = at(job, &["spec", field]).as_i64().unwrap_or_else(|| panic!("spec.{field} is not an integer"));
    assert!(n > 0, "spec.{field} is {n}");
    n
}

#[test]
fn kubernetes_manifest_is_an_indexed_job_over_its_config_map() {
    let Manifest { job, config_map } = manifest();
    known_keys(&job, "the Job", OBJECT);
    assert_eq!(string(&job, &["apiVersion"]), "batch/v1");
    assert_eq!(string(&job, &["kind"]), "Job");
    let name = string(&job, &["metadata", "name"]);
    assert!(dns_label(name), "Job name {name:?}");

    let spec = at(&job, &["spec"]);
    known_keys(spec, "Job spec", JOB_SPEC);
    assert_eq!(string(&job, &["spec", "completionMode"]), "Indexed");
    let completions = positive(&job, "completions");
    let parallelism = positive(&job, "parallelism");
    assert!(parallelism <= completions, "parallelism {parallelism} > completions {completions}");
    let backoff = at(&job, &["spec", "backoffLimit"]).as_i64().expect("spec.backoffLimit is an integer");
    assert!(backoff >= 0);

    let pod = at(&job, &["spec", "template", "spec"]);
    known_keys(pod, "pod spec", POD_SPEC);
    let restart = string(&job, &["spec", "template", "spec", "restartPolicy"]);
    assert!(["Never", "OnFailure"].contains(&restart), "a Job's pods restart Never or OnFailure, not {restart}");

    let container = container(&job);
    known_keys(container, "container", CONTAINER);
    assert!(dns_label(string(container, &["name"])));
    assert!(!string(container, &["image"]).is_empty());
    let words = command_words(container);
    assert!(!words.is_empty(), "the container has a command");
    let script = words.join(" ");
    assert!(script.contains(&format!("--shards {completions}")), "command must say --shards {completions}: {script}");
    assert!(script.contains("--format json"), "{script}");
    assert!(!script.contains("--shard "), "--shard K/N would ignore JOB_COMPLETION_INDEX: {script}");
    assert!(script.contains("-eq 1"), "exit status 1 (some URLs down) must not fail the pod: {script}");

    // The ConfigMap, its volume, and the mount the command reads from.
    assert_eq!(string(&config_map, &["apiVersion"]), "v1");
    known_keys(&config_map, "the ConfigMap", OBJECT);
    let map_name = string(&config_map, &["metadata", "name"]);
    let data = at(&config_map, &["data"]).as_hash().expect("ConfigMap data is a map");
    assert!(!data.is_empty());
    let volumes = at(pod, &["volumes"]).as_vec().expect("volumes is a list");
    let volume = volumes
        .iter()
        .find(|v| v["configMap"]["name"].as_str() == Some(map_name))
        .unwrap_or_else(|| panic!("no volume of ConfigMap {map_name}"));
    let volume_name = string(volume, &["name"]);
    let mounts = at(container, &["volumeMounts"]).as_vec().expect("volumeMounts is a list");
    let mount = mounts
        .iter()
        .find(|m| m["name"].as_str() == Some(volume_name))
        .unwrap_or_else(|| panic!("no volumeMount of volume {volume_name}"));
    let dir = string(mount, &["mountPath"]).trim_end_matches('/');
    let read_files: Vec<String> = data
        .iter()
        .filter_map(|(key, _)| key.as_str())
        .map(|key| format!("{dir}/{key}"))
        .filter(|path| script.contains(path.as_str()))
        .collect();
    assert_eq!(read_files.len(), 1, "the command reads one file of the ConfigMap under {dir}: {script}");
    for (key, value) in data {
        let list = value.as_str().unwrap_or_else(|| panic!("data.{key:?} is not a string"));
        assert!(list.lines().any(|l| l.starts_with("http")), "data.{key:?} holds URLs");
    }
}

/// A list over many host names pinned to `server`, some 404s, some invalid
/// lines, and the `--resolve` options it needs.
fn pinned_list(server: &Server) -> (PathBuf, Vec<String>) {
    let port = server.port();
    let mut lines = String::from("# deploy test list\n");
    let mut pins = Vec::new();
    for i in 0..40 {
        lines.push_str(&format!("http://h{i}.test:{port}/status/{}\n", [200, 404, 301][i % 3]));
        pins.extend(["--resolve".to_string(), format!("h{i}.test:{port}:127.0.0.1")]);
    }
    for i in 0..5 {
        lines.push_str(&format!("gopher://bad{i}.test/\n"));
    }
    (write_file("deploy.txt", lines), pins)
}

/// (source, code, error kind) of each JSON Lines record; panics on a
/// duplicate source.
fn record_set(jsonl: &str) -> BTreeSet<(String, String, String)> {
    let mut sources = BTreeSet::new();
    let mut set = BTreeSet::new();
    for line in jsonl.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let source = r["source"].as_str().expect("source").to_string();
        assert!(sources.insert(source.clone()), "{source} twice");
        set.insert((source, r["code"].to_string(), r["error"]["kind"].to_string()));
    }
    set
}

fn single_run(file: &Path, pins: &[String]) -> BTreeSet<(String, String, String)> {
    let output = statuscheck().args(["--format", "json"]).args(pins).arg(file).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "the list has 404s and invalid lines");
    let whole = record_set(&String::from_utf8(output.stdout).unwrap());
    assert_eq!(whole.len(), 45);
    whole
}

/// Whether `parallel` on PATH is GNU parallel (moreutils has another).
fn gnu_parallel() -> bool {
    Command::new("parallel")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("GNU parallel"))
}

#[test]
fn gnu_parallel_shards_merge_to_the_single_run() {
    if !require("GNU parallel", gnu_parallel(), "apt-get install parallel") {
        return;
    }
    let server = http_server();
    let (file, pins) = pinned_list(&server);
    let whole = single_run(&file, &pins);

    let home = temp_path("parallel-home");
    std::fs::create_dir_all(&home).unwrap();
    // -q quotes the command, so no path or pin is re-split by a shell;
    // --tag prefixes each line with its shard. Output is grouped per job.
    let output = Command::new("parallel")
        .env("PARALLEL_HOME", &home)
        .args(["--will-cite", "-q", "-j4", "--tag"])
        .arg(env!("CARGO_BIN_EXE_statuscheck"))
        .args(["--format", "json", "--quiet", "--shard", "{}/4"])
        .args(&pins)
        .arg(&file)
        .args([":::", "0", "1", "2", "3"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.is_empty(), "parallel or statuscheck complained: {stderr}");

    let mut per_shard = [0usize; 4];
    let mut failing_shards = BTreeSet::new();
    let mut merged = String::new();
    for line in stdout.lines() {
        let (tag, record) = line.split_once('\t').unwrap_or_else(|| panic!("untagged line: {line}"));
        let shard: usize = tag.parse().unwrap();
        per_shard[shard] += 1;
        if record.contains("\"ok\":false") {
            failing_shards.insert(shard);
        }
        merged.push_str(record);
        merged.push('\n');
    }
    assert_eq!(record_set(&merged), whole, "the merged shards are the single run");
    assert!(per_shard.iter().all(|&n| n > 0), "every shard got work: {per_shard:?}");
    // GNU parallel exits with the number of jobs that failed: here, the shards
    // holding a failed URL (statuscheck exit status 1).
    assert_eq!(output.status.code(), Some(failing_shards.len() as i32), "parallel's exit status");
}

/// What each pod of the Indexed Job runs, run here: the container's command
/// with the ConfigMap's directory replaced by a local one holding a list of
/// local URLs, and JOB_COMPLETION_INDEX set as Kubernetes sets it.
#[test]
fn kubernetes_pod_command_runs_each_index_and_exit_1_is_success() {
    let Manifest { job, config_map } = manifest();
    let completions = at(&job, &["spec", "completions"]).as_i64().unwrap();
    let container = container(&job);
    let words = command_words(container);
    let mount = at(container, &["volumeMounts"])[0]["mountPath"].as_str().unwrap().trim_end_matches('/').to_string();
    let key = keys(at(&config_map, &["data"]))[0].to_string();

    // Three hosts (one on IPv6, where the machine has it), 404s and invalid
    // lines: every index gets something, and failures make statuscheck exit 1.
    let v4 = http_server();
    let v6 = require("IPv6 loopback ([::1])", have_ipv6_loopback(), IPV6_INSTALL).then(|| http_server_on("[::1]:0"));
    let mut lines = String::new();
    for code in [200, 404, 204] {
        lines.push_str(&format!("http://127.0.0.1:{}/status/{code}\n", v4.port()));
        lines.push_str(&format!("http://localhost:{}/status/{code}\n", v4.port()));
        if let Some(v6) = &v6 {
            lines.push_str(&format!("http://[::1]:{}/status/{code}\n", v6.port()));
        }
    }
    for i in 0..12 {
        lines.push_str(&format!("ftp://bad{i}.test/\n"));
    }
    let list = write_file(&key, &lines);
    let dir = list.parent().unwrap().to_str().unwrap().to_string();
    let whole = record_set(&run(&["--format", "json", list.to_str().unwrap()]).stdout);
    assert_eq!(whole.len(), lines.lines().count());

    let bin_dir = Path::new(env!("CARGO_BIN_EXE_statuscheck")).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let pod = |index: Option<i64>| {
        let local: Vec<String> = words.iter().map(|w| w.replace(&mount, &dir)).collect();
        let mut command = Command::new(&local[0]);
        command.args(&local[1..]).env("PATH", &path).env_remove("JOB_COMPLETION_INDEX").stdin(Stdio::null());
        for var in container["env"].as_vec().into_iter().flatten() {
            command.env(var["name"].as_str().unwrap(), var["value"].as_str().unwrap());
        }
        if let Some(index) = index {
            command.env("JOB_COMPLETION_INDEX", index.to_string());
        }
        command.output().unwrap()
    };

    let mut merged = String::new();
    for index in 0..completions {
        let output = pod(Some(index));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "index {index}: the pod fails: {stderr}");
        assert!(stderr.is_empty(), "index {index}: kubectl logs would mix this into the JSON Lines: {stderr}");
        merged.push_str(&String::from_utf8(output.stdout).unwrap());
    }
    assert_eq!(record_set(&merged), whole, "the pods' outputs merge to the single run");

    // Without JOB_COMPLETION_INDEX statuscheck exits 2: the pod must fail.
    let output = pod(None);
    assert_ne!(output.status.code(), Some(0), "a usage error must fail the pod");
    assert!(String::from_utf8_lossy(&output.stderr).contains("JOB_COMPLETION_INDEX"));
}

const SBATCH: &str = "deploy/slurm/statuscheck.sbatch";

#[test]
fn slurm_batch_script_parses() {
    let script = read(SBATCH);
    assert!(script.starts_with("#!/usr/bin/env bash\n"), "sbatch needs a shebang");
    assert!(script.lines().any(|l| l.starts_with("#SBATCH ")), "no #SBATCH directives");
    let output = Command::new("bash").arg("-n").arg(repo_file(SBATCH)).output().expect("bash");
    assert!(output.status.success(), "bash -n: {}", String::from_utf8_lossy(&output.stderr));
}

/// The batch script outside Slurm, with the environment a job array task
/// gets: shard files per task that merge to the single run, exit status 1
/// of statuscheck mapped to 0, 2 passed on. (`tests/slurm/run` does this on
/// a real cluster.)
#[test]
fn slurm_batch_script_writes_a_shard_per_task_and_maps_exit_statuses() {
    let server = http_server();
    let (file, pins) = pinned_list(&server);
    let whole = single_run(&file, &pins);
    let out = temp_path("slurm-out");
    let task = |id: u64, args: &str| {
        Command::new("bash")
            .arg(repo_file(SBATCH))
            .arg(&file)
            .arg(&out)
            .env("STATUSCHECK_BIN", env!("CARGO_BIN_EXE_statuscheck"))
            .env("STATUSCHECK_ARGS", args)
            .env("SLURM_ARRAY_TASK_ID", (id + 10).to_string())
            .env("SLURM_ARRAY_TASK_MIN", "10")
            .env("SLURM_ARRAY_TASK_MAX", "13")
            .env("SLURM_ARRAY_TASK_COUNT", "4")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let args = pins.join(" ");
    let mut merged = String::new();
    for id in 0..4 {
        let output = task(id, &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "task {id}: {stderr}");
        let shard = std::fs::read_to_string(out.join(format!("shard-{}.jsonl", id + 10))).unwrap();
        assert!(!shard.is_empty(), "task {id} got no work");
        merged.push_str(&shard);
    }
    assert_eq!(record_set(&merged), whole, "the shard files merge to the single run");
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let usage = task(0, "--timeout -1");
    assert_eq!(usage.status.code(), Some(2), "a usage error is passed on");
    assert!(!out.join("shard-10.jsonl").exists(), "no shard file after a usage error");
}
