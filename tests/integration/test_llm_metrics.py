# SPDX-License-Identifier: MIT
"""The llm_* metrics after known llm.LLMService calls through python3-grpcio:
the rules engine and the openai engine against the OpenAI-compatible test
backend (llm_backend.py). One server of its own, so every count is exact;
/metrics must pass `promtool check metrics` (Debian's prometheus package)
and show each family with its HELP and TYPE lines."""

import os
import re
import subprocess
import unittest
import urllib.request

import grpc

import harness as H
from llm_backend import Backend

for _v in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
           "all_proxy"):
    os.environ.pop(_v, None)

S = H.load_stubs("seed")
llm_pb2, llm_grpc, common_pb2 = S.llm, S.llm_grpc, S.common
PROMTOOL = "/usr/bin/promtool"
CEILING = 60.0


def opts(**kw):
    return common_pb2.Metadata(data={k: str(v) for k, v in kw.items()})


def req(text="Total 12,000원 on 2024-03-05", **kw):
    return llm_pb2.LLMRequest(text=text, options=opts(**kw))


class LlmMetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.backend = Backend().start()
        cls.srv = None
        try:
            cls.srv = H.Server("--llm-base-url", cls.backend.url, "--llm-model", "json",
                               engine="mock").start()
            cls.stub = llm_grpc.LLMServiceStub(cls.srv.channel())
            cls.calls()
            with urllib.request.urlopen(cls.srv.http_base() + "/metrics",
                                        timeout=CEILING) as r:
                cls.body = r.read()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.backend.release()
        try:
            if cls.srv:
                cls.srv.stop()
        finally:
            cls.backend.stop()

    @classmethod
    def calls(cls):
        st = cls.stub
        ok = llm_pb2.LLMResponse.DESCRIPTOR.fields_by_name["status"].enum_type \
            .values_by_name["STATUS_SUCCESS"].number
        # rules: 2 whole answers, 1 stream, 1 empty text (in-band error).
        for _ in range(2):
            r = st.AnalyzeText(req(engine="rules"), timeout=CEILING)
            assert r.status == ok, r
        toks = list(st.AnalyzeTextStream(req(engine="rules"), timeout=CEILING))
        assert toks[-1].is_complete, toks
        r = st.AnalyzeText(req(text="", engine="rules"), timeout=CEILING)
        assert r.error.details == "INVALID_ARGUMENT", r
        # openai: 2 JSON answers (usage 42 + 17 each), 1 stream of the
        # backend's 7 tokens (usage 11 + 7), a 400 answered in-band, a
        # context-length 400 in the stream, a 503.
        for _ in range(2):
            r = st.AnalyzeText(req(model="json"), timeout=CEILING)
            assert r.status == ok, r
        toks = list(st.AnalyzeTextStream(req(model="tokens"), timeout=CEILING))
        assert toks[-1].is_complete, toks
        assert "".join(t.token for t in toks) == "Hello world, this is ocrpc.", toks
        r = st.AnalyzeText(req(model="http400"), timeout=CEILING)
        assert r.error.details == "BACKEND_REJECTED", r
        try:
            list(st.AnalyzeTextStream(req(model="context"), timeout=CEILING))
            raise AssertionError("the stream did not fail")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
        try:
            st.AnalyzeText(req(model="http503"), timeout=CEILING)
            raise AssertionError("the call did not fail")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNAVAILABLE, e
        # An engine that is not configured: refused before one is chosen.
        try:
            list(st.AnalyzeTextStream(req(engine="nope"), timeout=CEILING))
            raise AssertionError("the stream did not fail")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e

    def value(self, series):
        m = re.search(r"(?m)^%s (\S+)$" % re.escape(series), self.body.decode())
        self.assertIsNotNone(m, "no series %s in\n%s" % (series, self.llm_text()))
        return float(m.group(1))

    def llm_text(self):
        return "".join(l + "\n" for l in self.body.decode().splitlines()
                       if l.startswith(("llm_", "# HELP llm_", "# TYPE llm_")))

    def test_promtool_and_help_type(self):
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=self.body,
                           capture_output=True)
        self.assertEqual(r.returncode, 0, "promtool: %s%s" % (r.stdout.decode(),
                                                               r.stderr.decode()))
        text = self.body.decode()
        for name, kind in (("llm_requests_total", "counter"),
                           ("llm_tokens_total", "counter"),
                           ("llm_request_duration_seconds", "histogram"),
                           ("llm_time_to_first_token_seconds", "histogram")):
            self.assertRegex(text, r"(?m)^# HELP %s \S" % name)
            self.assertRegex(text, r"(?m)^# TYPE %s %s$" % (name, kind))

    def test_requests_by_engine_and_status(self):
        want = {("rules", "OK"): 3, ("rules", "INVALID_ARGUMENT"): 1,
                ("openai", "OK"): 3, ("openai", "BACKEND_REJECTED"): 1,
                ("openai", "CONTEXT_TOO_LONG"): 1, ("openai", "UNAVAILABLE"): 1,
                ("unknown", "INVALID_ARGUMENT"): 1}
        for (e, s), n in want.items():
            self.assertEqual(self.value('llm_requests_total{engine="%s",status="%s"}'
                                        % (e, s)), n, self.llm_text())
        total = sum(float(v) for v in re.findall(r"(?m)^llm_requests_total\{.*\} (\S+)$",
                                                  self.body.decode()))
        self.assertEqual(total, sum(want.values()), self.llm_text())

    def test_tokens_from_backend_usage(self):
        self.assertEqual(self.value('llm_tokens_total{direction="prompt"}'), 2 * 42 + 11)
        self.assertEqual(self.value('llm_tokens_total{direction="completion"}'),
                         2 * 17 + len(self.backend.stream_tokens))

    def test_durations_and_first_token(self):
        self.assertEqual(self.value('llm_request_duration_seconds_count{engine="rules"}'), 4)
        self.assertEqual(self.value('llm_request_duration_seconds_count{engine="openai"}'),
                         6)
        # One stream per engine sent tokens; the failed streams sent none.
        self.assertEqual(
            self.value('llm_time_to_first_token_seconds_count{engine="rules"}'), 1)
        self.assertEqual(
            self.value('llm_time_to_first_token_seconds_count{engine="openai"}'), 1)
        self.assertGreater(
            self.value('llm_time_to_first_token_seconds_sum{engine="openai"}'), 0)
        # gRPC's own count agrees: every llm call is in grpc_requests_total.
        n = sum(float(v) for v in re.findall(
            r'(?m)^grpc_requests_total\{method="/llm\.[^"]*",status="[A-Z_]+"\} (\S+)$',
            self.body.decode()))
        self.assertEqual(n, 11)


if __name__ == "__main__":
    unittest.main()
