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
"""

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
              "mtls.test", "apache.test", "haproxy.test"]


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
        "",
    ]))

    def key(name, kind="ec"):
        if kind == "ec":
            run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", p(name + ".key"))
        else:
            run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", p(name + ".key"))

    def csr(name, cn):
        run("openssl", "req", "-new", "-key", p(name + ".key"), "-subj", f"/CN={cn}", "-out", p(name + ".csr"))

    def sign(name, issuer, section, days=30):
        run("openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p(issuer + ".pem"), "-CAkey", p(issuer + ".key"),
            "-CAcreateserial", "-days", str(days), "-extfile", ext, "-extensions", section, "-out", p(name + ".pem"))

    def selfsign(name, cn, section, days=30):
        run("openssl", "req", "-x509", "-new", "-key", p(name + ".key"), "-subj", f"/CN={cn}", "-days", str(days),
            "-config", ext, "-extensions", section, "-out", p(name + ".pem"))

    # openssl req -x509 wants a [req] section when given -config.
    with open(ext, "a") as f:
        f.write("[req]\ndistinguished_name=dn\n[dn]\n")

    key("root"); selfsign("root", "statuscheck conformance root", "ca", 3650)
    key("int"); csr("int", "statuscheck conformance intermediate"); sign("int", "root", "int", 365)
    key("ecdsa"); csr("ecdsa", "good.test"); sign("ecdsa", "int", "leaf")
    key("rsa", "rsa"); csr("rsa", "rsa.test"); sign("rsa", "int", "leaf")
    key("other"); csr("other", "other.test"); sign("other", "int", "other")
    key("self"); selfsign("self", "self.test", "self")
    key("clientca"); selfsign("clientca", "statuscheck conformance client CA", "ca", 3650)
    key("client"); csr("client", "client"); sign("client", "clientca", "client")
    # An expired leaf: openssl ca is the one openssl command that takes past dates.
    key("expired"); csr("expired", "expired.test")
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
    key("oldint"); csr("oldint", "statuscheck conformance expired intermediate")
    run("openssl", "ca", "-batch", "-notext", "-config", p("ca.cnf"), "-cert", p("root.pem"), "-keyfile", p("root.key"),
        "-in", p("oldint.csr"), "-startdate", "20200101000000Z", "-enddate", "20210101000000Z",
        "-extfile", ext, "-extensions", "int", "-out", p("oldint.pem"))
    key("underold"); csr("underold", "good.test"); sign("underold", "oldint", "leaf")
    cat = lambda out, *parts: write(p(out), "".join(open(p(x)).read() for x in parts))  # noqa: E731
    cat("underold-chain.pem", "underold.pem", "oldint.pem")
    for leaf in ["ecdsa", "rsa", "other", "expired"]:
        cat(leaf + "-chain.pem", leaf + ".pem", "int.pem")
        cat(leaf + "-full.pem", leaf + "-chain.pem", leaf + ".key")  # haproxy wants cert+chain+key in one
    cat("self-full.pem", "self.pem", "self.key")
    cat("int-and-root.pem", "int.pem", "root.pem")
    return p


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


def run_curl(case, pki, extra=()):
    argv = ["curl", "-s", "-S", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", pki("root.pem"),
            "--max-time", str(case.timeout), "--connect-timeout", "5", *extra]
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
    message = stderr[-1] if stderr else ""
    return "error:" + curl_kind(done.returncode, message), message


def run_statuscheck(case, pki, binary):
    argv = [binary, "--format", "json", "-q", "--cacert", pki("root.pem"), "--timeout", f"{case.timeout}s",
            "--connect-timeout", "5s"]
    for pin in resolves(case):
        argv += ["--resolve", pin]
    if case.follow:
        argv += ["-L"]
    if case.head:
        argv += ["--method", "head"]
    if case.proxy:
        argv += ["--proxy", case.proxy]
    argv += ["-u", case.url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=case.timeout + 10, env=clean_env())
    everything = done.stdout + done.stderr
    if done.returncode not in (0, 1):
        return f"exit-{done.returncode}", done.stderr.strip()[-300:], everything
    try:
        result = json.loads(done.stdout.splitlines()[0])
    except (IndexError, ValueError):
        return "no-json", done.stdout[:300], everything
    if result.get("error"):
        return "error:" + result["error"]["kind"], result["error"]["message"], everything
    return str(result["code"]), "", everything


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
    # TLS.
    tls = [
        ("tls-ecdsa-intermediate", "nginx", f"https://good.test:{p['ng_ecdsa']}/"),
        ("tls-rsa-intermediate", "nginx", f"https://rsa.test:{p['ng_rsa']}/"),
        ("tls-rsa-intermediate", "apache2", f"https://apache.test:{p['ap_rsa']}/final"),
        ("tls-ecdsa+rsa-front", "haproxy+nginx", f"https://haproxy.test:{p['hp_tls']}/final"),
        ("tls-missing-intermediate", "nginx", f"https://noint.test:{p['ng_noint']}/"),
        ("tls-expired-leaf", "nginx", f"https://expired.test:{p['ng_expired']}/"),
        ("tls-wrong-host", "nginx", f"https://good.test:{p['ng_wrong']}/"),
        ("tls-self-signed", "nginx", f"https://self.test:{p['ng_self']}/"),
        ("tls-expired-intermediate", "nginx", f"https://good.test:{p['ng_oldint']}/"),
        ("tls-1.2-only", "nginx", f"https://tls12.test:{p['ng_tls12']}/"),
        ("tls-1.3-only", "nginx", f"https://tls13.test:{p['ng_tls13']}/"),
        ("tls-1.2-only", "haproxy+nginx", f"https://haproxy.test:{p['hp_tls12']}/final"),
        ("tls-1.3-only-rsa", "haproxy+nginx", f"https://haproxy.test:{p['hp_tls13']}/final"),
        ("tls-1.3-only", "apache2", f"https://tls13.test:{p['ap_tls13']}/final"),
        ("tls-sni-strict-known", "nginx", f"https://sni.test:{p['ng_sni']}/"),
        ("tls-sni-strict-unknown", "nginx", f"https://unknown.test:{p['ng_sni']}/"),
        ("tls-sni-strict-ip", "nginx", f"https://{LOOP}:{p['ng_sni']}/"),
        ("tls-client-cert-required", "nginx", f"https://mtls.test:{p['ng_mtls']}/"),
        ("tls-client-cert-required", "apache2", f"https://mtls.test:{p['ap_mtls']}/"),
        ("tls-client-cert-required", "haproxy", f"https://mtls.test:{p['hp_mtls']}/"),
        ("tls-404", "nginx", f"https://good.test:{p['ng_ecdsa']}/s/404"),
    ]
    for cid, server, url in tls:
        out.append(Case(cid, server, url))
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


def judge(case, curl, ours, message, everything, choices):
    key = f"{case.id}@{case.server}"
    problems = []
    if case.secret and case.secret in everything:
        problems.append("statuscheck printed the proxy password")
    if case.want_message and not all(w in message for w in case.want_message):
        problems.append(f"message does not name {' and '.join(case.want_message)}")
    if curl == ours and not problems:
        return "same", ""
    if key in choices and not problems:
        return "documented", choices[key]
    return "DIFFERENT", "; ".join(problems)


def printable(text):
    """Server-controlled bytes can reach messages: never print them raw."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)


