# SPDX-License-Identifier: MIT
"""The Redis job store end to end: a real redis-server on a free port, the
real ocrpc-server with --redis-url, and Python gRPC clients (stubs from the
repository's protos/).

- A 30-image batch mixing paths and inline bytes, some failing: progress,
  GetBatchStatus, and the keys, fields and TTLs in Redis.
- A client that cancels mid-batch: CANCELLED in Redis.
- Redis killed mid-batch and restarted: the stream completes and the final
  state reaches Redis after the reconnect.
- Redis never started: OCR keeps working, GetBatchStatus is UNAVAILABLE.
- A malformed REDIS_URL: exit status 1 with a clear message.

Waiting is done by polling with a bounded timeout, never by a fixed sleep.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import unittest

import grpc

import harness as H

S = H.load_stubs("repo")
ocr_pb2 = S.ocr
common_pb2 = S.common
SUCCESS = common_pb2.STATUS_SUCCESS
FAILURE = common_pb2.STATUS_FAILURE

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
CALL_TIMEOUT = 300  # a ceiling only a hang reaches (loaded machine)
TOTAL = 30
TEXTS = ["Redis batch alpha", "Redis batch bravo", "Redis batch charlie"]


class Redis:
    """A throwaway redis-server on 127.0.0.1 without persistence."""

    def __init__(self, port=None):
        self.port = port or H.free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--daemonize", "no",
             "--loglevel", "warning"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        H.poll(self._pong, "redis-server on port %d to answer PING" % self.port)
        return self

    def _pong(self):
        if self.proc.poll() is not None:
            raise AssertionError("redis-server exited with %s"
                                 % self.proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", self.port), 1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)
        self.proc = None

    def cli(self, *args):
        r = subprocess.run([REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.port)]
                           + [str(a) for a in args],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise AssertionError("redis-cli %s: %s" % (args, r.stderr))
        return r.stdout

    def hgetall(self, key):
        lines = self.cli("--no-raw", "HGETALL", key).splitlines()
        # --no-raw prints '1) "field"' lines; --raw would split values on
        # newlines, so parse the quoted form with json (same escapes for
        # what we store).
        vals = []
        for ln in lines:
            if ln.strip() == "(empty array)":
                return {}
            q = ln.split(") ", 1)[1]
            vals.append(q)
        out = {}
        for k, v in zip(vals[0::2], vals[1::2]):
            out[_unquote(k)] = _unquote(v)
        return out

    def hget(self, key, field):
        return self.cli("--raw", "HGET", key, field).rstrip("\n")

    def pttl(self, key):
        return int(self.cli("PTTL", key).strip().split()[-1])


def _unquote(s):
    # redis-cli quotes with C-style escapes (\" \\ \n \xNN); the values here
    # are ASCII JSON, for which this matches.
    assert s.startswith('"') and s.endswith('"'), s
    body = s[1:-1]
    return bytes(body, "latin-1").decode("unicode_escape")


def stop_quietly(obj):
    try:
        obj.stop() if hasattr(obj, "stop") else obj.kill()
    except Exception:
        pass


work = None
images = []      # rendered PNG paths
image_bytes = []


def setUpModule():
    global work
    work = H.tempdir("ocrpc-redis-")
    for i, text in enumerate(TEXTS):
        p = H.render_line(os.path.join(work, "r%d.png" % i), text)
        images.append(p)
        image_bytes.append(H.read_bytes(p))


def start_server(redis_url, *extra):
    srv = H.Server("--redis-url", redis_url, "--language", "english", *extra,
                   workers=2)
    srv.start()
    for i, p in enumerate(images):
        shutil.copy(p, srv.path("r%d.png" % i))
    return srv


def batch_items():
    """30 images: paths and inline bytes; 3 missing files, 3 corrupt."""
    items, failing = [], {}
    for i in range(TOTAL):
        if i % 10 == 3:
            items.append(ocr_pb2.ImagePath(private_path="missing-%d.png" % i))
            failing[i] = "NOT_FOUND"
        elif i % 10 == 7:
            items.append(ocr_pb2.ImagePath(
                data=b"\x89PNG\r\n\x1a\n" + b"not really a png" * 8))
            failing[i] = "DECODE_ERROR"
        elif i % 2 == 0:
            items.append(ocr_pb2.ImagePath(private_path="r%d.png" % (i % 3)))
        else:
            items.append(ocr_pb2.ImagePath(data=image_bytes[i % 3]))
    return items, failing


def batch_request(batch_id):
    items, failing = batch_items()
    return ocr_pb2.OCRBatchRequest(image_paths=items, language="english",
                                   batch_id=batch_id), failing


class Base(unittest.TestCase):
    def check_stream(self, msgs, batch_id, failing):
        self.assertEqual(len(msgs), TOTAL)
        self.assertEqual([m.processed_images for m in msgs],
                         list(range(1, TOTAL + 1)))
        self.assertEqual(sorted(m.index for m in msgs), list(range(TOTAL)))
        self.assertEqual({m.batch_id for m in msgs}, {batch_id})
        self.assertEqual({m.total_images for m in msgs}, {TOTAL})
        self.assertAlmostEqual(msgs[-1].progress_percentage, 100.0, places=3)
        for m in msgs:
            r = m.current_result
            if m.index in failing:
                self.assertEqual(r.status, FAILURE, str(r))
                self.assertEqual(r.error.code, "OCR_ERROR")
                self.assertEqual(r.error.details, failing[m.index], str(r))
            else:
                self.assertEqual(r.status, SUCCESS, str(r))
                self.assertEqual(H.norm_text(r.text), TEXTS[m.index % 3])

    def check_final_in_redis(self, redis, batch_id, failed):
        key = "ocrpc:batch:" + batch_id
        h = redis.hgetall(key)
        self.assertEqual(h.get("status"), "SUCCESS", h)
        self.assertEqual(h.get("total"), str(TOTAL), h)
        self.assertEqual(h.get("processed"), str(TOTAL), h)
        self.assertEqual(h.get("failed"), str(failed), h)
        self.assertGreater(int(h["created_at"]), 1600000000000, h)
        self.assertGreaterEqual(int(h["updated_at"]), int(h["created_at"]))
        self.assertGreater(redis.pttl(key), 0)
        self.assertGreater(redis.pttl(key + ":results"), 0)


class Batches(Base):
    @classmethod
    def setUpClass(cls):
        cls.redis = Redis().start()
        cls.addClassCleanup(stop_quietly, cls.redis)
        cls.srv = start_server("redis://127.0.0.1:%d/0" % cls.redis.port)
        cls.addClassCleanup(cls.srv.stop)
        cls.stub = S.ocr_grpc.OCRServiceStub(cls.srv.channel())

    def test_batch_lands_in_redis(self):
        req, failing = batch_request("it-redis-full")
        msgs = list(self.stub.ExtractTextBatch(req, timeout=CALL_TIMEOUT))
        self.check_stream(msgs, "it-redis-full", failing)

        st = self.stub.GetBatchStatus(
            ocr_pb2.BatchStatusRequest(batch_id="it-redis-full"),
            timeout=CALL_TIMEOUT)
        self.assertEqual(st.status, SUCCESS, str(st))
        self.assertEqual(st.state, "SUCCESS")
        self.assertEqual(st.total_images, TOTAL)
        self.assertEqual(st.processed_images, TOTAL)
        self.assertEqual(st.failed_images, len(failing))
        self.assertEqual(sorted(r.index for r in st.results),
                         list(range(TOTAL)))
        for r in st.results:
            if r.index in failing:
                self.assertEqual(r.status, FAILURE)
                self.assertEqual(r.error.details, failing[r.index])
            else:
                self.assertEqual(r.status, SUCCESS)
                self.assertEqual(H.norm_text(r.text), TEXTS[r.index % 3])

        self.check_final_in_redis(self.redis, "it-redis-full", len(failing))
        key = "ocrpc:batch:it-redis-full:results"
        self.assertEqual(int(self.redis.cli("HLEN", key).strip()), TOTAL)
        ok = json.loads(self.redis.hget(key, "0"))
        self.assertEqual(ok["index"], 0)
        self.assertIs(ok["ok"], True)
        self.assertEqual(H.norm_text(ok["text"]), TEXTS[0])
        self.assertTrue(0.0 < ok["confidence"] <= 1.0, ok)
        bad = json.loads(self.redis.hget(key, "3"))
        self.assertEqual(bad["index"], 3)
        self.assertIs(bad["ok"], False)
        self.assertEqual(bad["error"]["code"], "OCR_ERROR")
        self.assertEqual(bad["error"]["details"], "NOT_FOUND")
        self.assertTrue(bad["error"]["message"])

    def test_unknown_batch_is_not_found(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.GetBatchStatus(
                ocr_pb2.BatchStatusRequest(batch_id="it-redis-never"),
                timeout=CALL_TIMEOUT)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_cancel_mid_batch_records_cancelled(self):
        # Mid-batch by construction: the cancel goes out after 5 results of
        # 600 real OCRs (minutes of work), so however long a loaded machine
        # keeps this client off the CPU the batch cannot finish first.
        items, _ = batch_items()
        total = len(items) * 20
        req = ocr_pb2.OCRBatchRequest(image_paths=items * 20, language="english",
                                      batch_id="it-redis-cancel")
        call = self.stub.ExtractTextBatch(req, timeout=CALL_TIMEOUT)
        seen = 0
        with self.assertRaises(grpc.RpcError) as cm:
            for _ in call:
                seen += 1
                if seen == 5:
                    call.cancel()
        self.assertEqual(cm.exception.code(), grpc.StatusCode.CANCELLED)
        key = "ocrpc:batch:it-redis-cancel"
        H.poll(lambda: self.redis.hget(key, "status") == "CANCELLED",
             "CANCELLED in Redis (now %r)" % self.redis.hgetall(key))
        h = self.redis.hgetall(key)
        self.assertLess(int(h["processed"]), total, h)
        self.assertGreater(self.redis.pttl(key), 0)


class RedisRestart(Base):
    @classmethod
    def setUpClass(cls):
        cls.redis = Redis().start()
        cls.addClassCleanup(stop_quietly, cls.redis)
        cls.srv = start_server("redis://127.0.0.1:%d" % cls.redis.port)
        cls.addClassCleanup(cls.srv.stop)
        cls.stub = S.ocr_grpc.OCRServiceStub(cls.srv.channel())

    def test_restart_mid_batch(self):
        req, failing = batch_request("it-redis-restart")
        msgs = []
        for m in self.stub.ExtractTextBatch(req, timeout=CALL_TIMEOUT):
            msgs.append(m)
            if len(msgs) == 1:
                self.redis.kill()
                # The server sees the connection close; wait for its one
                # log line so the restart below is a real reconnect.
                H.poll(lambda: "redis: connection lost"
                     in self.srv.stderr_text(), "the lost-connection log")
            elif len(msgs) == 15:
                self.redis.start()
        self.check_stream(msgs, "it-redis-restart", failing)
        key = "ocrpc:batch:it-redis-restart"
        H.poll(lambda: self.redis.hget(key, "status") == "SUCCESS",
             "SUCCESS in Redis after the reconnect")
        self.check_final_in_redis(self.redis, "it-redis-restart",
                                  len(failing))
        st = self.stub.GetBatchStatus(
            ocr_pb2.BatchStatusRequest(batch_id="it-redis-restart"),
            timeout=CALL_TIMEOUT)
        self.assertEqual(st.status, SUCCESS, str(st))
        self.assertEqual(st.processed_images, TOTAL)
        # The reconnect line is logged before the replay that put SUCCESS
        # in Redis; the harness reads stderr on its own thread: wait for
        # it (bounded), then count.
        H.poll(lambda: "redis: reconnected" in self.srv.stderr_text(),
               "the reconnect log line")
        err = self.srv.stderr_text()
        self.assertEqual(err.count("redis: connection lost"), 1, err)
        self.assertEqual(err.count("redis: reconnected"), 1, err)
        # Writes made while Redis was down were replayed, so the kill was
        # really in the middle of the batch.
        m = re.search(r"redis: reconnected \(.*; (\d+) buffered writes", err)
        self.assertIsNotNone(m, err)
        self.assertGreater(int(m.group(1)), 0, err)


class RedisNeverStarted(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = H.free_port()  # nothing listens there
        cls.srv = start_server("redis://127.0.0.1:%d" % cls.port)
        cls.addClassCleanup(cls.srv.stop)
        cls.stub = S.ocr_grpc.OCRServiceStub(cls.srv.channel())

    def test_ocr_works_and_status_is_unavailable(self):
        r = self.stub.ExtractText(
            ocr_pb2.OCRRequest(image_data=image_bytes[0], language="english"),
            timeout=CALL_TIMEOUT)
        self.assertEqual(r.status, SUCCESS, str(r))
        self.assertEqual(H.norm_text(r.text), TEXTS[0])

        items = [ocr_pb2.ImagePath(private_path="r1.png"),
                 ocr_pb2.ImagePath(data=image_bytes[2]),
                 ocr_pb2.ImagePath(private_path="missing.png")]
        msgs = list(self.stub.ExtractTextBatch(
            ocr_pb2.OCRBatchRequest(image_paths=items, language="english",
                                    batch_id="it-redis-down"),
            timeout=CALL_TIMEOUT))
        self.assertEqual([m.processed_images for m in msgs], [1, 2, 3])
        by_index = {m.index: m.current_result for m in msgs}
        self.assertEqual(by_index[0].status, SUCCESS)
        self.assertEqual(by_index[1].status, SUCCESS)
        self.assertEqual(by_index[2].status, FAILURE)

        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.GetBatchStatus(
                ocr_pb2.BatchStatusRequest(batch_id="it-redis-down"),
                timeout=CALL_TIMEOUT)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertIn("job store is unavailable", cm.exception.details())
        H.poll(lambda: "redis: cannot connect" in self.srv.stderr_text(),
               "the cannot-connect log line")
        err = self.srv.stderr_text()
        self.assertEqual(err.count("redis: cannot connect"), 1, err)


class BadUrl(unittest.TestCase):
    def test_malformed_url_exits_1(self):
        root = H.tempdir("ocrpc-redis-bad-")
        r = subprocess.run(
            [H.server_binary(), "--host", "127.0.0.1", "--port", "0",
             "--http-port", "off",
             "--image-root", root, "--engine", "mock",
             "--redis-url", "redis://127.0.0.1:notaport"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("REDIS_URL", r.stderr)
        self.assertIn("port", r.stderr)
        self.assertNotIn("listening on", r.stderr)


if __name__ == "__main__":
    unittest.main()
