#!/usr/bin/env python3
"""harness.py: the benchmark driver behind bench/run.

Starts bench/server.rs (the `benchserver` example) on loopback, writes the URL
lists of each scenario, runs every client on the same lists in alternating
rounds (A B C, A B C, ...), and prints one table of medians: wall time, CPU
time (user+sys), peak RSS, checks per second, and how many reported codes
were the code the URL asked for. The server's CPU time is read from
/proc/<pid>/stat before and after every run.

Clients: statuscheck (concurrent, and --sequential in S1), curl --parallel
(and sequential curl in S1), bench/asyncio_ref.py (concurrent, and
--sequential in S1), lychee when it is on PATH.

Each client run is a child process (in a process group of its own) under
GNU time, which reports its peak RSS; os.wait4 gives its user+sys CPU time.
Every run has a time limit after which that process group is killed; the
whole run stops by itself and ends the server it started.

    bench/run             the full run (under 10 minutes on 2 cores)
    bench/run --smoke     tiny N, one round, ~15 s: does everything still work?
    bench/run --profile   perf profile of statuscheck on S4 (and S3) at small N
See `bench/run --help` for the rest.
"""

import argparse
import collections
import datetime
import os
import platform
import random
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
STATUSCHECK = os.path.join(ROOT, "target", "release", "statuscheck")
SERVER = os.path.join(ROOT, "target", "release", "examples", "benchserver")
ASYNCIO_REF = os.path.join(BENCH, "asyncio_ref.py")
CURL = "/usr/bin/curl"
# GNU time measures each client's peak RSS: os.wait4 cannot, because a child
# forked from this (large) Python process starts with the parent's RSS mark.
TIME = "/usr/bin/time"
NPROC = os.cpu_count() or 1
TICKS = os.sysconf("SC_CLK_TCK")

# Clients run without settings from the environment (STATUSCHECK_TIMEOUT, CURL_HOME...).
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
CLEAN_ENV = {k: v for k, v in os.environ.items()
             if not k.startswith(("STATUSCHECK_", "CURL_", "SSL_CERT_")) and k.lower() not in PROXY_VARS}

# Codes the URLs ask for; none is 1xx and no tool follows redirects.
CODES = [200, 200, 200, 204, 301, 302, 404, 500, 503]
# curl's --parallel-max: values above 300 silently become 50 (tool_getparam.c).
CURL_PARALLEL_CAP = 300


class Scenario:
    def __init__(self, key, title, n, scheme, delay_ms, concurrency, hosts,
                 sequential_peers=False, runs=3, run_limit_s=120, allowance_s=60):
        self.key = key
        self.title = title
        self.n = n
        self.scheme = scheme
        self.delay_ms = delay_ms
        self.concurrency = concurrency
        self.hosts = hosts  # distinct host names; URL i uses host i % hosts
        self.sequential_peers = sequential_peers
        self.runs = runs
        self.run_limit_s = run_limit_s  # a client run is killed after this
        self.allowance_s = allowance_s  # peers get no further round past this


def scenarios(smoke):
    if smoke:
        return [
            Scenario("S1", "10 HTTPS, 100 ms delay", 10, "https", 100, 10, 10, True, 1, 30),
            Scenario("S2", "50 HTTPS, 200 ms delay", 50, "https", 200, 50, 50, False, 1, 30),
            Scenario("S3", "200 HTTPS, no delay", 200, "https", 0, 50, 100, False, 1, 30),
            Scenario("S4", "300 HTTP, no delay", 300, "http", 0, 50, 100, False, 1, 30),
            Scenario("S5", "1,000 HTTP, no delay", 1000, "http", 0, 100, 100, False, 1, 30),
        ]
    return [
        # The allowances add up to 480 s: curl's --parallel needs ~1.5 ms of CPU
        # per check, so in S3 and S5 it (and then asyncio_ref) gets fewer rounds.
        Scenario("S1", "10 HTTPS, 100 ms delay, c=10", 10, "https", 100, 10, 10, True, 5, 60, 30),
        Scenario("S2", "1,000 HTTPS, 200 ms delay, c=1000", 1000, "https", 200, 1000, 1000, False, 3, 120, 30),
        Scenario("S3", "10,000 HTTPS, no delay, c=500", 10_000, "https", 0, 500, 1000, False, 3, 180, 130),
        Scenario("S4", "10,000 HTTP, no delay, c=500", 10_000, "http", 0, 500, 1000, False, 3, 120, 70),
        Scenario("S5", "100,000 HTTP, no delay, c=1000", 100_000, "http", 0, 1000, 1000, False, 3, 240, 220),
    ]


