#!/usr/bin/env python3
"""Conformance suite: statuscheck against real server software, curl as the reference.

Started by tests/conformance/run (which installs the servers and builds the
binary). Makes a PKI with openssl, starts nginx, apache2, haproxy, squid and
one small Node.js server on 127.0.0.1 (free ports, configs in a temp dir, all
in the foreground as our children), runs curl and statuscheck over the same
URLs, prints the table, writes it to target/conformance/TABLE.md (with --record
to tests/conformance/TABLE.md) and exits 1 on any difference
that choices.txt does not document. Every server is stopped by PID at the end,
also on failure or a signal. Standard library only.

TLS refusals and legacy servers (issue 18). nginx also serves, each on its
own port, certificates a client must refuse for what they are: a leaf under
an intermediate signed with SHA-1 by an RSA root (cause `weak-signature`),
under a 1024-bit RSA intermediate and a 1024-bit RSA leaf (`weak-key`), a CA
certificate (CA:TRUE) as the leaf (`ca-as-leaf`), a leaf with its host name
only in the CN (`no-san`), one valid from a year from now (`not-yet-valid`),
and two oversized chains, ~79 KiB (4,600 SANs) and ~170 KiB (10,000 SANs),
both past rustls's 64 KiB handshake-message cap, the first under OpenSSL's
100 KiB (`cert-too-large`); the expired, wrong-host, self-signed, missing and
expired intermediate cases have their causes too. And servers that offer only
what the default build does not speak (`legacy-only`): TLS 1.0-only, TLS
1.1-only (curl needs `--tlsv1 --ciphers DEFAULT@SECLEVEL=0` for those), and
TLS 1.2 with only CBC suites, only RSA key exchange, or only DHE (ffdhe2048
parameters). A case's `cause` says what statuscheck's `--format json` must put
in `error.cause`; where curl connects anyway the difference is a line in
choices.txt. Every TLS case is also run with the tls-legacy build (cargo
feature `tls-legacy`, STATUSCHECK_LEGACY_BIN) and `--tls-legacy`: it must
connect where the only flaw is `legacy-only` and refuse every other cause
exactly as the default build does, since the opt-in widens protocol versions
and suites only. Setup checks prove the legacy servers refuse TLS 1.3 and the
ECDHE AEAD suites and the weak chains work where weakness is allowed; openssl
verify proves each certificate has the one flaw its case is about.

Expectations (issue 20): cases with `body` or `header` run statuscheck with
--expect-body / --expect-header and compare whether the expectation is met
with what curl read (see EXPECT below).
"""

import base64
import concurrent.futures
import dataclasses
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LOOP = "127.0.0.1"
PAD_HEADERS = 30  # 30 headers of 1000 bytes: a 30 KiB head, as real Apache configs make
HUGE_HEADERS = 120  # a 120 KiB head: past 100 KiB, which curl 7.88 still accepts (its limit is 300 KiB)
CHECK_TIMEOUT = 10  # seconds, for both tools, unless a case says otherwise

children = []  # (name, Popen) of every server we started


def log(message):
    print(f"# {message}", flush=True)


def die(message):
    print(f"FAIL - {message}", flush=True)
    sys.exit(1)


