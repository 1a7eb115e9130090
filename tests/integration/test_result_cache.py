# SPDX-License-Identifier: MIT
"""The result cache end to end with the Tesseract engine: a real
redis-server on a free port shared by two ocrpc-servers, and Python gRPC
clients (stubs from the repository's protos/).

- ExtractText twice on one image: the second answer says cache=hit, has
  ocr_ms 0 and the same text; an ocrpc:cache:* key exists with a TTL; the
  same bytes sent inline hit too.
- A batch of 10 images, 5 of them repeats: at least 5 hits, read from the
  metadata of the streamed results; the same batch again hits throughout.
- A second server on the same Redis hits for an image the first one
  recognised.
- --result-cache off: never a hit. The in-process store with
  --result-cache on: hits within one server.
- Each server logs "result cache: H hits, M misses" at shutdown.

Waiting is done by polling with a bounded timeout, never by a fixed sleep;
nothing asserts how fast anything is.
"""

import os
import re
import sys
import unittest

import harness as H
from test_batch_redis import Redis

S = H.load_stubs("repo")
ocr_pb2 = S.ocr
SUCCESS = S.common.STATUS_SUCCESS
TIMEOUT = 300  # a ceiling only a hang reaches (loaded machine)
TTL_MS = 86400 * 1000

TEXTS = ["Cached line alpha", "Cached line bravo", "Cached line charlie",
         "Cached line delta", "Cached line echo", "Cached line foxtrot"]
STATS_RE = re.compile(r"result cache: (\d+) hits, (\d+) misses")

work = None
images = []        # rendered PNG paths, one per text
image_bytes = []
redis = None
totals = {}        # server name -> (hits, misses) logged at shutdown


def setUpModule():
    global work, redis
    work = H.tempdir("ocrpc-cache-")
    for i, text in enumerate(TEXTS):
        p = H.render_line(os.path.join(work, "c%d.png" % i), text)
        images.append(p)
        image_bytes.append(H.read_bytes(p))
    redis = Redis().start()
    unittest.addModuleCleanup(redis.kill)


def tearDownModule():
    # The figures the closing note reports.
    for name, (h, m) in sorted(totals.items()):
        sys.stderr.write("result cache %s: %d hits, %d misses\n" % (name, h, m))


def start_server(name, *args):
    srv = H.Server("--language", "english", *args, workers=2)
    srv.start()
    for i, p in enumerate(images):
        with open(p, "rb") as src, open(srv.path("c%d.png" % i), "wb") as dst:
            dst.write(src.read())
    srv.name = name
    return srv


def stop_server(test, srv):
    """Stops srv (exit 0, clean sanitizer output) and returns the totals
    it logged."""
    srv.stop()
    m = STATS_RE.findall(srv.stderr_text())
    test.assertEqual(len(m), 1, "one 'result cache:' line at shutdown")
    totals[srv.name] = (int(m[0][0]), int(m[0][1]))
    return totals[srv.name]


def meta(resp):
    return dict(resp.metadata.data)


def extract(stub, **kw):
    kw.setdefault("language", "english")
    r = stub.ExtractText(ocr_pb2.OCRRequest(**kw), timeout=TIMEOUT)
    assert r.status == SUCCESS, r
    return r


def cache_keys():
    return [k for k in redis.cli("--raw", "KEYS", "ocrpc:cache:*").split("\n") if k]