# ---------------------------------------------------------------- the server

class Server:
    """The benchserver child: started once, stopped (by its pid) at the end."""

    def __init__(self, workdir, addrs, max_seconds):
        self.ca = os.path.join(workdir, "ca.pem")
        self.addrs = addrs
        self.log = open(os.path.join(workdir, "server.err"), "w+")
        argv = [SERVER, "--ca-file", self.ca, "--max-seconds", str(max_seconds)]
        for addr in addrs:
            argv += ["--addr", addr]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, env=CLEAN_ENV,
                                     stdin=subprocess.DEVNULL, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 15)
        line = self.proc.stdout.readline() if ready else ""
        match = re.match(r"ready http=(\d+) https=(\d+)", line)
        if not match:
            self.stop()
            raise SystemExit(f"benchserver did not start: {line!r} {self.stderr()}")
        self.ports = {"http": int(match.group(1)), "https": int(match.group(2))}

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # After the command name: state is field 3, utime 14, stime 15.
        return (int(fields[11]) + int(fields[12])) / TICKS

    def peak_rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def stderr(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read().strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ------------------------------------------------------------------ the lists

class Lists:
    """The URLs of one scenario and what each one must answer, as files for
    every client: a plain list, a curl config, and --resolve pins."""

    def __init__(self, scenario, server, workdir):
        s = scenario
        rng = random.Random(f"statuscheck-bench-{s.key}")
        port = server.ports[s.scheme]
        self.port = port
        self.expected = {}
        self.urls = []
        pins = {}
        for i in range(s.n):
            h = i % s.hosts
            host = f"h{h}.bench.test"
            addr = server.addrs[h % len(server.addrs)]
            pins[host] = f"{host}:{port}:{addr}"
            code = rng.choice(CODES)
            url = f"{s.scheme}://{host}:{port}/delay/{s.delay_ms}/status/{code}?n={i}"
            self.urls.append(url)
            self.expected[url] = code
        self.pins = list(pins.values())
        base = os.path.join(workdir, s.key)
        self.url_file = base + ".urls"
        self.pin_file = base + ".pins"
        self.curl_file = base + ".curl"
        with open(self.url_file, "w") as f:
            f.writelines(u + "\n" for u in self.urls)
        with open(self.pin_file, "w") as f:
            f.writelines(p + "\n" for p in self.pins)
        with open(self.curl_file, "w") as f:
            for p in self.pins:
                f.write(f'resolve = "{p}"\n')
            for u in self.urls:
                f.write(f'url = "{u}"\noutput = "/dev/null"\n')


# ------------------------------------------------------------------- clients

def parse_tsv(path):
    """url<TAB>code... lines → {url: code or None} (first two columns)."""
    got = {}
    with open(path, errors="replace") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) >= 2:
                got[cols[0]] = int(cols[1]) if cols[1].isdigit() else None
    return got


def error_reasons(path, column):
    """The most common error texts in one column of a TSV output."""
    reasons = collections.Counter()
    with open(path, errors="replace") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) > column and cols[column]:
                reasons[re.sub(r"[0-9.:]+", "#", cols[column])[:80]] += 1
    return reasons


class Client:
    def __init__(self, name, argv_fn, error_column=None, note=""):
        self.name = name
        self.argv_fn = argv_fn
        self.error_column = error_column
        self.note = note


