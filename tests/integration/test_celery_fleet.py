# SPDX-License-Identifier: MIT
"""A Celery fleet migrating by the guide, against one ocrpc-server that
answers both gRPC and the legacy REST call (on its gRPC port, which also
speaks HTTP/1.1): a real redis-server (broker, result backend, path
counters) and real Celery worker processes.

- Dual mode: 40 tasks over 2 workers with USE_GRPC=true and 2 with
  USE_GRPC=false, all answered with their image's text; the per-path
  counters add up to 40, with both paths used (each pair also serves a
  queue of its own, which gets 4 of the tasks: so both paths are used
  whatever the scheduling).
- Canary: 2 workers with GRPC_CANARY_PERCENT=50 and 40 tasks with fixed
  ids: the split follows the per-task rule exactly (a hash of the task id)
  and both paths are counted.
- In-process: the guide's _execute_http (httpx) and the gRPC path give the
  same text and boxes for the same image; an HTTP 404 is final, a dead
  REST server retryable; GRPC_FALLBACK_TO_HTTP sends a task whose gRPC
  stays UNAVAILABLE over REST, and is off by default.

Every wait is bounded and polls for its event; no fixed sleeps.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import harness  # noqa: E402
from test_celery import (CLIENT_DIR, EXAMPLE_DIR, PYTHON, REDIS_SERVER,
                         START_TIMEOUT, TASK, stop_process,
                         wait_until)

import redis  # noqa: E402
from celery import Celery  # noqa: E402

TEXTS = ["Hello brave world", "The quick brown fox", "Invoice number 4821",
         "Seoul Busan Incheon"]
TASKS = 40
WAVE_TIMEOUT = 300.0
COUNTER = "ocr_worker:paths"
NO_PROXY = [("grpc.enable_http_proxy", 0)]


class Fleet(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ocrpc-fleet-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.root = os.path.join(cls.tmp, "root")
        os.makedirs(cls.root)
        cls.jobs = []
        for t, text in enumerate(TEXTS):
            harness.render_line(os.path.join(cls.root, "t%d.png" % t), text)
        for i in range(TASKS):
            cls.jobs.append(("t%d.png" % (i % len(TEXTS)), TEXTS[i % len(TEXTS)]))

        cls.redis_port = harness.free_port()
        cls.redis_log = open(os.path.join(cls.tmp, "redis.log"), "wb")
        cls.addClassCleanup(cls.redis_log.close)
        cls.redis_proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(cls.redis_port), "--bind",
             "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
             cls.tmp],
            stdin=subprocess.DEVNULL, stdout=cls.redis_log,
            stderr=subprocess.STDOUT)
        cls.addClassCleanup(stop_process, cls.redis_proc)
        cls.r = redis.Redis(host="127.0.0.1", port=cls.redis_port,
                            socket_timeout=5, socket_connect_timeout=5)
        cls.addClassCleanup(cls.r.close)

        def pong():
            try:
                return cls.r.ping()
            except redis.exceptions.ConnectionError:
                return False
        wait_until(pong, START_TIMEOUT, "redis-server PING")
        cls.url = "redis://127.0.0.1:%d/0" % cls.redis_port

        cls.server = harness.Server("--language", "english",
                                    image_root=cls.root, workers=2)
        cls.server.start()
        cls.addClassCleanup(cls.server.stop)
        cls.rest_url = "http://%s" % cls.server.address

        cls.app = Celery("ocrpc-fleet-test", broker=cls.url, backend=cls.url)
        cls.app.conf.update(task_serializer="json", result_serializer="json",
                            accept_content=["json"])
        cls.addClassCleanup(cls.close_app)

    def setUp(self):
        self.workers = []   # (name, process, log path) of this test

    @classmethod
    def close_app(cls):
        consumer = cls.app.backend.result_consumer
        if consumer is not None:
            consumer.stop()
            consumer._pubsub = None
        cls.app.close()

    def start_worker(self, name, queues, **env_extra):
        env = {k: v for k, v in os.environ.items()
               if not k.lower().endswith("_proxy")}
        env.update({
            "PYTHONPATH": os.pathsep.join([EXAMPLE_DIR, CLIENT_DIR]),
            "PYTHONDONTWRITEBYTECODE": "1",
            "CELERY_BROKER_URL": self.url,
            "ML_SERVER_GRPC_ADDRESS": self.server.address,
            "MODEL_SERVER_URL": self.rest_url,
            "OCR_GRPC_TIMEOUT": "60",
            "OCR_HTTP_TIMEOUT": "60",
            "OCR_PATH_COUNTER_KEY": COUNTER,
        })
        env.pop("USE_GRPC", None)
        env.pop("GRPC_CANARY_PERCENT", None)
        env.update(env_extra)
        log_path = os.path.join(self.tmp, name + ".log")
        log = open(log_path, "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            [PYTHON, "-m", "celery", "-A", "ocr_worker.app", "worker",
             "--pool", "solo", "--loglevel", "INFO",
             "--without-gossip", "--without-mingle", "--hostname",
             name + "@%h", "-Q", ",".join(queues)],
            cwd=EXAMPLE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT)
        self.addCleanup(stop_process, proc)
        self.workers.append((name, proc, log_path))
        return proc

    def logs(self):
        out = []
        for name, _, path in self.workers:
            with open(path, "rb") as f:
                out.append("--- %s\n%s" % (name, f.read().decode(
                    "utf-8", "replace")[-6000:]))
        return "\n".join(out)

    def wait_workers(self, names):
        def up():
            for name, proc, _ in self.workers:
                if proc.poll() is not None:
                    raise AssertionError("worker %s exited:\n%s"
                                         % (name, self.logs()))
            replies = self.app.control.ping(timeout=0.5)
            seen = {list(r)[0].split("@")[0] for r in replies}
            return set(names) <= seen
        wait_until(up, START_TIMEOUT, "workers %s" % names, self.logs)

    def stop_workers(self):
        for _, proc, _ in self.workers:
            stop_process(proc)
        self.workers = []

    def run_wave(self, sends):
        """sends: (path, text, queue, task_id); returns after all are
        ready, checking each returned its image's text."""
        self.r.delete(COUNTER)
        results = [(self.app.send_task(TASK, args=[p, "english"], queue=q,
                                       task_id=tid), text)
                   for p, text, q, tid in sends]
        deadline = time.monotonic() + WAVE_TIMEOUT
        wait_until(lambda: all(r.ready() for r, _ in results),
                   max(1.0, deadline - time.monotonic()),
                   "%d tasks" % len(results), self.logs)
        for r, text in results:
            self.assertEqual(r.state, "SUCCESS", "%s: %r\n%s"
                             % (r.id, r.result, self.logs()))
            self.assertEqual(harness.norm_text(r.get(timeout=30)), text)
        return {k.decode(): int(v) for k, v in self.r.hgetall(COUNTER).items()}

    def test_dual_mode_fleet_two_grpc_two_rest_workers(self):
        self.start_worker("grpc1", ["celery", "fleet-grpc"], USE_GRPC="true")
        self.start_worker("grpc2", ["celery", "fleet-grpc"], USE_GRPC="true")
        self.start_worker("rest1", ["celery", "fleet-rest"], USE_GRPC="false")
        self.start_worker("rest2", ["celery", "fleet-rest"], USE_GRPC="false")
        self.addCleanup(self.stop_workers)
        self.wait_workers(["grpc1", "grpc2", "rest1", "rest2"])
        sends = []
        for i, (p, text) in enumerate(self.jobs):
            q = "fleet-grpc" if i < 4 else "fleet-rest" if i < 8 else "celery"
            sends.append((p, text, q, None))
        counts = self.run_wave(sends)
        self.assertEqual(counts.get("grpc", 0) + counts.get("http", 0), TASKS,
                         counts)
        self.assertGreaterEqual(counts.get("grpc", 0), 4, counts)
        self.assertGreaterEqual(counts.get("http", 0), 4, counts)
        self.assertNotIn("http_fallback", counts)

    def test_canary_fifty_percent_counts_both_paths(self):
        sys.path[:0] = [EXAMPLE_DIR, CLIENT_DIR]
        from ocr_worker.stage import canary_picks_grpc
        ids = ["canary-task-%03d" % i for i in range(TASKS)]
        expect_grpc = sum(canary_picks_grpc(50.0, t) for t in ids)
        self.assertTrue(0 < expect_grpc < TASKS, expect_grpc)
        self.start_worker("canary1", ["canary"], GRPC_CANARY_PERCENT="50")
        self.start_worker("canary2", ["canary"], GRPC_CANARY_PERCENT="50")
        self.addCleanup(self.stop_workers)
        self.wait_workers(["canary1", "canary2"])
        counts = self.run_wave([(p, text, "canary", tid) for (p, text), tid
                                in zip(self.jobs, ids)])
        self.assertEqual(counts, {"grpc": expect_grpc,
                                  "http": TASKS - expect_grpc})


