#!/usr/bin/env python3
"""Tests of bench/harness.py's answer checks and of its nginx set-up, and of
bench/internet's drain measure:
    python3 bench/test_harness.py
The nginx test needs /usr/sbin/nginx and openssl; without them it is skipped,
and it fails instead when CI=true."""

import collections
import http.client
import json
import os
import shutil
import socket
import sqlite3
import ssl
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class FakeServer:
    def __init__(self, ca="ca.pem"):
        self.ca = ca
        self.addrs = ["127.0.0.1"]
        self.ports = {"http": 8080, "https": 8443}


class Run:
    pass


def scenario(n=200, hosts=20, scheme="http"):
    return harness.Scenario("T1", "test", n, scheme, 0, 10, hosts)


class Checks(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bench-test-")
        self.lists = harness.Lists(scenario(), FakeServer(), self.dir)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(data)
        return path

    def test_pins_for_oha_and_lychee(self):
        self.assertIn("--connect-to=h3.bench.test:8080:127.0.0.1:8080", self.lists.connect_to)
        self.assertEqual(len(self.lists.connect_to), 20)
        with open(self.lists.hosts_file) as f:
            self.assertIn("127.0.0.1 h19.bench.test\n", f.read())

    def lychee_report(self, codes):
        entries = [{"url": u, "status": {"text": "x", "code": c}} for u, c in codes.items()]
        return self.write("lychee.json", json.dumps({"success_map": {"in.txt": entries[:5]},
                                                      "error_map": {"in.txt": entries[5:]}}))

    def test_lychee_all_right(self):
        r = Run()
        harness.check_lychee(self.lychee_report(self.lists.expected), self.lists, "", r)
        self.assertEqual((r.correct, r.reported), (200, 200))

    def test_lychee_wrong_code_and_missing_url_and_error(self):
        codes = dict(self.lists.expected)
        urls = list(codes)
        codes[urls[0]] = 999
        del codes[urls[1]]
        codes[urls[2]] = None  # a connection error: no code
        r = Run()
        harness.check_lychee(self.lychee_report(codes), self.lists, "", r)
        self.assertEqual(r.correct, 197)
        self.assertEqual(sum(r.errors.values()), 1)

    def test_lychee_no_report(self):
        r = Run()
        harness.check_lychee(self.write("empty.json", ""), self.lists, "", r)
        self.assertEqual(r.correct, 0)

    def oha_report(self, counts, errors=None):
        return self.write("oha.json", json.dumps({"statusCodeDistribution": {str(k): v for k, v in counts.items()},
                                                  "errorDistribution": errors or {}}))

    def test_oha_expected_distribution(self):
        counts = collections.Counter(self.lists.expected.values())
        r = Run()
        harness.check_oha(self.oha_report(counts), self.lists, os.path.join(self.dir, "none"), r)
        self.assertEqual((r.correct, r.correct_note), (200, "dist ok"))

    def test_oha_errors_or_skew_or_unknown_code(self):
        counts = collections.Counter(self.lists.expected.values())
        code = counts.most_common(1)[0][0]
        fewer = {**counts, code: counts[code] - 10}
        cases = [
            (fewer, {"connection refused": 10}, 190),
            ({code: 200}, None, 200),  # all one code: far off the list's distribution
            ({**fewer, 418: 10}, None, 190),
        ]
        for got, errors, correct in cases:
            r = Run()
            harness.check_oha(self.oha_report(got, errors), self.lists, os.path.join(self.dir, "none"), r)
            self.assertEqual((r.correct, r.correct_note), (correct, "DIST OFF"), got)

    def test_oha_each_request_from_its_database(self):
        counts = collections.Counter(self.lists.expected.values())
        report = self.oha_report(counts)
        for wrong in (False, True):
            base = os.path.join(self.dir, f"run{int(wrong)}")
            db = sqlite3.connect(base + ".db")
            db.execute("CREATE TABLE oha (url TEXT, status INTEGER)")
            rows = [("/" + u.split("/", 3)[3], c) for u, c in self.lists.expected.items()]
            if wrong:
                rows[0] = (rows[0][0], 599)
            db.executemany("INSERT INTO oha VALUES (?, ?)", rows)
            db.commit()
            db.close()
            r = Run()
            harness.check_oha(report, self.lists, base, r)
            self.assertEqual(r.correct, 199 if wrong else 200)
            self.assertEqual(r.correct_note, "dist ok, each request" + (": WRONG" if wrong else ""))

    def test_distribution_bounds(self):
        lists = harness.Lists(scenario(n=1000), FakeServer(), self.dir)
        lists.code_share = {200: 0.5, 404: 0.3, 503: 0.2}
        self.assertTrue(harness.distribution_ok(lists, 1000, {200: 520, 404: 285, 503: 195}))
        self.assertFalse(harness.distribution_ok(lists, 1000, {200: 600, 404: 250, 503: 150}))
        self.assertFalse(harness.distribution_ok(lists, 1000, {200: 500, 404: 300, 502: 200}))


class Pairs(unittest.TestCase):
    def test_ratios_are_per_round_for_the_rounds_both_ran(self):
        self.assertEqual(harness.paired_ratios([4.0, 3.0, 5.0], [5.0, 6.0]), [0.8, 0.5])
        self.assertEqual(harness.paired_ratios([4.0], [0.0]), [])

    def test_ratios_of_medians_use_the_rounds_both_ran(self):
        s = scenario()

        def row(cpus):
            runs = []
            for cpu in cpus:
                r = Run()
                r.wall, r.cpu, r.rss_kb, r.server_cpu, r.other_cpu = 1.0, cpu, 1000, 0.5, 0.0
                r.correct, r.correct_note, r.errors = s.n, "", []
                r.killed = r.addr_not_avail = False
                r.listen_overflows = 0
                runs.append(r)
            return harness.Row(s, harness.Client("x", lambda _: []), runs)

        peer = row([5.0, 5.0, 5.0])
        ours = row([4.0, 4.0, 1.0, 1.0, 1.0])  # all five: median 1.0; the three both ran: 4.0
        self.assertEqual(ours.cpu, 1.0)
        trimmed, same = harness.same_rounds(ours, peer)
        self.assertEqual((len(trimmed.runs), trimmed.cpu), (3, 4.0))
        self.assertEqual(len(same.runs), 3)
        both = row([4.0, 4.0, 1.0])
        self.assertIs(harness.same_rounds(both, peer)[0], both)

    def test_statuscheck_and_oha_trade_places_every_other_round(self):
        s = scenario(n=10, hosts=5, scheme="https")
        with tempfile.TemporaryDirectory() as workdir:
            lists = harness.Lists(s, FakeServer(), workdir)
            cls = harness.clients(s, FakeServer(), lists, {"oha": "oha", "lychee": "lychee"})
        cls.insert(1, harness.Client("baseline", lambda _: []))
        order = [[c.name for c in harness.round_order(cls, r)] for r in range(4)]
        first = order[0]
        self.assertEqual(first[:3], ["statuscheck", "baseline", "oha"])
        self.assertEqual(order[1][:3], ["oha", "baseline", "statuscheck"])
        self.assertEqual(order[2], first)
        self.assertEqual(order[3], order[1])
        for names in order:
            self.assertEqual(sorted(names), sorted(c.name for c in cls), "every client, once a round")
            self.assertEqual(names[3:], first[3:], "the other peers keep their order, after the pair")
        # The last peer of a round is the one before the pair's first run, in both orders.
        self.assertEqual(first[-1], order[1][-1])
        without_oha = [c for c in cls if c.name != "oha"]
        self.assertEqual(harness.round_order(without_oha, 1), without_oha)

    def test_peer_names_cover_every_peer_client(self):
        s = scenario(n=10, hosts=5, scheme="https")
        with tempfile.TemporaryDirectory() as workdir:
            lists = harness.Lists(s, FakeServer(), workdir)
            names = [c.name for c in harness.clients(s, FakeServer(), lists, {"oha": "oha", "lychee": "lychee"})]
        self.assertEqual({harness.peer_name(n) for n in names} - {"statuscheck"}, set(harness.PEER_NAMES))


class NginxServer(unittest.TestCase):
    """The nginx the harness configures answers every code of the lists,
    over HTTP and over HTTPS with the CA it made, for the bench names."""

    def test_codes_over_http_and_https(self):
        missing = harness.nginx_missing()
        if missing:
            if os.environ.get("CI") == "true":
                self.fail(missing)
            self.skipTest(missing)
        workdir = tempfile.mkdtemp(prefix="bench-test-nginx-")
        server = harness.Nginx(workdir, ["127.0.0.1"])
        try:
            context = ssl.create_default_context(cafile=server.ca)
            for code in sorted(set(harness.CODES)):
                for scheme in ("http", "https"):
                    if scheme == "http":
                        conn = http.client.HTTPConnection("127.0.0.1", server.ports["http"], timeout=5)
                    else:
                        conn = http.client.HTTPSConnection("127.0.0.1", server.ports["https"], timeout=5,
                                                           context=context)
                        # Connect by address, verify the name h7.bench.test (SNI and certificate).
                        conn.sock = context.wrap_socket(
                            socket.create_connection(("127.0.0.1", server.ports["https"]), 5),
                            server_hostname="h7.bench.test")
                    conn.request("GET", f"/delay/0/status/{code}?n=1", headers={"Host": "h7.bench.test"})
                    answer = conn.getresponse()
                    self.assertEqual(answer.status, code, scheme)
                    self.assertEqual(answer.getheader("Connection"), "close")
                    conn.close()
            self.assertEqual(len(server.workers), harness.NPROC)
        finally:
            server.stop()
            shutil.rmtree(workdir, ignore_errors=True)
        self.assertIsNotNone(server.proc.poll())


class Drain(unittest.TestCase):
    """bench/internet's drain: how long the end of a run left the machine
    under half busy, from (seconds, machine CPU seconds) samples."""

    @staticmethod
    def internet():
        import importlib.machinery
        import importlib.util
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "internet")
        loader = importlib.machinery.SourceFileLoader("internet", path)
        spec = importlib.util.spec_from_loader("internet", loader)
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        return module

    @staticmethod
    def samples(busy_s, idle_s, cores):
        out, cpu = [], 0.0
        for i in range(int((busy_s + idle_s) * 10) + 1):
            t = i / 10
            out.append((t, cpu))
            cpu += cores * 0.1 if t < busy_s else 0.01
        return out

    def test_an_idle_end_is_the_drain(self):
        cores = os.cpu_count()
        drain = self.internet().drain(self.samples(10, 2, cores), 12.0)
        self.assertGreater(drain, 1.5)
        self.assertLess(drain, 2.1)

    def test_a_run_busy_to_its_end_has_no_drain(self):
        cores = os.cpu_count()
        self.assertLess(self.internet().drain(self.samples(12, 0, cores), 12.0), 0.2)


if __name__ == "__main__":
    unittest.main()