def clients(scenario, server, lists):
    s = scenario
    ca = server.ca
    statuscheck = [STATUSCHECK, "-q", "--format", "tsv", "--cacert", ca,
                   *[f"--resolve={p}" for p in lists.pins], lists.url_file]
    curl_max = min(s.concurrency, CURL_PARALLEL_CAP)
    curl = [CURL, "-q", "-K", lists.curl_file, "-s", "--cacert", ca,
            "-w", "%{url_effective}\\t%{http_code}\\t%{errormsg}\\n"]
    asyncio_ref = [sys.executable, ASYNCIO_REF, "--cacert", ca,
                   "--resolve-file", lists.pin_file, lists.url_file]
    out = [Client("statuscheck", lambda: statuscheck[:1] + ["-c", str(s.concurrency)] + statuscheck[1:],
                  error_column=4)]
    if s.sequential_peers:
        out.append(Client("statuscheck --sequential",
                          lambda: statuscheck[:1] + ["--sequential"] + statuscheck[1:], error_column=4))
    curl_note = f"--parallel-max {curl_max}" + (" (curl's cap)" if curl_max < s.concurrency else "")
    out.append(Client("curl --parallel",
                      lambda: curl + ["--parallel", "--parallel-immediate", "--parallel-max", str(curl_max)],
                      error_column=2, note=curl_note))
    if s.sequential_peers:
        out.append(Client("curl (sequential)", lambda: curl, error_column=2))
    out.append(Client("asyncio_ref", lambda: asyncio_ref[:2] + ["-c", str(s.concurrency)] + asyncio_ref[2:],
                      error_column=2))
    if s.sequential_peers:
        out.append(Client("asyncio_ref --sequential",
                          lambda: asyncio_ref[:2] + ["--sequential"] + asyncio_ref[2:], error_column=2))
    return out


# ------------------------------------------------------------------ one run

class Run:
    pass


def tcp_time_wait():
    """Sockets in TIME_WAIT right now, from /proc/net/sockstat."""
    try:
        with open("/proc/net/sockstat") as f:
            m = re.search(r"\btw (\d+)", f.read())
            return int(m.group(1)) if m else -1
    except OSError:
        return -1


def listen_overflows():
    """TcpExt ListenOverflows: connections dropped because an accept queue
    was full (all listeners on the machine)."""
    try:
        with open("/proc/net/netstat") as f:
            lines = f.read().splitlines()
        for names, values in zip(lines, lines[1:]):
            if names.startswith("TcpExt:") and values.startswith("TcpExt:"):
                table = dict(zip(names.split()[1:], values.split()[1:]))
                return int(table.get("ListenOverflows", 0))
    except OSError:
        pass
    return 0