class StageInProcess(unittest.TestCase):
    """OCRStage's two paths and the fallback, without Celery."""

    @classmethod
    def setUpClass(cls):
        sys.path[:0] = [EXAMPLE_DIR, CLIENT_DIR]
        cls.root = tempfile.mkdtemp(prefix="ocrpc-stage-")
        cls.addClassCleanup(shutil.rmtree, cls.root, True)
        harness.render_line(os.path.join(cls.root, "ok.png"), TEXTS[1])
        cls.server = harness.Server("--language", "english",
                                    image_root=cls.root, workers=1)
        cls.server.start()
        cls.addClassCleanup(cls.server.stop)

    def stage(self, **kw):
        from ocr_worker import config
        from ocr_worker.stage import OCRStage
        old = config.MODEL_SERVER_URL
        config.MODEL_SERVER_URL = kw.pop("url", "http://%s"
                                         % self.server.address)
        try:
            return OCRStage(**kw)
        finally:
            config.MODEL_SERVER_URL = old

    def test_http_and_grpc_paths_agree(self):
        from ocrpc_client import OcrClient
        from ocr_worker import paths
        from ocr_worker.stage import PipelineContext
        before = paths.counts()
        http = self.stage(use_grpc=False).execute(
            PipelineContext(input_file_path="ok.png", language="english"))
        with OcrClient(self.server.address, options=NO_PROXY) as c:
            grpc_ = self.stage(use_grpc=True, client=c).execute(
                PipelineContext(input_file_path="ok.png", language="english"))
        a, b = http.ocr_result, grpc_.ocr_result
        self.assertEqual(harness.norm_text(a.text), TEXTS[1])
        self.assertEqual(a.text, b.text)
        self.assertAlmostEqual(a.confidence, b.confidence, places=4)
        self.assertEqual([x["text"] for x in a.bbox],
                         [x["text"] for x in b.bbox])
        for x, y in zip(a.bbox, b.bbox):
            self.assertEqual(len(x["bbox"]), 8)
            for u, v in zip(x["bbox"], y["bbox"]):
                self.assertAlmostEqual(u, v, places=3)
        after = paths.counts()
        self.assertEqual(after.get("http", 0) - before.get("http", 0), 1)
        self.assertEqual(after.get("grpc", 0) - before.get("grpc", 0), 1)

    def test_http_not_found_is_final_and_dead_server_retryable(self):
        from ocr_worker.stage import (OCRFailedError, PipelineContext,
                                      RetryableError)
        with self.assertRaises(OCRFailedError) as cm:
            self.stage(use_grpc=False).execute(
                PipelineContext(input_file_path="nope.png"))
        self.assertIsInstance(cm.exception, ValueError)
        self.assertEqual(cm.exception.details, "NOT_FOUND")
        with self.assertRaises(RetryableError):
            self.stage(use_grpc=False,
                       url="http://127.0.0.1:%d" % harness.free_port()).execute(
                PipelineContext(input_file_path="ok.png"))

    def test_fallback_to_http_when_grpc_stays_unavailable(self):
        from ocrpc_client import OcrClient
        from ocr_worker import config, paths
        from ocr_worker.stage import PipelineContext, RetryableError
        self.assertFalse(config.fallback_to_http(), "off by default")
        dead = "127.0.0.1:%d" % harness.free_port()
        with OcrClient(dead, max_attempts=2, initial_backoff=0.01,
                       timeout=0.5, options=NO_PROXY) as c:
            with self.assertRaises(RetryableError):
                self.stage(use_grpc=True, client=c).execute(
                    PipelineContext(input_file_path="ok.png",
                                    language="english"))
            before = paths.counts().get("http_fallback", 0)
            ctx = self.stage(use_grpc=True, client=c,
                             fallback_to_http=True).execute(
                PipelineContext(input_file_path="ok.png", language="english"))
        self.assertEqual(harness.norm_text(ctx.ocr_result.text), TEXTS[1])
        self.assertEqual(paths.counts().get("http_fallback", 0), before + 1)

    def test_canary_rule(self):
        from ocr_worker.stage import canary_picks_grpc
        self.assertTrue(canary_picks_grpc(100.0, "x"))
        self.assertFalse(canary_picks_grpc(0.0, "x"))
        # Stable per task id (a retried task keeps its path).
        self.assertEqual({canary_picks_grpc(50.0, "task-7") for _ in range(5)},
                         {canary_picks_grpc(50.0, "task-7")})
        picks = [canary_picks_grpc(10.0, "t%d" % i) for i in range(1000)]
        self.assertTrue(0 < sum(picks) < 1000)


if __name__ == "__main__":
    unittest.main()
