#!/usr/bin/env python3
"""harness.py: the benchmark driver behind bench/run.

Starts bench/server.rs (the `benchserver` example) on loopback, writes the URL
lists of each scenario, runs every client on the same lists in alternating
rounds (A B C, A B C, ...; statuscheck and oha trade places every other
round, see `round_order`), and prints one table of medians: wall time, CPU
time (user+sys), peak RSS, checks per second, and how many reported codes
were the code the URL asked for. The server's CPU time is read from
/proc/<pid>/stat before and after every run.

Clients: statuscheck (concurrent, and --sequential in S1), curl --parallel
(and sequential curl in S1), bench/asyncio_ref.py (concurrent, and
--sequential in S1), and lychee and oha when they are on PATH (skipped with
a note otherwise). S3 and S4 run a second time against nginx (S3-nginx,
S4-nginx) when /usr/sbin/nginx is installed. The last thing printed is a
one-screen table of statuscheck's figures and its ratios to each peer, with
the targets of issue 14 that these scenarios measure.

Each client run is a child process (in a process group of its own) under
GNU time, which reports its peak RSS; os.wait4 gives its user+sys CPU time.
Every run has a time limit after which that process group is killed; the
whole run stops by itself and ends the server it started.

    bench/run             the full run (about 12 minutes on 2 cores with every peer)
    bench/run --smoke     tiny N, one round, ~15 s: does everything still work?
    bench/run --profile   perf profile of statuscheck on S4 (and S3) at small N
    bench/run --only S3-nginx --runs 10 --peers oha
                          statuscheck and oha back to back, ten rounds
See `bench/run --help` for the rest.
"""