def system_busy_seconds():
    """CPU time all cores spent busy so far, from /proc/stat."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:9]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks) - idle) / TICKS


def wait_for_quiet(limit_s, notes, what):
    """Waits (up to limit_s) until other work uses under 0.2 cores, so that a
    build running beside the benchmark does not skew it; notes it if not."""
    deadline = time.monotonic() + limit_s
    while True:
        before = system_busy_seconds()
        time.sleep(1.0)
        load = system_busy_seconds() - before
        if load < 0.2:
            return
        if time.monotonic() >= deadline:
            notes.append(f"{what}: the machine was busy ({load:.1f} cores in use by others) "
                         f"when it started; waited {limit_s:.0f} s, then went on")
            return


def run_once(client, scenario, lists, server, workdir, round_no):
    tag = f"{scenario.key}.{re.sub(r'[^a-z]+', '_', client.name)}.{round_no}"
    out_path = os.path.join(workdir, tag + ".out")
    err_path = os.path.join(workdir, tag + ".err")
    argv = client.argv_fn()
    rss_path = os.path.join(workdir, tag + ".rss")
    if os.access(TIME, os.X_OK):
        argv = [TIME, "-f", "%M", "-o", rss_path, "--"] + argv
    r = Run()
    r.time_wait_before = tcp_time_wait()
    srv_before = server.cpu_seconds()
    busy_before = system_busy_seconds()
    overflows_before = listen_overflows()
    with open(out_path, "w") as out, open(err_path, "w") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=CLEAN_ENV,
                                start_new_session=True)
        killed = threading.Event()

        def kill():
            killed.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the group of this run only
            except ProcessLookupError:
                pass

        timer = threading.Timer(scenario.run_limit_s, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        r.wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen won't wait again
    r.server_cpu = server.cpu_seconds() - srv_before
    r.listen_overflows = listen_overflows() - overflows_before
    # Whatever else ran meanwhile (kernel threads, another build): should be ~0.
    r.other_cpu = max(0.0, system_busy_seconds() - busy_before - r.server_cpu
                      - (usage.ru_utime + usage.ru_stime))
    r.cpu = usage.ru_utime + usage.ru_stime
    r.user = usage.ru_utime
    r.sys = usage.ru_stime
    # wait4 gives time's own usage plus its waited-for child: CPU to the µs.
    r.rss_kb = usage.ru_maxrss  # includes this harness's RSS: a fallback only
    try:
        with open(rss_path) as f:
            r.rss_kb = int(f.read().split()[-1])
    except (OSError, ValueError, IndexError):
        pass
    r.exit = proc.returncode
    r.killed = killed.is_set()
    got = parse_tsv(out_path)
    r.correct = sum(1 for url, code in lists.expected.items() if got.get(url) == code)
    r.reported = len(got)
    r.errors = error_reasons(out_path, client.error_column) if client.error_column else collections.Counter()
    with open(err_path, errors="replace") as f:
        r.stderr = f.read()[-2000:]
    text = r.stderr + " ".join(r.errors)
    r.addr_not_avail = bool(re.search(r"(?i)address not available|cannot assign requested address|EADDRNOTAVAIL", text))
    return r


# ------------------------------------------------------------------- report

def fmt_rss(kb):
    return f"{kb / 1024:.1f}"


def median(values):
    return statistics.median(values) if values else float("nan")


class Row:
    def __init__(self, scenario, client, runs):
        self.scenario = scenario
        self.client = client
        self.runs = runs
        n = scenario.n
        self.wall = median([r.wall for r in runs])
        self.cpu = median([r.cpu for r in runs])
        self.rss_kb = median([r.rss_kb for r in runs])
        self.rate = n / self.wall if self.wall > 0 else 0
        self.us_per_check = self.cpu / n * 1e6
        self.correct_min = min(r.correct for r in runs)
        self.server_cpu = median([r.server_cpu for r in runs])
        self.server_cores = median([r.server_cpu / r.wall for r in runs])
        self.busy = median([(r.cpu + r.server_cpu) / (r.wall * NPROC) for r in runs])
        self.other_cores = median([r.other_cpu / r.wall for r in runs])
        self.killed = any(r.killed for r in runs)
        self.addr_not_avail = any(r.addr_not_avail for r in runs)
        self.listen_overflows = sum(r.listen_overflows for r in runs)
        errors = collections.Counter()
        for r in runs:
            errors.update(r.errors)
        self.errors = errors

    def cells(self):
        s = self.scenario
        correct = f"{self.correct_min}/{s.n}" + (" KILLED" if self.killed else "")
        return [self.client.name, s.key, str(len(self.runs)), f"{self.wall:.3f}", f"{self.cpu:.3f}",
                fmt_rss(self.rss_kb), f"{self.rate:,.0f}", f"{self.us_per_check:,.0f}", correct,
                f"{self.server_cpu:.2f}", f"{self.server_cores:.2f}", f"{self.busy * 100:.0f}%",
                f"{self.other_cores:.2f}"]


HEADER = ["tool", "scen.", "runs", "wall s", "CPU s", "RSS MB", "checks/s", "µs CPU/check",
          "correct", "srv CPU s", "srv cores", "busy", "other cores"]


def table_text(rows):
    cells = [HEADER] + [r.cells() for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    lines = []
    for k, c in enumerate(cells):
        parts = [v.ljust(widths[i]) if i == 0 else v.rjust(widths[i]) for i, v in enumerate(c)]
        lines.append("  ".join(parts).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def table_markdown(rows):
    lines = ["| " + " | ".join(HEADER) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(HEADER))) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(r.cells()) + " |")
    return "\n".join(lines)


def find(rows, key, name):
    for r in rows:
        if r.scenario.key == key and r.client.name == name:
            return r
    return None


def targets(rows):
    """The issue's targets, each with its verdict, as lines of text."""
    out = []
    s1, s1_seq = find(rows, "S1", "statuscheck"), find(rows, "S1", "statuscheck --sequential")
    if s1 and s1_seq:
        ratio = s1_seq.wall / s1.wall
        out.append(f"S1 concurrent vs --sequential: {ratio:.1f}x faster (target >= 9x): "
                   + ("MET" if ratio >= 9 else "NOT MET"))
    s2, s3 = find(rows, "S2", "statuscheck"), find(rows, "S3", "statuscheck")
    if s2 and s3:
        per_check = (s3.cpu + s3.server_cpu) / s3.scenario.n  # client + server CPU per handshake+check
        floor = s2.scenario.delay_ms / 1000 + s2.scenario.n * per_check / NPROC
        ratio = s2.wall / floor
        out.append(f"S2 wall {s2.wall:.3f} s vs floor {floor:.3f} s (200 ms + {s2.scenario.n} x "
                   f"{per_check * 1e6:.0f} µs client+server CPU per HTTPS check from S3 / {NPROC} cores): "
                   f"{ratio:.2f}x (target <= 1.3x): " + ("MET" if ratio <= 1.3 else "NOT MET"))
    if s3:
        out.append(f"S3 statuscheck: {s3.rate:,.0f} checks/s, {s3.us_per_check:,.0f} µs client CPU per HTTPS check")
    s4, s5 = find(rows, "S4", "statuscheck"), find(rows, "S5", "statuscheck")
    if s4:
        out.append(f"S4 statuscheck: {s4.rate:,.0f} checks/s, {s4.us_per_check:,.0f} µs client CPU per HTTP check")
    if s4 and s5:
        ratio = s5.rss_kb / s4.rss_kb
        out.append(f"S5 vs S4 peak RSS: {fmt_rss(s5.rss_kb)} MB vs {fmt_rss(s4.rss_kb)} MB = {ratio:.2f}x "
                   f"for 10x the URLs at 2x the concurrency (target: flat, <= 2x): "
                   + ("MET" if ratio <= 2 else "NOT MET"))
    for r in rows:
        if r.other_cores > 0.2:
            out.append(f"{r.scenario.key} {r.client.name}: other processes used {r.other_cores:.2f} cores "
                       "during its runs (median): its numbers are skewed")
        if r.correct_min < r.scenario.n:
            top = ", ".join(f"{k} ({v})" for k, v in r.errors.most_common(3)) or "no error text"
            out.append(f"{r.scenario.key} {r.client.name}: {r.scenario.n - r.correct_min} wrong in the worst run; "
                       f"errors over all runs: {top}")
        if r.listen_overflows:
            out.append(f"{r.scenario.key} {r.client.name}: {r.listen_overflows} accept-queue overflows "
                       "(the server fell behind accepting)")
        if r.addr_not_avail:
            out.append(f"{r.scenario.key} {r.client.name}: EADDRNOTAVAIL seen (ephemeral ports ran out)")
    return out