def run(*argv, **kw):
    """Runs a setup command; a failure ends the suite with its output."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)
    if done.returncode != 0:
        die(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-800:]}")
    return done.stdout


def free_port():
    with socket.socket() as s:
        s.bind((LOOP, 0))
        return s.getsockname()[1]


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


# --- PKI -------------------------------------------------------------------

GOOD_NAMES = ["good.test", "rsa.test", "noint.test", "tls12.test", "tls13.test", "sni.test",
              "mtls.test", "apache.test", "haproxy.test", "tls10.test", "tls11.test", "cbc.test", "rsakx.test",
              "dhe.test"]
# SANs of the two oversized leaves: their chains must fall past rustls's 64 KiB
# handshake-message cap, one under OpenSSL's 100 KiB certificate-list cap
# (curl takes it) and one over it (curl refuses it too).
BIG_SANS = {"big80k": 4600, "big170k": 10000}


def make_pki(d):
    """root CA -> intermediate CA -> ECDSA and RSA leaves; expired, wrong-host and
    self-signed leaves; a leaf under an expired intermediate; a separate client CA
    with one client certificate. Returns path-of(name) for the files."""
    os.makedirs(d)
    p = lambda name: os.path.join(d, name)  # noqa: E731
    ext = p("ext.cnf")
    write(ext, "\n".join([
        "[ca]", "basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign",
        "subjectKeyIdentifier=hash",
        "[int]", "basicConstraints=critical,CA:TRUE,pathlen:0", "keyUsage=critical,keyCertSign,cRLSign",
        "subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid",
        "[leaf]", "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth", "subjectAltName=" + ",".join("DNS:" + n for n in GOOD_NAMES),
        "authorityKeyIdentifier=keyid",
        "[other]", "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth", "subjectAltName=DNS:other.test",
        "[expired]", "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth", "subjectAltName=DNS:expired.test",
        "[self]", "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth", "subjectAltName=DNS:self.test",
        "[client]", "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=clientAuth",
        # Certificates a client must refuse for what they are, not for their chain.
        *[line for name in ["sha1", "weakint", "weakkey", "notyet"] for line in [
            f"[{name}]", "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
            "extendedKeyUsage=serverAuth", f"subjectAltName=DNS:{name}.test", "authorityKeyIdentifier=keyid"]],
        # A CA certificate (it may sign others) served as the server's own.
        "[caleaf]", "basicConstraints=critical,CA:TRUE", "keyUsage=critical,digitalSignature,keyCertSign,cRLSign",
        "extendedKeyUsage=serverAuth", "subjectAltName=DNS:caleaf.test", "subjectKeyIdentifier=hash",
        "authorityKeyIdentifier=keyid",
        # The host name only in the subject's CN: no subjectAltName at all.
        "[nosan]", "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth", "authorityKeyIdentifier=keyid",
        *[line for name, n in BIG_SANS.items() for line in [
            f"[{name}]", "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature",
            "extendedKeyUsage=serverAuth", "authorityKeyIdentifier=keyid",
            f"subjectAltName=DNS:{name}.test," + ",".join(f"DNS:h{i:05}.{name}.test" for i in range(n))]],
        "",
    ]))

    def key(name, kind="ec", bits=2048):
        if kind == "ec":
            run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p(name + ".key"))
        else:
            run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}",
                "-out", p(name + ".key"))

    def csr(name, cn, key_of=None):
        run("openssl", "req", "-new", "-key", p((key_of or name) + ".key"), "-subj", f"/CN={cn}",
            "-out", p(name + ".csr"))

    def sign(name, issuer, section, days=30, digest="sha256"):
        run("openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p(issuer + ".pem"), "-CAkey", p(issuer + ".key"),
            "-CAcreateserial", "-days", str(days), f"-{digest}", "-extfile", ext, "-extensions", section,
            "-out", p(name + ".pem"))

    def selfsign(name, cn, section, days=30):
        run("openssl", "req", "-x509", "-new", "-key", p(name + ".key"), "-subj", f"/CN={cn}", "-days", str(days),
            "-config", ext, "-extensions", section, "-out", p(name + ".pem"))

    # Every key first, in parallel (RSA key generation is most of the PKI's time).
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda spec: key(*spec), [
            ("root",), ("int",), ("ecdsa",), ("rsa", "rsa"), ("other",), ("self",), ("clientca",), ("client",),
            ("expired",), ("oldint",), ("underold",), ("rsaroot", "rsa"), ("sha1int", "rsa"),
            ("weakint", "rsa", 1024), ("weakkey", "rsa", 1024)]))

    # openssl req -x509 wants a [req] section when given -config.
    with open(ext, "a") as f:
        f.write("[req]\ndistinguished_name=dn\n[dn]\n")

    selfsign("root", "statuscheck conformance root", "ca", 3650)
    csr("int", "statuscheck conformance intermediate"); sign("int", "root", "int", 365)
    csr("ecdsa", "good.test"); sign("ecdsa", "int", "leaf")
    csr("rsa", "rsa.test"); sign("rsa", "int", "leaf")
    csr("other", "other.test"); sign("other", "int", "other")
    selfsign("self", "self.test", "self")
    selfsign("clientca", "statuscheck conformance client CA", "ca", 3650)
    csr("client", "client"); sign("client", "clientca", "client")
    # An expired leaf: openssl ca is the one openssl command that takes past dates.
    csr("expired", "expired.test")
    os.makedirs(p("ca-db"))
    write(p("ca-db/index.txt"), "")
    write(p("ca.cnf"), "\n".join([
        "[ca]", "default_ca=int", "[int]", f"dir={p('ca-db')}", "database=$dir/index.txt",
        "new_certs_dir=$dir", "serial=$dir/serial", "default_md=sha256", "policy=any", "copy_extensions=none",
        "[any]", "commonName=supplied", "",
    ]))
    write(p("ca-db/serial"), "1000\n")
    run("openssl", "ca", "-batch", "-notext", "-config", p("ca.cnf"), "-cert", p("int.pem"), "-keyfile", p("int.key"),
        "-in", p("expired.csr"), "-startdate", "20200101000000Z", "-enddate", "20210101000000Z",
        "-extfile", ext, "-extensions", "expired", "-out", p("expired.pem"))

    # An intermediate that expired under a leaf that has not (cross-signed chains do this).
    csr("oldint", "statuscheck conformance expired intermediate")
    run("openssl", "ca", "-batch", "-notext", "-config", p("ca.cnf"), "-cert", p("root.pem"), "-keyfile", p("root.key"),
        "-in", p("oldint.csr"), "-startdate", "20200101000000Z", "-enddate", "20210101000000Z",
        "-extfile", ext, "-extensions", "int", "-out", p("oldint.pem"))
    csr("underold", "good.test"); sign("underold", "oldint", "leaf")
    cat = lambda out, *parts: write(p(out), "".join(open(p(x)).read() for x in parts))  # noqa: E731
    cat("underold-chain.pem", "underold.pem", "oldint.pem")
    for leaf in ["ecdsa", "rsa", "other", "expired"]:
        cat(leaf + "-chain.pem", leaf + ".pem", "int.pem")
        cat(leaf + "-full.pem", leaf + "-chain.pem", leaf + ".key")  # haproxy wants cert+chain+key in one
    cat("self-full.pem", "self.pem", "self.key")
    cat("int-and-root.pem", "int.pem", "root.pem")

    # --- certificates refused for what they are (issue 18) ---
    # An RSA root for the two RSA-signed intermediates: one signed with
    # sha1WithRSAEncryption, one with a 1024-bit key. Leaves use the P-256 key
    # `ecdsa.key` unless their own key is the point.
    selfsign("rsaroot", "statuscheck conformance RSA root", "ca", 3650)
    csr("sha1int", "statuscheck conformance SHA-1 intermediate")
    sign("sha1int", "rsaroot", "int", 365, digest="sha1")
    csr("sha1", "sha1.test", "ecdsa"); sign("sha1", "sha1int", "sha1")
    csr("weakint", "statuscheck conformance 1024-bit intermediate")
    sign("weakint", "rsaroot", "int", 365)
    csr("weakintleaf", "weakint.test", "ecdsa"); sign("weakintleaf", "weakint", "weakint")
    csr("weakkey", "weakkey.test"); sign("weakkey", "int", "weakkey")
    csr("caleaf", "caleaf.test", "rsa"); sign("caleaf", "int", "caleaf")
    csr("nosan", "nosan.test", "ecdsa"); sign("nosan", "int", "nosan")
    for name in BIG_SANS:
        csr(name, name + ".test", "ecdsa"); sign(name, "int", name)
    # Not yet valid: from a year from now. openssl 3.0's x509 has no -not_before;
    # openssl ca takes any start date.
    now = datetime.datetime.now(datetime.timezone.utc)
    csr("notyet", "notyet.test", "ecdsa")
    run("openssl", "ca", "-batch", "-notext", "-config", p("ca.cnf"), "-cert", p("int.pem"), "-keyfile", p("int.key"),
        "-in", p("notyet.csr"), "-startdate", (now + datetime.timedelta(days=365)).strftime("%Y%m%d%H%M%SZ"),
        "-enddate", (now + datetime.timedelta(days=730)).strftime("%Y%m%d%H%M%SZ"),
        "-extfile", ext, "-extensions", "notyet", "-out", p("notyet.pem"))
    cat("sha1-chain.pem", "sha1.pem", "sha1int.pem")
    cat("weakint-chain.pem", "weakintleaf.pem", "weakint.pem")
    for leaf in ["weakkey", "caleaf", "nosan", "notyet", *BIG_SANS]:
        cat(leaf + "-chain.pem", leaf + ".pem", "int.pem")
    # Finite-field DH parameters for the DHE-only server: the RFC 7919 group, at once.
    run("openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048", "-out", p("dh.pem"))

    check_pki(p)
    return p


def check_pki(p):
    """The PKI is what the cases say, checked with openssl itself (in parallel:
    each is a process of its own)."""
    def der_size(name):
        with open(p(name)) as f:
            return len(base64.b64decode("".join(f.read().split("-----")[2].split())))
    chain = {name: der_size(name + ".pem") + der_size("int.pem") for name in BIG_SANS}
    if not 65536 < chain["big80k"] < 100 * 1024 or not chain["big170k"] > 100 * 1024:
        die(f"oversized chains are {chain} bytes: want one in 64..100 KiB, one over 100 KiB")

    def has(name, want, present=True):
        if (want in run("openssl", "x509", "-in", p(name), "-noout", "-text")) != present:
            return f"{name} {'lacks' if present else 'has'} {want!r}"

    def flawed(leaf, untrusted, root, flaw, waive):
        # Refused (at security level 2, Debian's default and so curl's) for the
        # one flaw its case is about, and good with that flaw waived.
        args = ["-CAfile", p(root), "-untrusted", p(untrusted), p(leaf)]
        strict = subprocess.run(["openssl", "verify", "-auth_level", "2", *args], capture_output=True, text=True,
                                timeout=60)
        if strict.returncode == 0 or flaw not in strict.stdout + strict.stderr:
            return f"openssl verify {leaf}: want {flaw!r}, got {(strict.stdout + strict.stderr).strip()[-300:]}"
        run("openssl", "verify", *waive, *args)

    checks = [
        (has, "sha1int.pem", "Signature Algorithm: sha1WithRSAEncryption"),
        (has, "weakint.pem", "Public-Key: (1024 bit)"), (has, "weakkey.pem", "Public-Key: (1024 bit)"),
        (has, "caleaf.pem", "CA:TRUE"), (has, "nosan.pem", "Subject Alternative Name", False),
        (flawed, "sha1.pem", "sha1int.pem", "rsaroot.pem", "CA signature digest algorithm too weak",
         ["-auth_level", "0"]),
        (flawed, "weakintleaf.pem", "weakint.pem", "rsaroot.pem", "CA certificate key too weak", ["-auth_level", "0"]),
        (flawed, "weakkey.pem", "int.pem", "root.pem", "EE certificate key too weak", ["-auth_level", "0"]),
        (flawed, "notyet.pem", "int.pem", "root.pem", "certificate is not yet valid", ["-no_check_time"]),
    ]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        failed = [x for x in pool.map(lambda c: c[0](*c[1:]), checks) if x]
    if failed:
        die("; ".join(failed))


# --- servers ---------------------------------------------------------------

STATUS_CODES = [200, 201, 204, 301, 302, 303, 307, 308, 400, 401, 403, 404, 405, 410, 429, 500, 502, 503, 504]
REASONS = {200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently", 302: "Found", 303: "See Other",
           307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 410: "Gone",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}
PAD = "x" * 990


def nginx_conf(d, pki, ports):
    pad = lambda n: "".join(f"        add_header X-Pad-{i:03} {PAD} always;\n" for i in range(n))  # noqa: E731
    codes = "".join(
        f"        location = /s/{c} {{ return {c}{' /final' if 300 <= c < 400 else ''}; }}\n" for c in STATUS_CODES)

    def tls(port, name, cert, key, extra=""):
        return f"""
    server {{
        listen {LOOP}:{port} ssl;
        server_name {name};
        ssl_certificate {cert};
        ssl_certificate_key {key};
{extra}
        location / {{ return 200 "tls\\n"; }}
        location = /s/404 {{ return 404; }}
    }}
"""
    sni_strict = f"""
    server {{
        listen {LOOP}:{ports['ng_sni']} ssl default_server;
        ssl_reject_handshake on;
    }}
"""
    # Certificates a client must refuse. Debian's OpenSSL 3 (security level 2)
    # will not load a SHA-1-signed chain or a 1024-bit key into nginx:
    # @SECLEVEL=0 in that server's cipher string lets it. Every one speaks TLS 1.2
    # and 1.3 with the usual suites, so the certificate is the only flaw.
    modern = "        ssl_protocols TLSv1.2 TLSv1.3;"
    level0 = modern + "\n        ssl_ciphers HIGH:!aNULL:!MD5@SECLEVEL=0;"
    weak_certs = "".join(tls(ports[port], name, pki(chain), pki(k), extra) for port, name, chain, k, extra in [
        ("ng_sha1", "sha1.test", "sha1-chain.pem", "ecdsa.key", level0),
        ("ng_weakint", "weakint.test", "weakint-chain.pem", "ecdsa.key", level0),
        ("ng_weakkey", "weakkey.test", "weakkey-chain.pem", "weakkey.key", level0),
        ("ng_caleaf", "caleaf.test", "caleaf-chain.pem", "rsa.key", modern),
        ("ng_nosan", "nosan.test", "nosan-chain.pem", "ecdsa.key", modern),
        ("ng_notyet", "notyet.test", "notyet-chain.pem", "ecdsa.key", modern),
        ("ng_big80k", "big80k.test", "big80k-chain.pem", "ecdsa.key", modern),
        ("ng_big170k", "big170k.test", "big170k-chain.pem", "ecdsa.key", modern),
    ])
    # Servers that offer only what statuscheck's default build does not speak:
    # TLS 1.0 or 1.1 (which OpenSSL 3 allows only at security level 0), or TLS
    # 1.2 with only CBC suites, only RSA key exchange, or only finite-field DHE.
    legacy = "".join(tls(ports[port], name, pki(chain), pki(k), extra) for port, name, chain, k, extra in [
        ("ng_tls10", "tls10.test", "ecdsa-chain.pem", "ecdsa.key",
         "        ssl_protocols TLSv1;\n        ssl_ciphers DEFAULT@SECLEVEL=0;"),
        ("ng_tls11", "tls11.test", "ecdsa-chain.pem", "ecdsa.key",
         "        ssl_protocols TLSv1.1;\n        ssl_ciphers DEFAULT@SECLEVEL=0;"),
        ("ng_cbc", "cbc.test", "rsa-chain.pem", "rsa.key", "        ssl_protocols TLSv1.2;\n        ssl_ciphers "
         "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384;"),
        ("ng_rsakx", "rsakx.test", "rsa-chain.pem", "rsa.key",
         "        ssl_protocols TLSv1.2;\n        ssl_ciphers AES128-GCM-SHA256:AES256-GCM-SHA384;"),
        ("ng_dhe", "dhe.test", "rsa-chain.pem", "rsa.key",
         "        ssl_protocols TLSv1.2;\n        ssl_ciphers DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384;\n"
         f"        ssl_dhparam {pki('dh.pem')};"),
    ])
    return f"""