def cell(text):
    return printable(text).replace("|", "\\|")[:200]


def main():
    binary = os.environ.get("STATUSCHECK_BIN") or os.path.join(HERE, "..", "..", "target", "debug", "statuscheck")
    if not os.access(binary, os.X_OK):
        die(f"no statuscheck binary at {binary}")
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="statuscheck-conformance-")
    os.chmod(tmp, 0o755)

    def on_signal(signum, _frame):
        stop_all()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return suite(binary, tmp, t0)
    finally:
        stop_all()
        if os.environ.get("KEEP_TMP"):
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def suite(binary, tmp, t0):
    pki = make_pki(os.path.join(tmp, "pki"))
    log(f"PKI made [{time.monotonic() - t0:.1f}s]")
    names = ["ng_http", "ng_ecdsa", "ng_rsa", "ng_noint", "ng_expired", "ng_wrong", "ng_self", "ng_tls12", "ng_tls13",
             "ng_sni", "ng_mtls", "ng_oldint", "ap_http", "ap_rsa", "ap_mtls", "ap_tls13", "hp_http", "hp_tls", "hp_tls12", "hp_tls13", "hp_mtls",
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
        ours, msg, everything = run_statuscheck(case, pki, binary)
        verdict, why = judge(case, curl, ours, msg, everything, choices)
        return case, curl, curl_msg, ours, msg, verdict, why

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        rows = list(pool.map(one, all_cases))
    died = [f"{name} (exit {proc.poll()})" for name, proc in children if proc.poll() is not None]
    if died:
        die(f"servers died during the run: {', '.join(died)}")

    bad = [r for r in rows if r[5] == "DIFFERENT"]
    width = max(len(f"{r[0].id}") for r in rows)
    print(f"{'case':<{width}}  {'server':<14} {'curl':<16} {'statuscheck':<16} verdict")
    for case, curl, curl_msg, ours, msg, verdict, why in rows:
        print(f"{case.id:<{width}}  {case.server:<14} {curl:<16} {ours:<16} {verdict}{'  ' + why if why else ''}")
        if verdict == "DIFFERENT" and (curl_msg or msg):
            print(f"{'':<{width}}    curl: {printable(curl_msg) or '-'} | statuscheck: {printable(msg) or '-'}")
    elapsed = time.monotonic() - t0
    summary = (f"{len(rows)} cases: {sum(r[5] == 'same' for r in rows)} same, "
               f"{sum(r[5] == 'documented' for r in rows)} documented choices, {len(bad)} different; "
               f"{len(fixtures(ports, pki)) - fixture_failures} of {len(fixtures(ports, pki))} setup checks passed")
    print(summary)
    write_table(rows, summary, binary)
    log(f"conformance suite took {elapsed:.1f}s")
    return 1 if bad or fixture_failures else 0


def versions():
    def first(argv):
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (done.stdout + done.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    return [first(["curl", "--version"]), first(["nginx", "-v"]), first(["apache2", "-v"]).replace("Server version: ", ""),
            first(["haproxy", "-v"]), first(["squid", "-v"]), "Node.js " + first(["node", "--version"])]


def write_table(rows, summary, binary):
    lines = [
        "# Conformance: statuscheck against real servers, curl as the reference",
        "",
        "Written by `tests/conformance/run` (do not edit by hand). Each case runs curl and statuscheck",
        "over the same URL on loopback; the answer is the final status code, or `error:KIND` with",
        "curl's exit code mapped to statuscheck's error kinds. `documented` differences are listed,",
        "with their reasons, in `tests/conformance/choices.txt` and the README section",
        "\"Where statuscheck and curl differ\".",
        "",
        f"Recorded {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} with "
        + "; ".join(versions()) + ".",
        "",
        f"**{summary}.**",
        "",
        "| case | server | curl | statuscheck | verdict | note |",
        "|---|---|---|---|---|---|",
    ]
    for case, curl, curl_msg, ours, msg, verdict, why in rows:
        said = [x for x in (why, f"statuscheck: {msg}" if msg else "",
                            f"{curl_msg}" if curl_msg and verdict != "same" else "") if x]
        note = "; ".join(said)
        lines.append(f"| {case.id} | {case.server} | {cell(curl)} | {cell(ours)} | {verdict} | {cell(note)} |")
    # A run writes its table under target/; `--record` (what the committed
    # copy comes from) writes tests/conformance/TABLE.md.
    recorded = "--record" in sys.argv[1:]
    where = HERE if recorded else os.path.join(HERE, "..", "..", "target", "conformance")
    os.makedirs(where, exist_ok=True)
    write(os.path.join(where, "TABLE.md"), "\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