import argparse
import collections
import datetime
import json
import math
import os
import platform
import random
import re
import select
import shutil
import signal
import sqlite3
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
                 sequential_peers=False, runs=3, run_limit_s=120, allowance_s=60, server="bench", without=()):
        self.key = key
        self.server = server  # "bench" (bench/server.rs) or "nginx"
        self.without = without  # peers left out here, each with why: {name: reason}
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
            Scenario("S3-nginx", "200 HTTPS from nginx", 200, "https", 0, 50, 100, False, 1, 30, server="nginx"),
            Scenario("S4-nginx", "300 HTTP from nginx", 300, "http", 0, 50, 100, False, 1, 30, server="nginx"),
        ]
    return [
        # The allowances add up to 680 s: curl's --parallel needs ~1.5 ms of CPU
        # per check, so in S3 and S5 it (and then asyncio_ref) gets fewer rounds.
        Scenario("S1", "10 HTTPS, 100 ms delay, c=10", 10, "https", 100, 10, 10, True, 5, 60, 30),
        Scenario("S2", "1,000 HTTPS, 200 ms delay, c=1000", 1000, "https", 200, 1000, 1000, False, 3, 120, 30),
        Scenario("S3", "10,000 HTTPS, no delay, c=500", 10_000, "https", 0, 500, 1000, False, 3, 180, 130),
        Scenario("S4", "10,000 HTTP, no delay, c=500", 10_000, "http", 0, 500, 1000, False, 3, 120, 70),
        Scenario("S5", "100,000 HTTP, no delay, c=1000", 100_000, "http", 0, 1000, 1000, False, 3, 240, 220,
                 without={"lychee": "about 2 minutes per round, and S5 holds no target against it"}),
        # S3 and S4 again with nginx as the server (what most users' servers are).
        Scenario("S3-nginx", "10,000 HTTPS from nginx, c=500", 10_000, "https", 0, 500, 1000, False, 3, 180, 130,
                 server="nginx"),
        Scenario("S4-nginx", "10,000 HTTP from nginx, c=500", 10_000, "http", 0, 500, 1000, False, 3, 120, 70,
                 server="nginx"),
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


NGINX = "/usr/sbin/nginx"
OPENSSL = "/usr/bin/openssl"


def free_port(addr):
    """A port the kernel just handed out on addr (closed again at once: nginx
    binds it a moment later; a clash makes nginx fail to start, and says so)."""
    import socket
    with socket.socket() as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def make_certificates(directory):
    """A CA and an ECDSA P-256 leaf for *.bench.test, localhost and 127.0.0.1,
    like the bench server's, made with the openssl tool for nginx."""
    ca_key, ca, key, csr, leaf = (os.path.join(directory, n)
                                  for n in ("ca.key", "ca.pem", "leaf.key", "leaf.csr", "leaf.pem"))
    ext = os.path.join(directory, "leaf.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:*.bench.test,DNS:localhost,IP:127.0.0.1\n"
                "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n")
    p256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for argv in ([OPENSSL, "req", "-x509", *p256, "-keyout", ca_key, "-out", ca, "-days", "2",
                  "-subj", "/CN=statuscheck bench nginx CA",
                  "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"],
                 [OPENSSL, "req", *p256, "-keyout", key, "-out", csr, "-subj", "/CN=bench.test"],
                 [OPENSSL, "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                  "-out", leaf, "-days", "2", "-extfile", ext]):
        subprocess.run(argv, check=True, capture_output=True, stdin=subprocess.DEVNULL)
    return ca, leaf, key


NGINX_CONF = """\
# Written by bench/harness.py: loopback only, foreground, stopped by PID.
worker_processes {workers};
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    # One connection per URL, as with the bench server: nginx closes after each answer.
    keepalive_timeout 0;
    client_body_temp_path {dir}/tmp; proxy_temp_path {dir}/tmp; fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp; scgi_temp_path {dir}/tmp;
    ssl_certificate {leaf};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    # Every HTTPS check pays a full handshake, as against many different sites.
    ssl_session_cache off;
    ssl_session_tickets off;
    server {{
{listen}
{locations}
        location / {{ return 421; }}
    }}
}}
"""


class Nginx:
    """nginx from the Debian package as the server of the *-nginx scenarios:
    same URL paths as the bench server (no delays), each answering the code it
    names; same interface as Server (ca, addrs, ports, cpu_seconds, stop)."""

    def __init__(self, workdir, addrs):
        self.dir = os.path.join(workdir, "nginx")
        os.makedirs(os.path.join(self.dir, "tmp"))
        self.addrs = addrs
        self.ca, leaf, key = make_certificates(self.dir)
        self.ports = {"http": free_port(addrs[0]), "https": free_port(addrs[0])}
        listen = "\n".join(f"        listen {a}:{self.ports['http']} backlog=4096;\n"
                           f"        listen {a}:{self.ports['https']} ssl backlog=4096;" for a in addrs)
        # Exact-match locations: `return` takes a literal code, not a capture.
        locations = "\n".join(f"        location = /delay/0/status/{c} {{ return {c}; }}" for c in sorted(set(CODES)))
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(workers=NPROC, dir=self.dir, leaf=leaf, key=key,
                                      listen=listen, locations=locations))
        self.log = open(os.path.join(self.dir, "stderr"), "w+")
        self.proc = subprocess.Popen([NGINX, "-p", self.dir, "-c", conf, "-e", os.path.join(self.dir, "error.log")],
                                     stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL, env=CLEAN_ENV,
                                     start_new_session=True)
        if not self._wait_ready(15):
            self.stop()
            raise RuntimeError(f"nginx did not start: {self.stderr()}")
        self.workers = [pid for pid in self._children() if pid != self.proc.pid]

    def _wait_ready(self, limit_s):
        import socket
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                for port in self.ports.values():
                    socket.create_connection((self.addrs[0], port), timeout=1).close()
                if len(self._children()) >= NPROC:
                    return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def _children(self):
        """nginx's worker processes: the processes whose parent is the master."""
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                            pids.append(int(entry))
                except (OSError, ValueError, IndexError):
                    pass
        return pids

    def _pids(self):
        return [self.proc.pid] + self.workers

    def cpu_seconds(self):
        total = 0.0
        for pid in self._pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / TICKS
            except (OSError, ValueError, IndexError):
                pass
        return total

    def peak_rss_kb(self):
        """Master and workers added up."""
        total = 0
        for pid in self._pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    total += next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
            except OSError:
                pass
        return total

    def stderr(self):
        text = []
        for path in (os.path.join(self.dir, "stderr"), os.path.join(self.dir, "error.log")):
            try:
                with open(path, errors="replace") as f:
                    text.append(f.read().strip())
            except OSError:
                pass
        return "\n".join(t for t in text if t)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # nginx's fast shutdown; the workers go with it
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # nginx's own group (start_new_session)
                self.proc.wait()
        self.log.close()


def nginx_missing():
    """Why the nginx scenarios cannot run here, or None."""
    for tool, package in ((NGINX, "nginx"), (OPENSSL, "openssl")):
        if not os.access(tool, os.X_OK):
            return f"{tool} is missing (Debian package {package})"
    return None


# ------------------------------------------------------------------ the lists

class Lists:
    """The URLs of one scenario and what each one must answer, as files for
    every client: a plain list, a curl config, --resolve pins, an /etc/hosts
    for lychee, and oha's --connect-to arguments."""

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
        # .txt: lychee reads a file of that kind as plain text and checks every URL in it.
        self.url_file = base + ".urls.txt"
        self.pin_file = base + ".pins"
        self.curl_file = base + ".curl"
        self.hosts_file = base + ".hosts"
        self.connect_to = []  # oha: HOST:PORT:ADDR:PORT
        for p in self.pins:
            host, port, addr = p.split(":", 2)
            self.connect_to.append(f"--connect-to={host}:{port}:{addr}:{port}")
        with open(self.url_file, "w") as f:
            f.writelines(u + "\n" for u in self.urls)
        with open(self.pin_file, "w") as f:
            f.writelines(p + "\n" for p in self.pins)
        with open(self.curl_file, "w") as f:
            for p in self.pins:
                f.write(f'resolve = "{p}"\n')
            for u in self.urls:
                f.write(f'url = "{u}"\noutput = "/dev/null"\n')
        with open(self.hosts_file, "w") as f:
            f.write("127.0.0.1 localhost\n::1 localhost\n")
            for p in self.pins:
                host, _, addr = p.split(":", 2)
                f.write(f"{addr} {host}\n")
        # What share of the list asks for each code: oha picks URLs at random.
        self.code_share = {c: k / len(self.urls) for c, k in collections.Counter(self.expected.values()).items()}


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
    """One way to run one tool. argv_fn(run_base) gives its command line
    (run_base: the path prefix of this run's files); check(out_path, lists,
    run_base, r) fills r.correct, r.reported, r.errors and r.correct_note."""

    def __init__(self, name, argv_fn, error_column=None, note="", check=None):
        self.name = name
        self.argv_fn = argv_fn
        self.error_column = error_column
        self.note = note
        self.check = check or self.check_tsv

    def check_tsv(self, out_path, lists, run_base, r):
        got = parse_tsv(out_path)
        r.correct = sum(1 for url, code in lists.expected.items() if got.get(url) == code)
        r.reported = len(got)
        r.errors = error_reasons(out_path, self.error_column) if self.error_column else collections.Counter()


def load_json(path):
    try:
        with open(path, errors="replace") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None  # killed, or it printed no report


def check_lychee(out_path, lists, run_base, r):
    """lychee --format json -v: every URL sits in one of the *_map lists of
    its input file, with the code it got (none for a connection error)."""
    report = load_json(out_path) or {}
    got = {}
    r.errors = collections.Counter()
    for key, per_input in report.items():
        if not key.endswith("_map") or not isinstance(per_input, dict):
            continue
        for entries in per_input.values():
            for e in entries if isinstance(entries, list) else []:
                status = e.get("status") or {}
                got[e.get("url")] = status.get("code")
                if status.get("code") is None:
                    r.errors[re.sub(r"[0-9.:]+", "#", str(status.get("text")))[:80]] += 1
    r.correct = sum(1 for url, code in lists.expected.items() if got.get(url) == code)
    r.reported = len(got)


def distribution_ok(lists, n, counts):
    """oha picks each request's URL at random: is every code's count within
    5 standard deviations (binomial) of its expected count, and no other code?"""
    for code, k in counts.items():
        p = lists.code_share.get(code, 0.0)
        if abs(k - n * p) > 5 * math.sqrt(n * p * (1 - p)) + 2:
            return False
    return all(counts.get(code, 0) > 0 or n * p < 25 for code, p in lists.code_share.items())


def check_oha(out_path, lists, run_base, r):
    """oha reports totals only: its status-code distribution (against the
    list's, see distribution_ok) and its errors. With --db-url (smoke runs)
    it also stores each request's path and code, checked one by one."""
    report = load_json(out_path) or {}
    counts = {int(k): v for k, v in (report.get("statusCodeDistribution") or {}).items() if k.isdigit()}
    r.errors = collections.Counter({re.sub(r"[0-9.:]+", "#", k)[:80]: v
                                    for k, v in (report.get("errorDistribution") or {}).items()})
    n = len(lists.urls)
    # Answers with a code that some URL of the list asks for; all N only if none failed.
    r.correct = sum(v for k, v in counts.items() if k in lists.code_share)
    r.reported = sum(counts.values())
    dist = r.reported == n and distribution_ok(lists, n, counts)
    r.correct_note = "dist ok" if dist else "DIST OFF"
    db = run_base + ".db"
    if os.path.exists(db):
        rows = sqlite3.connect(db).execute("SELECT url, status FROM oha").fetchall()
        wanted = {}
        for url, code in lists.expected.items():
            wanted[url.split("/", 3)[3]] = code  # the path and query, as oha stores it
        r.correct = sum(1 for path, code in rows if wanted.get(path.lstrip("/")) == code)
        r.reported = len(rows)
        r.correct_note += ", each request" if r.correct == n else ", each request: WRONG"


def peers_found():
    """The optional peers on PATH, and why any is skipped."""
    found, notes = {}, []
    for name in ("lychee", "oha"):
        found[name] = shutil.which(name)
        if not found[name]:
            notes.append(f"{name}: not on PATH, skipped (ready-built ones: ../shared/bench-peers; see bench/RESULTS.md)")
    if found["lychee"]:
        # lychee cannot be told where a name is: it gets its own /etc/hosts in a
        # mount namespace of its own (needs root or user namespaces).
        try:
            probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                                   capture_output=True, text=True)
            why = probe.stderr.strip()[:120] if probe.returncode else None
        except OSError as e:
            why = str(e)
        if why:
            notes.append(f"lychee: skipped, unshare -m failed (it needs its own /etc/hosts for the bench names): {why}")
            found["lychee"] = None
    return found, notes


# The peers --peers can choose from (statuscheck and --baseline always run).
PEER_NAMES = ("curl", "asyncio_ref", "lychee", "oha")


def peer_name(client_name):
    """`curl --parallel` and `curl (sequential)` are curl, and so on."""
    return client_name.split()[0]


def clients(scenario, server, lists, peers, smoke=False):
    s = scenario
    ca = server.ca
    statuscheck = [STATUSCHECK, "-q", "--format", "tsv", "--cacert", ca,
                   *[f"--resolve={p}" for p in lists.pins], lists.url_file]
    curl_max = min(s.concurrency, CURL_PARALLEL_CAP)
    curl = [CURL, "-q", "-K", lists.curl_file, "-s", "--cacert", ca,
            "-w", "%{url_effective}\\t%{http_code}\\t%{errormsg}\\n"]
    asyncio_ref = [sys.executable, ASYNCIO_REF, "--cacert", ca,
                   "--resolve-file", lists.pin_file, lists.url_file]
    out = [Client("statuscheck", lambda _: statuscheck[:1] + ["-c", str(s.concurrency)] + statuscheck[1:],
                  error_column=4)]
    if s.sequential_peers:
        out.append(Client("statuscheck --sequential",
                          lambda _: statuscheck[:1] + ["--sequential"] + statuscheck[1:], error_column=4))
    if BASELINE:
        # Another build, in the same rounds, so before/after is side by side.
        base = [BASELINE] + statuscheck[1:]
        out.append(Client(BASELINE_NAME, lambda _: base[:1] + ["-c", str(s.concurrency)] + base[1:], error_column=4))
        if s.sequential_peers:
            out.append(Client(BASELINE_NAME + " --sequential",
                              lambda _: base[:1] + ["--sequential"] + base[1:], error_column=4))
    if not WITH_PEERS:
        return out
    curl_note = f"--parallel-max {curl_max}" + (" (curl's cap)" if curl_max < s.concurrency else "")
    out.append(Client("curl --parallel",
                      lambda _: curl + ["--parallel", "--parallel-immediate", "--parallel-max", str(curl_max)],
                      error_column=2, note=curl_note))
    if s.sequential_peers:
        out.append(Client("curl (sequential)", lambda _: curl, error_column=2))
    out.append(Client("asyncio_ref", lambda _: asyncio_ref[:2] + ["-c", str(s.concurrency)] + asyncio_ref[2:],
                      error_column=2))
    if s.sequential_peers:
        out.append(Client("asyncio_ref --sequential",
                          lambda _: asyncio_ref[:2] + ["--sequential"] + asyncio_ref[2:], error_column=2))
    if peers.get("lychee") and "lychee" not in s.without:
        # Its own /etc/hosts (the bench names) in a private mount namespace;
        # no retries, no redirects followed, no per-host limit or spacing.
        lychee = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                  'mount --bind "$0" /etc/hosts && exec "$@"', lists.hosts_file,
                  "env", f"SSL_CERT_FILE={ca}", peers["lychee"], "--format", "json", "-v", "--no-progress",
                  "--max-retries", "0", "--max-redirects", "0", "--max-concurrency", str(s.concurrency),
                  "--host-concurrency", str(s.concurrency), "--host-request-interval", "0s",
                  "--", lists.url_file]
        out.append(Client("lychee", lambda _: lychee, check=check_lychee))
    if peers.get("oha") and "oha" not in s.without:
        # The same N requests, one connection each, at the same concurrency;
        # oha picks each request's URL at random from the list.
        oha = [peers["oha"], "--no-tui", "--output-format", "json", "--urls-from-file", "-n", str(s.n),
               "-c", str(s.concurrency), "--disable-keepalive", "--redirect", "0", "--cacert", ca,
               *lists.connect_to]
        # Smoke runs also store every request (sqlite) to check its code one by one.
        out.append(Client("oha", lambda base: oha + (["--db-url", base + ".db"] if smoke else []) + [lists.url_file],
                          check=check_oha))
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
    argv = client.argv_fn(os.path.join(workdir, tag))
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
    r.correct_note = ""
    client.check(out_path, lists, os.path.join(workdir, tag), r)
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


