# SPDX-License-Identifier: MIT
"""gRPC behaviour of ocrpc-server as real clients see it, with two client
stacks in this file: python3-grpcio (stubs from protos/) and a raw HTTP/2
client (python3-h2 over a plain socket, h2c with prior knowledge) for what
grpcio will not send or will not show: wrong content-types, unsupported
encodings, hand-made -bin metadata, the compressed-flag byte of a response,
the raw grpc-message header. tests/node/ runs the same behaviours through
grpc-js.

Covered: deadlines free the workers, cancellation and dropped connections
free the workers, status codes (UNIMPLEMENTED, 415, bad bytes,
RESOURCE_EXHAUSTED, unsupported encoding), gzip both ways and zip bombs,
metadata (x-request-id, -bin), server streaming with GetBatchStatus,
grpc.health.v1, graceful shutdown (drain, GOAWAY, second SIGTERM) and the
percent-encoding of grpc-message.

No timing thresholds: "the workers were freed" is judged by the server's
own counts (GET /metrics): once no recognition is running or queued, no
abandoned big page was recognised to the end (ocr_images_total with
result="success" did not grow), and the normal calls after it are the only
successes counted."""

import gzip
import importlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import uuid

import grpc
import h2.config
import h2.connection
import h2.events
import h2.exceptions

import harness as H

S = H.load_stubs("repo")
ocr_pb2 = S.ocr
common_pb2 = S.common
SUCCESS = common_pb2.STATUS_SUCCESS

CALL_TIMEOUT = 300          # seconds; a ceiling only a hang reaches, never an assertion
WAIT_TIMEOUT = H.WAIT       # bound for polling the server's log (a hang)
SMALL_LIMIT = 100000        # --max-message-bytes of the small-limit server
BURST = 10
WORKERS = 2

EXTRACT = "/ocr.OCRService/ExtractText"
CHECK_HEALTH = "/ocr.OCRService/CheckHealth"

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet "
         "kilo lima mike november oscar papa quebec romeo sierra tango").split()
# The big page: 2400x3200, 60 lines. Recognising it takes seconds.
BIG_LINES = ["Line %02d " % i + " ".join(WORDS[(i + k) % len(WORDS)]
                                         for k in range(9))
             for i in range(60)]
# A medium page whose OCRResponse is well over the server's 1 KiB gzip
# threshold, but quick to recognise.
MEDIUM_LINES = ["Row %02d " % i + " ".join(WORDS[(i + k) % len(WORDS)]
                                           for k in range(4))
                for i in range(12)]
SMALL = [("s%d.png" % i, t) for i, t in enumerate(
    ["Alpha report 101", "Bravo invoice 202", "Charlie order 303",
     "Delta receipt 404"])]
BATCH = [("b%d.png" % i, "Batch page %d of eight" % (i + 1))
         for i in range(8)]

work = None
server = None        # default limits, WORKERS workers
small_server = None  # --max-message-bytes SMALL_LIMIT
big_png = None       # path of the big page in `work`
health_pb2 = None
health_grpc = None


# --------------------------------------------------------------------------
# Set-up
# --------------------------------------------------------------------------

