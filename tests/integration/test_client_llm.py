# SPDX-License-Identifier: MIT
"""The Python client package's analyze() and analyze_stream() against the
server with the rules engine and with the OpenAI-compatible test backend:
results, in-band failures (LlmFailed), and the retry policy (UNAVAILABLE
retried with backoff; a stream only until its first token)."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import harness
from llm_backend import Backend

CLIENT_DIR = os.path.join(harness.REPO, "clients", "python")
sys.path.insert(0, CLIENT_DIR)

import grpc  # noqa: E402

from ocrpc_client import (LlmFailed, OcrClient, OcrUnavailable,  # noqa: E402
                          OcrInvalidArgument)

for _v in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
           "all_proxy"):
    os.environ.pop(_v, None)
NO_PROXY = [("grpc.enable_http_proxy", 0)]
RECEIPT = "영수증\n2024년 3월 5일\n합계 12,000원\n주민번호 900101-1234567\n"


class ClientLlm(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.backend = Backend().start()
        cls.server = harness.Server("--llm-base-url", cls.backend.url,
                                    "--llm-model", "json", engine="mock").start()
        cls.events = []
        cls.client = OcrClient(cls.server.address, options=NO_PROXY, timeout=60,
                               max_attempts=3, initial_backoff=0.01, max_backoff=0.02,
                               retry_hook=cls.events.append)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        try:
            cls.server.stop()
        finally:
            cls.backend.stop()

    def setUp(self):
        del self.events[:]

    def test_analyze_rules(self):
        r = self.client.analyze(RECEIPT, engine="rules")
        e = dict(r.entities)
        self.assertEqual(e["date"], "2024-03-05")
        self.assertEqual(e["amount_total"], "12000 KRW")
        self.assertEqual(e["resident_registration_number"], "900101-1******")
        self.assertEqual("".join(self.client.analyze_stream(RECEIPT, engine="rules")),
                         r.analysis)

    def test_analyze_openai(self):
        r = self.client.analyze(RECEIPT, "what is it?", temperature=0.1, max_tokens=50)
        self.assertEqual(dict(r.metadata.data)["prompt_tokens"], "42")
        self.assertEqual(dict(r.entities)["amount_total"], "12000 KRW")
        body = self.backend.chat_requests()[-1]["body"]
        self.assertEqual((body["temperature"], body["max_tokens"]), (0.1, 50))
        # The backend writes its tokens back to back: the server sends the
        # first read's at once and the rest together (LLM_STREAM_COALESCE_US),
        # the same text.
        toks = list(self.client.analyze_stream(RECEIPT, model="tokens"))
        self.assertTrue(toks[0].startswith("Hello"), toks)
        self.assertEqual("".join(toks), "Hello world, this is ocrpc.")

    def test_in_band_failure(self):
        with self.assertRaises(LlmFailed) as cm:
            self.client.analyze(RECEIPT, model="http400")
        self.assertEqual(cm.exception.details, "BACKEND_REJECTED")
        r = self.client.analyze("", raise_on_failure=False)
        self.assertEqual(r.error.details, "INVALID_ARGUMENT")
        with self.assertRaises(OcrInvalidArgument):
            list(self.client.analyze_stream("", model="tokens"))
        # None of these is retried.
        self.assertTrue(all(ev.delay is None for ev in self.events), self.events)

    def test_unavailable_is_retried(self):
        n = len(self.backend.chat_requests())
        with self.assertRaises(OcrUnavailable) as cm:
            self.client.analyze(RECEIPT, model="http503")
        self.assertEqual(cm.exception.attempts, 3)
        self.assertEqual(len(self.backend.chat_requests()) - n, 3)
        self.assertEqual([ev.attempt for ev in self.events], [1, 2, 3])
        # Streams: retried before the first token ...
        del self.events[:]
        with self.assertRaises(OcrUnavailable):
            list(self.client.analyze_stream(RECEIPT, model="http503"))
        self.assertEqual(len(self.events), 3)
        # ... never after it.
        del self.events[:]
        got = []
        with self.assertRaises(OcrUnavailable):
            for t in self.client.analyze_stream(RECEIPT, model="disconnect"):
                got.append(t)
        self.assertEqual(got, ["partial", " answer"])
        self.assertEqual([(ev.attempt, ev.delay) for ev in self.events], [(1, None)])


@unittest.skipUnless(os.environ.get("OCRPC_CLI_BIN"), "OCRPC_CLI_BIN not set")
class CliAnalyze(unittest.TestCase):
    """`ocrpc analyze`: file, stdin, --image, --whole, tokens printed as they
    arrive, exit codes."""

    @classmethod
    def setUpClass(cls):
        cls.backend = Backend().start()
        cls.server = harness.Server("--llm-base-url", cls.backend.url,
                                    "--llm-model", "json", engine="mock").start()
        cls.dir = tempfile.mkdtemp(prefix="ocrpc-cli-llm-")
        cls.file = os.path.join(cls.dir, "receipt.txt")
        with open(cls.file, "w") as f:
            f.write(RECEIPT)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()
        finally:
            cls.backend.stop()
            shutil.rmtree(cls.dir, ignore_errors=True)

    def cli(self, *args, **kw):
        argv = [os.environ["OCRPC_CLI_BIN"], "--server", self.server.address,
                "--timeout", "60s", "analyze"] + list(args)
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)

    def test_whole_from_file_and_stdin(self):
        r = self.cli(self.file, "--engine", "rules", "--whole")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("amount_total: 12000 KRW", r.stdout)
        self.assertIn("resident_registration_number: 900101-1******", r.stdout)
        self.assertNotIn("1234567", r.stdout)
        r2 = self.cli("--engine", "rules", "--whole", input=RECEIPT)
        self.assertEqual(r2.stdout, r.stdout)
        r3 = self.cli("-", "--engine", "rules", input=RECEIPT)
        self.assertEqual(r3.returncode, 0, r3.stderr)
        self.assertTrue(r3.stdout.startswith("Receipt (Korean)."), r3.stdout)

    def test_tokens_printed_as_they_arrive(self):
        self.backend.reset_gate()
        argv = [os.environ["OCRPC_CLI_BIN"], "--server", self.server.address,
                "--timeout", "60s", "analyze", self.file, "--model", "gated"]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            # The first token reaches our pipe while the backend still
            # holds the rest.
            self.assertEqual(p.stdout.read(5), b"Hello")
            self.assertFalse(self.backend.gate.is_set())
            self.backend.release()
            out, err = p.communicate(timeout=120)
        finally:
            self.backend.release()
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(b"Hello" + out, b"Hello world, this is ocrpc.\n")

    def test_image_and_exit_codes(self):
        img = os.path.join(self.dir, "page.png")
        harness.render_line(img, "Total 12,000 KRW")
        r = self.cli("--image", img, "--engine", "rules", "--whole")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("confidence:", r.stdout)
        r = self.cli(self.file, "--model", "http503")
        self.assertEqual(r.returncode, 3, r.stderr)
        r = self.cli(self.file, "--model", "http400", "--whole")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("BACKEND_REJECTED", r.stderr)
        r = self.cli(os.path.join(self.dir, "missing.txt"))
        self.assertEqual(r.returncode, 1)


if __name__ == "__main__":
    unittest.main()