def round_order(clients, round_no):
    """The clients of one round, in the order they run. statuscheck and oha,
    whose ratio is the CPU verdict, run with only the baseline between them
    and trade places every other round: each then follows the last peer of
    the round before (lychee), and each follows the baseline, equally often.
    What one run leaves behind weighs on the next: against nginx, oha's CPU
    per check was 6 % lower right after lychee and 11 % higher right after
    an nginx reload than right after statuscheck's or its own run, while
    statuscheck's moved by about 3 % (bench/RESULTS.md, "What runs before
    oha"); with oha always right after lychee, the old order favoured it."""
    oha = [c for c in clients if peer_name(c.name) == "oha"]
    ours = [c for c in clients if peer_name(c.name) not in PEER_NAMES]
    rest = [c for c in clients if c not in oha and c not in ours]
    if not oha or not ours or round_no % 2 == 0:
        return ours + oha + rest
    return oha + ours[1:] + ours[:1] + rest


def paired_ratios(ours, theirs):
    """Our figure ÷ the peer's, round by round, for the rounds both ran. A
    peer that sits out a round (its allowance spent) sits out every later
    one, so the runs of both line up from the first. The two of a pair ran
    in the same round, so the machine's drift from round to round cancels
    in it; with `--peers oha` they run back to back."""
    return [a / b for a, b in zip(ours, theirs) if b]


