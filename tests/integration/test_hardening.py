# SPDX-License-Identifier: MIT
"""Attacks that real HTTP/2 and gRPC servers were hit by (issue 15), replayed
frame by frame (rawwire: python3-hyperframe + python3-hpack) against
ocrpc-server with the mock engine. Each test asserts the answer the server
must give AND that an ordinary call on another connection is answered while
the attack runs; memory is read from /proc/PID/status. No timing
thresholds: waits are bounded only against hangs."""

import socket
import threading
import time
import unittest

import httpx
import hyperframe.frame as hf

import harness as H
import rawwire as R

EXTRACT = "/ocr.OCRService/ExtractText"
BATCH = "/ocr.OCRService/ExtractTextBatch"
WATCH = "/grpc.health.v1.Health/Watch"
CHECK = "/grpc.health.v1.Health/Check"
RESOURCE_EXHAUSTED = 8
MAX_BATCH = 100


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


class Attack:
    """Runs fn(stop_event) in a thread; the test makes its ordinary call
    while it runs, then joins it (re-raising what it raised)."""

    def __init__(self, fn):
        self.fn = fn
        self.stop = threading.Event()
        self.started = threading.Event()
        self.error = None
        self.result = None
        self.t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            self.result = self.fn(self)
        except BaseException as e:  # re-raised in join()
            self.error = e
        finally:
            self.started.set()

    def __enter__(self):
        self.t.start()
        self.started.wait(R.TIMEOUT)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.t.join(R.TIMEOUT)
        if self.error is not None and exc[0] is None:
            raise self.error
        return False


