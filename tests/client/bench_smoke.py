# SPDX-License-Identifier: MIT
"""Smoke test of ocrpc-bench against the real server with the mock engine:
one second of load over 2 connections x 4 streams, --json. Checks that
every call succeeded, that some ran, and that the histogram is sane
(p50 <= p99 <= max). Also: the result cache is bypassed unless
--use-cache, whose hit share is reported; a missing image stops the run at
once; the first OCR failure's details are printed. And bench/compare.sh's report
merge keeps the hand-written sections of bench/RESULTS.md. No timing
thresholds."""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server import SANITIZER_MARKERS, Server  # noqa: E402


class BenchSmoke(unittest.TestCase):
    def setUp(self):
        self.server = Server(engine="mock")

    def tearDown(self):
        self.server.stop()

    def run_bench(self, *args, server=None):
        argv = [os.environ["OCRPC_BENCH_BIN"], "-s",
                (server or self.server).target] + list(args)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        for marker in SANITIZER_MARKERS:
            self.assertNotIn(marker, p.stderr)
        return p

    def check_report(self, p, method):
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        r = json.loads(p.stdout)
        self.assertEqual(r["method"], method)
        self.assertEqual(r["errors"], 0, r)
        self.assertEqual(r["errors_by_status"], {})
        self.assertGreater(r["requests"], 0)
        self.assertEqual(r["ok"], r["requests"])
        lat = r["latency_ms"]
        self.assertLessEqual(lat["min"], lat["p50"])
        self.assertLessEqual(lat["p50"], lat["p90"])
        self.assertLessEqual(lat["p90"], lat["p99"])
        self.assertLessEqual(lat["p99"], lat["p99_9"])
        self.assertLessEqual(lat["p99_9"], lat["max"])
        self.assertGreater(lat["max"], 0)
        return r

    def test_closed_loop_duration(self):
        p = self.run_bench("-d", "1s", "-c", "2", "-m", "4", "--json")
        r = self.check_report(p, "ExtractText")
        self.assertEqual(r["mode"], "closed")
        self.assertEqual(r["connections"], 2)
        self.assertEqual(r["streams"], 4)

    def test_request_count_other_methods(self):
        p = self.run_bench("-n", "200", "-c", "2", "-m", "4", "-t", "2",
                           "-M", "CheckHealth", "--json")
        r = self.check_report(p, "CheckHealth")
        self.assertEqual(r["requests"], 200)
        p = self.run_bench("-n", "20", "-c", "1", "-m", "2", "-M", "batch",
                           "--batch-size", "3", "--json")
        r = self.check_report(p, "ExtractTextBatch")
        self.assertEqual(r["requests"], 20)

    def test_many_connections(self):
        # More connections than the server reads between two writes
        # (FLUSH_EVERY_READS), all readable at once, on one client loop:
        # every call still gets its own answer.
        p = self.run_bench("-n", "3000", "-c", "300", "-m", "1", "--json")
        r = self.check_report(p, "ExtractText")
        self.assertEqual(r["connections"], 300)
        self.assertEqual(r["requests"], 3000)

    def test_open_loop(self):
        p = self.run_bench("-n", "100", "-c", "2", "-m", "8", "--rate", "500",
                           "--json")
        r = self.check_report(p, "ExtractText")
        self.assertEqual(r["mode"], "open")
        self.assertEqual(r["requests"], 100)

    def test_connection_refused_counts_errors(self):
        port = self.server.port
        argv = [os.environ["OCRPC_BENCH_BIN"], "-s", "127.0.0.1:1", "-n", "10",
                "--json"]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
        r = json.loads(p.stdout)
        self.assertEqual(r["ok"], 0)
        self.assertGreater(r["errors_by_status"]["UNAVAILABLE"], 0)
        self.assertTrue(port)

    def other_server(self, **kw):
        srv = Server(**kw)
        self.addCleanup(srv.stop)
        return srv

    def png(self):
        path = os.path.join(self.server.image_root, "tiny.png")
        subprocess.run(["/usr/bin/convert", "-size", "40x20", "xc:white", path],
                       check=True)
        return path

    def test_result_cache_bypassed_by_default_and_hit_share_reported(self):
        srv = self.other_server(extra=("--result-cache", "on"))
        img = self.png()
        p = self.run_bench("-n", "20", "--file", img, "--json", server=srv)
        r = self.check_report(p, "ExtractText")
        self.assertEqual((r["cache_hits"], r["cache_misses"]), (0, 0))
        p = self.run_bench("-n", "20", "--file", img, "--use-cache", "--json",
                           server=srv)
        r = self.check_report(p, "ExtractText")
        # The first bypassing run stored nothing: one miss, then hits.
        self.assertEqual((r["cache_hits"], r["cache_misses"]), (19, 1))
        p = self.run_bench("-n", "5", "--file", img, "--use-cache", server=srv)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("5 hits, 0 misses (100.0 % answered from the result cache)",
                      p.stdout)

    def test_missing_image_stops_the_run(self):
        srv = self.other_server(engine="tesseract")
        p = self.run_bench("-n", "100000", "-c", "2", "-m", "4", "--path",
                           "no-such.png", server=srv)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("cannot find the image (NOT_FOUND: no-such.png", p.stderr)

    def test_first_ocr_failure_details_are_printed(self):
        srv = self.other_server(engine="tesseract")
        bad = os.path.join(self.server.image_root, "bad.png")
        with open(bad, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\nnot an image")
        p = self.run_bench("-n", "3", "--file", bad, server=srv)
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"OCR_FAILURE +3 \(first: DECODE_ERROR: ")


class ReportMerge(unittest.TestCase):
    """bench/compare.sh rewrites only its own sections of RESULTS.md."""

    def test_hand_sections_survive_a_report(self):
        repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        sys.path.insert(0, os.path.join(repo, "bench", "peers", "tools"))
        import report_merge as M
        with open(os.path.join(repo, "bench", "RESULTS.md")) as f:
            old = f.read()
        new = ("# ocrpc benchmark results\n\nGenerated by a test\n\n"
               "## 1. Mock engine NEW\n\nnew one\n\n"
               "## 5. 2000 idle HTTP/2 connections NEW\n\nnew five\n\n"
               "## 9. A scenario the file lacks\n\nnew nine\n\n"
               "## Commands (first round; ports are per server)\n\n"
               "```sh\n## inside a fence: not a heading\n```\n")
        merged = M.merge(old, new)
        self.assertTrue(merged.startswith("# ocrpc benchmark results\n\nGenerated by a test"))
        old_blocks, got = dict(M.split(old)[1]), M.split(merged)[1]
        keys = [k for k, _ in got]
        self.assertIn("new one", dict(got)["1."])
        self.assertIn("new five", dict(got)["5."])
        self.assertEqual(keys.index("9."), keys.index("5.") + 1, "after its predecessor")
        self.assertIn("inside a fence",
                      dict(got)["## Commands (first round; ports are per server)"])
        for k, text in old_blocks.items():
            self.assertIn(k, keys)
            if k not in ("1.", "5.") and not k.startswith("## Commands"):
                self.assertEqual(dict(got)[k].rstrip("\n"), text.rstrip("\n"), k)
        # The hand-written sections this was made for are there, in order.
        for k in ("4b.", "7.", "8."):
            self.assertIn(k, keys)
        self.assertLess(keys.index("4."), keys.index("4b."))
        self.assertLess(keys.index("4b."), keys.index("5."))
        self.assertEqual(M.merge(merged, new), merged, "idempotent")


if __name__ == "__main__":
    unittest.main()