def same_rounds(ours, peer):
    """Both rows over the rounds both ran: statuscheck runs every round, a
    peer may sit out the last ones (its allowance spent), and a ratio of
    medians over different rounds would compare different stretches of the
    machine's drift."""
    rounds = min(len(ours.runs), len(peer.runs))
    if rounds == len(ours.runs) == len(peer.runs):
        return ours, peer
    return Row(ours.scenario, ours.client, ours.runs[:rounds]), Row(peer.scenario, peer.client, peer.runs[:rounds])


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
        worst = min(runs, key=lambda r: r.correct)
        self.correct_min = worst.correct
        # oha: how its totals were checked; the worst note of all its runs.
        notes = [r.correct_note for r in runs if r.correct_note]
        self.correct_note = next((x for x in notes if "OFF" in x or "WRONG" in x), notes[0] if notes else "")
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
        correct = (f"{self.correct_min}/{s.n}" + (f" ({self.correct_note})" if self.correct_note else "")
                   + (" KILLED" if self.killed else ""))
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


PEERS = ("baseline", "curl --parallel", "asyncio_ref", "lychee", "oha")

# `--baseline PATH`: another statuscheck build measured in the same rounds
# (named BASELINE_NAME); `--no-peers`: statuscheck (and the baseline) only.
BASELINE = None
BASELINE_NAME = "baseline"
WITH_PEERS = True


