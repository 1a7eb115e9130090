# SPDX-License-Identifier: MIT
"""llm.LLMService through python3-grpcio with stubs generated from the
guide's own llm.proto (seed_protos/): the rules engine on receipts and
invoices this test writes, and the openai engine against the OpenAI-
compatible test backend (llm_backend.py) on a free port: JSON and text
answers, token streaming (the first token before the backend finished),
cancellation and deadlines closing the backend connection, every error row,
the wait queue, connection reuse and flow control with a slow reader.
Every wait is for an event the backend or server records, with a ceiling
only a hang reaches."""

import importlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

import grpc
import h2.config
import h2.connection
import h2.events

import harness as H
from llm_backend import Backend

# The backend is on loopback: never through a proxy from the environment.
for _v in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
           "all_proxy"):
    os.environ.pop(_v, None)

S = H.load_stubs("seed")
llm_pb2, llm_grpc, common_pb2, ocr_pb2 = S.llm, S.llm_grpc, S.common, S.ocr
CEILING = 60.0
API_KEY = "sk-test-0123456789-secret"
SMALL_LIMIT = 65536


def load_health_stubs():
    out = tempfile.mkdtemp(prefix="ocrpc-health-stubs-")
    try:
        cmd = [H.PROTOC, "--python_out=" + out, "--grpc_python_out=" + out,
               "--plugin=protoc-gen-grpc_python=" + H.GRPC_PYTHON_PLUGIN,
               "-I", H.proto_dir("repo"), "health.proto"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("protoc failed: %s\n%s" % (cmd, r.stderr))
        sys.path.insert(0, out)
        try:
            importlib.invalidate_caches()
            return (importlib.import_module("health_pb2"),
                    importlib.import_module("health_pb2_grpc"))
        finally:
            sys.path.remove(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


health_pb2, health_grpc = load_health_stubs()
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING

KOREAN_RECEIPT = """(주)한빛상사 영수증
사업자등록번호: 220-81-62517
대표 전화: 02-123-4567  휴대폰 010-9876-5432
거래일시: 2024년 3월 5일 14:22
고객 주민등록번호 900101-1234567
카드번호 4111-1111-1111-1111
아메리카노 2 9,000원
합계 12,000원
부가세 ₩1,091
문의: shop@hanbit.co.kr  https://hanbit.co.kr/r?id=7
"""

ENGLISH_INVOICE = """ACME Corporation - INVOICE
Invoice date: March 5, 2024
Due date: 04/05/2024
Supplier business no. 123-45-67890
Phone: +1 415 555 2671
Contact: billing@acme.example.com
Subtotal: $1,100.00
Tax: $134.50
Total: $1,234.50
"""


def opts(**kw):
    return common_pb2.Metadata(data={k: str(v) for k, v in kw.items()})




def wait_health(channel, want, service="llm.LLMService"):
    """Watch until the service reports `want` (an event, not a poll)."""
    stub = health_grpc.HealthStub(channel)
    call = stub.Watch(health_pb2.HealthCheckRequest(service=service), timeout=CEILING)
    try:
        for r in call:
            if r.status == want:
                return
    finally:
        call.cancel()
    raise AssertionError("health never became %d" % want)


class LlmTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.backend = Backend().start()
        key_dir = tempfile.mkdtemp(prefix="ocrpc-llm-key-")
        cls.key_dir = key_dir
        key_file = os.path.join(key_dir, "key")
        with open(key_file, "w") as f:
            f.write(API_KEY + "\n")
        cls.servers = []

        def start(*args):
            s = H.Server(*args, engine="mock").start()
            cls.servers.append(s)
            return s
        cls.rules = start()
        cls.openai = start("--llm-base-url", cls.backend.url, "--llm-model", "json",
                           "--llm-api-key-file", key_file)
        cls.queue = start("--llm-base-url", cls.backend.url, "--llm-model", "json",
                          "--llm-max-concurrent", "1", "--llm-max-queued", "1",
                          "--max-message-bytes", str(SMALL_LIMIT),
                          "--llm-stream-coalesce-us", "0")
        # A gap between messages no run of the tests reaches (60 s): every
        # token after the first of a stream waits for the end (or 16 KiB).
        cls.merge = start("--llm-base-url", cls.backend.url, "--llm-model", "json",
                          "--llm-stream-coalesce-us", "60000000")
        cls.down = start("--llm-base-url", "http://127.0.0.1:%d/v1" % H.free_port())
        cls.stub_rules = llm_grpc.LLMServiceStub(cls.rules.channel())
        cls.ch_openai = cls.openai.channel()
        cls.stub = llm_grpc.LLMServiceStub(cls.ch_openai)
        wait_health(cls.ch_openai, SERVING)

    @classmethod
    def tearDownClass(cls):
        cls.backend.release()
        try:
            for s in cls.servers:
                s.stop()
        finally:
            cls.backend.stop()
            shutil.rmtree(cls.key_dir, ignore_errors=True)

    def setUp(self):
        self.backend.reset_gate()

    def tearDown(self):
        self.backend.release()

    # -- rules ---------------------------------------------------------------
    def test_rules_korean_receipt(self):
        r = self.stub_rules.AnalyzeText(llm_pb2.LLMRequest(text=KOREAN_RECEIPT),
                                        timeout=CEILING)
        self.assertEqual(r.status, common_pb2.STATUS_SUCCESS)
        e = dict(r.entities)
        self.assertEqual(e["date"], "2024-03-05")
        self.assertEqual(e["amount_total"], "12000 KRW")
        self.assertEqual(e["amount_tax"], "1091 KRW")
        self.assertEqual(e["amount"], "9000 KRW")
        self.assertEqual(e["business_number"], "220-81-62517")
        self.assertEqual(e["phone"], "02-123-4567")
        self.assertEqual(e["phone_2"], "010-9876-5432")
        self.assertEqual(e["email"], "shop@hanbit.co.kr")
        self.assertEqual(e["url"], "https://hanbit.co.kr/r?id=7")
        self.assertEqual(e["resident_registration_number"], "900101-1******")
        self.assertEqual(e["card_number"], "****-****-****-1111")
        self.assertNotIn("business_number_invalid", e)
        self.assertIn("Receipt (Korean)", r.analysis)
        self.assertIn("Total: 12000 KRW", r.analysis)
        self.assertGreater(r.confidence, 0.5)
        self.assertLessEqual(r.confidence, 1.0)
        md = dict(r.metadata.data)
        self.assertEqual(md["engine"], "rules")
        self.assertEqual(md["entities"], str(len(e)))
        tokens = list(self.stub_rules.AnalyzeTextStream(
            llm_pb2.LLMRequest(text=KOREAN_RECEIPT), timeout=CEILING))
        self.assertTrue(tokens[-1].is_complete)
        self.assertFalse(any(t.is_complete for t in tokens[:-1]))
        self.assertEqual("".join(t.token for t in tokens), r.analysis)
        # The private numbers never leave in clear: not in the entities,
        # the analysis, or the stream.
        for secret in ("1234567", "4111-1111-1111-1111", "4111111111111111"):
            self.assertNotIn(secret, r.analysis)
            self.assertNotIn(secret, "".join(e.values()))
            self.assertNotIn(secret, "".join(t.token for t in tokens))

    def test_rules_english_invoice(self):
        r = self.stub_rules.AnalyzeText(llm_pb2.LLMRequest(text=ENGLISH_INVOICE),
                                        timeout=CEILING)
        e = dict(r.entities)
        self.assertEqual(e["date"], "2024-03-05")
        self.assertEqual(e["date_2"], "2024-04-05")
        self.assertEqual(e["amount_total"], "1234.50 USD")
        self.assertEqual(e["amount_subtotal"], "1100.00 USD")
        self.assertEqual(e["amount_tax"], "134.50 USD")
        self.assertEqual(e["phone"], "+1 415 555 2671")
        self.assertEqual(e["email"], "billing@acme.example.com")
        # 123-45-67890 fails the check digit: reported as such, never as valid.
        self.assertEqual(e["business_number_invalid"], "123-45-67890")
        self.assertNotIn("business_number", e)
        self.assertIn("Invoice (English)", r.analysis)
        self.assertIn("fails its check digit", r.analysis)

    def test_rules_empty_text_and_bad_options(self):
        r = self.stub_rules.AnalyzeText(llm_pb2.LLMRequest(text=""), timeout=CEILING)
        self.assertEqual(r.status, common_pb2.STATUS_FAILURE)
        self.assertEqual((r.error.code, r.error.details), ("LLM_ERROR", "INVALID_ARGUMENT"))
        with self.assertRaises(grpc.RpcError) as cm:
            list(self.stub_rules.AnalyzeTextStream(llm_pb2.LLMRequest(text=""),
                                                   timeout=CEILING))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        # openai is not configured on this server
        r = self.stub_rules.AnalyzeText(
            llm_pb2.LLMRequest(text="x", options=opts(engine="openai")), timeout=CEILING)
        self.assertEqual(r.error.details, "INVALID_ARGUMENT")
        self.assertIn("not a configured engine", r.error.message)
        r = self.stub.AnalyzeText(
            llm_pb2.LLMRequest(text="x", options=opts(temperature="hot")), timeout=CEILING)
        self.assertEqual(r.error.details, "INVALID_ARGUMENT")

    def test_rules_health(self):
        ch = self.rules.channel()
        r = health_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(service="llm.LLMService"), timeout=CEILING)
        self.assertEqual(r.status, SERVING)
        h = S.ocr_grpc.OCRServiceStub(ch).CheckHealth(
            ocr_pb2.HealthCheckRequest(service_name="llm.LLMService"), timeout=CEILING)
        self.assertEqual(h.status, common_pb2.STATUS_SUCCESS)
        self.assertEqual(h.engine_type, "rules")
        self.assertTrue(h.model_loaded)

    # -- openai ------------------------------------------------------------------
    def test_openai_json_answer(self):
        n0 = len(self.backend.chat_requests())
        r = self.stub.AnalyzeText(llm_pb2.LLMRequest(
            text=KOREAN_RECEIPT, prompt="What was bought?",
            options=opts(temperature=0.2, max_tokens=300)), timeout=CEILING)
        self.assertEqual(r.status, common_pb2.STATUS_SUCCESS)
        self.assertAlmostEqual(r.confidence, 0.87, places=5)
        e = dict(r.entities)
        self.assertEqual(e["date"], "2024-03-05")
        self.assertEqual(e["amount_total"], "12000 KRW")
        self.assertEqual(e["items"], "3")  # a number, written as JSON
        # The model's own output is masked too.
        self.assertEqual(e["card_number"], "**** **** **** 1111")
        self.assertNotIn("4111-1111-1111-1111", r.analysis)
        md = dict(r.metadata.data)
        self.assertEqual(md["engine"], "openai")
        self.assertEqual(md["model"], "json")
        self.assertEqual(md["prompt_tokens"], "42")
        self.assertEqual(md["completion_tokens"], "17")
        self.assertEqual(md["answer_format"], "json")
        self.assertIn("latency_ms", md)
        req = self.backend.chat_requests()[n0]
        body = req["body"]
        self.assertEqual(body["model"], "json")
        self.assertEqual(body["response_format"], {"type": "json_object"})
        self.assertEqual(body["temperature"], 0.2)
        self.assertEqual(body["max_tokens"], 300)
        self.assertNotIn("stream", body)
        self.assertEqual(body["messages"][0]["role"], "system")
        self.assertIn("What was bought?", body["messages"][1]["content"])
        self.assertIn("220-81-62517", body["messages"][1]["content"])
        self.assertEqual(req["headers"].get("Authorization"), "Bearer " + API_KEY)
        self.assertNotIn(API_KEY, self.openai.stderr_text())

    def test_openai_text_answer_falls_back_to_rules(self):
        r = self.stub.AnalyzeText(llm_pb2.LLMRequest(
            text=KOREAN_RECEIPT, options=opts(model="text")), timeout=CEILING)
        self.assertEqual(r.status, common_pb2.STATUS_SUCCESS)
        self.assertEqual(r.analysis, "This is a receipt from Hanbit, paid by card.")
        md = dict(r.metadata.data)
        self.assertEqual((md["answer_format"], md["entities_source"]), ("text", "rules"))
        e = dict(r.entities)
        self.assertEqual(e["business_number"], "220-81-62517")
        self.assertEqual(e["resident_registration_number"], "900101-1******")

    def test_openai_engine_per_call(self):
        r = self.stub.AnalyzeText(llm_pb2.LLMRequest(
            text=KOREAN_RECEIPT, options=opts(engine="rules")), timeout=CEILING)
        self.assertEqual(dict(r.metadata.data)["engine"], "rules")

    def test_stream_tokens_in_order_first_before_backend_finished(self):
        call = self.stub.AnalyzeTextStream(llm_pb2.LLMRequest(
            text="hello", options=opts(model="gated")), timeout=CEILING)
        first = next(call)
        # The backend holds the rest until the go-ahead: this token came
        # through before the backend had finished.
        self.assertFalse(self.backend.gate.is_set())
        self.assertEqual(first.token, "Hello")
        self.assertFalse(first.is_complete)
        self.backend.release()
        rest = list(call)
        self.assertTrue(rest[-1].is_complete)
        self.assertEqual(first.token + "".join(t.token for t in rest),
                         "Hello world, this is ocrpc.")
        body = self.backend.chat_requests()[-1]["body"]
        self.assertIs(body["stream"], True)
        self.assertNotIn("response_format", body)

    def test_stream_fast_tokens_coalesced_same_text(self):
        """The backend writes its seven tokens back to back. With a gap
        no token reaches, the server sends the tokens of its first read
        of them at once, together, and all the others in one message at
        the end, then is_complete; with --llm-stream-coalesce-us 0, one
        message per token."""
        want = "".join(self.backend.stream_tokens)
        req = llm_pb2.LLMRequest(text="hello", options=opts(model="tokens"))
        merged = list(llm_grpc.LLMServiceStub(self.merge.channel()).AnalyzeTextStream(
            req, timeout=CEILING))
        self.assertIn(len(merged), (2, 3), [m.token for m in merged])
        self.assertTrue(merged[0].token.startswith("Hello"))
        self.assertEqual("".join(m.token for m in merged), want)
        self.assertEqual(merged[-1].token, "")
        self.assertTrue(merged[-1].is_complete)
        self.assertFalse(any(m.is_complete for m in merged[:-1]))
        each = list(llm_grpc.LLMServiceStub(self.queue.channel()).AnalyzeTextStream(
            req, timeout=CEILING))
        self.assertEqual([m.token for m in each], self.backend.stream_tokens + [""])
        self.assertTrue(each[-1].is_complete)
        # Masking is unaffected: a number split across tokens is masked
        # whole in the merged message.
        toks = [m.token for m in llm_grpc.LLMServiceStub(
            self.merge.channel()).AnalyzeTextStream(llm_pb2.LLMRequest(
                text="hello", options=opts(model="private")), timeout=CEILING)]
        self.assertEqual("".join(toks),
                         "Card ****-****-****-1111 and RRN 900101-1******. 한글 끝")

    def test_stream_masks_numbers_split_across_tokens(self):
        toks = [m.token for m in self.stub.AnalyzeTextStream(llm_pb2.LLMRequest(
            text="hello", options=opts(model="private")), timeout=CEILING)]
        self.assertEqual("".join(toks),
                         "Card ****-****-****-1111 and RRN 900101-1******. 한글 끝")
        for t in toks:
            self.assertNotIn("1234567", t)
            self.assertNotIn("4111", t)

    def test_cancel_closes_backend_connection(self):
        n = self.backend.disconnected.count("gated")
        call = self.stub.AnalyzeTextStream(llm_pb2.LLMRequest(
            text="hello", options=opts(model="gated")), timeout=CEILING)
        self.assertEqual(next(call).token, "Hello")
        call.cancel()
        self.assertTrue(self.backend.wait(
            lambda: self.backend.disconnected.count("gated") > n),
            "the backend never saw its client go away")

    def test_deadline_exceeded_closes_backend_connection(self):
        for streamed in (False, True):
            n = self.backend.disconnected.count("stall")
            req = llm_pb2.LLMRequest(text="hello", options=opts(model="stall"))
            with self.assertRaises(grpc.RpcError) as cm:
                if streamed:
                    list(self.stub.AnalyzeTextStream(req, timeout=1.0))
                else:
                    self.stub.AnalyzeText(req, timeout=1.0)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
            self.assertTrue(self.backend.wait(
                lambda: self.backend.disconnected.count("stall") > n))

    def test_error_rows(self):
        for model, details in (("http400", "BACKEND_REJECTED"),
                               ("context", "CONTEXT_TOO_LONG")):
            r = self.stub.AnalyzeText(llm_pb2.LLMRequest(
                text="hello", options=opts(model=model)), timeout=CEILING)
            self.assertEqual(r.status, common_pb2.STATUS_FAILURE, model)
            self.assertEqual((r.error.code, r.error.details), ("LLM_ERROR", details))
            with self.assertRaises(grpc.RpcError) as cm:
                list(self.stub.AnalyzeTextStream(llm_pb2.LLMRequest(
                    text="hello", options=opts(model=model)), timeout=CEILING))
            self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn(details, cm.exception.details())
        for model in ("http500", "http503", "http429", "badjson", "disconnect"):
            with self.assertRaises(grpc.RpcError) as cm:
                self.stub.AnalyzeText(llm_pb2.LLMRequest(
                    text="hello", options=opts(model=model)), timeout=CEILING)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE, model)
        # Mid-stream disconnect: the tokens sent, then the gRPC status.
        got = []
        with self.assertRaises(grpc.RpcError) as cm:
            for t in self.stub.AnalyzeTextStream(llm_pb2.LLMRequest(
                    text="hello", options=opts(model="disconnect")), timeout=CEILING):
                got.append(t.token)
        self.assertEqual(got, ["partial", " answer"])
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        # A 5xx marked the backend down; the next good call brings it back.
        self.stub.AnalyzeText(llm_pb2.LLMRequest(text="hello"), timeout=CEILING)
        wait_health(self.ch_openai, SERVING)

    def test_backend_unreachable(self):
        ch = self.down.channel()
        r = health_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(service="llm.LLMService"), timeout=CEILING)
        self.assertEqual(r.status, NOT_SERVING)
        h = S.ocr_grpc.OCRServiceStub(ch).CheckHealth(
            ocr_pb2.HealthCheckRequest(service_name="llm.LLMService"), timeout=CEILING)
        self.assertEqual(h.status, common_pb2.STATUS_FAILURE)
        self.assertEqual(h.engine_type, "openai")
        with self.assertRaises(grpc.RpcError) as cm:
            llm_grpc.LLMServiceStub(ch).AnalyzeText(llm_pb2.LLMRequest(text="hello"),
                                                    timeout=CEILING)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        # The rules engine still answers on that server.
        r = llm_grpc.LLMServiceStub(ch).AnalyzeText(llm_pb2.LLMRequest(
            text="2024.03.05", options=opts(engine="rules")), timeout=CEILING)
        self.assertEqual(dict(r.entities)["date"], "2024-03-05")

    def test_wait_queue_then_unavailable(self):
        stub = llm_grpc.LLMServiceStub(self.queue.channel())
        n = len(self.backend.chat_requests())
        gated = llm_pb2.LLMRequest(text="hello", options=opts(model="gated"))
        a = stub.AnalyzeText.future(gated, timeout=CEILING)
        self.assertTrue(self.backend.wait(lambda: len(self.backend.chat_requests()) > n))
        b = stub.AnalyzeText.future(gated, timeout=CEILING)
        c = stub.AnalyzeText.future(gated, timeout=CEILING)
        # One slot in flight (a), one waiting: the third caller is refused
        # at once, while a is still held by the backend.
        done = threading.Event()
        b.add_done_callback(lambda f: done.set())
        c.add_done_callback(lambda f: done.set())
        self.assertTrue(done.wait(CEILING))
        self.assertFalse(a.done())
        self.backend.release()
        codes = []
        for f in (b, c):
            try:
                f.result()
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as e:
                codes.append(e.code())
        self.assertEqual(sorted(codes, key=str),
                         sorted([grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE], key=str))
        self.assertEqual(a.result().status, common_pb2.STATUS_SUCCESS)

    def test_text_over_message_limit(self):
        stub = llm_grpc.LLMServiceStub(self.queue.channel())
        with self.assertRaises(grpc.RpcError) as cm:
            stub.AnalyzeText(llm_pb2.LLMRequest(text="x" * (SMALL_LIMIT + 1)),
                             timeout=CEILING)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)

    def test_backend_connection_reused(self):
        self.stub.AnalyzeText(llm_pb2.LLMRequest(text="warm"), timeout=CEILING)
        before = self.backend.connections
        for _ in range(3):
            self.stub.AnalyzeText(llm_pb2.LLMRequest(text="hello"), timeout=CEILING)
        self.assertEqual(self.backend.connections, before)

    def test_slow_reader_pauses_backend(self):
        """A reader that stops reading: its HTTP/2 window (64 KiB, never
        reopened) closes, the server's stream queue fills, the backend
        transfer is paused, and the backend's socket stays unwritable.
        Driven with python3-h2 because grpcio keeps reading (and opening
        its window) whether the application reads or not."""
        n, size = 2000, 8192  # 16 MiB of tokens
        consumed = [0]
        at_finish = []
        self.backend.big_finished = False
        self.backend.blocked_at = None
        self.backend.on_big_finished = lambda: at_finish.append(consumed[0])
        host, port = self.openai.address.rsplit(":", 1)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.settimeout(CEILING)
        sock.connect((host, int(port)))
        conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        req = llm_pb2.LLMRequest(text="hello", options=opts(model="big-%d-%d" % (n, size)))
        body = req.SerializeToString()
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"),
                                (":path", "/llm.LLMService/AnalyzeTextStream"),
                                (":authority", "localhost"),
                                ("content-type", "application/grpc"), ("te", "trailers")])
        conn.send_data(sid, b"\0" + len(body).to_bytes(4, "big") + body, end_stream=True)
        sock.sendall(conn.data_to_send())
        buf = bytearray()
        state = {"ended": False, "trailers": None}

        def pump(ack):
            data = sock.recv(65536)
            self.assertTrue(data, "server closed the connection")
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.DataReceived):
                    buf.extend(ev.data)
                    if ack and ev.flow_controlled_length:
                        conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.TrailersReceived):
                    state["trailers"] = dict(ev.headers)
                elif isinstance(ev, h2.events.StreamEnded):
                    state["ended"] = True
            out = conn.data_to_send()
            if out:
                sock.sendall(out)

        def tokens_in(m):
            """The backend's tokens in message m, checked in order: the
            server may send several in one (LLM_STREAM_COALESCE_US), but
            always whole ones here (no digits end a token)."""
            self.assertEqual(len(m.token) % size, 0, "a token cut in two")
            k = len(m.token) // size
            for i in range(k):
                self.assertTrue(m.token[i * size:].startswith("%07d " % (consumed[0] + i)))
            return k

        def messages():
            while len(buf) >= 5:
                ln = int.from_bytes(buf[1:5], "big")
                if len(buf) < 5 + ln:
                    return
                m = llm_pb2.LLMStreamResponse.FromString(bytes(buf[5:5 + ln]))
                del buf[:5 + ln]
                yield m

        try:
            first = None
            while first is None:
                pump(ack=False)
                for m in messages():
                    first = first or m
                    consumed[0] += tokens_in(m)
            self.assertTrue(first.token.startswith("0000000 "))
            # Stop reading until the backend cannot write any more (or,
            # if the server buffered without bound, has written it all):
            # the backend reports a socket unwritable for a second, which a
            # server that pauses always reaches and one that keeps reading
            # does not.
            self.assertTrue(self.backend.wait(
                lambda: self.backend.blocked_at is not None or self.backend.big_finished))
            conn.increment_flow_control_window(16 * H.MB)
            conn.increment_flow_control_window(16 * H.MB, sid)
            sock.sendall(conn.data_to_send())
            last = None
            while not state["ended"]:
                pump(ack=True)
                for m in messages():
                    if m.is_complete:
                        last = m
                        continue
                    consumed[0] += tokens_in(m)
            self.assertEqual(consumed[0], n)
            self.assertIsNotNone(last)
            self.assertEqual(state["trailers"].get(b"grpc-status"), b"0")
        finally:
            self.backend.on_big_finished = None
            sock.close()
        # With the transfer paused, the backend could only finish once the
        # reader had taken all but what the buffers on the way hold (about
        # a MiB: bounded socket buffers, 64 KiB HTTP/2 windows).
        self.assertEqual(len(at_finish), 1)
        self.assertGreater(at_finish[0] * size, n * size - 8 * H.MB,
                           "the backend finished while the reader had taken only %d "
                           "tokens: the server buffered the stream" % at_finish[0])


if __name__ == "__main__":
    unittest.main()