def load_health_stubs():
    """health_pb2 / health_pb2_grpc generated from protos/health.proto."""
    out = tempfile.mkdtemp(prefix="ocrpc-health-stubs-")
    try:
        cmd = [H.PROTOC, "--python_out=" + out, "--grpc_python_out=" + out,
               "--plugin=protoc-gen-grpc_python=" + H.GRPC_PYTHON_PLUGIN,
               "-I", H.proto_dir("repo"), "health.proto"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("protoc failed: %s\n%s" % (cmd, r.stderr))
        sys.path.insert(0, out)
        old = sys.dont_write_bytecode
        sys.dont_write_bytecode = True
        try:
            importlib.invalidate_caches()
            return (importlib.import_module("health_pb2"),
                    importlib.import_module("health_pb2_grpc"))
        finally:
            sys.dont_write_bytecode = old
            sys.path.remove(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def render_big(out):
    args = ["-size", "2400x3200", "xc:white", "-font", H.DEJAVU,
            "-pointsize", "34", "-fill", "black"]
    for i, text in enumerate(BIG_LINES):
        args += ["-annotate", "+40+%d" % (60 + 52 * i), text]
    return H._convert(args, out)


def populate(srv):
    """Copies the test images into a server's image root."""
    for name in os.listdir(work):
        shutil.copy(os.path.join(work, name), srv.path(name))


def setUpModule():
    global work, server, small_server, big_png, health_pb2, health_grpc
    health_pb2, health_grpc = load_health_stubs()
    work = H.tempdir("ocrpc-beh-")
    big_png = render_big(os.path.join(work, "big.png"))
    H.render_lines(os.path.join(work, "medium.png"), MEDIUM_LINES, width=1200)
    for name, text in SMALL + BATCH:
        H.render_line(os.path.join(work, name), text)
    server = Srv(workers=WORKERS)
    server.start()
    unittest.addModuleCleanup(server.stop)
    populate(server)
    small_server = Srv("--max-message-bytes", str(SMALL_LIMIT),
                       workers=WORKERS)
    small_server.start()
    unittest.addModuleCleanup(small_server.stop)
    populate(small_server)


class Srv(H.Server):
    """The harness server plus waiting on its log and on its exit."""

    def wait_log(self, pattern, timeout=WAIT_TIMEOUT, count=1):
        """Polls stderr (bounded) until `pattern` matched `count` times."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while True:
            n = len(rx.findall(self.stderr_text()))
            if n >= count:
                return
            if time.monotonic() > end or not self.alive():
                raise AssertionError(
                    "server log never showed %r %d times (saw %d); alive=%s"
                    "\nstderr tail:\n%s" % (pattern, count, n, self.alive(),
                                            self.stderr_text()[-4000:]))
            time.sleep(0.01)

    def poll_idle(self, what):
        """Waits (bounded: a hang) until no recognition runs or waits."""
        H.poll(self.idle, what, timeout=WAIT_TIMEOUT)

    def wait_in_flight(self, request_ids, path=EXTRACT):
        """The server logs 'request ID: PATH' when a call with an
        x-request-id arrives: wait until every one of them did."""
        for rid in request_ids:
            self.wait_log(r"request %s: %s" % (re.escape(rid), re.escape(path)))

    def wait_exit(self, timeout=H.STOP_TIMEOUT):
        """Waits for the process to exit by itself; returns its status and
        checks the sanitizer markers as stop() does."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(H.STOP_TIMEOUT)
            rc = "still running after %ss (killed)" % timeout
        self._close_channels()
        self._cleanup()
        text = self.stderr_text()
        self.proc = None
        for marker in H.SANITIZER_MARKERS:
            if marker in text:
                raise AssertionError("stderr contains %r:\n%s"
                                     % (marker, text[-20000:]))
        return rc


def new_id():
    return "beh-" + uuid.uuid4().hex[:12]


def md(resp):
    return dict(resp.metadata.data)


def successes(m=None):
    """Images the server answered with a result (ocr_images_total,
    result="success"), from its /metrics (scraped now unless given)."""
    return H.metric_sum(m if m is not None else server.metrics(),
                        "ocr_images_total", result="success")


def by_result(m):
    """ocr_images_total's samples, for failure messages."""
    return {k: v for k, v in m.items() if k.startswith("ocr_images_total{")}


def describe(resp):
    return "response: %s" % str(resp)[:2000]


# --------------------------------------------------------------------------
# Raw HTTP/2 client (h2c, prior knowledge)
# --------------------------------------------------------------------------

def frame(payload, compressed=False):
    return bytes([1 if compressed else 0]) + len(payload).to_bytes(4, "big") \
        + payload


def unframe(data):
    """[(flag, payload)] of the gRPC messages in `data`."""
    out = []
    i = 0
    while i < len(data):
        if len(data) - i < 5:
            raise AssertionError("truncated message prefix: %r" % data[i:])
        flag, n = data[i], int.from_bytes(data[i + 1:i + 5], "big")
        if len(data) - i - 5 < n:
            raise AssertionError("truncated message: want %d bytes, have %d"
                                 % (n, len(data) - i - 5))
        out.append((flag, data[i + 5:i + 5 + n]))
        i += 5 + n
    return out


class RawResult:
    def __init__(self):
        self.headers = []    # [(name bytes, value bytes)]
        self.trailers = []
        self.data = b""
        self.reset = None    # RST_STREAM error code
        self.ended = False

    def header(self, name):
        for k, v in self.headers:
            if k == name.encode():
                return v.decode("latin-1")
        return None

    def trailer(self, name):
        for k, v in self.trailers:
            if k == name.encode():
                return v.decode("latin-1")
        return None

    def raw(self, name):
        """Raw bytes of a header or trailer (Trailers-Only puts everything
        in the first HEADERS frame)."""
        for k, v in self.trailers + self.headers:
            if k == name.encode():
                return v
        return None

    def grpc_status(self):
        v = self.trailer("grpc-status")
        if v is None:
            v = self.header("grpc-status")  # Trailers-Only
        return None if v is None else int(v)

    def __repr__(self):
        return ("RawResult(headers=%r, trailers=%r, data=%d bytes, reset=%r)"
                % (self.headers, self.trailers, len(self.data), self.reset))


class RawH2:
    """One HTTP/2 connection with a hand-driven h2 state machine. Header
    validation is off so that tests can send what real clients must not."""

    def __init__(self, address):
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)),
                                             timeout=CALL_TIMEOUT)
        cfg = h2.config.H2Configuration(
            client_side=True, header_encoding=None,
            validate_outbound_headers=False, normalize_outbound_headers=False,
            validate_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(16 * 1024 * 1024)
        self.flush()
        self.results = {}

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def close(self):
        try:
            self.conn.close_connection()
            self.flush()
        except Exception:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def _pump(self):
        data = self.sock.recv(65536)
        if not data:
            raise AssertionError("server closed the connection; results so "
                                 "far: %r" % self.results)
        for ev in self.conn.receive_data(data):
            r = self.results.get(getattr(ev, "stream_id", None))
            if isinstance(ev, h2.events.ResponseReceived):
                r.headers = list(ev.headers)
            elif isinstance(ev, h2.events.TrailersReceived):
                r.trailers = list(ev.headers)
            elif isinstance(ev, h2.events.DataReceived):
                r.data += ev.data
                if ev.flow_controlled_length:
                    self.conn.acknowledge_received_data(
                        ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                r.ended = True
            elif isinstance(ev, h2.events.StreamReset):
                r.reset = ev.error_code
        self.flush()

    def _done(self, sid):
        r = self.results[sid]
        return r.ended or r.reset is not None

    def send_blind(self, path, body):
        """Sends a whole small request without reading anything first, so
        that h2 has not yet seen a GOAWAY waiting in the socket. Returns the
        stream id; read the answer with read_raw()."""
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [
            (b":method", b"POST"), (b":scheme", b"http"),
            (b":path", path.encode()), (b":authority", b"localhost"),
            (b"content-type", b"application/grpc"), (b"te", b"trailers")])
        self.conn.send_data(sid, body, end_stream=True)
        self.flush()
        return sid

    def _recv_exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise EOFError("connection closed")
            out += chunk
        return out

    def read_raw(self, sid):
        """Parses frames off the socket with hyperframe, bypassing h2's
        state machine (which stops at the first GOAWAY), until stream `sid`
        gets an answer or a GOAWAY leaves it unprocessed. Returns
        ("status", headers) / ("rst", code) / ("goaway", last_stream_id)."""
        import hyperframe.frame as hf
        goaway_last = None
        while True:
            try:
                head = self._recv_exact(9)
            except EOFError:
                if goaway_last is not None and goaway_last < sid:
                    return ("goaway", goaway_last)
                raise AssertionError("connection closed without an answer "
                                     "for stream %d" % sid)
            f, length = hf.Frame.parse_frame_header(memoryview(head))
            f.parse_body(memoryview(self._recv_exact(length)))
            if isinstance(f, hf.GoAwayFrame):
                goaway_last = f.last_stream_id
                if goaway_last < sid:
                    return ("goaway", goaway_last)
            elif isinstance(f, hf.HeadersFrame):
                hdrs = self.conn.decoder.decode(f.data, raw=True)
                if f.stream_id == sid:
                    return ("status", hdrs)
            elif isinstance(f, hf.RstStreamFrame) and f.stream_id == sid:
                return ("rst", f.error_code)

    def call(self, path, body=b"", headers=(), content_type="application/grpc",
             path_bytes=None):
        """One request; returns its RawResult once the stream closed."""
        sid = self.conn.get_next_available_stream_id()
        self.results[sid] = RawResult()
        hdrs = [(b":method", b"POST"), (b":scheme", b"http"),
                (b":path", path_bytes if path_bytes is not None
                 else path.encode()),
                (b":authority", b"localhost"),
                (b"content-type", content_type.encode()),
                (b"te", b"trailers")]
        for k, v in headers:
            hdrs.append((k.encode() if isinstance(k, str) else k,
                         v.encode() if isinstance(v, str) else v))
        self.conn.send_headers(sid, hdrs)
        self.flush()
        view = memoryview(body)
        while len(view) and not self._done(sid):
            room = min(self.conn.local_flow_control_window(sid),
                       self.conn.max_outbound_frame_size)
            if room <= 0:
                self._pump()
                continue
            try:
                self.conn.send_data(sid, bytes(view[:room]))
            except h2.exceptions.StreamClosedError:
                break
            view = view[room:]
            self.flush()
        if not self._done(sid):
            try:
                self.conn.end_stream(sid)
                self.flush()
            except h2.exceptions.StreamClosedError:
                pass
        while not self._done(sid):
            self._pump()
        return self.results[sid]


# --------------------------------------------------------------------------
# Base
# --------------------------------------------------------------------------

class Base(unittest.TestCase):

    @classmethod
    def target(cls):
        return server

    @classmethod
    def setUpClass(cls):
        cls.channel = cls.target().channel()
        cls.stub = S.ocr_grpc.OCRServiceStub(cls.channel)

    def extract(self, path, stub=None, timeout=CALL_TIMEOUT, **kw):
        req = ocr_pb2.OCRRequest(private_image_path=path, language="english")
        return (stub or self.stub).ExtractText(req, timeout=timeout, **kw)

    def measure_big(self):
        """One full recognition of the big page; returns the server's count
        of successful images just after it (the baseline of
        assert_workers_free)."""
        resp = self.extract("big.png")
        self.assertEqual(resp.status, SUCCESS, describe(resp))
        self.assertEqual(H.norm_text(resp.text).splitlines(), BIG_LINES,
                         describe(resp))
        server.poll_idle("the big page's recognition to leave the workers")
        return successes()

    def assert_workers_free(self, before, what):
        """The abandoned big-page calls were stopped, not finished: once the
        server has no recognition running or queued (its own gauges, waited
        for; the ceiling is for a hang), its count of successful images has
        not grown. Then four normal calls on small images succeed, and the
        count grows by exactly those four: had the server kept working for
        the abandoned calls (which are ahead of these in its FIFO queue),
        they would be counted too. Counts only: nothing compares durations,
        so a loaded machine cannot change the verdict."""
        server.poll_idle("the abandoned calls to leave the workers (%s)"
                         % what)
        m = server.metrics()
        self.assertEqual(
            successes(m) - before, 0,
            "%s: the server recognised abandoned big-page calls to the end "
            "(ocr_images_total by result: %s)" % (what, by_result(m)))
        futs = [(text, self.stub.ExtractText.future(
            ocr_pb2.OCRRequest(private_image_path=name, language="english"),
            timeout=CALL_TIMEOUT)) for name, text in SMALL]
        for text, f in futs:
            resp = f.result()
            d = describe(resp)
            self.assertEqual(resp.status, SUCCESS, d)
            self.assertEqual(H.norm_text(resp.text), text, d)
        server.poll_idle("the normal calls to leave the workers (%s)" % what)
        m = server.metrics()
        self.assertEqual(
            successes(m) - before, len(SMALL),
            "%s: successes counted besides the %d normal calls "
            "(ocr_images_total by result: %s)" % (what, len(SMALL),
                                                  by_result(m)))
        sys.stderr.write("\n  %s: ocr_images_total by result %s\n"
                         % (what, by_result(m)))


# --------------------------------------------------------------------------
# 1. Deadlines
# --------------------------------------------------------------------------

class Deadlines(Base):
    def test_deadline_exceeded_and_workers_freed(self):
        before = self.measure_big()
        with self.assertRaises(grpc.RpcError) as cm:
            self.extract("big.png", timeout=0.001)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED,
                         cm.exception.details())
        # A burst of short deadlines on the big page: 10 jobs that would
        # keep both workers busy for ~5 full recognitions if not stopped.
        futs = [self.stub.ExtractText.future(
            ocr_pb2.OCRRequest(private_image_path="big.png",
                               language="english"), timeout=0.05)
            for _ in range(BURST)]
        for f in futs:
            e = f.exception()
            self.assertIsNotNone(e, "a 50 ms call on the big page succeeded")
            self.assertEqual(e.code(), grpc.StatusCode.DEADLINE_EXCEEDED,
                             e.details())
        self.assert_workers_free(before, "after %d expired deadlines" % BURST)

    def test_server_enforces_grpc_timeout(self):
        """Without any client-side timer (raw h2 client), the server itself
        answers DEADLINE_EXCEEDED when grpc-timeout passes."""
        req = ocr_pb2.OCRRequest(private_image_path="big.png",
                                 language="english").SerializeToString()
        with RawH2(server.address) as c:
            r = c.call(EXTRACT, frame(req), headers=[("grpc-timeout", "50m")])
        self.assertEqual(r.grpc_status(), 4, r)