def ratio_table(rows):
    """One line per scenario: statuscheck's wall, CPU per check and peak RSS,
    then statuscheck/peer for each of the three (below 1: statuscheck is
    better), per peer; "!" marks a peer that got answers wrong."""
    keys = list(dict.fromkeys(r.scenario.key for r in rows))
    peers = [p for p in PEERS if any(r.client.name == p for r in rows)]
    head = ["scenario", "wall s", "µs CPU/check", "RSS MB", "right"] + [f"vs {p.split()[0]}" for p in peers]
    lines = [head, ["", "", "", "", ""] + ["wall CPU/ch RSS"] * len(peers)]
    for key in keys:
        sc = find(rows, key, "statuscheck")
        if not sc:
            continue
        line = [f"{key} {sc.scenario.scheme.upper()}", f"{sc.wall:.3f}", f"{sc.us_per_check:,.0f}",
                fmt_rss(sc.rss_kb), "yes" if sc.correct_min == sc.scenario.n else "NO"]
        for p in peers:
            peer = find(rows, key, p)
            if not peer or not peer.wall or not peer.cpu or not peer.rss_kb:
                line.append("-")
                continue
            mark = "" if peer.correct_min == peer.scenario.n and "OFF" not in peer.correct_note else "!"
            ours, theirs = same_rounds(sc, peer)
            line.append(f"{ours.wall / theirs.wall:.2f} {ours.cpu / theirs.cpu:.2f} "
                        f"{ours.rss_kb / theirs.rss_kb:.2f}{mark}")
        lines.append(line)
    widths = [max(len(c[i]) for c in lines) for i in range(len(head))]
    text = ["statuscheck, and statuscheck/peer (wall, CPU per check, peak RSS; below 1: statuscheck better)"]
    for k, c in enumerate(lines):
        text.append("  ".join(v.ljust(widths[i]) if i == 0 else v.rjust(widths[i]) for i, v in enumerate(c)).rstrip())
        if k == 1:
            text.append("  ".join("-" * w for w in widths))
    return "\n".join(text)


