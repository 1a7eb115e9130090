# SPDX-License-Identifier: MIT
"""Bearer-token authentication (--auth-token-file) with real clients:
python3-grpcio (raw calls and the ocrpc_client package) and the ocrpc CLI,
against the real server (mock engine: the check sits above OCR).

- every OCRService call but CheckHealth needs `authorization: Bearer T`
  with one of the file's tokens; a missing, malformed or unknown token gets
  UNAUTHENTICATED, always with the same message (and is never retried);
- grpc.health.v1 and CheckHealth stay open; reflection needs the token
  unless --auth-reflection off;
- SIGHUP reloads the file (a bad file keeps the tokens in use);
- a bad file stops the server at start with a message naming it;
- no token ever appears in the server's log, even at debug level.
Waits are on log lines and call results, bounded; no sleeps.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import harness

CLIENT_DIR = os.path.join(harness.REPO, "clients", "python")
sys.path.insert(0, CLIENT_DIR)
sys.dont_write_bytecode = True

import grpc  # noqa: E402

from ocrpc_client import (OcrClient, OcrUnauthenticated,  # noqa: E402
                          common_pb2, ocr_pb2)

TOKENS = ["tok-alpha-6f1c2d9e8b7a", "tok-bravo-0a9b8c7d6e5f"]
NO_PROXY = [("grpc.enable_http_proxy", 0)]
UNAUTH_MSG = "missing or invalid token"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
REFLECTION = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
EXTRACT = "/ocr.OCRService/ExtractText"
LIST_SERVICES = b"\x3a\x00"   # ServerReflectionRequest{list_services: ""}
WAIT = harness.WAIT  # a ceiling only a hang reaches (loaded machine, ASan tree)


def write_tokens(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def raw(channel, path):
    return channel.unary_unary(path)


def wait_log(server, pattern, count=1):
    rx = re.compile(pattern)
    end = time.monotonic() + WAIT
    while len(rx.findall(server.stderr_text())) < count:
        if time.monotonic() > end or not server.alive():
            raise AssertionError("log never showed %r %d times:\n%s"
                                 % (pattern, count, server.stderr_text()))
        time.sleep(0.01)  # polling interval of a bounded wait


class Auth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = harness.tempdir("ocrpc-auth-")
        cls.token_file = os.path.join(cls.tmp, "tokens")
        write_tokens(cls.token_file, ["# the fleet's tokens", "",
                                      "  %s  " % TOKENS[0], TOKENS[1] + "\r"])
        cls.server = harness.Server("--auth-token-file", cls.token_file,
                                    engine="mock", workers=1,
                                    log_level="debug")
        cls.server.start()
        cls.channel = grpc.insecure_channel(cls.server.address,
                                            options=NO_PROXY)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.stop()

    def extract_raw(self, metadata=None):
        req = ocr_pb2.OCRRequest(image_data=b"img").SerializeToString()
        return raw(self.channel, EXTRACT)(req, timeout=WAIT,
                                          metadata=metadata)

    def assertUnauthenticated(self, metadata):
        with self.assertRaises(grpc.RpcError) as cm:
            self.extract_raw(metadata)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        self.assertEqual(cm.exception.details(), UNAUTH_MSG)

    def test_calls_need_a_known_token_and_say_nothing_more(self):
        for md in (None,
                   [("authorization", "Bearer wrong")],
                   [("authorization", "Bearer " + TOKENS[0][:-1])],
                   [("authorization", "Bearer " + TOKENS[0] + "x")],
                   [("authorization", "Basic " + TOKENS[0])],
                   [("authorization", TOKENS[0])],
                   [("authorization", "Bearer")]):
            with self.subTest(md=md):
                self.assertUnauthenticated(md)

    def test_each_token_is_accepted(self):
        for t in TOKENS:
            resp = ocr_pb2.OCRResponse.FromString(self.extract_raw(
                [("authorization", "Bearer " + t)]))
            self.assertEqual(resp.status, common_pb2.STATUS_SUCCESS)
        # The scheme is case-insensitive (RFC 7235).
        self.extract_raw([("authorization", "bearer " + TOKENS[1])])

    def test_health_is_open(self):
        out = raw(self.channel, HEALTH_CHECK)(b"", timeout=WAIT)
        self.assertEqual(out, b"\x08\x01")   # SERVING
        with OcrClient(self.server.address, options=NO_PROXY,
                       token="") as c:
            self.assertEqual(c.health().engine_type, "mock")

    def test_reflection_needs_the_token_by_default(self):
        call = self.channel.stream_stream(REFLECTION)
        with self.assertRaises(grpc.RpcError) as cm:
            list(call(iter([LIST_SERVICES]), timeout=WAIT))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
        got = list(call(iter([LIST_SERVICES]), timeout=WAIT,
                        metadata=[("authorization", "Bearer " + TOKENS[0])]))
        self.assertEqual(len(got), 1)
        self.assertIn(b"ocr.OCRService", got[0])

    def test_reflection_open_when_configured(self):
        s = harness.Server("--auth-token-file", self.token_file,
                           "--auth-reflection", "off", engine="mock",
                           workers=1)
        s.start()
        try:
            ch = s.channel(options=NO_PROXY)
            got = list(ch.stream_stream(REFLECTION)(iter([LIST_SERVICES]),
                                                    timeout=WAIT))
            self.assertIn(b"ocr.OCRService", got[0])
            with self.assertRaises(grpc.RpcError) as cm:
                raw(ch, EXTRACT)(b"", timeout=WAIT)
            self.assertEqual(cm.exception.code(),
                             grpc.StatusCode.UNAUTHENTICATED)
        finally:
            s.stop()

    def test_python_client_token_argument_and_environment(self):
        with OcrClient(self.server.address, options=NO_PROXY,
                       token=TOKENS[1]) as c:
            self.assertEqual(c.extract(image_data=b"x").status,
                             common_pb2.STATUS_SUCCESS)
        old = os.environ.get("OCRPC_TOKEN")
        os.environ["OCRPC_TOKEN"] = TOKENS[0]
        try:
            with OcrClient(self.server.address, options=NO_PROXY) as c:
                list(c.extract_batch([b"a", b"b"]))
        finally:
            if old is None:
                del os.environ["OCRPC_TOKEN"]
            else:
                os.environ["OCRPC_TOKEN"] = old

    def test_asyncio_client_token(self):
        import asyncio
        from ocrpc_client import AsyncOcrClient

        async def go():
            async with AsyncOcrClient(self.server.address, options=NO_PROXY,
                                      token=TOKENS[0]) as c:
                r = await c.extract(image_data=b"x")
                self.assertEqual(r.status, common_pb2.STATUS_SUCCESS)
            async with AsyncOcrClient(self.server.address, options=NO_PROXY,
                                      token="nope") as c:
                with self.assertRaises(OcrUnauthenticated):
                    await c.extract(image_data=b"x")
        asyncio.run(go())

    def test_python_client_does_not_retry_a_refused_token(self):
        events = []
        with OcrClient(self.server.address, options=NO_PROXY,
                       token="nope", retry_hook=events.append,
                       max_attempts=5) as c:
            with self.assertRaises(OcrUnauthenticated) as cm:
                c.extract(image_data=b"x")
        self.assertEqual(cm.exception.details, UNAUTH_MSG)
        self.assertEqual([(e.attempt, e.delay) for e in events], [(1, None)])

    def test_cli_token_flag_and_environment(self):
        cli = os.environ["OCRPC_CLI_BIN"]
        img = os.path.join(self.tmp, "x.png")
        with open(img, "wb") as f:
            f.write(b"not really a png: the mock engine does not care")
        env = {k: v for k, v in os.environ.items() if k != "OCRPC_TOKEN"}
        base = [cli, "--server", self.server.address]

        def run(args, **kw):
            return subprocess.run(base + args, capture_output=True,
                                  text=True, timeout=300, **kw)
        p = run(["extract", img], env=env)
        self.assertEqual(p.returncode, 5, p.stderr)
        self.assertIn("UNAUTHENTICATED", p.stderr)
        p = run(["--token", TOKENS[0], "extract", img], env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = run(["extract", img], env=dict(env, OCRPC_TOKEN=TOKENS[1]))
        self.assertEqual(p.returncode, 0, p.stderr)
        p = run(["health"], env=env)   # open
        self.assertEqual(p.returncode, 0, p.stderr)
        p = run(["--token", "a b", "health"], env=env)
        self.assertEqual(p.returncode, 2, p.stderr)

    def test_sighup_reloads_and_a_bad_file_keeps_the_tokens(self):
        path = os.path.join(self.tmp, "reload-tokens")
        write_tokens(path, [TOKENS[0]])
        s = harness.Server("--auth-token-file", path, engine="mock",
                           workers=1, log_level="debug")
        s.start()
        try:
            ch = s.channel(options=NO_PROXY)

            def ok(tok):
                try:
                    raw(ch, EXTRACT)(b"", timeout=WAIT, metadata=[
                        ("authorization", "Bearer " + tok)])
                    return True
                except grpc.RpcError as e:
                    self.assertEqual(e.code(),
                                     grpc.StatusCode.UNAUTHENTICATED)
                    return False
            self.assertTrue(ok(TOKENS[0]))
            self.assertFalse(ok(TOKENS[1]))
            write_tokens(path, [TOKENS[1]])
            s.proc.send_signal(signal.SIGHUP)
            wait_log(s, r"SIGHUP: auth: 1 tokens reloaded")
            self.assertFalse(ok(TOKENS[0]))
            self.assertTrue(ok(TOKENS[1]))
            write_tokens(path, ["# nothing"])
            s.proc.send_signal(signal.SIGHUP)
            wait_log(s, r"no token in it; keeping the 1 tokens in use")
            self.assertTrue(ok(TOKENS[1]))
            for t in TOKENS:
                self.assertNotIn(t, s.stderr_text())
        finally:
            s.stop()

    def test_bad_token_file_stops_the_server_at_start(self):
        empty = os.path.join(self.tmp, "empty")
        write_tokens(empty, ["", "# none"])
        for path, want in ((os.path.join(self.tmp, "missing"),
                            "No such file"),
                           (empty, "no token in it")):
            p = subprocess.run([harness.server_binary(), "--port", "0",
                                "--host", "127.0.0.1", "--engine", "mock",
                                "--auth-token-file", path],
                               capture_output=True, text=True, timeout=120)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(path, p.stderr)
            self.assertIn(want, p.stderr)
            self.assertNotIn("listening", p.stderr)

    def test_rest_routes_need_the_token_but_health(self):
        # The gRPC port answers HTTP/1.1 too (REST front door).
        import http.client

        def req(method, path, token=None, body=None):
            c = http.client.HTTPConnection("127.0.0.1", self.server.port,
                                           timeout=WAIT)
            try:
                h = {"content-type": "application/json"}
                if token:
                    h["authorization"] = "Bearer " + token
                c.request(method, path, body=body, headers=h)
                r = c.getresponse()
                return r.status, r.getheader("www-authenticate"), r.read()
            finally:
                c.close()
        for path, method, body in (("/ocr/extract", "POST", b"{}"),
                                   ("/v1/batches/nope", "GET", None)):
            for tok in (None, "wrong"):
                st, challenge, out = req(method, path, tok, body)
                self.assertEqual(st, 401, out)
                self.assertEqual(challenge, "Bearer")
                self.assertIn(b"missing or invalid token", out)
            st, _, out = req(method, path, TOKENS[0], body)
            self.assertNotEqual(st, 401, out)
        for path in ("/healthz", "/healthy", "/readyz"):
            self.assertEqual(req("GET", path)[0], 200, path)

    def test_z_no_token_in_the_log(self):
        # Runs last (name): every call of this class went through this
        # server, at debug level.
        text = self.server.stderr_text()
        self.assertIn("auth: 2 tokens from", text)
        for t in TOKENS:
            self.assertNotIn(t, text)
        self.assertNotIn("Bearer", text)


if __name__ == "__main__":
    unittest.main()