# --------------------------------------------------------------------------
# 2. Cancellation and dropped connections
# --------------------------------------------------------------------------

CHILD_CLIENT = r"""
import sys, grpc
sys.path.insert(0, sys.argv[1])
import harness as H
S = H.load_stubs("repo")
ch = grpc.insecure_channel(sys.argv[2], options=H.CHANNEL_OPTIONS)
stub = S.ocr_grpc.OCRServiceStub(ch)
futs = [stub.ExtractText.future(
    S.ocr.OCRRequest(private_image_path="big.png", language="english"),
    metadata=[("x-request-id", rid)], timeout=600) for rid in sys.argv[3:]]
for f in futs:
    f.result()
print("finished: not killed in time", flush=True)
"""


class Cancellation(Base):
    def start_big_calls(self, stub, n):
        ids = [new_id() for _ in range(n)]
        futs = [stub.ExtractText.future(
            ocr_pb2.OCRRequest(private_image_path="big.png",
                               language="english"),
            metadata=[("x-request-id", rid)], timeout=CALL_TIMEOUT)
            for rid in ids]
        server.wait_in_flight(ids)
        return futs

    def test_cancel_in_flight_frees_workers(self):
        before = self.measure_big()
        # 2 workers: 2 calls running and 2 queued.
        futs = self.start_big_calls(self.stub, 2 * WORKERS)
        for f in futs:
            self.assertTrue(f.cancel(), "could not cancel an in-flight call")
        for f in futs:
            self.assertTrue(f.cancelled())
        self.assertTrue(server.alive())
        self.assert_workers_free(before, "after cancelling %d calls"
                                 % (2 * WORKERS))

    def test_closed_channel_frees_workers(self):
        before = self.measure_big()
        ch = grpc.insecure_channel(server.address, options=H.CHANNEL_OPTIONS)
        futs = self.start_big_calls(S.ocr_grpc.OCRServiceStub(ch),
                                    2 * WORKERS)
        ch.close()
        for f in futs:
            self.assertTrue(f.done())
            # Ended without a result: cancelled, or an error status.
            self.assertTrue(f.cancelled() or f.exception() is not None)
        self.assertTrue(server.alive())
        self.assert_workers_free(before, "after closing a channel mid-call")

    def test_killed_client_process_frees_workers(self):
        before = self.measure_big()
        ids = [new_id() for _ in range(2 * WORKERS)]
        child = subprocess.Popen(
            ["/usr/bin/python3", "-c", CHILD_CLIENT, H.HERE, server.address]
            + ids, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        try:
            server.wait_in_flight(ids)
        finally:
            child.kill()  # SIGKILL: the socket just goes away
            out, err = child.communicate(timeout=WAIT_TIMEOUT)
        self.assertNotIn(b"finished", out, err.decode("utf-8", "replace"))
        self.assertTrue(server.alive())
        self.assert_workers_free(before, "after a client process died "
                                 "mid-call")


# --------------------------------------------------------------------------
# 3. Status codes
# --------------------------------------------------------------------------

def raw_unary(channel, path):
    return channel.unary_unary(path, request_serializer=lambda b: b,
                               response_deserializer=lambda b: b)


class StatusCodes(Base):
    def test_unknown_service(self):
        with self.assertRaises(grpc.RpcError) as cm:
            raw_unary(self.channel, "/nope.NoService/ExtractText")(
                b"", timeout=CALL_TIMEOUT)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED,
                         cm.exception.details())

    def test_unknown_method(self):
        with self.assertRaises(grpc.RpcError) as cm:
            raw_unary(self.channel, "/ocr.OCRService/NoSuchMethod")(
                b"", timeout=CALL_TIMEOUT)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED,
                         cm.exception.details())

    def test_content_type_text_plain_is_415(self):
        body = frame(ocr_pb2.HealthCheckRequest().SerializeToString())
        with RawH2(server.address) as c:
            r = c.call(CHECK_HEALTH, body, content_type="text/plain")
            self.assertEqual(r.header(":status"), "415", r)
            # The same request as application/grpc works: it is the type.
            ok = c.call(CHECK_HEALTH, body)
            self.assertEqual(ok.header(":status"), "200", ok)
            self.assertEqual(ok.grpc_status(), 0, ok)

    def test_garbage_request_bytes(self):
        with self.assertRaises(grpc.RpcError) as cm:
            raw_unary(self.channel, EXTRACT)(b"\xff\xff\xff\xff\x0f\x07",
                                             timeout=CALL_TIMEOUT)
        self.assertIn(cm.exception.code(), (grpc.StatusCode.INTERNAL,
                                            grpc.StatusCode.INVALID_ARGUMENT),
                      cm.exception.details())

    def test_message_over_limit(self):
        ch = small_server.channel()
        stub = S.ocr_grpc.OCRServiceStub(ch)
        data = os.urandom(SMALL_LIMIT + 1000)
        with self.assertRaises(grpc.RpcError) as cm:
            stub.ExtractText(ocr_pb2.OCRRequest(image_data=data),
                             timeout=CALL_TIMEOUT)
        self.assertEqual(cm.exception.code(),
                         grpc.StatusCode.RESOURCE_EXHAUSTED,
                         cm.exception.details())
        # ... and the connection still serves a call under the limit.
        resp = stub.ExtractText(ocr_pb2.OCRRequest(
            private_image_path=SMALL[0][0], language="english"),
            timeout=CALL_TIMEOUT)
        self.assertEqual(H.norm_text(resp.text), SMALL[0][1], describe(resp))

    def test_unsupported_encoding_br(self):
        body = frame(b"\x0b\x28\x00\x80", compressed=True)
        with RawH2(server.address) as c:
            r = c.call(CHECK_HEALTH, body, headers=[("grpc-encoding", "br")])
        self.assertEqual(r.grpc_status(), 12, r)
        accept = (r.raw("grpc-accept-encoding") or b"").decode("latin-1")
        self.assertIn("gzip", [t.strip() for t in accept.split(",")], r)