def issue14_targets(rows):
    """The targets of issue 14 that bench/run measures, with a verdict where
    this run holds the scenario."""
    out = []

    def verdict(ok):
        return "MET" if ok else "NOT MET"

    s1, s1_seq = find(rows, "S1", "statuscheck"), find(rows, "S1", "statuscheck --sequential")
    if s1 and s1_seq:
        ratio = s1_seq.wall / s1.wall
        out.append(f"S1 concurrent vs --sequential: {ratio:.1f}x faster (target >= 9.5x): {verdict(ratio >= 9.5)}")
    for key in ("S3", "S4", "S3-nginx", "S4-nginx"):
        sc = find(rows, key, "statuscheck")
        if not sc:
            continue
        scheme = sc.scenario.scheme.upper()
        oha, lychee = find(rows, key, "oha"), find(rows, key, "lychee")
        if oha and oha.cpu:
            ours, theirs = same_rounds(sc, oha)
            ratio = ours.cpu / theirs.cpu
            right = sc.correct_min == sc.scenario.n and "OFF" not in oha.correct_note
            out.append(f"{key}: {scheme} client CPU per check {ratio:.2f}x oha's (target <= 0.8x, every answer "
                       f"right): {verdict(ratio <= 0.8 and right)}")
            rounds = paired_ratios([r.cpu for r in sc.runs], [r.cpu for r in oha.runs])
            if len(rounds) > 1:
                out.append(f"{key}: the same, round by round: {' '.join(f'{x:.2f}' for x in rounds)} "
                           f"(median {median(rounds):.2f}; the ratio above is of the medians)")
        if lychee and lychee.wall:
            ours, theirs = same_rounds(sc, lychee)
            ratio = theirs.wall / ours.wall  # same N: the ratio of checks/s
            right = sc.correct_min == sc.scenario.n and lychee.correct_min == lychee.scenario.n
            out.append(f"{key}: {scheme} checks/s {ratio:.2f}x lychee's (target >= 2x, every answer right): "
                       f"{verdict(ratio >= 2 and right)}")
    if any(r.client.name in ("oha", "lychee") for r in rows):
        out.append("not measured by bench/run: DNS at scale (bench/dns*), sorted lists (bench/sorted*), "
                   "flat RSS from 10,000 to 10,000,000 URLs (bench/scale)")
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
    peers = [version([path, "--version"]) for path in (shutil.which("lychee"), shutil.which("oha")) if path]
    if os.access(NGINX, os.X_OK):
        peers.append(subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip())
    info["peers"] = ", ".join(peers)
    for name in ("ip_local_port_range", "tcp_tw_reuse"):
        try:
            with open(f"/proc/sys/net/ipv4/{name}") as f:
                info[name] = " ".join(f.read().split())
        except OSError:
            info[name] = "?"
    return info


