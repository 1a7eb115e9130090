# SPDX-License-Identifier: MIT
"""The Python client package (clients/python/ocrpc_client) against the real
ocrpc-server: extraction by path and by bytes, typed errors, the batch
stream, health, batch status, the retry policy, and that the committed
generated stubs equal what clients/python/generate.sh produces from protos/.

Runs in its own process (CTest). ocrpc_client's stubs live in a descriptor
pool of their own (test_guide_coexist imports them beside the guide's).
"""

import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

import harness

CLIENT_DIR = os.path.join(harness.REPO, "clients", "python")
sys.path.insert(0, CLIENT_DIR)
sys.dont_write_bytecode = True

import grpc  # noqa: E402

import ocrpc_client  # noqa: E402
from ocrpc_client import (OcrClient, OcrFailed, OcrNotFound,  # noqa: E402
                          OcrUnavailable, OcrDeadlineExceeded, common_pb2,
                          ocr_pb2)

TEXTS = ["Hello brave world", "The quick brown fox",
         "Invoice number 4821", "Seoul Busan Incheon"]
NO_PROXY = [("grpc.enable_http_proxy", 0)]




class Recorder:
    """retry_hook that records every RetryEvent; optional per-event action."""

    def __init__(self, action=None):
        self.events = []
        self.action = action
        self._lock = threading.Lock()

    def __call__(self, ev):
        with self._lock:
            self.events.append(ev)
        if self.action is not None:
            self.action(ev)


def count_calls(client, method):
    """Wrap the client's stub method to count the RPCs actually started."""
    counter = {"n": 0}
    real = getattr(client._stub, method)

    def wrapped(*a, **kw):
        counter["n"] += 1
        return real(*a, **kw)

    setattr(client._stub, method, wrapped)
    return counter