# --------------------------------------------------------------------------
# 4. Compression
# --------------------------------------------------------------------------

class Compression(Base):
    def test_gzip_request_large_inline_image(self):
        text = "Compressed upload works"
        tif = H.render_line(os.path.join(work, "gz.tif"), text, width=1600,
                            height=1200,
                            extra=["-type", "TrueColor", "-compress", "none"])
        data = H.read_bytes(tif)
        os.unlink(tif)
        self.assertGreater(len(data), 4 * H.MB)
        resp = self.stub.ExtractText(
            ocr_pb2.OCRRequest(image_data=data, language="english"),
            timeout=CALL_TIMEOUT, compression=grpc.Compression.Gzip)
        self.assertEqual(resp.status, SUCCESS, describe(resp))
        self.assertEqual(H.norm_text(resp.text), text, describe(resp))
        self.assertEqual(md(resp)["image_width"], "1600")

    def medium_request(self):
        return frame(ocr_pb2.OCRRequest(private_image_path="medium.png",
                                        language="english")
                     .SerializeToString())

    def test_gzip_response(self):
        with RawH2(server.address) as c:
            r = c.call(EXTRACT, self.medium_request(),
                       headers=[("grpc-accept-encoding", "identity,gzip")])
        self.assertEqual(r.grpc_status(), 0, r)
        self.assertEqual(r.header("grpc-encoding"), "gzip", r)
        msgs = unframe(r.data)
        self.assertEqual(len(msgs), 1, r)
        flag, payload = msgs[0]
        self.assertEqual(flag, 1, "response message not flagged compressed")
        resp = ocr_pb2.OCRResponse.FromString(gzip.decompress(payload))
        self.assertEqual(resp.status, SUCCESS, describe(resp))
        self.assertEqual(H.norm_text(resp.text).splitlines(), MEDIUM_LINES,
                         describe(resp))
        self.assertLess(len(payload), resp.ByteSize())

    def test_no_gzip_response_unless_accepted(self):
        with RawH2(server.address) as c:
            r = c.call(EXTRACT, self.medium_request(),
                       headers=[("grpc-accept-encoding", "identity")])
        self.assertEqual(r.grpc_status(), 0, r)
        self.assertIsNone(r.header("grpc-encoding"), r)
        (flag, payload), = unframe(r.data)
        self.assertEqual(flag, 0)
        resp = ocr_pb2.OCRResponse.FromString(payload)
        self.assertEqual(H.norm_text(resp.text).splitlines(), MEDIUM_LINES)

    def test_gzip_bomb_raw(self):
        bomb = gzip.compress(b"\0" * (20 * H.MB), 9)
        self.assertLess(len(bomb), SMALL_LIMIT)
        with RawH2(small_server.address) as c:
            r = c.call(EXTRACT, frame(bomb, compressed=True),
                       headers=[("grpc-encoding", "gzip")])
            self.assertEqual(r.grpc_status(), 8, r)
            # The connection is still good.
            ok = c.call(CHECK_HEALTH,
                        frame(ocr_pb2.HealthCheckRequest().SerializeToString()))
            self.assertEqual(ok.grpc_status(), 0, ok)
        self.assertTrue(small_server.alive())

    def test_gzip_bomb_client(self):
        """grpcio compresses a 1 MB run of zeros to ~1 KB: under the limit on
        the wire, over it once inflated."""
        stub = S.ocr_grpc.OCRServiceStub(small_server.channel())
        with self.assertRaises(grpc.RpcError) as cm:
            stub.ExtractText(ocr_pb2.OCRRequest(image_data=b"\0" * H.MB),
                             timeout=CALL_TIMEOUT,
                             compression=grpc.Compression.Gzip)
        self.assertEqual(cm.exception.code(),
                         grpc.StatusCode.RESOURCE_EXHAUSTED,
                         cm.exception.details())
        # Stopped while inflating (so grpcio really compressed it).
        self.assertIn("decompress", cm.exception.details())


