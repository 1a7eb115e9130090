# SPDX-License-Identifier: MIT
"""The example Celery worker (examples/celery_worker) end to end: a real
redis-server (broker and result backend), the real ocrpc-server, and a real
Celery worker process (prefork pool, concurrency 4).

- 50 OCR tasks on images rendered at test time (5 texts x 10 files) all
  return their image's text;
- the ocrpc-server is SIGKILLed in the middle of a second wave of 50 tasks
  and restarted on the same port after an OUTAGE longer than the tasks'
  whole Celery retry budget (and by then grpcio's default reconnect backoff
  would have grown past it too): the client's retry waits for the
  reconnection (wait_for_ready, bounded by OCR_GRPC_TIMEOUT) and all 50
  return the right text;
- a missing image fails its task at once with the server's NOT_FOUND;
- OCRStage in-process: UNAVAILABLE becomes RetryableError; NOT_FOUND is
  final (the REST path and the canary: test_celery_fleet).

Every wait is bounded; synchronisation is by polling (Redis PING, Celery
control ping, task states), never by fixed sleeps.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import harness

EXAMPLE_DIR = os.path.join(harness.REPO, "examples", "celery_worker")
CLIENT_DIR = os.path.join(harness.REPO, "clients", "python")
sys.path[:0] = [EXAMPLE_DIR, CLIENT_DIR]
sys.dont_write_bytecode = True

import redis  # noqa: E402
from celery import Celery  # noqa: E402

PYTHON = "/usr/bin/python3"
REDIS_SERVER = shutil.which("redis-server", path="/usr/bin:/usr/sbin") \
    or "/usr/bin/redis-server"
TASK = "ocr_worker.tasks.ocr_image"
TEXTS = ["Hello brave world", "The quick brown fox", "Invoice number 4821",
         "Seoul Busan Incheon", "Redis broker online"]
COPIES = 10
START_TIMEOUT = 60.0
WAVE_TIMEOUT = 240.0   # whole wave, including the server's restart
POLL = 0.05            # polling interval of bounded waits
# The worker's retry settings (see the env in setUpClass): a task's Celery
# retries span at most 0.5 + 1 s of countdowns, plus under 1 s of client
# backoff sleeps per run. The outage lasts longer than all of it: the
# tasks survive it only because a client retry waits for the reconnection.
TASK_MAX_RETRIES, TASK_RETRY_BASE, TASK_RETRY_MAX = 2, 0.5, 1.0
OUTAGE = 8.0




def wait_until(pred, timeout, what, diag=lambda: ""):
    """Poll pred() until true; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0fs waiting for %s\n%s"
                                 % (timeout, what, diag()))
        time.sleep(POLL)


def stop_process(proc, sig=signal.SIGTERM, timeout=30.0):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