class GeneratedStubs(unittest.TestCase):
    def test_committed_stubs_equal_regenerated(self):
        gen = os.path.join(CLIENT_DIR, "ocrpc_client", "_gen")
        out = tempfile.mkdtemp(prefix="ocrpc-gen-")
        try:
            r = subprocess.run([os.path.join(CLIENT_DIR, "generate.sh"), out],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            want = sorted(f for f in os.listdir(out) if f.endswith(".py"))
            have = sorted(f for f in os.listdir(gen) if f.endswith(".py"))
            self.assertEqual(have, want,
                             "ocrpc_client/_gen differs from generate.sh's "
                             "output: run clients/python/generate.sh")
            for f in want:
                self.assertTrue(
                    filecmp.cmp(os.path.join(out, f), os.path.join(gen, f),
                                shallow=False),
                    "%s is stale: run clients/python/generate.sh" % f)
        finally:
            shutil.rmtree(out, ignore_errors=True)

    def test_package_imports_relative_stubs(self):
        self.assertEqual(ocrpc_client.ocr_pb2.__name__,
                         "ocrpc_client._gen.ocr_pb2")
        self.assertIn("image_data",
                      ocr_pb2.OCRRequest.DESCRIPTOR.fields_by_name)


class Errors(unittest.TestCase):
    def test_errors_pickle_with_their_fields(self):
        # Celery's prefork pool pickles exceptions between processes.
        import pickle
        e = OcrUnavailable("down", details="Socket closed", attempts=3,
                           rpc_error=object())
        e2 = pickle.loads(pickle.dumps(e))
        self.assertIsInstance(e2, OcrUnavailable)
        self.assertEqual((e2.code, e2.details, e2.attempts),
                         (grpc.StatusCode.UNAVAILABLE, "Socket closed", 3))
        resp = ocr_pb2.OCRResponse(
            status=common_pb2.STATUS_FAILURE,
            error=common_pb2.ErrorInfo(code="OCR_ERROR", message="gone",
                                       details="NOT_FOUND"))
        f2 = pickle.loads(pickle.dumps(OcrFailed(resp)))
        self.assertEqual((f2.code, f2.message, f2.details),
                         ("OCR_ERROR", "gone", "NOT_FOUND"))
        self.assertEqual(f2.response, resp)

    def test_codes_map_to_classes(self):
        self.assertTrue(OcrUnavailable.retryable)
        self.assertTrue(OcrDeadlineExceeded.retryable)
        for cls in (ocrpc_client.OcrInvalidArgument,
                    ocrpc_client.OcrResourceExhausted, OcrNotFound,
                    ocrpc_client.OcrUnimplemented, ocrpc_client.OcrInternal):
            self.assertFalse(cls.retryable, cls)
            self.assertTrue(issubclass(cls, ocrpc_client.OcrRpcError))


class AgainstServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server("--language", "english", workers=2)
        cls.server.start()
        cls.paths = []
        for i, t in enumerate(TEXTS):
            harness.render_line(cls.server.path("img", "t%d.png" % i), t)
            cls.paths.append("img/t%d.png" % i)
        cls.client = OcrClient(cls.server.address, options=NO_PROXY,
                               timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.server.stop()

    def test_extract_by_path(self):
        r = self.client.extract(path=self.paths[0], language="english")
        self.assertEqual(r.status, common_pb2.STATUS_SUCCESS)
        self.assertEqual(harness.norm_text(r.text), TEXTS[0])
        self.assertEqual(len(r.text_boxes), 1)
        self.assertGreater(r.overall_confidence, 0.5)

    def test_extract_by_bytes(self):
        data = harness.read_bytes(self.server.path(self.paths[1]))
        r = self.client.extract(image_data=data, request_id="client-test-1")
        self.assertEqual(r.status, common_pb2.STATUS_SUCCESS)
        self.assertEqual(harness.norm_text(r.text), TEXTS[1])

    def test_extract_needs_exactly_one_image(self):
        with self.assertRaises(ValueError):
            self.client.extract()
        with self.assertRaises(ValueError):
            self.client.extract(path="a.png", image_data=b"x")

    def test_missing_file_raises_ocr_failed(self):
        with self.assertRaises(OcrFailed) as cm:
            self.client.extract(path="img/missing.png")
        e = cm.exception
        self.assertEqual(e.details, "NOT_FOUND")
        self.assertEqual(e.code, "OCR_ERROR")
        self.assertIn("missing.png", e.message)
        self.assertEqual(e.response.status, common_pb2.STATUS_FAILURE)
        self.assertFalse(e.retryable)
        self.assertIsInstance(e, ocrpc_client.OcrError)

    def test_missing_file_in_band_when_not_raising(self):
        r = self.client.extract(path="img/missing.png",
                                raise_on_failure=False)
        self.assertEqual(r.status, common_pb2.STATUS_FAILURE)
        self.assertEqual(r.error.details, "NOT_FOUND")

    def test_batch_stream_and_status(self):
        images = list(self.paths) + [
            harness.read_bytes(self.server.path(self.paths[2]))]
        want = TEXTS + [TEXTS[2]]
        n = len(images)
        progress = list(self.client.extract_batch(
            images, language="english", batch_id="client-batch-1"))
        self.assertEqual([p.processed_images for p in progress],
                         list(range(1, n + 1)))
        self.assertEqual(sorted(p.index for p in progress), list(range(n)))
        for p in progress:
            self.assertEqual(p.batch_id, "client-batch-1")
            self.assertEqual(p.total_images, n)
            self.assertEqual(p.current_result.status,
                             common_pb2.STATUS_SUCCESS)
            self.assertEqual(harness.norm_text(p.current_result.text),
                             want[p.index])
        self.assertAlmostEqual(progress[-1].progress_percentage, 100.0,
                               places=3)

        st = self.client.batch_status("client-batch-1")
        self.assertEqual(st.batch_id, "client-batch-1")
        self.assertEqual(st.state, "SUCCESS")
        self.assertEqual(st.total_images, n)
        self.assertEqual(st.processed_images, n)
        self.assertEqual(st.failed_images, 0)
        self.assertEqual({r.index: harness.norm_text(r.text)
                          for r in st.results},
                         dict(enumerate(want)))

    def test_batch_reports_failed_image_in_band(self):
        progress = list(self.client.extract_batch(
            [self.paths[0], "img/missing.png"]))
        by_index = {p.index: p.current_result for p in progress}
        self.assertEqual(by_index[0].status, common_pb2.STATUS_SUCCESS)
        self.assertEqual(by_index[1].status, common_pb2.STATUS_FAILURE)
        self.assertEqual(by_index[1].error.details, "NOT_FOUND")

    def test_batch_rejects_bad_image_type(self):
        with self.assertRaises(TypeError):
            self.client.extract_batch([42])

    def test_health(self):
        h = self.client.health()
        self.assertEqual(h.status, common_pb2.STATUS_SUCCESS)
        self.assertEqual(h.engine_type, "tesseract")
        self.assertTrue(h.model_loaded)
        self.assertTrue(h.version)

    def test_unknown_batch_is_not_found_and_not_retried(self):
        rec = Recorder()
        with OcrClient(self.server.address, options=NO_PROXY,
                       retry_hook=rec, max_attempts=5) as c:
            calls = count_calls(c, "GetBatchStatus")
            with self.assertRaises(OcrNotFound) as cm:
                c.batch_status("no-such-batch")
        self.assertEqual(cm.exception.code, grpc.StatusCode.NOT_FOUND)
        self.assertIn("no such batch", cm.exception.details)
        self.assertEqual(cm.exception.attempts, 1)
        self.assertEqual(calls["n"], 1)
        self.assertEqual([(e.attempt, e.delay) for e in rec.events],
                         [(1, None)])

    def test_deadline_exceeded_is_retried_then_raised(self):
        rec = Recorder()
        with OcrClient(self.server.address, options=NO_PROXY, retry_hook=rec,
                       max_attempts=3, initial_backoff=0.01,
                       max_backoff=0.02) as c:
            calls = count_calls(c, "ExtractText")
            with self.assertRaises(OcrDeadlineExceeded) as cm:
                c.extract(path=self.paths[0], timeout=1e-6)
        self.assertEqual(cm.exception.attempts, 3)
        self.assertTrue(cm.exception.retryable)
        self.assertEqual(calls["n"], 3)
        self.assertEqual([e.attempt for e in rec.events], [1, 2, 3])
        self.assertTrue(all(isinstance(e.error, OcrDeadlineExceeded)
                            for e in rec.events))


class Retry(unittest.TestCase):
    def test_channel_reconnect_backoff_follows_retry_policy(self):
        # grpcio's own default (1 s growing x1.6 to 120 s) would keep a
        # channel from reconnecting long after the server is back.
        c = OcrClient("127.0.0.1:1", initial_backoff=0.2, max_backoff=3)
        try:
            opts = dict(c.options)
        finally:
            c.close()
        self.assertEqual(opts["grpc.initial_reconnect_backoff_ms"], 200)
        self.assertEqual(opts["grpc.max_reconnect_backoff_ms"], 3000)

    def test_nothing_listening_raises_after_max_attempts(self):
        port = harness.free_port()
        rec = Recorder()
        # Retries wait for a reconnection up to their deadline (timeout):
        # short here, since nothing will ever listen.
        with OcrClient("127.0.0.1:%d" % port, options=NO_PROXY,
                       max_attempts=4, initial_backoff=0.01, max_backoff=0.05,
                       retry_hook=rec, timeout=0.2) as c:
            calls = count_calls(c, "ExtractText")
            with self.assertRaises(OcrUnavailable) as cm:
                c.extract(image_data=b"not used")
        e = cm.exception
        # The retries waited for a connection that never came: reported as
        # UNAVAILABLE (not the deadline they ran into), saying so.
        self.assertIn("no connection to 127.0.0.1:%d" % port, e.details)
        self.assertEqual(e.code, grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(e.attempts, 4)
        self.assertEqual(calls["n"], 4)
        self.assertEqual([ev.attempt for ev in rec.events], [1, 2, 3, 4])
        self.assertTrue(all(isinstance(ev.error, OcrUnavailable)
                            for ev in rec.events))
        # A sleep after every failed attempt but the last; each within the
        # backoff bound of its attempt (full jitter: 0..bound).
        delays = [ev.delay for ev in rec.events]
        self.assertIsNone(delays[-1])
        for i, d in enumerate(delays[:-1], start=1):
            self.assertIsNotNone(d)
            self.assertGreaterEqual(d, 0.0)
            self.assertLessEqual(d, c.backoff_bound(i))
        self.assertEqual([c.backoff_bound(i) for i in (1, 2, 3, 4)],
                         [0.01, 0.02, 0.04, 0.05])

    def test_max_attempts_one_disables_retries(self):
        port = harness.free_port()
        rec = Recorder()
        with OcrClient("127.0.0.1:%d" % port, options=NO_PROXY,
                       max_attempts=1, retry_hook=rec, timeout=30) as c:
            with self.assertRaises(OcrUnavailable) as cm:
                c.health()
        self.assertEqual(cm.exception.attempts, 1)
        self.assertEqual([(ev.attempt, ev.delay) for ev in rec.events],
                         [(1, None)])

    def test_stream_is_not_retried_after_first_message(self):
        server = harness.Server("--language", "english", workers=1)
        server.start()
        try:
            n = 16
            for i in range(n):
                harness.render_lines(server.path("s%d.png" % i),
                                     [TEXTS[i % len(TEXTS)]] * 6)
            rec = Recorder()
            c = OcrClient(server.address, options=NO_PROXY, retry_hook=rec,
                          max_attempts=5, initial_backoff=0.01, timeout=120)
            calls = count_calls(c, "ExtractTextBatch")
            it = c.extract_batch(["s%d.png" % i for i in range(n)])
            first = next(it)
            self.assertEqual(first.processed_images, 1)
            server.proc.kill()  # SIGKILL mid-stream
            server.proc.wait(harness.STOP_TIMEOUT)
            got = 1
            with self.assertRaises(OcrUnavailable) as cm:
                for _ in it:
                    got += 1
            self.assertLess(got, n)
            self.assertEqual(cm.exception.attempts, 1)
            self.assertEqual(calls["n"], 1)
            self.assertEqual([(ev.method, ev.attempt, ev.delay)
                              for ev in rec.events],
                             [("ExtractTextBatch", 1, None)])
            c.close()
        finally:
            server._kill()


class LateServer(unittest.TestCase):
    """A server that starts some time after the client's first attempt was
    refused is reached by the first retry after it listens, whatever the
    outage: that retry is sent with wait_for_ready and waits for the
    channel's reconnection (at most one reconnect interval, max_backoff)
    instead of failing on the channel's stale error while it backs off.
    Asserted by counts (RPCs started, retry events), never by durations:
    the retry's deadline (120 s) is only reached by a hang."""

    def reach(self, delay, method):
        port = harness.free_port()
        server = harness.Server("--port", str(port), engine="mock", workers=1)
        started = threading.Event()
        failures = []

        def start():
            try:
                server.start()
            except BaseException as e:  # reported by the test thread
                failures.append(e)
            finally:
                started.set()

        def on_retry(ev):
            if ev.attempt == 1:
                threading.Timer(delay, start).start()

        rec = Recorder(on_retry)
        try:
            with OcrClient("127.0.0.1:%d" % port, options=NO_PROXY,
                           max_attempts=3, initial_backoff=0.05,
                           max_backoff=0.5, retry_hook=rec, timeout=120) as c:
                calls = count_calls(c, method)
                if method == "CheckHealth":
                    self.assertEqual(c.health().engine_type, "mock")
                else:
                    got = list(c.extract_batch([b"img"]))
                    self.assertEqual(len(got), 1)
            self.assertTrue(started.is_set())
            self.assertEqual(failures, [])
            self.assertEqual(server.port, port)
            # One refused attempt, then the retry that reached the server.
            self.assertEqual(calls["n"], 2)
            self.assertEqual([(ev.method, ev.attempt) for ev in rec.events],
                             [(method, 1)])
            self.assertIsInstance(rec.events[0].error, OcrUnavailable)
        finally:
            started.wait(harness.STARTUP_TIMEOUT + harness.STOP_TIMEOUT)
            server.stop()

    def test_up_after_100ms(self):
        self.reach(0.1, "CheckHealth")

    def test_up_after_2s(self):
        self.reach(2.0, "CheckHealth")

    def test_up_after_10s(self):
        self.reach(10.0, "CheckHealth")

    def test_batch_stream_up_after_2s(self):
        self.reach(2.0, "ExtractTextBatch")


if __name__ == "__main__":
    unittest.main()