def machine_info():
    info = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "nproc": str(NPROC), "kernel": platform.release()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        m = re.search(r"Model name:\s*(.+)", lscpu)
        info["cpu"] = m.group(1).strip() if m else "?"
    except OSError:
        info["cpu"] = "?"

    def version(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            return "?"

    info["statuscheck"] = version([STATUSCHECK, "--version"])
    info["curl"] = " ".join(version([CURL, "--version"]).split()[:4])
    info["python"] = platform.python_version()
    for name in ("ip_local_port_range", "tcp_tw_reuse"):
        try:
            with open(f"/proc/sys/net/ipv4/{name}") as f:
                info[name] = " ".join(f.read().split())
        except OSError:
            info[name] = "?"
    return info


# ---------------------------------------------------------------- profiling

def profile(args, workdir):
    """perf record (DWARF call graphs) of statuscheck on S4 and S3 at small N:
    time per library, top functions by self time, and the user-space frames
    with the most time spent inside them (children included)."""
    if not shutil.which("perf"):
        raise SystemExit("perf is not installed (apt-get install linux-perf); "
                         "valgrind --tool=callgrind works too, by hand")
    server = Server(workdir, args.addrs, 300)
    sections = []
    try:
        for key, n, scheme in (("S4", 5000, "http"), ("S3", 2000, "https")):
            s = Scenario(key, f"{n:,} {scheme.upper()} URLs, no delay, c=500", n, scheme, 0, 500, 1000)
            lists = Lists(s, server, workdir)
            sc = clients(s, server, lists)[0]
            data = os.path.join(workdir, f"perf-{key}.data")
            out = os.path.join(workdir, f"perf-{key}.out")
            argv = ["perf", "record", "-F", "1999", "--call-graph", "dwarf,16384", "-o", data, "--"] + sc.argv_fn()
            with open(out, "w") as stdout, open(os.devnull, "w") as devnull:
                # statuscheck exits 1 here: some URLs ask for codes >= 400.
                subprocess.run(argv, stdout=stdout, stderr=devnull, timeout=120)
            got = parse_tsv(out)
            correct = sum(1 for url, code in lists.expected.items() if got.get(url) == code)

            def report(*options, keep=None, limit=25):
                text = subprocess.run(["perf", "report", "-i", data, "--stdio", *options],
                                      capture_output=True, text=True, timeout=300).stdout
                lines = [line.rstrip()[:160] for line in text.splitlines()
                         if re.match(r"^ +[0-9.]+%", line) and (keep is None or keep(line))]
                return lines[:limit]

            sections.append((f"statuscheck, {s.title} ({correct}/{n} correct)", [
                ("time per library (self)", report("--no-children", "--sort", "dso", "-g", "none")),
                ("top functions by self time", report("--no-children", "--sort", "sym", "-g", "none")),
                ("user-space frames by time inside them (children included; inlined frames listed too)",
                 report("--children", "--sort", "sym", "-g", "none", "--percent-limit", "2",
                        keep=lambda line: "[k]" not in line, limit=40)),
            ]))
    finally:
        server.stop()
    lines = []
    for title, parts in sections:
        lines.append(f"### {title}: perf record -F 1999 --call-graph dwarf")
        for what, keep in parts:
            lines.append(f"\n{what}:\n```")
            lines.extend(keep)
            lines.append("```")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.record:
        with open(args.record, "w") as f:
            f.write(text + "\n")
        print(f"(written to {args.record})")


# --------------------------------------------------------------------- main

def main():
    global STATUSCHECK, SERVER
    parser = argparse.ArgumentParser(description="statuscheck benchmark (see bench/RESULTS.md)")
    parser.add_argument("--smoke", action="store_true", help="tiny N, one round: ~15 s")
    parser.add_argument("--profile", action="store_true", help="perf profile of statuscheck on S4/S3")
    parser.add_argument("--only", help="comma-separated scenarios, e.g. S1,S4")
    parser.add_argument("--runs", type=int, help="rounds per scenario (default: 5 for S1, 3 otherwise)")
    parser.add_argument("--allowance", type=float, default=1.0,
                        help="scale the per-scenario time allowances (S1-S5: 30, 30, 130, 70, 220 s) "
                             "past which slow peers get no further round (default 1.0)")
    parser.add_argument("--addrs", default="127.0.0.1",
                        help="loopback addresses the server listens on; hosts are spread over them")
    parser.add_argument("--record", help="also write the results as Markdown to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (URL lists, outputs)")
    parser.add_argument("--statuscheck", default=STATUSCHECK, help="the statuscheck binary to measure")
    parser.add_argument("--server", default=SERVER, help="the benchserver binary")
    args = parser.parse_args()
    args.addrs = [a.strip() for a in args.addrs.split(",") if a.strip()]
    for a in args.addrs:
        if not a.startswith("127."):
            parser.error(f"--addrs: {a} is not in 127.0.0.0/8")
    STATUSCHECK, SERVER = os.path.abspath(args.statuscheck), os.path.abspath(args.server)
    for path in (STATUSCHECK, SERVER):
        if not os.access(path, os.X_OK):
            parser.error(f"{path} is missing: build it first (bench/run does)")

    # A signal to the harness ends its children through the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    workdir = tempfile.mkdtemp(prefix="statuscheck-bench-")
    try:
        if args.profile:
            return profile(args, workdir)
        return bench(args, workdir)
    finally:
        if args.keep:
            print(f"work directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def bench(args, workdir):
    started = time.monotonic()
    chosen = scenarios(args.smoke)
    if args.only:
        keys = {k.strip().upper() for k in args.only.split(",")}
        chosen = [s for s in chosen if s.key in keys]
    if args.runs:
        for s in chosen:
            s.runs = args.runs
    lychee = shutil.which("lychee")
    notes = []
    if lychee:
        notes.append(f"lychee found at {lychee} but not benchmarked: this harness does not drive it yet "
                     "(it would need the bench host names and CA, or IP URLs and --insecure)")
    else:
        notes.append("lychee: not on PATH, skipped (not installed on purpose)")

    server = Server(workdir, args.addrs, max_seconds=1800)
    rows = []
    try:
        for si, s in enumerate(chosen):
            lists = Lists(s, server, workdir)
            cls = clients(s, server, lists)
            results = {c.name: [] for c in cls}
            tw_max = 0
            print(f"{s.key}: {s.title} ({s.n} URLs over {min(s.hosts, s.n)} host names)", file=sys.stderr)
            wait_for_quiet(5 if args.smoke else 30, notes, s.key)
            scenario_start = time.monotonic()
            for round_no in range(s.runs):
                for c in cls:
                    # Rounds after the first: a peer that would overrun the
                    # scenario's allowance sits out; statuscheck always runs.
                    spent = time.monotonic() - scenario_start
                    if (round_no > 0 and not c.name.startswith("statuscheck")
                            and spent + results[c.name][-1].wall > s.allowance_s * args.allowance):
                        continue
                    r = run_once(c, s, lists, server, workdir, round_no)
                    tw_max = max(tw_max, r.time_wait_before)
                    results[c.name].append(r)
                    print(f"  round {round_no + 1}: {c.name:26} {r.wall:8.3f} s  "
                          f"{r.correct}/{s.n} correct  cpu {r.cpu:.2f} s  srv {r.server_cpu:.2f} s",
                          file=sys.stderr)
            for c in cls:
                if len(results[c.name]) < s.runs:
                    notes.append(f"{s.key} {c.name}: {len(results[c.name])} of {s.runs} rounds, to keep "
                                 f"the scenario within its {s.allowance_s * args.allowance:.0f} s allowance")
            notes.append(f"{s.key}: at most {tw_max} sockets in TIME_WAIT at the start of a run")
            for c in cls:
                if c.note:
                    notes.append(f"{s.key} {c.name}: {c.note}")
                rows.append(Row(s, c, results[c.name]))
    finally:
        server_rss = server.peak_rss_kb() if server.proc.poll() is None else 0
        server.stop()
    server_log = server.stderr()

    elapsed = time.monotonic() - started
    table = table_text(rows)
    verdicts = targets(rows)
    print()
    print(table)
    print()
    if args.smoke:
        print("smoke run: tiny N, one round; the targets below only mean something in the full run")
    for line in verdicts:
        print(line)
    print()
    for line in notes:
        print("note: " + line)
    print(f"server: peak RSS {fmt_rss(server_rss)} MB; {server_log.splitlines()[-1] if server_log else ''}")
    print(f"total time {elapsed:.0f} s")

    if args.record:
        info = machine_info()
        command = "bench/run " + " ".join(sys.argv[1:])
        with open(args.record, "w") as f:
            f.write(f"Run of {info['date']} on {info['nproc']} cores ({info['cpu']}), Linux {info['kernel']}; "
                    f"{info['statuscheck']}, {info['curl']}, Python {info['python']}; "
                    f"ip_local_port_range {info['ip_local_port_range']}, tcp_tw_reuse {info['tcp_tw_reuse']}.\n\n")
            f.write(f"Command: `{command.strip()}` (total {elapsed:.0f} s)\n\n")
            f.write(table_markdown(rows) + "\n\n")
            f.write("\n".join(f"- {v}" for v in verdicts) + "\n\n")
            f.write("\n".join(f"- {n}" for n in notes) + "\n")
            f.write(f"- server: peak RSS {fmt_rss(server_rss)} MB; "
                    f"{server_log.splitlines()[-1] if server_log else ''}\n")
        print(f"(written to {args.record})")
    bad = [r for r in rows if r.client.name.startswith("statuscheck") and r.correct_min < r.scenario.n]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