class RedisCache(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        redis.cli("FLUSHALL")
        url = "redis://127.0.0.1:%d/0" % redis.port
        cls.url = url
        # One image of a batch at a time, so that which items repeat an
        # image already done (and must hit) does not depend on timing.
        cls.srv = start_server("first", "--redis-url", url,
                               "--batch-parallelism", "1")
        cls.stub = S.ocr_grpc.OCRServiceStub(cls.srv.channel())

    @classmethod
    def tearDownClass(cls):
        if cls.srv.proc is not None:
            cls.srv.stop()

    def test_1_second_call_hits_with_the_same_text_and_the_key_has_a_ttl(self):
        first = extract(self.stub, private_image_path="c0.png")
        self.assertEqual(meta(first)["cache"], "miss")
        self.assertIn("alpha", first.text.lower())
        second = extract(self.stub, private_image_path="c0.png")
        md = meta(second)
        self.assertEqual(md["cache"], "hit")
        self.assertEqual(md["ocr_ms"], "0.000")
        self.assertEqual(second.text, first.text)
        self.assertAlmostEqual(second.overall_confidence,
                               first.overall_confidence, places=5)
        self.assertEqual(len(second.text_boxes), len(first.text_boxes))
        for a, b in zip(first.text_boxes, second.text_boxes):
            self.assertEqual(a.text, b.text)
            self.assertEqual(list(a.bbox.coordinates), list(b.bbox.coordinates))
        for k in ("image_width", "image_height", "language", "rotation"):
            self.assertEqual(md[k], meta(first)[k], k)

        keys = cache_keys()
        self.assertEqual(len(keys), 1, keys)
        self.assertRegex(keys[0], r"^ocrpc:cache:[0-9a-f]{64}$")
        ttl = redis.pttl(keys[0])
        self.assertGreater(ttl, 0)
        self.assertLessEqual(ttl, TTL_MS)

        inline = extract(self.stub, image_data=image_bytes[0])
        self.assertEqual(meta(inline)["cache"], "hit", "same bytes sent inline")
        self.assertEqual(inline.text, first.text)

        other = extract(self.stub, private_image_path="c0.png", language="kor+eng")
        self.assertEqual(meta(other)["cache"], "miss", "another language")

    def test_2_batch_with_repeated_images_hits(self):
        order = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5]
        items = [ocr_pb2.ImagePath(private_path="c%d.png" % i) if n % 2 == 0
                 else ocr_pb2.ImagePath(data=image_bytes[i])
                 for n, i in enumerate(order)]
        req = ocr_pb2.OCRBatchRequest(image_paths=items, language="english",
                                      batch_id="cache-batch")
        msgs = list(self.stub.ExtractTextBatch(req, timeout=TIMEOUT))
        self.assertEqual([m.processed_images for m in msgs], list(range(1, 11)))
        self.assertEqual(sorted(m.index for m in msgs), list(range(10)))
        by_index = {m.index: m.current_result for m in msgs}
        for idx, r in by_index.items():
            self.assertEqual(r.status, SUCCESS)
            self.assertIn(TEXTS[order[idx]].split()[-1], r.text.lower())
        hits = [idx for idx, r in by_index.items() if meta(r)["cache"] == "hit"]
        self.assertGreaterEqual(len(hits), 5, hits)
        for idx in range(5, 10):
            self.assertEqual(by_index[idx].text, by_index[idx - 5].text)

        # Again, in parallel this time: every image is cached now.
        req.batch_id = "cache-batch-2"
        msgs = list(self.stub.ExtractTextBatch(req, timeout=TIMEOUT))
        self.assertEqual([m.processed_images for m in msgs], list(range(1, 11)))
        self.assertEqual([meta(m.current_result)["cache"] for m in msgs],
                         ["hit"] * 10)

    def test_3_second_server_on_the_same_redis_hits(self):
        first = extract(self.stub, private_image_path="c0.png")
        # The first server's SET and the second server's GET travel on two
        # connections: wait until the entry is in Redis.
        H.poll(lambda: len(cache_keys()) >= 1, "the cache entry to reach Redis")
        other = start_server("second", "--redis-url", self.url)
        try:
            # Listening comes before the store's Redis connection: a call
            # in between is a miss by design. Wait for the connection.
            H.poll(lambda: "redis: connected" in other.stderr_text(),
                 "the second server's Redis connection")
            stub = S.ocr_grpc.OCRServiceStub(other.channel())
            r = extract(stub, image_data=image_bytes[0])
            self.assertEqual(meta(r)["cache"], "hit")
            self.assertEqual(r.text, first.text)
        finally:
            hits, misses = stop_server(self, other)
        self.assertEqual((hits, misses), (1, 0))

    def test_4_shutdown_logs_the_totals(self):
        hits, misses = stop_server(self, self.srv)
        # test_1: 1 miss, 2 hits, 1 miss; test_2: 5 misses, 5 + 10 hits;
        # test_3: 1 hit.
        self.assertEqual((hits, misses), (18, 7))


class CacheOff(unittest.TestCase):
    def test_off_with_redis_never_hits(self):
        url = "redis://127.0.0.1:%d/0" % redis.port
        srv = start_server("off", "--redis-url", url, "--result-cache", "off")
        try:
            stub = S.ocr_grpc.OCRServiceStub(srv.channel())
            for _ in range(2):
                r = extract(stub, private_image_path="c0.png")
                self.assertNotIn("cache", meta(r))
        finally:
            srv.stop()
        self.assertNotRegex(srv.stderr_text(), STATS_RE,
                            "no totals when the cache is off")


class InProcess(unittest.TestCase):
    def test_in_process_store_with_the_cache_on_hits(self):
        srv = start_server("in-process", "--result-cache", "on")
        try:
            stub = S.ocr_grpc.OCRServiceStub(srv.channel())
            a = extract(stub, private_image_path="c5.png")
            self.assertEqual(meta(a)["cache"], "miss")
            b = extract(stub, image_data=image_bytes[5])
            self.assertEqual(meta(b)["cache"], "hit")
            self.assertEqual(b.text, a.text)
        finally:
            hits, misses = stop_server(self, srv)
        self.assertEqual((hits, misses), (1, 1))

    def test_in_process_store_is_off_by_default(self):
        srv = start_server("in-process-default")
        try:
            stub = S.ocr_grpc.OCRServiceStub(srv.channel())
            for _ in range(2):
                self.assertNotIn("cache", meta(extract(stub, private_image_path="c5.png")))
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