# --------------------------------------------------------------------------
# 5. Metadata
# --------------------------------------------------------------------------

class Metadata(Base):
    def test_request_id_echoed(self):
        rid = new_id()
        resp, call = self.stub.ExtractText.with_call(
            ocr_pb2.OCRRequest(private_image_path=SMALL[1][0],
                               language="english"),
            metadata=[("x-request-id", rid)], timeout=CALL_TIMEOUT)
        self.assertEqual(H.norm_text(resp.text), SMALL[1][1])
        initial = dict(call.initial_metadata())
        self.assertEqual(initial.get("x-request-id"), rid, initial)

    def test_bin_metadata_from_grpcio(self):
        for value in (b"\x00\x01\x02\x03", b"\xff", b"\x00\x01"):
            resp = self.stub.CheckHealth(
                ocr_pb2.HealthCheckRequest(), timeout=CALL_TIMEOUT,
                metadata=[("x-trace-bin", value)])
            self.assertEqual(resp.status, SUCCESS)

    def bin_call(self, value):
        body = frame(ocr_pb2.HealthCheckRequest().SerializeToString())
        with RawH2(server.address) as c:
            return c.call(CHECK_HEALTH, body,
                          headers=[("x-trace-bin", value)])

    def test_bin_padded_and_unpadded(self):
        for value in ("AAECAw==", "AAECAw", "AAEC", "AA==", "AA"):
            r = self.bin_call(value)
            self.assertEqual(r.grpc_status(), 0, "%s: %r" % (value, r))
            (flag, payload), = unframe(r.data)
            resp = ocr_pb2.HealthCheckResponse.FromString(payload)
            self.assertEqual(resp.status, SUCCESS)

    def test_bin_invalid_base64(self):
        for value in ("!!!!", "AAE*", "AAECA"):
            r = self.bin_call(value)
            self.assertEqual(r.grpc_status(), 13, "%s: %r" % (value, r))