# ---------------------------------------------------------------- profiling

def profile(args, workdir):
    """perf record (DWARF call graphs) of statuscheck on S4 and S3 at small N,
    and S3 against nginx where it is installed:
    time per library, top functions by self time, and the user-space frames
    with the most time spent inside them (children included)."""
    if not shutil.which("perf"):
        raise SystemExit("perf is not installed (apt-get install linux-perf); "
                         "valgrind --tool=callgrind works too, by hand")
    servers = {"bench": Server(workdir, args.addrs, 300)}
    runs = [("S4", 5000, "http", "bench"), ("S3", 2000, "https", "bench")]
    sections = []
    try:
        if nginx_missing() is None:
            servers["nginx"] = Nginx(workdir, args.addrs)
            runs.append(("S3-nginx", 2000, "https", "nginx"))
        for key, n, scheme, kind in runs:
            server = servers[kind]
            s = Scenario(key, f"{n:,} {scheme.upper()} URLs from {kind}, no delay, c=500", n, scheme, 0, 500, 1000,
                         server=kind)
            lists = Lists(s, server, workdir)
            sc = clients(s, server, lists, peers={})[0]
            data = os.path.join(workdir, f"perf-{key}.data")
            out = os.path.join(workdir, f"perf-{key}.out")
            argv = ["perf", "record", "-F", "1999", "--call-graph", "dwarf,16384", "-o", data, "--"] + sc.argv_fn(data)
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
        for server in servers.values():
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
    parser.add_argument("--baseline", help="another statuscheck build to measure in the same rounds "
                                           "(e.g. the last release), shown as 'baseline'")
    parser.add_argument("--no-peers", action="store_true", help="measure statuscheck (and --baseline) only")
    parser.add_argument("--peers", help="comma-separated peers to run (of " + ", ".join(PEER_NAMES) + "; "
                                        "default: all): e.g. oha alone, to run statuscheck and oha back to back")
    args = parser.parse_args()
    args.addrs = [a.strip() for a in args.addrs.split(",") if a.strip()]
    for a in args.addrs:
        if not a.startswith("127."):
            parser.error(f"--addrs: {a} is not in 127.0.0.0/8")
    global BASELINE, WITH_PEERS
    STATUSCHECK, SERVER = os.path.abspath(args.statuscheck), os.path.abspath(args.server)
    BASELINE = os.path.abspath(args.baseline) if args.baseline else None
    WITH_PEERS = not args.no_peers
    if args.peers:
        args.peers = {p.strip() for p in args.peers.split(",") if p.strip()}
        unknown = args.peers - set(PEER_NAMES)
        if unknown:
            parser.error(f"--peers: {', '.join(sorted(unknown))} is not one of {', '.join(PEER_NAMES)}")
    if BASELINE and not os.access(BASELINE, os.X_OK):
        parser.error(f"--baseline {BASELINE} is not an executable")
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
        chosen = [s for s in chosen if s.key.upper() in keys]
    if args.runs:
        for s in chosen:
            s.runs = args.runs
    peers, notes = peers_found()
    if peers.get("oha"):
        notes.append("oha: totals only; it picks each request's URL at random, so its codes are checked as a "
                     "distribution (each within 5 sigma of the list's)"
                     + ("; in this smoke run also each request, stored with --db-url" if args.smoke else ""))
    missing = nginx_missing()
    if missing and any(s.server == "nginx" for s in chosen):
        notes.append(f"nginx scenarios skipped: {missing}")
        chosen = [s for s in chosen if s.server != "nginx"]

    servers = {}
    rows = []
    try:
        if any(s.server == "bench" for s in chosen):
            servers["bench"] = Server(workdir, args.addrs, max_seconds=1800)
        if any(s.server == "nginx" for s in chosen):
            try:
                servers["nginx"] = Nginx(workdir, args.addrs)
            except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
                notes.append(f"nginx scenarios skipped: {e}"[:300])
                chosen = [s for s in chosen if s.server != "nginx"]
        for s in chosen:
            server = servers[s.server]
            lists = Lists(s, server, workdir)
            cls = [c for c in clients(s, server, lists, peers, args.smoke)
                   if not args.peers or peer_name(c.name) in args.peers or peer_name(c.name) not in PEER_NAMES]
            results = {c.name: [] for c in cls}
            notes.extend(f"{s.key} {name}: left out, {why}" for name, why in dict(s.without).items()
                         if peers.get(name))
            tw_max = 0
            print(f"{s.key}: {s.title} ({s.n} URLs over {min(s.hosts, s.n)} host names)", file=sys.stderr)
            wait_for_quiet(5 if args.smoke else 30, notes, s.key)
            scenario_start = time.monotonic()
            for round_no in range(s.runs):
                for c in round_order(cls, round_no):
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
        server_lines = []
        for kind, server in servers.items():
            rss = server.peak_rss_kb() if server.proc.poll() is None else 0
            server.stop()
            log = server.stderr().splitlines()
            server_lines.append(f"{kind} server: peak RSS {fmt_rss(rss)} MB" + (f"; {log[-1]}" if log else ""))

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
    for line in server_lines:
        print(line)
    print(f"total time {elapsed:.0f} s")
    # Last, so that it is what stays on the screen.
    print()
    if args.smoke:
        print("smoke run: tiny N, one round; ratios and verdicts only mean something in the full run")
    print(ratio_table(rows))
    for line in issue14_targets(rows):
        print(line)

    if args.record:
        info = machine_info()
        command = "bench/run " + " ".join(sys.argv[1:])
        with open(args.record, "w") as f:
            f.write(f"Run of {info['date']} on {info['nproc']} cores ({info['cpu']}), Linux {info['kernel']}; "
                    f"{info['statuscheck']}, {info['curl']}, Python {info['python']}, {info['peers']}; "
                    f"ip_local_port_range {info['ip_local_port_range']}, tcp_tw_reuse {info['tcp_tw_reuse']}.\n\n")
            f.write(f"Command: `{command.strip()}` (total {elapsed:.0f} s)\n\n")
            f.write(table_markdown(rows) + "\n\n")
            f.write("```\n" + ratio_table(rows) + "\n```\n\n")
            f.write("\n".join(f"- {v}" for v in issue14_targets(rows) + verdicts) + "\n\n")
            f.write("\n".join(f"- {n}" for n in notes) + "\n")
            f.writelines(f"- {line}\n" for line in server_lines)
        print(f"(written to {args.record})")
    bad = [r for r in rows if r.client.name.startswith("statuscheck") and r.correct_min < r.scenario.n]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