class Hardening(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = H.Server("--max-batch-images", str(MAX_BATCH), engine="mock")
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def bystander(self):
        self.assertEqual(R.ordinary_call(self.server), 0,
                         "an ordinary call on another connection failed "
                         "during the attack")

    def wire(self):
        w = R.Wire(self.server).handshake()
        self.addCleanup(w.close)
        return w

    # -- repeated-field amplification ------------------------------------

    def test_batch_images_capped_before_decoding(self):
        pid = self.server.proc.pid
        w = self.wire()
        w.call(1, BATCH, b"\x0a\x00" * MAX_BATCH)      # at the cap: served
        self.assertEqual(w.grpc_status(1), 0)
        w.call(3, BATCH, b"\x0a\x00" * (MAX_BATCH + 1))
        self.assertEqual(w.grpc_status(3), RESOURCE_EXHAUSTED)
        self.assertIn("--max-batch-images", w.grpc_message(3))
        # 400,000 empty entries (781 KiB): before, +189 MiB and seconds of
        # blocked loop; now refused from a count over the wire bytes.
        before = R.memory_kib(pid, "VmRSS")

        def attack(a):
            a.started.set()
            for i in range(4):
                w.call(5 + 2 * i, BATCH, b"\x0a\x00" * 400000)
            return [w.grpc_status(5 + 2 * i) for i in range(4)]

        with Attack(attack) as a:
            self.bystander()
        self.assertEqual(a.result, [RESOURCE_EXHAUSTED] * 4)
        grown = R.memory_kib(pid, "VmHWM") - before
        self.assertLess(grown, 64 * 1024, "peak memory grew by %d KiB" % grown)

    def test_options_map_capped(self):
        entries = b"\x0a\x00" * 100000          # 100k empty map entries
        msg = b"\x32" + varint(len(entries)) + entries
        w = self.wire()
        with Attack(lambda a: (a.started.set(), w.call(1, EXTRACT, msg))):
            self.bystander()
        self.assertEqual(w.grpc_status(1), RESOURCE_EXHAUSTED)
        self.assertIn("options", w.grpc_message(1))

    # -- HPACK bomb in trailers -------------------------------------------

    def test_hpack_bomb_in_trailers_resets_the_stream(self):
        w = self.wire()
        pad = ("x-pad", "p" * 3500)
        # Request headers put the 3.5 KB field in the HPACK table (last, so
        # it is dynamic index 62); each trailer block is 131,072 one-byte
        # references to it: 460 MB of header fields from 131 KB.
        bomb = b"\xbe" * 131072

        def attack(a):
            sid = 1
            n = 0
            while n < 3 or (not a.stop.is_set() and n < 50):
                w.send_headers(sid, R.grpc_headers(EXTRACT, [pad]))
                w.send_data(sid, R.grpc_frame(b""))
                w.send_block(sid, bomb, end_stream=True)
                w.until(lambda s=sid: w.answered(s), "an answer on stream %d" % sid)
                a.started.set()
                sid += 2
                n += 1
            return sid

        with Attack(attack) as a:
            self.bystander()
        last = a.result
        for sid in range(1, last, 2):
            self.assertEqual(w.resets.get(sid), R.ENHANCE_YOUR_CALM,
                             "stream %d was not reset ENHANCE_YOUR_CALM" % sid)
        self.assertIsNone(w.goaway)
        # The connection itself is fine.
        w.call(last, CHECK, b"")
        self.assertEqual(w.grpc_status(last), 0)

    # -- streams whose responses are not read ------------------------------

    REFLECT = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
    # ServerReflectionRequest{file_containing_symbol: "ocr.OCRService"}
    SYMBOL_REQ = R.grpc_frame(b"\x22\x0eocr.OCRService")

    def test_reflection_client_not_reading_is_not_buffered(self):
        pid = self.server.proc.pid
        # Window 0: not one response byte can reach us.
        w = R.Wire(self.server).handshake({hf.SettingsFrame.INITIAL_WINDOW_SIZE: 0})
        self.addCleanup(w.close)
        before = R.memory_kib(pid, "VmRSS")

        def attack(a):
            w.send_headers(1, R.grpc_headers(self.REFLECT))
            a.started.set()
            # 300,000 requests, 6.3 MB (within the 16 MiB window we were
            # given): before, +680 MiB of answers queued for a reader that
            # never reads.
            w.send_data(1, self.SYMBOL_REQ * 300000)

        with Attack(attack):
            self.bystander()
        # The requests are in the server once a PING sent after them is
        # answered (frames are processed in order).
        w.barrier()
        grown = R.memory_kib(pid, "VmHWM") - before
        self.assertLess(grown, 64 * 1024, "peak memory grew by %d KiB" % grown)
        self.assertIsNone(w.goaway)

    def test_reflection_held_requests_answered_in_order_once_read(self):
        n = 2000
        w = R.Wire(self.server).handshake({hf.SettingsFrame.INITIAL_WINDOW_SIZE: 0})
        self.addCleanup(w.close)
        w.send_headers(1, R.grpc_headers(self.REFLECT))
        w.send_data(1, self.SYMBOL_REQ * n, end_stream=True)
        w.barrier()
        # Now read: every request is answered, then OK trailers.
        s = hf.SettingsFrame(0)
        s.settings = {hf.SettingsFrame.INITIAL_WINDOW_SIZE: 1 << 24}
        w.send(s)
        self.assertEqual(w.grpc_status(1), 0)
        body, count = w.data.get(1, b""), 0
        i = 0
        while i < len(body):
            size = int.from_bytes(body[i + 1:i + 5], "big")
            self.assertIn(b"ocr.OCRService", body[i + 5:i + 5 + size])
            i += 5 + size
            count += 1
        self.assertEqual(count, n)

    # -- codec subtypes ----------------------------------------------------

    def test_unsupported_codec_subtype_is_unimplemented(self):
        w = self.wire()
        sid = 1
        for ctype, want in [("application/grpc+thrift", 12),
                            ("application/grpc+json", 12),
                            ("application/grpc+proto", 0),
                            ("application/grpc+PROTO;charset=x", 0),
                            ("application/grpc", 0)]:
            hdrs = [(k, ctype if k == "content-type" else v)
                    for k, v in R.grpc_headers(CHECK)]
            w.send_headers(sid, hdrs)
            w.send_data(sid, R.grpc_frame(b""), end_stream=True)
            self.assertEqual(w.grpc_status(sid), want, ctype)
            if want:
                self.assertIn("content-subtype", w.grpc_message(sid))
                # Never a protobuf body under a label the client did not ask.
                self.assertNotIn(sid, w.data)
            sid += 2
        self.bystander()

    # -- fatal limits: GOAWAY with the code, then close ---------------------

    def test_too_many_settings_entries_get_goaway(self):
        w = self.wire()
        f = hf.SettingsFrame(0)
        # 40 entries (nghttp2 allows 32), repeating one valid setting.
        f.serialize_body = lambda: b"\x00\x03\x00\x00\x00\x64" * 40
        w.send(f)
        g = w.expect_goaway(R.ENHANCE_YOUR_CALM)
        self.assertIn(b"SETTINGS", g.additional_data)
        self.bystander()

    def test_continuation_flood_gets_goaway(self):
        w = self.wire()
        first = hf.HeadersFrame(1)
        first.data = w.block(R.grpc_headers(CHECK))
        frames = [first]
        for _ in range(20):
            c = hf.ContinuationFrame(1)
            c.data = w.block([("x-c", "v")])
            frames.append(c)
        w.send(*frames)
        g = w.expect_goaway(R.ENHANCE_YOUR_CALM)
        self.assertIn(b"CONTINUATION", g.additional_data)
        self.bystander()

    # -- metadata over the limit ------------------------------------------

    def test_metadata_over_limit_fails_only_that_call(self):
        w = self.wire()
        w.send_headers(1, R.grpc_headers(WATCH))
        w.send_data(1, R.grpc_frame(b""), end_stream=True)
        w.until(lambda: 1 in w.data, "the Watch stream's first status")
        big = [("x-big-%d" % i, "m" * 24000) for i in range(3)]  # 72 KB
        with Attack(lambda a: (a.started.set(), w.call(3, EXTRACT, b"", big))):
            self.bystander()
        self.assertEqual(w.grpc_status(3), RESOURCE_EXHAUSTED)
        self.assertIn("--max-header-list-bytes", w.grpc_message(3))
        w.call(5, CHECK, b"")
        self.assertEqual(w.grpc_status(5), 0)
        self.assertNotIn(1, w.resets, "the Watch on the same connection died")
        self.assertNotIn(1, w.ended)
        self.assertIsNone(w.goaway)

    def test_single_field_over_64k_is_a_compression_error(self):
        # nghttp2's HPACK decoder bounds one field at 64 KiB (documented in
        # --help of --max-header-list-bytes): a connection error.
        w = self.wire()
        w.call(1, EXTRACT, b"", [("x-huge", "h" * 70000)])
        w.expect_goaway(R.COMPRESSION_ERROR)
        self.bystander()


def pb_string(field, value):
    value = value.encode() if isinstance(value, str) else value
    return bytes([field << 3 | 2]) + varint(len(value)) + value


def grpc_messages(body):
    """The payloads of the gRPC messages framed in body."""
    out, i = [], 0
    while i + 5 <= len(body):
        size = int.from_bytes(body[i + 1:i + 5], "big")
        out.append(body[i + 5:i + 5 + size])
        i += 5 + size
    return out


class WatchNotRead(unittest.TestCase):
    """health Watch whose client does not read (window 0) while the status
    flips many times: the server holds one unsent status, not one per
    change, and the latest is delivered once the client reads. The flips
    come from llm.LLMService's health, which follows the test backend's
    answers (a 500 marks it down, a good answer up)."""

    ANALYZE = "/llm.LLMService/AnalyzeText"
    LLM_WATCH = pb_string(1, "llm.LLMService")  # HealthCheckRequest.service
    SERVING, NOT_SERVING = b"\x08\x01", b"\x08\x02"

    def setUp(self):
        from llm_backend import Backend
        self.backend = Backend().start()
        self.addCleanup(self.backend.stop)
        self.server = H.Server("--llm-base-url", self.backend.url, "--llm-model", "json",
                               engine="mock").start()
        self.addCleanup(self.server.stop)

    def analyze(self, w, sid, model):
        entry = pb_string(1, "model") + pb_string(2, model)
        w.call(sid, self.ANALYZE, pb_string(1, "hello") + pb_string(3, pb_string(1, entry)))
        return w.grpc_status(sid)

    def test_status_flips_coalesce_to_the_latest(self):
        pid = self.server.proc.pid
        # Wait (by a Watch that reads) until the first probe made it SERVING.
        ready = R.Wire(self.server).handshake()
        self.addCleanup(ready.close)
        ready.call(1, WATCH, self.LLM_WATCH)
        ready.until(lambda: self.SERVING in grpc_messages(ready.data.get(1, b"")),
                    "llm.LLMService SERVING")
        # The watcher that never reads: its first status stays queued.
        w = R.Wire(self.server).handshake({hf.SettingsFrame.INITIAL_WINDOW_SIZE: 0})
        self.addCleanup(w.close)
        w.call(1, WATCH, self.LLM_WATCH)
        w.barrier()
        self.assertNotIn(1, w.data)
        before = R.memory_kib(pid, "VmRSS")
        # Probes fail from now on, so only our calls move the status.
        httpx.post(self.backend.url.rsplit("/v1", 1)[0] + "/_test/models?status=503",
                   timeout=R.TIMEOUT)
        caller = R.Wire(self.server).handshake()
        self.addCleanup(caller.close)
        flips = 200
        sid = 1
        for i in range(flips // 2):
            self.assertEqual(self.analyze(caller, sid, "http500"), 14)   # down
            self.assertEqual(self.analyze(caller, sid + 2, "json"), 0)  # up
            sid += 4
        self.assertEqual(self.analyze(caller, sid, "http500"), 14)       # down, last
        self.bystander_check()
        # The reading watcher sees the changes (it may coalesce too, if a
        # flip comes before it read the one before).
        ready.until(lambda: grpc_messages(ready.data.get(1, b""))[-1:] == [self.NOT_SERVING],
                    "NOT_SERVING on the reading watcher")
        grown = R.memory_kib(pid, "VmHWM") - before
        self.assertLess(grown, 64 * 1024, "peak memory grew by %d KiB" % grown)
        # Now read: the status queued first, then only the latest.
        s = hf.SettingsFrame(0)
        s.settings = {hf.SettingsFrame.INITIAL_WINDOW_SIZE: 1 << 24}
        w.send(s)
        w.until(lambda: grpc_messages(w.data.get(1, b""))[-1:] == [self.NOT_SERVING],
                "the latest status")
        w.barrier()
        self.assertEqual(grpc_messages(w.data[1]), [self.SERVING, self.NOT_SERVING])
        self.assertIsNone(w.goaway)

    def bystander_check(self):
        self.assertEqual(R.ordinary_call(self.server), 0)


class LargeMessage(unittest.TestCase):
    """One large message of tiny fields (32 MiB of unknown 2-byte fields:
    ~17M fields for nanopb to skip) is decoded on the decoder thread, not
    on the event loop: an ordinary call on another connection is answered
    while it is being decoded (between the server's "decoding" and
    "decoded" log lines), memory stays within a small multiple of the
    message, and the big call gets its answer (the mock's OK)."""

    SIZE = 32 * 1024 * 1024

    def setUp(self):
        self.server = H.Server(engine="mock", log_level="debug").start()
        self.addCleanup(self.server.stop)

    def test_large_message_decoded_off_the_loop(self):
        pid = self.server.proc.pid
        path = pb_string(2, "page.png")  # private_image_path
        msg = path + b"\x78\x00" * ((self.SIZE - len(path)) // 2)  # field 15 = 0
        started = "decoding a request message of %d bytes off the loop" % len(msg)
        before = R.memory_kib(pid, "VmRSS")
        ch = self.server.channel([("grpc.max_send_message_length", -1),
                                  ("grpc.max_receive_message_length", -1)])
        call = ch.unary_unary(EXTRACT).future(msg, timeout=R.TIMEOUT * 5)
        deadline = time.monotonic() + R.TIMEOUT * 5
        while started not in self.server.stderr_text():
            self.assertFalse(call.done(), "answered without decoding off the loop")
            self.assertLess(time.monotonic(), deadline, "the decode never started")
            time.sleep(0.01)  # polling the log reader, bounded above
        # The loop is free while the decoder works: an ordinary call is
        # taken in (its "request ID" line) and answered before the big
        # message is decoded. Both lines come from the loop thread, so
        # their order in the log is the order things happened.
        w = R.Wire(self.server).handshake()
        self.addCleanup(w.close)
        w.call(1, CHECK, b"", [("x-request-id", "bystander-during-decode")])
        self.assertEqual(w.grpc_status(1), 0)
        resp = call.result()
        log = self.server.stderr_text()
        after_start = log[log.index(started):]
        self.assertIn("decoded off the loop", after_start)
        self.assertLess(after_start.index("request bystander-during-decode"),
                        after_start.index("decoded off the loop"),
                        "the ordinary call waited for the decode:\n" + after_start[:2000])
        self.assertIn(b"mock text", resp)
        grown = R.memory_kib(pid, "VmHWM") - before
        self.assertLess(grown, 3 * self.SIZE // 1024, "peak memory grew by %d KiB" % grown)


class Connections(unittest.TestCase):
    """Slowloris: connections that never finish the HTTP/2 handshake, and
    more connections than --max-connections."""

    def start(self, *args):
        srv = H.Server(*args, engine="mock")
        srv.start()
        self.addCleanup(srv.stop)
        return srv

    def wait_closed(self, sock):
        """Reads until the server closes; fails on a hang only."""
        sock.settimeout(R.TIMEOUT)
        try:
            while sock.recv(65536):
                pass
        except ConnectionResetError:
            pass

    def test_handshake_timeout_closes_silent_and_half_preface(self):
        # Silent and half-preface connections are still being sniffed
        # (HTTP/2 or HTTP/1.1?): --http-header-timeout-ms closes them. A
        # whole preface without SETTINGS: --handshake-timeout-ms.
        srv = self.start("--handshake-timeout-ms", "300", "--http-header-timeout-ms", "300")
        good = R.Wire(srv).handshake()            # finished its handshake
        self.addCleanup(good.close)
        socks = []
        for i in range(21):
            sk = socket.create_connection((srv.host, srv.port), timeout=R.TIMEOUT)
            self.addCleanup(sk.close)
            if i % 3 == 1:
                sk.sendall(R.PREFACE[:12])         # half the preface
            elif i % 3 == 2:
                sk.sendall(R.PREFACE)              # the preface, no SETTINGS
            socks.append(sk)
        self.assertEqual(R.ordinary_call(srv), 0)
        for sk in socks:
            self.wait_closed(sk)
        # The connection that finished its handshake outlived them all.
        good.call(1, CHECK, b"")
        self.assertEqual(good.grpc_status(1), 0)

    def test_max_connections(self):
        srv = self.start("--max-connections", "3")
        held = [R.Wire(srv).handshake() for _ in range(3)]
        for w in held:
            self.addCleanup(w.close)
        extra = socket.create_connection((srv.host, srv.port), timeout=R.TIMEOUT)
        self.addCleanup(extra.close)
        self.wait_closed(extra)
        deadline = time.monotonic() + R.TIMEOUT
        while "--max-connections 3 reached" not in srv.stderr_text():
            self.assertLess(time.monotonic(), deadline, "no log line for the limit")
            time.sleep(0.05)  # polling the log reader, bounded above
        # Connections already open are served meanwhile.
        held[0].call(1, CHECK, b"")
        self.assertEqual(held[0].grpc_status(1), 0)
        # Once one closes, a new connection is served again.
        held[2].close()
        deadline = time.monotonic() + R.TIMEOUT
        while True:
            try:
                self.assertEqual(R.ordinary_call(srv), 0)
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise


if __name__ == "__main__":
    unittest.main()