# --------------------------------------------------------------------------
# 6. Server streaming
# --------------------------------------------------------------------------

class Streaming(Base):
    def test_batch_of_eight(self):
        req = ocr_pb2.OCRBatchRequest(
            image_paths=[ocr_pb2.ImagePath(private_path=n) for n, _ in BATCH],
            language="english")
        msgs = list(self.stub.ExtractTextBatch(req, timeout=CALL_TIMEOUT))
        self.assertEqual(len(msgs), 8, msgs)
        self.assertEqual([m.processed_images for m in msgs], list(range(1, 9)))
        self.assertEqual(sorted(m.index for m in msgs), list(range(8)))
        self.assertEqual({m.total_images for m in msgs}, {8})
        batch_id = msgs[0].batch_id
        self.assertTrue(batch_id)
        self.assertEqual({m.batch_id for m in msgs}, {batch_id})
        self.assertAlmostEqual(msgs[-1].progress_percentage, 100.0, places=3)
        pcts = [m.progress_percentage for m in msgs]
        self.assertEqual(pcts, sorted(pcts))
        for m in msgs:
            r = m.current_result
            self.assertEqual(r.status, SUCCESS, describe(r))
            self.assertEqual(H.norm_text(r.text), BATCH[m.index][1],
                             describe(r))
        st = self.stub.GetBatchStatus(
            ocr_pb2.BatchStatusRequest(batch_id=batch_id),
            timeout=CALL_TIMEOUT)
        self.assertEqual(st.status, SUCCESS, str(st))
        self.assertEqual(st.batch_id, batch_id)
        self.assertEqual(st.total_images, 8)
        self.assertEqual(st.processed_images, 8)
        self.assertEqual(st.failed_images, 0)