worker_processes 1;
daemon off;
master_process on;
user root root;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_timeout 30s;
    server {{
        listen {LOOP}:{ports['ng_http']};
        listen [::1]:{ports['ng_http']};
        server_name plain.test;
        location = /final {{ return 200 "final\\n"; }}
{codes}
        location = /r/abs {{ return 301 http://plain.test:{ports['ng_http']}/final; }}
        location = /r/rel {{ absolute_redirect off; return 302 /final; }}
        location = /r/dir/dotrel {{ absolute_redirect off; return 307 ../final; }}
        location = /r/chain {{ absolute_redirect off; return 301 /r/chain2; }}
        location = /r/chain2 {{ absolute_redirect off; return 308 /r/rel; }}
        location = /r/to404 {{ absolute_redirect off; return 302 /s/404; }}
        location = /r/303 {{ absolute_redirect off; return 303 /final; }}
        location = /r/final {{ return 201 "dot-relative\\n"; }}
        location = /r/loop {{ absolute_redirect off; return 302 /r/loop; }}
        location = /r/tohttps {{ return 301 https://good.test:{ports['ng_ecdsa']}/; }}
        location = /big/200 {{
{pad(PAD_HEADERS)}            return 200 "big\\n";
        }}
        location = /big/301 {{
            absolute_redirect off;
{pad(PAD_HEADERS)}            return 301 /final;
        }}
        location = /huge/200 {{
{pad(HUGE_HEADERS)}            return 200 "huge\\n";
        }}
        location = /huge/301 {{
            absolute_redirect off;
{pad(HUGE_HEADERS)}            return 301 /final;
        }}
        location = /big/503 {{
{pad(PAD_HEADERS)}            return 503;
        }}
        location /apache/ {{
            proxy_pass http://{LOOP}:{ports['ap_http']}/;
            proxy_http_version 1.1;
            proxy_buffering off;
        }}
    }}
{tls(ports['ng_ecdsa'], 'good.test', pki('ecdsa-chain.pem'), pki('ecdsa.key'))}
{tls(ports['ng_rsa'], 'rsa.test', pki('rsa-chain.pem'), pki('rsa.key'))}
{tls(ports['ng_noint'], 'noint.test', pki('ecdsa.pem'), pki('ecdsa.key'))}
{tls(ports['ng_expired'], 'expired.test', pki('expired-chain.pem'), pki('expired.key'))}
{tls(ports['ng_wrong'], 'good.test', pki('other-chain.pem'), pki('other.key'))}
{tls(ports['ng_oldint'], 'good.test', pki('underold-chain.pem'), pki('underold.key'))}
{tls(ports['ng_self'], 'self.test', pki('self.pem'), pki('self.key'))}
{tls(ports['ng_tls12'], 'tls12.test', pki('ecdsa-chain.pem'), pki('ecdsa.key'), '        ssl_protocols TLSv1.2;')}
{tls(ports['ng_tls13'], 'tls13.test', pki('ecdsa-chain.pem'), pki('ecdsa.key'), '        ssl_protocols TLSv1.3;')}
{weak_certs}
{legacy}
{sni_strict}
{tls(ports['ng_sni'], 'sni.test', pki('ecdsa-chain.pem'), pki('ecdsa.key'))}
{tls(ports['ng_mtls'], 'mtls.test', pki('ecdsa-chain.pem'), pki('ecdsa.key'),
     f'        ssl_client_certificate {pki("clientca.pem")};' + chr(10) + '        ssl_verify_client on;')}
}}
"""


CGI = {
    # Parsed CGI with no Content-Length: Apache sends the body chunked over HTTP/1.1.
    "chunked": 'printf "Content-Type: text/plain\\r\\n\\r\\n"; for i in 1 2 3; do echo "part $i"; done',
    "chunked404": 'printf "Status: 404 Not Found\\r\\nContent-Type: text/plain\\r\\n\\r\\n"; echo gone; echo really',
    # nph- scripts write the whole response themselves, status line included.
    "nph-http10": 'printf "HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: 3\\r\\n\\r\\nok\\n"',
    "nph-http10-close": 'printf "HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nbody until close\\n"',
    "nph-http10-404": 'printf "HTTP/1.0 404 Not Found\\r\\nContent-Length: 0\\r\\n\\r\\n"',
    "nph-http10-302": 'printf "HTTP/1.0 302 Found\\r\\nLocation: /final\\r\\nContent-Length: 0\\r\\n\\r\\n"',
    # Answers, then keeps the connection open (keep-alive) for 6 s.
    "nph-keepalive": 'printf "HTTP/1.1 200 OK\\r\\nConnection: keep-alive\\r\\nContent-Length: 3\\r\\n\\r\\nok\\n"; sleep 6',
    "nph-keepalive-chunked": 'printf "HTTP/1.1 404 Not Found\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n3\\r\\nno\\n\\r\\n0\\r\\n\\r\\n"; sleep 6',
    "nph-100-404": 'printf "HTTP/1.1 100 Continue\\r\\n\\r\\nHTTP/1.1 404 Not Found\\r\\nContent-Length: 0\\r\\n\\r\\n"',
    "nph-102-103-200": 'printf "HTTP/1.1 102 Processing\\r\\n\\r\\nHTTP/1.1 103 Early Hints\\r\\nLink: </s.css>; rel=preload\\r\\n\\r\\nHTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n"',
    "nph-101": 'printf "HTTP/1.1 101 Switching Protocols\\r\\nConnection: Upgrade\\r\\nUpgrade: websocket\\r\\n\\r\\n"',
    "nph-no-reason": 'printf "HTTP/1.1 200\\r\\nContent-Length: 0\\r\\n\\r\\n"',
    "nph-short-body": 'printf "HTTP/1.1 200 OK\\r\\nContent-Length: 100\\r\\nConnection: close\\r\\n\\r\\nshort\\n"',
    "nph-bad-chunk": 'printf "HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\nConnection: close\\r\\n\\r\\nzz\\r\\nnot a chunk\\r\\n"',
    # The status line's CR and LF in two writes, a moment apart.
    "nph-split-crlf": 'printf "HTTP/1.1 200 OK\\r"; sleep 0.3; printf "\\nContent-Length: 0\\r\\n\\r\\n"',
    # Status codes of more than three digits (RFC 9112: status-code = 3DIGIT).
    "nph-code-2000": 'printf "HTTP/1.1 2000 OK\\r\\nContent-Length: 0\\r\\n\\r\\n"',
    "nph-code-0123456789": 'printf "HTTP/1.1 0123456789 OK\\r\\nContent-Length: 0\\r\\n\\r\\n"',
    # A Content-Length that is no number (RFC 9112 6.3: a client must refuse it).
    "nph-bad-length": 'printf "HTTP/1.1 200 OK\\r\\nContent-Length: abc\\r\\nConnection: close\\r\\n\\r\\n"',
    # Locations that are none, or have an empty host.
    "nph-empty-location": 'printf "HTTP/1.1 301 Moved Permanently\\r\\nLocation:\\r\\nContent-Length: 0\\r\\n\\r\\n"',
    "nph-empty-host-location": 'printf "HTTP/1.1 302 Found\\r\\nLocation: http:////apache.test/final\\r\\nContent-Length: 0\\r\\n\\r\\n"',
}


def apache_conf(d, pki, ports):
    m = "/usr/lib/apache2/modules"
    mods = ["mpm_event", "authz_core", "mime", "alias", "asis", "headers", "cgid", "ssl", "socache_shmcb",
            "setenvif"]
    loads = "".join(f"LoadModule {x}_module {m}/mod_{x}.so\n" for x in mods)
    pad = lambda n: "".join(f"    Header always set X-Pad-{i:03} {PAD}\n" for i in range(n))  # noqa: E731
    docs, cgi = os.path.join(d, "htdocs"), os.path.join(d, "cgi-bin")
    os.makedirs(os.path.join(docs, "s"))
    os.makedirs(cgi)
    write(os.path.join(docs, "final"), "final\n")
    for c in STATUS_CODES:
        # An absolute Location: a local one with a 3xx is an internal redirect in Apache.
        loc = f"Location: http://apache.test:{ports['ap_http']}/final\n" if 300 <= c < 400 else ""
        body = "" if c == 204 else f"{c}\n"
        write(os.path.join(docs, "s", str(c)), f"Status: {c} {REASONS[c]}\nContent-Type: text/plain\n{loc}\n{body}")
    write(os.path.join(docs, "s", "rel302"), "Status: 302 Found\nLocation: final-rel\n\n")
    write(os.path.join(docs, "s", "final-rel"), "Status: 200 OK\n\nrel\n")
    for name, body in CGI.items():
        write(os.path.join(cgi, name), "#!/bin/sh\n" + body + "\n", 0o755)
    return f"""
ServerRoot {d}
ServerName apache.test
PidFile {d}/apache.pid
Mutex file:{d}
ErrorLog {d}/apache-error.log
LogLevel warn
{loads}
User www-data
Group www-data
ScriptSock {d}/cgid.sock
Timeout 20
KeepAlive On
TypesConfig /etc/mime.types
Listen {LOOP}:{ports['ap_http']}
Listen {LOOP}:{ports['ap_rsa']}
Listen {LOOP}:{ports['ap_mtls']}
Listen {LOOP}:{ports['ap_tls13']}
SSLSessionCache shmcb:{d}/ssl_scache(512000)
DocumentRoot {docs}
<Directory />
    Require all granted
</Directory>
<Directory {docs}/s>
    SetHandler send-as-is
</Directory>
ScriptAlias /cgi-bin/ {cgi}/
Redirect 301 /r/abs /final
<Location /big/301>
{pad(PAD_HEADERS)}</Location>
Redirect 301 /big/301 /final
# Apache writes its own headers (Location among them) after these: Location past 100 KiB.
<Location /huge/301>
{pad(HUGE_HEADERS)}</Location>
Redirect 301 /huge/301 /final
<VirtualHost {LOOP}:{ports['ap_rsa']}>
    ServerName apache.test
    SSLEngine on
    SSLCertificateFile {pki('rsa-chain.pem')}
    SSLCertificateKeyFile {pki('rsa.key')}
</VirtualHost>
<VirtualHost {LOOP}:{ports['ap_tls13']}>
    ServerName tls13.test
    SSLEngine on
    SSLProtocol -all +TLSv1.3
    SSLCertificateFile {pki('ecdsa-chain.pem')}
    SSLCertificateKeyFile {pki('ecdsa.key')}
</VirtualHost>
<VirtualHost {LOOP}:{ports['ap_mtls']}>
    ServerName mtls.test
    SSLEngine on
    SSLCertificateFile {pki('ecdsa-chain.pem')}
    SSLCertificateKeyFile {pki('ecdsa.key')}
    SSLCACertificateFile {pki('clientca.pem')}
    SSLVerifyClient require
</VirtualHost>
"""


def haproxy_conf(d, pki, ports):
    returns = []
    for c in STATUS_CODES:
        if 300 <= c < 400:
            returns.append(f"    http-request redirect location /final code {c} if {{ path /s/{c} }}")
        else:
            returns.append(f"    http-request return status {c} if {{ path /s/{c} }}")
    returns = "\n".join(returns)
    return f"""
global
    pidfile {d}/haproxy.pid
    maxconn 256
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout tarpit 30s
    option http-keep-alive
frontend plain
    bind {LOOP}:{ports['hp_http']}
{returns}
    http-request return status 200 content-type text/plain string "final" if {{ path /final }}
    http-request redirect location http://haproxy.test:{ports['hp_http']}/final code 301 if {{ path /r/abs }}
    http-request redirect location /final code 302 if {{ path /r/rel }}
    http-request reject if {{ path /reject }}
    http-request tarpit if {{ path /tarpit }}
    http-request replace-path /nginx(/.*) \\1 if {{ path_beg /nginx/ }}
    default_backend nginx
frontend tls
    bind {LOOP}:{ports['hp_tls']} ssl crt {pki('ecdsa-full.pem')} crt {pki('rsa-full.pem')}
    http-request replace-path /nginx(/.*) \\1 if {{ path_beg /nginx/ }}
    default_backend nginx
frontend tls12
    bind {LOOP}:{ports['hp_tls12']} ssl crt {pki('ecdsa-full.pem')} ssl-max-ver TLSv1.2
    default_backend nginx
frontend tls13
    bind {LOOP}:{ports['hp_tls13']} ssl crt {pki('rsa-full.pem')} ssl-min-ver TLSv1.3
    default_backend nginx
frontend mtls
    bind {LOOP}:{ports['hp_mtls']} ssl crt {pki('ecdsa-full.pem')} ca-file {pki('clientca.pem')} verify required
    default_backend nginx
backend nginx
    server ng {LOOP}:{ports['ng_http']}
"""


def squid_conf(d, pki, ports):
    run("htpasswd", "-bc", os.path.join(d, "passwd"), "alice", "right-password")
    write(os.path.join(d, "hosts"), "".join(f"{LOOP} {n}\n" for n in GOOD_NAMES + ["plain.test"]))
    return f"""
http_port {LOOP}:{ports['sq_open']} name=open
http_port {LOOP}:{ports['sq_auth']} name=auth
pid_filename {d}/squid.pid
cache_log {d}/cache.log
access_log none
cache_store_log none
cache deny all
cache_mem 8 MB
coredump_dir {d}
netdb_filename none
hosts_file {d}/hosts
dns_nameservers 127.0.0.1
shutdown_lifetime 0 seconds
auth_param basic program /usr/lib/squid/basic_ncsa_auth {d}/passwd
auth_param basic children 1 startup=1 idle=1
auth_param basic realm conformance
acl authport myportname auth
acl authed proxy_auth REQUIRED
http_access deny authport !authed
http_access allow all
"""


NODE = r"""
// 1xx as Node 20's own API sends them over HTTP/1.1.
const http = require('http');
const server = http.createServer((req, res) => {
  const link = { link: '</style.css>; rel=preload; as=style' };
  switch (req.url) {
    case '/103-200': res.writeEarlyHints(link); res.writeHead(200); res.end('ok\n'); break;
    case '/103-500': res.writeEarlyHints(link); res.writeHead(500); res.end('down\n'); break;
    case '/103-103-404': res.writeEarlyHints(link); res.writeEarlyHints(link); res.writeHead(404); res.end(); break;
    case '/100-404': res.writeContinue(); res.writeHead(404); res.end(); break;
    case '/100-503': res.writeContinue(); res.writeHead(503); res.end(); break;
    case '/102-200': res.writeProcessing(); res.writeHead(200); res.end(); break;
    case '/keepalive': res.writeHead(200, { 'Content-Length': '3' }); res.end('ok\n'); break;
    default: res.writeHead(404); res.end();
  }
});
server.keepAliveTimeout = 30000;
server.listen(Number(process.argv[2]), '127.0.0.1');
"""


def start(name, argv, d, ports_to_wait, cwd=None):
    out = open(os.path.join(d, f"{name}.out"), "w")
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
    children.append((name, proc))
    deadline = time.monotonic() + 15
    waiting = list(ports_to_wait)
    while waiting and time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection((LOOP, waiting[0]), timeout=0.5):
                waiting.pop(0)
        except OSError:
            time.sleep(0.1)
    # A port someone else took between our probe and the server's bind would
    # answer the probe while our server exits: make sure ours is still there.
    time.sleep(0.2)
    if waiting or proc.poll() is not None:
        out.flush()
        text = open(os.path.join(d, f"{name}.out")).read()[-1500:]
        die(f"{name} did not start (ports {waiting} not listening, exit {proc.poll()}): {text}")
    log(f"{name} up (pid {proc.pid}) on {', '.join(map(str, ports_to_wait))}")


def group_members(pgid):
    """PIDs of the live processes in process group `pgid` (the workers a server forked)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry))
    return members