class CeleryWorker(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ocrpc-celery-")
        if not os.environ.get("KEEP_TMP"):
            cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.root = os.path.join(cls.tmp, "root")
        os.makedirs(cls.root)

        # Images: 5 texts rendered once, copied to 10 files each.
        cls.jobs = []   # (path inside the image root, expected text)
        for t, text in enumerate(TEXTS):
            first = harness.render_line(os.path.join(cls.root, "t%d_0.png" % t),
                                        text)
            for c in range(COPIES):
                name = "t%d_%d.png" % (t, c)
                if c:
                    shutil.copyfile(first, os.path.join(cls.root, name))
                cls.jobs.append((name, text))

        # Redis.
        cls.redis_port = harness.free_port()
        cls.redis_log = open(os.path.join(cls.tmp, "redis.log"), "wb")
        cls.addClassCleanup(cls.redis_log.close)
        cls.redis_proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(cls.redis_port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", cls.tmp],
            stdin=subprocess.DEVNULL, stdout=cls.redis_log,
            stderr=subprocess.STDOUT)
        cls.addClassCleanup(stop_process, cls.redis_proc)
        r = redis.Redis(host="127.0.0.1", port=cls.redis_port,
                        socket_timeout=1, socket_connect_timeout=1)

        def pong():
            if cls.redis_proc.poll() is not None:
                raise AssertionError("redis-server exited: %s"
                                     % cls.read(cls.redis_log.name))
            try:
                return r.ping()
            except redis.exceptions.ConnectionError:
                return False
        wait_until(pong, START_TIMEOUT, "redis-server PING")
        r.close()
        cls.url = "redis://127.0.0.1:%d/0" % cls.redis_port

        # ocrpc-server on a fixed port, so that it can restart on it.
        cls.grpc_port = harness.free_port()
        cls.server = cls.new_server()
        cls.addClassCleanup(lambda: cls.server._kill())
        cls.server.start()

        # The Celery worker.
        env = {k: v for k, v in os.environ.items()
               if k.lower() not in ("http_proxy", "https_proxy", "grpc_proxy",
                                    "all_proxy")}
        env.update({
            "PYTHONPATH": os.pathsep.join([EXAMPLE_DIR, CLIENT_DIR]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "CELERY_BROKER_URL": cls.url,
            "ML_SERVER_GRPC_ADDRESS": "127.0.0.1:%d" % cls.grpc_port,
            "USE_GRPC": "true",
            "OCR_GRPC_TIMEOUT": "60",
            "OCR_GRPC_MAX_ATTEMPTS": "4",
            "OCR_GRPC_MAX_BACKOFF": "1",
            "OCR_TASK_MAX_RETRIES": str(TASK_MAX_RETRIES),
            "OCR_TASK_RETRY_BASE": str(TASK_RETRY_BASE),
            "OCR_TASK_RETRY_MAX": str(TASK_RETRY_MAX),
        })
        cls.worker_log_path = os.path.join(cls.tmp, "worker.log")
        cls.worker_log = open(cls.worker_log_path, "wb")
        cls.addClassCleanup(cls.worker_log.close)
        cls.worker = subprocess.Popen(
            [PYTHON, "-m", "celery", "-A", "ocr_worker.app", "worker",
             "--pool", "prefork", "--concurrency", "4", "--loglevel", "INFO",
             "--without-gossip", "--without-mingle",
             "--hostname", "ocrpc-test@%h"],
            cwd=EXAMPLE_DIR, env=env, stdin=subprocess.DEVNULL,
            stdout=cls.worker_log, stderr=subprocess.STDOUT)
        cls.addClassCleanup(stop_process, cls.worker)

        cls.app = Celery("ocrpc-test", broker=cls.url, backend=cls.url)
        cls.app.conf.update(task_serializer="json", result_serializer="json",
                            accept_content=["json"])
        cls.addClassCleanup(cls.close_app)

        def worker_up():
            if cls.worker.poll() is not None:
                raise AssertionError("celery worker exited (%s):\n%s"
                                     % (cls.worker.returncode,
                                        cls.worker_text()))
            return cls.app.control.ping(timeout=0.5)
        wait_until(worker_up, START_TIMEOUT, "the Celery worker",
                   cls.worker_text)

    @classmethod
    def close_app(cls):
        # Runs before redis-server stops (class cleanups run last-in first-
        # out): close the result consumer's pub/sub connection so that
        # AsyncResults collected later do not try to reach Redis again.
        consumer = cls.app.backend.result_consumer
        if consumer is not None:
            consumer.stop()
            consumer._pubsub = None
        cls.app.close()

    @classmethod
    def new_server(cls):
        return harness.Server("--port", str(cls.grpc_port),
                              "--language", "english",
                              image_root=cls.root, workers=2)

    @staticmethod
    def read(path):
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    @classmethod
    def worker_text(cls):
        cls.worker_log.flush()
        return cls.read(cls.worker_log_path)[-20000:]

    def submit(self, jobs):
        return [self.app.send_task(TASK, args=[path, "english"])
                for path, _ in jobs]

    def worker_alive(self):
        if self.worker.poll() is not None:
            raise AssertionError("celery worker exited (%s):\n%s"
                                 % (self.worker.returncode, self.worker_text()))
        return True

    def collect(self, results, deadline):
        """Wait (bounded, failing fast if the worker dies) until every
        result is ready; return their texts."""
        wait_until(lambda: self.worker_alive() and all(r.ready()
                                                       for r in results),
                   max(1.0, deadline - time.monotonic()),
                   "%d tasks" % len(results), self.worker_text)
        texts = []
        for r in results:
            try:
                texts.append(r.get(timeout=30, propagate=True))
            except Exception as e:
                self.fail("task %s (%s) did not succeed: %r\nworker log:\n%s"
                          % (r.id, r.state, e, self.worker_text()))
        return [harness.norm_text(t) for t in texts]

    # ------------------------------------------------------------------

    def test_1_fifty_tasks_return_their_text(self):
        deadline = time.monotonic() + WAVE_TIMEOUT
        results = self.submit(self.jobs)
        self.assertEqual(len(results), 50)
        self.assertEqual(self.collect(results, deadline),
                         [text for _, text in self.jobs])

    def test_2_server_killed_mid_wave_tasks_retry_and_complete(self):
        deadline = time.monotonic() + WAVE_TIMEOUT
        results = self.submit(self.jobs)

        def done():
            return sum(1 for r in results if r.ready())
        wait_until(lambda: self.worker_alive() and done() >= 5, WAVE_TIMEOUT,
                   "5 tasks of the second wave", self.worker_text)

        old = self.server
        old.proc.kill()                       # SIGKILL, mid-wave
        rc = old.proc.wait(harness.STOP_TIMEOUT)
        finished_before_restart = done()
        old._kill()                           # reap its stderr reader
        self.assertEqual(rc, -signal.SIGKILL)
        self.assertLess(finished_before_restart, len(results),
                        "the whole wave finished before the kill: the kill "
                        "was not in the middle of the wave")

        # The outage: at least OUTAGE seconds (a scenario length, not a
        # synchronisation) and until a task has hit the dead server.
        budget = sum(min(TASK_RETRY_MAX, TASK_RETRY_BASE * 2 ** r)
                     for r in range(TASK_MAX_RETRIES))
        self.assertGreater(OUTAGE, budget + (TASK_MAX_RETRIES + 1) * 1.0)
        outage_end = time.monotonic() + OUTAGE
        wait_until(lambda: self.worker_alive()
                   and time.monotonic() >= outage_end
                   and "attempt 1 failed: UNAVAILABLE" in self.worker_text(),
                   WAVE_TIMEOUT, "a task to meet the dead server",
                   self.worker_text)

        self.server = type(self).server = self.new_server()
        self.server.start()
        self.assertEqual(self.server.port, self.grpc_port)

        self.assertEqual(self.collect(results, deadline),
                         [text for _, text in self.jobs])
        self.assertTrue(all(r.state == "SUCCESS" for r in results))
        log = self.worker_text()
        # The tasks saw the dead server and retried (client backoff, logged
        # by the worker's retry hook), rather than failing.
        self.assertRegex(log, r"gRPC ExtractText attempt \d+ failed: "
                              r"UNAVAILABLE")
        # No client gave up: the retries waited for the server.
        self.assertNotIn("giving up", log)

    def test_3_missing_image_fails_at_once(self):
        r = self.app.send_task(TASK, args=["no/such.png", "english"])
        wait_until(lambda: self.worker_alive() and r.ready(), WAVE_TIMEOUT,
                   "the task", self.worker_text)
        self.assertEqual(r.state, "FAILURE")
        self.assertIn("NOT_FOUND", str(r.result))
        self.assertNotIn("Celery retry", self.log_lines_of(r.id))

    def log_lines_of(self, task_id):
        return "\n".join(l for l in self.worker_text().splitlines()
                         if task_id in l)


class OCRStageInProcess(unittest.TestCase):
    """OCRStage's mode switch and error classification, without Celery."""

    def test_unavailable_is_retryable(self):
        from ocrpc_client import OcrClient
        from ocr_worker.stage import OCRStage, PipelineContext, RetryableError
        with OcrClient("127.0.0.1:%d" % harness.free_port(), max_attempts=2,
                       initial_backoff=0.01, timeout=0.2,
                       options=[("grpc.enable_http_proxy", 0)]) as c:
            with self.assertRaises(RetryableError) as cm:
                OCRStage(use_grpc=True, client=c).execute(
                    PipelineContext(input_file_path="a.png"))
        self.assertIn("UNAVAILABLE", str(cm.exception))

    def test_in_band_failure_is_final(self):
        from ocrpc_client import OcrClient
        from ocr_worker.stage import OCRFailedError, OCRStage, PipelineContext
        root = tempfile.mkdtemp(prefix="ocrpc-stage-")
        server = harness.Server("--language", "english", image_root=root,
                                workers=1)
        try:
            server.start()
            harness.render_line(os.path.join(root, "ok.png"), TEXTS[0])
            with OcrClient(server.address,
                           options=[("grpc.enable_http_proxy", 0)]) as c:
                stage = OCRStage(use_grpc=True, client=c)
                ctx = stage.execute(PipelineContext(input_file_path="ok.png",
                                                    language="english"))
                self.assertEqual(harness.norm_text(ctx.ocr_result.text),
                                 TEXTS[0])
                self.assertEqual(len(ctx.ocr_result.bbox), 1)
                self.assertEqual(ctx.ocr_result.metadata["language"], "eng")
                with self.assertRaises(OCRFailedError) as cm:
                    stage.execute(PipelineContext(input_file_path="nope.png"))
            self.assertIsInstance(cm.exception, ValueError)
            self.assertEqual(cm.exception.details, "NOT_FOUND")
            server.stop()
        finally:
            server._kill()
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