# --------------------------------------------------------------------------
# 7. Health
# --------------------------------------------------------------------------

class Health(Base):
    def test_check(self):
        stub = health_grpc.HealthStub(self.channel)
        SERVING = health_pb2.HealthCheckResponse.SERVING
        for name in ("", "ocr.OCRService"):
            r = stub.Check(health_pb2.HealthCheckRequest(service=name),
                           timeout=CALL_TIMEOUT)
            self.assertEqual(r.status, SERVING, name)
        with self.assertRaises(grpc.RpcError) as cm:
            stub.Check(health_pb2.HealthCheckRequest(service="no.Such"),
                       timeout=CALL_TIMEOUT)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_watch_serving_at_once(self):
        stub = health_grpc.HealthStub(self.channel)
        it = stub.Watch(health_pb2.HealthCheckRequest(service=""),
                        timeout=CALL_TIMEOUT)
        first = next(it)
        self.assertEqual(first.status, health_pb2.HealthCheckResponse.SERVING)
        it.cancel()


# --------------------------------------------------------------------------
# 8. Graceful shutdown
# --------------------------------------------------------------------------

class Shutdown(unittest.TestCase):
    def start(self, *args):
        srv = Srv(*args, workers=WORKERS)
        srv.start()
        self.addCleanup(lambda: srv.proc and srv._kill())
        populate(srv)
        return srv

    def test_drain(self):
        # The drain window is a ceiling only a hang reaches: the default 30 s
        # ran out under load before the big recognition finished.
        srv = self.start("--drain-seconds", "600")
        ch = srv.channel()
        stub = S.ocr_grpc.OCRServiceStub(ch)
        hstub = health_grpc.HealthStub(srv.channel())
        watch = hstub.Watch(health_pb2.HealthCheckRequest(service=""),
                            timeout=CALL_TIMEOUT)
        self.assertEqual(next(watch).status,
                         health_pb2.HealthCheckResponse.SERVING)
        # A raw HTTP/2 connection, opened and used before the drain.
        raw = RawH2(srv.address)
        self.addCleanup(raw.close)
        hc = frame(ocr_pb2.HealthCheckRequest().SerializeToString())
        self.assertEqual(raw.call(CHECK_HEALTH, hc).grpc_status(), 0)
        rid = new_id()
        big = stub.ExtractText.future(
            ocr_pb2.OCRRequest(private_image_path="big.png",
                               language="english"),
            metadata=[("x-request-id", rid)], timeout=CALL_TIMEOUT)
        srv.wait_in_flight([rid])
        srv.proc.send_signal(signal.SIGTERM)
        # The drain has started once Watch reports NOT_SERVING.
        self.assertEqual(next(watch).status,
                         health_pb2.HealthCheckResponse.NOT_SERVING)
        # A new stream on the old connection: grpc-status UNAVAILABLE, or
        # refused (RST_STREAM REFUSED_STREAM, or above GOAWAY's last stream
        # id), which a gRPC client reports as UNAVAILABLE too.
        small_req = frame(ocr_pb2.OCRRequest(
            private_image_path=SMALL[0][0],
            language="english").SerializeToString())
        sid = raw.send_blind(EXTRACT, small_req)
        kind, value = raw.read_raw(sid)
        if kind == "status":
            st = dict(value).get(b"grpc-status")
            self.assertEqual(st, b"14", "new stream during the drain: %r"
                             % (value,))
            raw_seen = "grpc-status 14 %s" % dict(value).get(b"grpc-message")
        elif kind == "rst":
            self.assertEqual(value, 7, "RST_STREAM code (7 = REFUSED_STREAM)")
            raw_seen = "RST_STREAM REFUSED_STREAM"
        else:
            raw_seen = "GOAWAY last_stream_id %d < stream %d" % (value, sid)
        # New calls: on the existing channel and on a new connection.
        seen = []
        for label, st in (("existing channel", stub),
                          ("new channel", S.ocr_grpc.OCRServiceStub(
                              grpc.insecure_channel(
                                  srv.address,
                                  options=H.CHANNEL_OPTIONS)))):
            with self.assertRaises(grpc.RpcError) as cm:
                st.ExtractText(ocr_pb2.OCRRequest(
                    private_image_path=SMALL[0][0], language="english"),
                    timeout=CALL_TIMEOUT)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE,
                             "%s: %s" % (label, cm.exception.details()))
            seen.append("%s: %s" % (label, cm.exception.details()))
        sys.stderr.write("\n  new calls during drain -> UNAVAILABLE: %s"
                         "\n  raw h2, new stream on an old connection: %s\n"
                         % (" | ".join(seen), raw_seen))
        resp = big.result()
        self.assertEqual(resp.status, SUCCESS, describe(resp))
        self.assertEqual(H.norm_text(resp.text).splitlines(), BIG_LINES)
        rc = srv.wait_exit()
        self.assertEqual(rc, 0, srv.stderr_text()[-4000:])
        watch.cancel()

    def test_second_sigterm_stops_at_once(self):
        srv = self.start()
        stub = S.ocr_grpc.OCRServiceStub(srv.channel())
        rid = new_id()
        big = stub.ExtractText.future(
            ocr_pb2.OCRRequest(private_image_path="big.png",
                               language="english"),
            metadata=[("x-request-id", rid)], timeout=CALL_TIMEOUT)
        srv.wait_in_flight([rid])
        srv.proc.send_signal(signal.SIGTERM)
        srv.wait_log(r"signal 15: draining")
        srv.proc.send_signal(signal.SIGTERM)
        rc = srv.wait_exit()
        self.assertEqual(rc, 0, srv.stderr_text()[-4000:])
        # It stopped at once: the in-flight call did not get to finish.
        e = big.exception()
        self.assertIsNotNone(e, "the in-flight call completed: the second "
                             "SIGTERM did not stop the server at once")
        self.assertIn(e.code(), (grpc.StatusCode.UNAVAILABLE,
                                 grpc.StatusCode.CANCELLED,
                                 grpc.StatusCode.INTERNAL), e.details())