def stop_all():
    """Stops our servers by PID: TERM to each server we started, a bounded wait,
    then KILL to it and to any worker it forked that is still left (found by
    process group, which each server got of its own at start)."""
    for name, proc in reversed(children):
        if proc.poll() is None:
            proc.terminate()
    for name, proc in reversed(children):
        t = time.monotonic()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        deadline = time.monotonic() + 3
        while group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in group_members(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log(f"{name} stopped in {time.monotonic() - t:.1f}s")
    children.clear()


# --- the two clients ---------------------------------------------------------

# curl's exit code -> our error kind (curl is the reference: the class must agree).
CURL_KIND = {3: "invalid-url", 5: "dns", 6: "dns", 7: "connect", 28: "timeout", 35: "tls", 51: "tls", 53: "tls",
             54: "tls", 58: "tls", 59: "tls", 60: "tls", 66: "tls", 77: "tls", 83: "tls", 90: "tls", 91: "tls",
             52: "protocol", 8: "protocol", 1: "redirect", 47: "redirect", 55: "io", 56: "io", 18: "io"}


def curl_kind(code, stderr):
    if code == 56 and "CONNECT tunnel failed" in stderr:
        return "connect"  # the proxy refused the tunnel, as statuscheck classes it
    if code == 56 and ("SSL" in stderr or "alert" in stderr):
        return "tls"  # a TLS alert after the handshake (TLS 1.3 client-certificate refusals)
    if code == 3 and "redirect target URL" in stderr:
        return "redirect"  # a Location it could not follow, which statuscheck calls a redirect error
    if code == 1 and "Unsupported response code" in stderr:
        return "protocol"  # curl 7.x's words for a status code it cannot read (8.x: exit 8)
    return CURL_KIND.get(code, f"curl-exit-{code}")


@dataclasses.dataclass
class Case:
    """One URL both clients check the same way. `id@server` names it in choices.txt."""
    id: str
    server: str
    url: str
    follow: bool = False  # -L on both
    head: bool = False  # --method head / curl -I
    proxy: str = None  # --proxy on both; the proxy resolves the host
    timeout: int = CHECK_TIMEOUT
    resolve: list = dataclasses.field(default_factory=list)  # more HOST:PORT:ADDR pins
    want_message: tuple = None  # words statuscheck's error message must contain
    secret: str = None  # text that must appear nowhere in statuscheck's output
    pin: str = LOOP  # where the URL's own host:port is pinned (curl's --resolve syntax)
    ca: str = "root.pem"  # --cacert on both
    curl_args: tuple = ()  # what curl needs on top to be the reference (legacy servers)
    cause: str = None  # statuscheck's default build must fail with kind tls and this cause
    optin: bool = False  # also run the tls-legacy build with --tls-legacy (see OPTIN)
    body: str = None  # --expect-body: text the body's first 64 KiB must hold (see EXPECT)
    header: str = None  # --expect-header: a field the final answer's head must have


# statuscheck --tls-legacy (cargo feature tls-legacy) widens protocol versions
# and suites only: on a `legacy-only` case it must answer as curl does; on a case
# with another cause (weak or wrong certificates) it must still refuse with that
# cause; on a case without one it must answer as curl does.
LEGACY_CAUSE = "legacy-only"
# Every TLS 1.2 suite rustls has: a legacy-only server must refuse them all.
ECDHE_AEAD = ":".join(f"ECDHE-{sig}-{suite}" for sig in ["ECDSA", "RSA"]
                      for suite in ["AES128-GCM-SHA256", "AES256-GCM-SHA384", "CHACHA20-POLY1305"])


def optin_wants(case, curl):
    if case.cause and case.cause != LEGACY_CAUSE:
        return f"error:tls ({case.cause})"
    return curl


def host_port(url):
    rest = url.split("://", 1)[1].split("/", 1)[0]
    host, _, port = rest.rpartition(":")
    return host, port


def resolves(case):
    pins = list(case.resolve)
    if not case.proxy:
        host, port = host_port(case.url)
        if host and port and not host[0].isdigit() and not host.startswith("["):
            pins.append(f"{host}:{port}:{case.pin}")
    return pins


def clean_env():
    env = {k: v for k, v in os.environ.items() if k.lower() not in
           ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env["NO_COLOR"] = "1"
    return env


# EXPECT. Expectations (issue 20): a case with `body` or `header` is judged by its
# content, not its code (--ok-codes 100-599). curl keeps the body (chunked
# framing taken off, nothing decompressed: no --compressed) and the heads;
# the reference answer is `CODE met` when the body's first 64 KiB hold the
# text and the final head has the field, `CODE unmet` otherwise.
BODY_LIMIT = 64 * 1024


def expects(case):
    return case.body is not None or case.header is not None


def content_met(case, body, heads):
    final = heads.replace("\r\n", "\n").strip().split("\n\n")[-1].lower().split("\n")[1:]
    names = {line.split(":", 1)[0].strip() for line in final if ":" in line}
    body_met = case.body is None or case.body.encode() in body[:BODY_LIMIT]
    return body_met and (case.header is None or case.header.lower() in names)


def run_curl(case, pki, extra=()):
    if expects(case):
        with tempfile.TemporaryDirectory() as d:
            body, heads = os.path.join(d, "body"), os.path.join(d, "heads")
            got, message = curl(case, pki, ["-o", body, "-D", heads, *extra])
            if got.startswith("error:"):
                return got, message
            with open(body, "ab+") as b, open(heads, encoding="latin-1") as h:
                b.seek(0)
                # With -I, what curl writes to -o is the head: a HEAD has no body.
                met = content_met(case, b"" if case.head else b.read(), h.read())
            return f"{got} {'met' if met else 'unmet'}", message
    return curl(case, pki, ["-o", "/dev/null", *extra])


def curl(case, pki, extra):
    argv = ["curl", "-s", "-S", "-w", "%{http_code}", "--cacert", pki(case.ca),
            "--max-time", str(case.timeout), "--connect-timeout", "5", *case.curl_args, *extra]
    for pin in resolves(case):
        argv += ["--resolve", pin]
    if case.follow:
        argv += ["-L", "--max-redirs", "10"]  # statuscheck's -L default
    if case.head:
        argv += ["-I"]
    if case.proxy:
        argv += ["--proxy", case.proxy]
    argv.append(case.url)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=case.timeout + 10, env=clean_env())
    if done.returncode == 0:
        return done.stdout.strip(), ""
    stderr = done.stderr.strip().splitlines()
    # curl's own line (`curl: (60) SSL certificate problem: ...`), not the advice after it.
    own = [line for line in stderr if line.startswith("curl: (")]
    message = own[0] if own else stderr[-1] if stderr else ""
    return "error:" + curl_kind(done.returncode, message), message


def run_statuscheck(case, pki, binary, extra=()):
    """(answer, cause, message, everything): the answer as curl's is put, the
    error's `cause` ("" when there is none)."""
    argv = [binary, "--format", "json", "-q", "--cacert", pki(case.ca), "--timeout", f"{case.timeout}s",
            "--connect-timeout", "5s", *extra]
    for pin in resolves(case):
        argv += ["--resolve", pin]
    if case.follow:
        argv += ["-L"]
    if case.head:
        argv += ["--method", "head"]
    if case.proxy:
        argv += ["--proxy", case.proxy]
    if case.body is not None:
        argv += ["--expect-body", case.body]
    if case.header is not None:
        argv += ["--expect-header", case.header]
    if expects(case):
        argv += ["--ok-codes", "100-599"]
    argv += ["-u", case.url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=case.timeout + 10, env=clean_env())
    everything = done.stdout + done.stderr
    if done.returncode not in (0, 1):
        return f"exit-{done.returncode}", "", done.stderr.strip()[-300:], everything
    try:
        result = json.loads(done.stdout.splitlines()[0])
    except (IndexError, ValueError):
        return "no-json", "", done.stdout[:300], everything
    if result.get("error"):
        error = result["error"]
        return "error:" + error["kind"], error.get("cause") or "", error["message"], everything
    if expects(case):
        met = result["state"] == "up"
        return f"{result['code']} {'met' if met else 'unmet'}", "", "; ".join(u["got"] for u in result["unmet"]), everything
    return str(result["code"]), "", "", everything


def said(answer, cause):
    """An answer with its cause, as the table shows it: `error:tls (weak-key)`."""
    return f"{answer} ({cause})" if cause else answer


# --- the cases ---------------------------------------------------------------

def cases(ports):
    p = ports
    out = []
    ng = f"http://plain.test:{p['ng_http']}"
    ap = f"http://apache.test:{p['ap_http']}"
    hp = f"http://haproxy.test:{p['hp_http']}"
    nd = f"http://node.test:{p['node']}"
    for server, base in [("nginx", ng), ("apache2", ap), ("haproxy", hp)]:
        for c in STATUS_CODES:
            out.append(Case(f"status-{c}-{server}", server, f"{base}/s/{c}"))
    # Redirects, without and with -L.
    redirects = [
        ("redirect-abs", "nginx", f"{ng}/r/abs"), ("redirect-rel", "nginx", f"{ng}/r/rel"),
        ("redirect-dotrel", "nginx", f"{ng}/r/dir/dotrel"), ("redirect-chain", "nginx", f"{ng}/r/chain"),
        ("redirect-to-404", "nginx", f"{ng}/r/to404"), ("redirect-303", "nginx", f"{ng}/r/303"),
        ("redirect-http-to-https", "nginx", f"{ng}/r/tohttps"),
        ("redirect-abs", "apache2", f"{ap}/r/abs"), ("redirect-rel", "apache2", f"{ap}/s/rel302"),
        ("redirect-abs", "haproxy", f"{hp}/r/abs"), ("redirect-rel", "haproxy", f"{hp}/r/rel"),
        ("redirect-301-via-haproxy", "haproxy+nginx", f"{hp}/nginx/s/301"),
    ]
    for cid, server, url in redirects:
        extra = [f"good.test:{p['ng_ecdsa']}:{LOOP}"] if "https" in cid else []
        if "via-haproxy" in cid:
            # nginx behind haproxy: its absolute Location names the Host it was
            # asked for with its own port (port_in_redirect), as it does in real life.
            extra = [f"haproxy.test:{p['ng_http']}:{LOOP}"]
        out.append(Case(cid, server, url, resolve=extra))
        out.append(Case(cid + "-L", server, url, follow=True, resolve=extra))
    out.append(Case("redirect-loop-L", "nginx", f"{ng}/r/loop", follow=True))
    for c in STATUS_CODES:
        if 300 <= c < 400:
            out.append(Case(f"status-{c}-L", "haproxy", f"{hp}/s/{c}", follow=True))
    # HEAD against curl -I.
    for cid, server, url, follow in [
        ("head-200", "nginx", f"{ng}/final", False), ("head-404", "nginx", f"{ng}/s/404", False),
        ("head-301", "nginx", f"{ng}/r/abs", False), ("head-301-L", "nginx", f"{ng}/r/abs", True),
        ("head-503", "haproxy", f"{hp}/s/503", False), ("head-200", "apache2", f"{ap}/final", False),
        ("head-chunked", "apache2", f"{ap}/cgi-bin/chunked", False),
    ]:
        out.append(Case(cid, server, url, head=True, follow=follow))
    # HTTP/1.0, keep-alive, chunked.
    for cid, path in [("http10-200", "nph-http10"), ("http10-close-delimited", "nph-http10-close"),
                      ("http10-404", "nph-http10-404"), ("http10-302", "nph-http10-302")]:
        out.append(Case(cid, "apache2", f"{ap}/cgi-bin/{path}"))
    out.append(Case("http10-302-L", "apache2", f"{ap}/cgi-bin/nph-http10-302", follow=True))
    # The connection stays open 6 s after the answer: a client that waited for the
    # close would miss the 3 s deadline.
    out.append(Case("keepalive-open-200", "apache2", f"{ap}/cgi-bin/nph-keepalive", timeout=3))
    out.append(Case("keepalive-open-chunked-404", "apache2", f"{ap}/cgi-bin/nph-keepalive-chunked", timeout=3))
    out.append(Case("keepalive-200", "node", f"{nd}/keepalive"))
    out.append(Case("keepalive-200", "haproxy+nginx", f"{hp}/nginx/final"))
    out.append(Case("chunked-200", "apache2", f"{ap}/cgi-bin/chunked"))
    out.append(Case("chunked-404", "apache2", f"{ap}/cgi-bin/chunked404"))
    out.append(Case("chunked-200-via-nginx", "nginx+apache2", f"{ng}/apache/cgi-bin/chunked"))
    # Expectations: what the body and head hold, judged against what curl read.
    # Apache sends a CGI's body chunked to curl (keep-alive) and until close to
    # statuscheck (`Connection: close`); the nph- script is chunked for both.
    hs = f"https://good.test:{p['ng_ecdsa']}"
    for cid, server, url, body, header, opts in [
        ("expect-body-length", "nginx", f"{ng}/final", "final", None, {}),
        ("expect-body-absent", "nginx", f"{ng}/final", "nope", None, {}),
        ("expect-body-https", "nginx", f"{hs}/", "tls", None, {}),
        ("expect-body-cgi", "apache2", f"{ap}/cgi-bin/chunked", "part 2\npart 3", None, {}),
        ("expect-body-cgi-absent", "apache2", f"{ap}/cgi-bin/chunked", "part 4", None, {}),
        ("expect-body-cgi-404", "apache2", f"{ap}/cgi-bin/chunked404", "really", None, {}),
        ("expect-body-cgi-via-nginx", "nginx+apache2", f"{ng}/apache/cgi-bin/chunked", "part 3", None, {}),
        # Chunked, then the connection held open 6 s: the last chunk ends the read.
        ("expect-body-chunked-keepalive", "apache2", f"{ap}/cgi-bin/nph-keepalive-chunked", "no", None,
         {"timeout": 3}),
        ("expect-body-until-close", "apache2", f"{ap}/cgi-bin/nph-http10-close", "until close", None, {}),
        ("expect-body", "haproxy", f"{hp}/final", "final", None, {}),
        ("expect-body-L", "nginx", f"{ng}/r/abs", "final", None, {"follow": True}),
        ("expect-body-head", "nginx", f"{ng}/final", "final", None, {"head": True}),
        ("expect-header", "nginx", f"{ng}/final", None, "Content-Type", {}),
        ("expect-header-absent", "nginx", f"{ng}/final", None, "X-Absent", {}),
        ("expect-header-30k", "nginx", f"{ng}/big/200", None, "X-Pad-029", {}),
        ("expect-header-404", "nginx", f"{ng}/s/404", None, "Server", {}),
        ("expect-header-chunked", "apache2", f"{ap}/cgi-bin/nph-keepalive-chunked", "no", "Transfer-Encoding",
         {"timeout": 3}),
        ("expect-header-cgi", "apache2", f"{ap}/cgi-bin/chunked", "part 1", "Content-Type", {}),
        ("expect-header", "haproxy", f"{hp}/final", None, "content-type", {}),
    ]:
        out.append(Case(cid, server, url, body=body, header=header, **opts))
    # Large heads.
    out.append(Case("head-30k-200", "nginx", f"{ng}/big/200"))
    out.append(Case("head-30k-301", "nginx", f"{ng}/big/301"))
    out.append(Case("head-30k-301-L", "nginx", f"{ng}/big/301", follow=True))
    out.append(Case("head-30k-301", "apache2", f"{ap}/big/301"))
    out.append(Case("head-30k-301-L", "apache2", f"{ap}/big/301", follow=True))
    out.append(Case("head-30k-503", "nginx", f"{ng}/big/503"))
    out.append(Case("head-120k-200", "nginx", f"{ng}/huge/200"))
    out.append(Case("head-120k-301-L", "nginx", f"{ng}/huge/301", follow=True))
    out.append(Case("head-120k-301-L", "apache2", f"{ap}/huge/301", follow=True))
    # 1xx before the final answer; a status line split between CR and LF.
    for path in ["103-200", "103-500", "103-103-404", "100-404", "100-503", "102-200"]:
        out.append(Case(f"interim-{path}", "node", f"{nd}/{path}"))
    out.append(Case("interim-100-404", "apache2", f"{ap}/cgi-bin/nph-100-404"))
    out.append(Case("interim-102-103-200", "apache2", f"{ap}/cgi-bin/nph-102-103-200"))
    out.append(Case("split-crlf-200", "apache2", f"{ap}/cgi-bin/nph-split-crlf"))
    out.append(Case("unsolicited-101", "apache2", f"{ap}/cgi-bin/nph-101"))
    out.append(Case("no-reason-phrase-200", "apache2", f"{ap}/cgi-bin/nph-no-reason"))
    out.append(Case("status-code-four-digits", "apache2", f"{ap}/cgi-bin/nph-code-2000"))
    out.append(Case("status-code-ten-digits", "apache2", f"{ap}/cgi-bin/nph-code-0123456789"))
    out.append(Case("content-length-not-a-number", "apache2", f"{ap}/cgi-bin/nph-bad-length"))
    out.append(Case("location-empty-L", "apache2", f"{ap}/cgi-bin/nph-empty-location", follow=True))
    out.append(Case("location-empty-host-L", "apache2", f"{ap}/cgi-bin/nph-empty-host-location", follow=True))
    # Bodies: statuscheck reads the head only.
    out.append(Case("body-shorter-than-length", "apache2", f"{ap}/cgi-bin/nph-short-body"))
    out.append(Case("body-bad-chunk", "apache2", f"{ap}/cgi-bin/nph-bad-chunk"))
    # TLS. Every case here is also run with the tls-legacy build's --tls-legacy.
    tls = [
        Case("tls-ecdsa-intermediate", "nginx", f"https://good.test:{p['ng_ecdsa']}/"),
        Case("tls-rsa-intermediate", "nginx", f"https://rsa.test:{p['ng_rsa']}/"),
        Case("tls-rsa-intermediate", "apache2", f"https://apache.test:{p['ap_rsa']}/final"),
        Case("tls-ecdsa+rsa-front", "haproxy+nginx", f"https://haproxy.test:{p['hp_tls']}/final"),
        Case("tls-missing-intermediate", "nginx", f"https://noint.test:{p['ng_noint']}/", cause="unknown-issuer"),
        Case("tls-expired-leaf", "nginx", f"https://expired.test:{p['ng_expired']}/", cause="expired"),
        Case("tls-wrong-host", "nginx", f"https://good.test:{p['ng_wrong']}/", cause="wrong-host"),
        Case("tls-self-signed", "nginx", f"https://self.test:{p['ng_self']}/", cause="unknown-issuer"),
        Case("tls-expired-intermediate", "nginx", f"https://good.test:{p['ng_oldint']}/", cause="expired"),
        # Refused for the certificate itself (issue 18), with and without --tls-legacy.
        Case("tls-sha1-intermediate", "nginx", f"https://sha1.test:{p['ng_sha1']}/", ca="rsaroot.pem",
             cause="weak-signature"),
        Case("tls-rsa1024-intermediate", "nginx", f"https://weakint.test:{p['ng_weakint']}/", ca="rsaroot.pem",
             cause="weak-key"),
        Case("tls-rsa1024-leaf", "nginx", f"https://weakkey.test:{p['ng_weakkey']}/", cause="weak-key"),
        Case("tls-ca-as-leaf", "nginx", f"https://caleaf.test:{p['ng_caleaf']}/", cause="ca-as-leaf"),
        Case("tls-cn-only", "nginx", f"https://nosan.test:{p['ng_nosan']}/", cause="no-san"),
        Case("tls-not-yet-valid", "nginx", f"https://notyet.test:{p['ng_notyet']}/", cause="not-yet-valid"),
        Case("tls-chain-80k", "nginx", f"https://big80k.test:{p['ng_big80k']}/", cause="cert-too-large"),
        Case("tls-chain-170k", "nginx", f"https://big170k.test:{p['ng_big170k']}/", cause="cert-too-large"),
        # Legacy-only servers: curl connects (TLS 1.0/1.1 with the options it needs
        # for them); statuscheck refuses by default, connects with --tls-legacy.
        Case("tls-1.0-only", "nginx", f"https://tls10.test:{p['ng_tls10']}/", cause=LEGACY_CAUSE,
             curl_args=("--tlsv1", "--ciphers", "DEFAULT@SECLEVEL=0")),
        Case("tls-1.1-only", "nginx", f"https://tls11.test:{p['ng_tls11']}/", cause=LEGACY_CAUSE,
             curl_args=("--tlsv1", "--ciphers", "DEFAULT@SECLEVEL=0")),
        Case("tls-1.2-cbc-only", "nginx", f"https://cbc.test:{p['ng_cbc']}/", cause=LEGACY_CAUSE),
        Case("tls-1.2-rsa-kx-only", "nginx", f"https://rsakx.test:{p['ng_rsakx']}/", cause=LEGACY_CAUSE),
        Case("tls-1.2-dhe-only", "nginx", f"https://dhe.test:{p['ng_dhe']}/", cause=LEGACY_CAUSE),
        Case("tls-1.2-only", "nginx", f"https://tls12.test:{p['ng_tls12']}/"),
        Case("tls-1.3-only", "nginx", f"https://tls13.test:{p['ng_tls13']}/"),
        Case("tls-1.2-only", "haproxy+nginx", f"https://haproxy.test:{p['hp_tls12']}/final"),
        Case("tls-1.3-only-rsa", "haproxy+nginx", f"https://haproxy.test:{p['hp_tls13']}/final"),
        Case("tls-1.3-only", "apache2", f"https://tls13.test:{p['ap_tls13']}/final"),
        Case("tls-sni-strict-known", "nginx", f"https://sni.test:{p['ng_sni']}/"),
        Case("tls-sni-strict-unknown", "nginx", f"https://unknown.test:{p['ng_sni']}/"),
        Case("tls-sni-strict-ip", "nginx", f"https://{LOOP}:{p['ng_sni']}/"),
        Case("tls-client-cert-required", "nginx", f"https://mtls.test:{p['ng_mtls']}/"),
        Case("tls-client-cert-required", "apache2", f"https://mtls.test:{p['ap_mtls']}/"),
        Case("tls-client-cert-required", "haproxy", f"https://mtls.test:{p['hp_mtls']}/"),
        Case("tls-404", "nginx", f"https://good.test:{p['ng_ecdsa']}/s/404"),
    ]
    for case in tls:
        case.optin = True
        out.append(case)
    # Connection failures, classed by both.
    out.append(Case("empty-reply", "haproxy", f"{hp}/reject"))
    out.append(Case("timeout-tarpit", "haproxy", f"{hp}/tarpit", timeout=2))
    out.append(Case("connect-refused", "none", f"http://{LOOP}:{p['closed']}/"))
    out.append(Case("dns-nxdomain", "none", "http://no-such-host.invalid/"))
    out.append(Case("ipv6-literal", "nginx", f"http://[::1]:{p['ng_http']}/final"))
    out.append(Case("ipv6-pinned", "nginx", f"{ng}/final", pin="[::1]"))
    # Two addresses, the first refused: both clients go on to the second.
    out.append(Case("two-addresses-first-refused", "haproxy", f"{hp}/final", pin=f"[::1],{LOOP}"))
    # squid as a forward proxy.
    sq, sqa = f"http://{LOOP}:{p['sq_open']}", p['sq_auth']
    out.append(Case("proxy-refused", "none", f"{ng}/final", proxy=f"http://{LOOP}:{p['closed']}"))
    out.append(Case("proxy-http-200", "squid+nginx", f"{ng}/final", proxy=sq))
    out.append(Case("proxy-http-404", "squid+nginx", f"{ng}/s/404", proxy=sq))
    out.append(Case("proxy-https-connect-200", "squid+nginx", f"https://good.test:{p['ng_ecdsa']}/", proxy=sq))
    out.append(Case("proxy-https-connect-404", "squid+nginx", f"https://good.test:{p['ng_ecdsa']}/s/404", proxy=sq))
    out.append(Case("proxy-auth-right-http", "squid+nginx", f"{ng}/final",
                    proxy=f"http://alice:right-password@{LOOP}:{sqa}", secret="right-password"))
    out.append(Case("proxy-auth-right-https", "squid+nginx", f"https://good.test:{p['ng_ecdsa']}/",
                    proxy=f"http://alice:right-password@{LOOP}:{sqa}", secret="right-password"))
    out.append(Case("proxy-auth-wrong-http", "squid", f"{ng}/final",
                    proxy=f"http://alice:wrong-password@{LOOP}:{sqa}", secret="wrong-password"))
    out.append(Case("proxy-auth-wrong-https", "squid", f"https://good.test:{p['ng_ecdsa']}/",
                    proxy=f"http://alice:wrong-password@{LOOP}:{sqa}", secret="wrong-password",
                    want_message=("proxy", f"{LOOP}:{sqa}", "407")))
    return out


def fixtures(ports, pki):
    """curl runs that prove the servers are set up as the cases claim (a TLS
    1.3-only server really refuses 1.2, the client-certificate servers accept the
    right certificate, ...), so that a case cannot pass against a wrong setup."""
    p, cert = ports, ["--cert", pki("client.pem"), "--key", pki("client.key")]
    level0 = "DEFAULT@SECLEVEL=0"
    return [
        ("nginx TLS 1.3-only refuses TLS 1.2", f"https://tls13.test:{p['ng_tls13']}/", ["--tls-max", "1.2"], "error:tls"),
        ("nginx TLS 1.2-only refuses TLS 1.3", f"https://tls12.test:{p['ng_tls12']}/", ["--tlsv1.3"], "error:tls"),
        ("apache TLS 1.3-only refuses TLS 1.2", f"https://tls13.test:{p['ap_tls13']}/final", ["--tls-max", "1.2"],
         "error:tls"),
        ("haproxy TLS 1.2-only refuses TLS 1.3", f"https://haproxy.test:{p['hp_tls12']}/final", ["--tlsv1.3"],
         "error:tls"),
        ("haproxy TLS 1.3-only refuses TLS 1.2", f"https://haproxy.test:{p['hp_tls13']}/final", ["--tls-max", "1.2"],
         "error:tls"),
        ("nginx client-certificate server takes the right certificate", f"https://mtls.test:{p['ng_mtls']}/", cert,
         "200"),
        ("apache client-certificate server takes the right certificate", f"https://mtls.test:{p['ap_mtls']}/final",
         cert, "200"),
        ("haproxy client-certificate server takes the right certificate", f"https://mtls.test:{p['hp_mtls']}/final",
         cert, "200"),
        ("missing intermediate: the leaf is good with its intermediate supplied",
         f"https://noint.test:{p['ng_noint']}/", ["--cacert", pki("int-and-root.pem")], "200"),
        ("squid's auth port wants credentials", f"http://plain.test:{p['ng_http']}/final",
         ["--proxy", f"http://{LOOP}:{p['sq_auth']}"], "407"),
        # The legacy-only servers offer nothing else.
        ("nginx TLS 1.0-only refuses TLS 1.1 and up", f"https://tls10.test:{p['ng_tls10']}/",
         ["--tlsv1.1", "--ciphers", level0], "error:tls"),
        ("nginx TLS 1.1-only refuses TLS 1.0", f"https://tls11.test:{p['ng_tls11']}/",
         ["--tlsv1", "--tls-max", "1.0", "--ciphers", level0], "error:tls"),
        ("nginx TLS 1.1-only refuses TLS 1.2 and up", f"https://tls11.test:{p['ng_tls11']}/", ["--tlsv1.2"],
         "error:tls"),
        *[fixture for what, port, host in [("CBC", "ng_cbc", "cbc"), ("RSA key exchange", "ng_rsakx", "rsakx"),
                                           ("DHE", "ng_dhe", "dhe")] for fixture in [
            (f"nginx {what}-only refuses TLS 1.3", f"https://{host}.test:{p[port]}/", ["--tlsv1.3"], "error:tls"),
            (f"nginx {what}-only refuses the ECDHE AEAD suites of TLS 1.2", f"https://{host}.test:{p[port]}/",
             ["--tls-max", "1.2", "--ciphers", ECDHE_AEAD], "error:tls")]],
        # The weak chains are served whole and work where weakness is allowed.
        ("SHA-1 intermediate: curl takes the chain at security level 0", f"https://sha1.test:{p['ng_sha1']}/",
         ["--cacert", pki("rsaroot.pem"), "--ciphers", level0], "200"),
        ("1024-bit intermediate: curl takes the chain at security level 0",
         f"https://weakint.test:{p['ng_weakint']}/", ["--cacert", pki("rsaroot.pem"), "--ciphers", level0], "200"),
        ("1024-bit leaf: curl takes it at security level 0", f"https://weakkey.test:{p['ng_weakkey']}/",
         ["--ciphers", level0], "200"),
    ]


def load_choices():
    """choices.txt: `case-id@server  reason`, one documented difference a line."""
    choices = {}
    with open(os.path.join(HERE, "choices.txt")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                key, _, reason = line.partition(" ")
                choices[key] = reason.strip()
    return choices


@dataclasses.dataclass
class Row:
    case: Case
    curl: str  # curl's answer
    curl_msg: str
    ours: str  # statuscheck's (default build) answer
    cause: str  # its error's cause, "" if none
    msg: str
    everything: str  # all statuscheck printed
    optin: tuple = None  # (answer, cause) of the tls-legacy build with --tls-legacy; None if not run
    verdict: str = ""
    why: str = ""


def judge(row, choices):
    case = row.case
    key = f"{case.id}@{case.server}"
    problems = []
    if case.secret and case.secret in row.everything:
        problems.append("statuscheck printed the proxy password")
    if case.want_message and not all(w in row.msg for w in case.want_message):
        problems.append(f"message does not name {' and '.join(case.want_message)}")
    if case.cause and (row.ours, row.cause) != ("error:tls", case.cause):
        problems.append(f"want error:tls ({case.cause}), got {said(row.ours, row.cause or 'no cause')}")
    if row.optin is not None:
        want = optin_wants(case, row.curl)
        # The cause is compared only where the case names one.
        got = said(*row.optin) if case.cause and case.cause != LEGACY_CAUSE else row.optin[0]
        if got != want:
            problems.append(f"--tls-legacy: want {want}, got {said(*row.optin)}")
    if problems:
        return "DIFFERENT", "; ".join(problems)
    if row.curl == row.ours:
        return "same", ""
    if key in choices:
        return "documented", choices[key]
    return "DIFFERENT", ""


def printable(text):
    """Server-controlled bytes can reach messages: never print them raw."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def cell(text):
    return printable(text).replace("|", "\\|")[:200]


def main():
    binary = os.environ.get("STATUSCHECK_BIN") or os.path.join(HERE, "..", "..", "target", "debug", "statuscheck")
    if not os.access(binary, os.X_OK):
        die(f"no statuscheck binary at {binary}")
    # The tls-legacy build (tests/conformance/run builds it into target/legacy);
    # without it the --tls-legacy column says `not built`, and CI=true fails.
    legacy_bin = os.environ.get("STATUSCHECK_LEGACY_BIN") or None
    legacy_why = os.environ.get("STATUSCHECK_LEGACY_WHY") or ""
    if legacy_bin and not os.access(legacy_bin, os.X_OK):
        legacy_why = legacy_why or f"no tls-legacy binary at {legacy_bin}"
        legacy_bin = None
    elif not legacy_bin:
        legacy_why = legacy_why or "STATUSCHECK_LEGACY_BIN is not set"
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="statuscheck-conformance-")
    os.chmod(tmp, 0o755)

    def on_signal(signum, _frame):
        stop_all()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return suite(binary, legacy_bin, legacy_why, tmp, t0)
    finally:
        stop_all()
        if os.environ.get("KEEP_TMP"):
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def suite(binary, legacy_bin, legacy_why, tmp, t0):
    pki = make_pki(os.path.join(tmp, "pki"))
    log(f"PKI made [{time.monotonic() - t0:.1f}s]")
    names = ["ng_http", "ng_ecdsa", "ng_rsa", "ng_noint", "ng_expired", "ng_wrong", "ng_self", "ng_tls12", "ng_tls13",
             "ng_sni", "ng_mtls", "ng_oldint", "ng_sha1", "ng_weakint", "ng_weakkey", "ng_caleaf", "ng_nosan",
             "ng_notyet", "ng_big80k", "ng_big170k", "ng_tls10", "ng_tls11", "ng_cbc", "ng_rsakx", "ng_dhe",
             "ap_http", "ap_rsa", "ap_mtls", "ap_tls13", "hp_http", "hp_tls", "hp_tls12", "hp_tls13", "hp_mtls",
             "sq_open", "sq_auth", "node", "closed"]
    ports = {}
    while len(set(ports.values())) < len(names):
        ports = {n: free_port() for n in names}

    for name in ["nginx", "apache2", "haproxy", "squid", "node"]:
        os.makedirs(os.path.join(tmp, name))
    d = lambda name: os.path.join(tmp, name)  # noqa: E731
    write(d("nginx/nginx.conf"), nginx_conf(d("nginx"), pki, ports))
    write(d("apache2/apache2.conf"), apache_conf(d("apache2"), pki, ports))
    write(d("haproxy/haproxy.cfg"), haproxy_conf(d("haproxy"), pki, ports))
    write(d("squid/squid.conf"), squid_conf(d("squid"), pki, ports))
    write(d("node/server.js"), NODE)
    # Squid and Apache's children drop to their users: let them read configs and write logs.
    shutil.chown(d("squid"), "proxy", "proxy")
    for f in os.listdir(d("squid")):
        shutil.chown(os.path.join(d("squid"), f), "proxy", "proxy")
    os.chmod(pki("."), 0o755)

    nginx_tls = [ports[k] for k in names if k.startswith("ng_")]
    start("nginx", ["nginx", "-p", d("nginx"), "-c", d("nginx/nginx.conf")], tmp, nginx_tls)
    start("apache2", ["apache2", "-f", d("apache2/apache2.conf"), "-DFOREGROUND"], tmp,
          [ports["ap_http"], ports["ap_rsa"], ports["ap_mtls"], ports["ap_tls13"]])
    start("haproxy", ["haproxy", "-db", "-f", d("haproxy/haproxy.cfg")], tmp,
          [ports["hp_http"], ports["hp_tls"], ports["hp_tls12"], ports["hp_tls13"], ports["hp_mtls"]])
    start("squid", ["squid", "-N", "-f", d("squid/squid.conf")], tmp, [ports["sq_open"], ports["sq_auth"]])
    start("node", ["node", d("node/server.js"), str(ports["node"])], tmp, [ports["node"]])
    log(f"servers up [{time.monotonic() - t0:.1f}s]")

    fixture_failures = 0
    for what, url, extra, want in fixtures(ports, pki):
        got, message = run_curl(Case("fixture", "", url), pki, extra)
        if got == want:
            print(f"ok - fixture: {what}")
        else:
            fixture_failures += 1
            print(f"FAIL - fixture: {what}: curl gave {got} ({printable(message)}), not {want}")

    choices = load_choices()
    all_cases = cases(ports)
    keys = [f"{c.id}@{c.server}" for c in all_cases]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        die(f"case ids used twice: {sorted(dup)}")
    stale = sorted(set(choices) - set(keys))
    if stale:
        die(f"choices.txt names cases that do not exist: {stale}")

    def one(case):
        curl, curl_msg = run_curl(case, pki)
        ours, cause, msg, everything = run_statuscheck(case, pki, binary)
        row = Row(case, curl, curl_msg, ours, cause, msg, everything)
        if case.optin and legacy_bin:
            answer, legacy_cause, _, _ = run_statuscheck(case, pki, legacy_bin, ["--tls-legacy"])
            row.optin = (answer, legacy_cause)
        row.verdict, row.why = judge(row, choices)
        return row

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        rows = list(pool.map(one, all_cases))
    died = [f"{name} (exit {proc.poll()})" for name, proc in children if proc.poll() is not None]
    if died:
        die(f"servers died during the run: {', '.join(died)}")

    bad = [r for r in rows if r.verdict == "DIFFERENT"]
    width = max(len(r.case.id) for r in rows)
    print(f"{'case':<{width}}  {'server':<14} {'curl':<16} {'statuscheck':<28} {'--tls-legacy':<28} verdict")
    for r in rows:
        print(f"{r.case.id:<{width}}  {r.case.server:<14} {r.curl:<16} {said(r.ours, r.cause):<28} "
              f"{optin_cell(r, legacy_bin):<28} {r.verdict}{'  ' + r.why if r.why else ''}")
        if r.verdict == "DIFFERENT" and (r.curl_msg or r.msg):
            print(f"{'':<{width}}    curl: {printable(r.curl_msg) or '-'} | statuscheck: {printable(r.msg) or '-'}")
    elapsed = time.monotonic() - t0
    n_optin = sum(r.case.optin for r in rows)
    if legacy_bin:
        optin_note = f"{n_optin} also run with --tls-legacy"
    else:
        optin_note = f"--tls-legacy NOT checked on {n_optin} cases: {legacy_why}"
    summary = (f"{len(rows)} cases: {sum(r.verdict == 'same' for r in rows)} same, "
               f"{sum(r.verdict == 'documented' for r in rows)} documented choices, {len(bad)} different; "
               f"{optin_note}; "
               f"{len(fixtures(ports, pki)) - fixture_failures} of {len(fixtures(ports, pki))} setup checks passed")
    print(summary)
    write_table(rows, summary, legacy_bin)
    log(f"conformance suite took {elapsed:.1f}s")
    status = 1 if bad or fixture_failures else 0
    if not legacy_bin:
        if os.environ.get("CI") == "true":
            print(f"FAIL - the --tls-legacy column was not checked: {legacy_why}")
            status = 1
        else:
            log(f"the --tls-legacy column was not checked ({legacy_why}); under CI=true that fails the suite")
    return status


def optin_cell(row, legacy_bin):
    if not row.case.optin:
        return "-"
    if not legacy_bin:
        return "not built"
    return said(*row.optin)


def versions():
    def first(argv):
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (done.stdout + done.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    return [first(["curl", "--version"]), first(["nginx", "-v"]), first(["apache2", "-v"]).replace("Server version: ", ""),
            first(["haproxy", "-v"]), first(["squid", "-v"]), "Node.js " + first(["node", "--version"])]


def curl_options(case):
    """What curl is given beyond the common command line, for the table."""
    extra = list(case.curl_args) + ([f"--cacert {case.ca}"] if case.ca != "root.pem" else [])
    return f"`{' '.join(extra)}`" if extra else ""


def write_table(rows, summary, legacy_bin):
    lines = [
        "# Conformance: statuscheck against real servers, curl as the reference",
        "",
        "Written by `tests/conformance/run` (do not edit by hand). Each case runs curl and statuscheck",
        "over the same URL on loopback; the answer is the final status code, or `error:KIND` with",
        "curl's exit code mapped to statuscheck's error kinds. `documented` differences are listed,",
        "with their reasons, in `tests/conformance/choices.txt` and the README section",
        "\"Where statuscheck and curl differ\".",
        "",
        "curl runs as `curl -s -S -o /dev/null -w %{http_code} --cacert root.pem --resolve HOST:PORT:ADDR`",
        "plus the case's own options (column *curl options*; `-L`, `-I`, `--proxy` where the case name says so).",
        "*expected cause*: statuscheck (the default build) must fail with `tls` and this `cause`; where",
        "curl connects anyway, that is a documented choice. *--tls-legacy*: the build with the cargo",
        "feature `tls-legacy`, run with `--tls-legacy`: on `legacy-only` cases it must answer as curl",
        "does, on the other causes still refuse with the same cause, elsewhere answer as curl does",
        "(`-`: not run there; `not built`: that build was missing, see the summary).",
        "",
        f"Recorded {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} with "
        + "; ".join(versions()) + ".",
        "",
        f"**{summary}.**",
        "",
        "| case | server | curl | curl options | expected cause | statuscheck | --tls-legacy | verdict | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        notes = [x for x in (r.why, f"statuscheck: {r.msg}" if r.msg else "",
                             f"{r.curl_msg}" if r.curl_msg and r.verdict != "same" else "") if x]
        lines.append(f"| {r.case.id} | {r.case.server} | {cell(r.curl)} | {cell(curl_options(r.case))} | "
                     f"{cell(r.case.cause or '')} | {cell(said(r.ours, r.cause))} | "
                     f"{cell(optin_cell(r, legacy_bin))} | "
                     f"{r.verdict} | {cell('; '.join(notes))} |")
    # A run writes its table under target/; `--record` (what the committed
    # copy comes from) writes tests/conformance/TABLE.md.
    recorded = "--record" in sys.argv[1:]
    where = HERE if recorded else os.path.join(HERE, "..", "..", "target", "conformance")
    os.makedirs(where, exist_ok=True)
    write(os.path.join(where, "TABLE.md"), "\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