# --------------------------------------------------------------------------
# 9. grpc-message percent-encoding
# --------------------------------------------------------------------------

class StatusMessage(Base):
    def assert_message(self, r, original):
        raw = r.raw("grpc-message")
        self.assertIsNotNone(raw, r)
        bad = [b for b in raw if not 0x20 <= b <= 0x7E]
        self.assertEqual(bad, [], "grpc-message has bytes outside "
                         "0x20-0x7E: %r" % raw)
        self.assertEqual(urllib.parse.unquote_to_bytes(raw.decode("ascii")),
                         original, raw)

    def test_unsupported_encoding_name_round_trips(self):
        name = "br% x\t\u263a \U0001F608%41".encode("utf-8")
        body = frame(b"\x01", compressed=True)
        with RawH2(server.address) as c:
            r = c.call(CHECK_HEALTH, body, headers=[(b"grpc-encoding", name)])
        self.assertEqual(r.grpc_status(), 12, r)
        self.assert_message(r, b"unsupported grpc-encoding " + name)

    def test_unknown_method_non_ascii_round_trips(self):
        path = "/ocr.OCRService/Gr\u00fc\u00dfe%20\u263a".encode("utf-8")
        body = frame(b"")
        with RawH2(server.address) as c:
            r = c.call(None, body, path_bytes=path)
        self.assertEqual(r.grpc_status(), 12, r)
        self.assert_message(r, b"unknown method " + path)


if __name__ == "__main__":
    unittest.main()
