# SPDX-License-Identifier: MIT
"""A fleet on loopback: nginx (grpc_pass) in front of three ocrpc-servers
sharing one redis-server, all started by the test on free ports, with the
ocrpc_client Python package as the client (its retry policy: UNAVAILABLE
and DEADLINE_EXCEEDED, bounded attempts with backoff).

- A batch started through nginx is seen with the same progress through
  nginx and directly on every node; its final status is identical
  everywhere.
- The result cache is shared: an image recognised on node A is a cache hit
  on node C.
- Rolling restart: while calls stream through nginx, each node in turn gets
  SIGTERM (drain), exits 0 and is started again: every call ends OK, and
  every batch of the stream is SUCCESS on every node.
- SIGKILL of one node during its batch and under the call stream: every
  call ends OK (retried elsewhere); the batch it was running reads as
  ABANDONED (state) / STATUS_FAILURE on the other nodes once its lease in
  Redis runs out.
- Client-side round robin (ocrpc_client with a target list, the ocrpc CLI
  with -s a,b,c) over the three nodes, one stopped mid-run.
- REST through nginx's proxy_pass to the nodes' HTTP_PORT: POST
  /ocr/extract and GET /v1/batches/ID on any node.

The mock engine serves: nothing here depends on the text recognised.
"""

import asyncio
import os
import subprocess
import threading
import unittest

import httpx

import harness as H
import fleet as F
from fleet import ocr_pb2, ocrpc_client

SUCCESS = ocrpc_client.common_pb2.STATUS_SUCCESS
FAILURE = ocrpc_client.common_pb2.STATUS_FAILURE
LEASE_SECONDS = 2
CLI = os.environ["OCRPC_CLI"]


class Fleet(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = H.tempdir("ocrpc-fleet-root-")
        cls.png = H.read_bytes(H.render_line(os.path.join(cls.root, "a.png"),
                                             "fleet"))
        # Read and hashed in full before the (mock) engine answers: a slow
        # image, so that a batch of them is still running when its node is
        # killed.
        F.sparse_file(os.path.join(cls.root, "slow.img"), 16 << 20)
        cls.redis = F.Redis().start()
        url = "redis://127.0.0.1:%d/0" % cls.redis.port
        cls.nodes = [F.Node(n, cls.root, "--redis-url", url,
                            "--job-lease-seconds", str(LEASE_SECONDS),
                            # A batch leaves a worker free for single calls.
                            "--batch-parallelism", "1",
                            "--drain-seconds", "120")
                     for n in ("A", "B", "C")]
        try:
            for n in cls.nodes:
                n.start()
            cls.nginx = F.Nginx([n.port for n in cls.nodes],
                                [n.http_port for n in cls.nodes]).start()
        except BaseException:
            cls.tearDownClass()
            raise
        cls.front = F.OcrClient(cls.nginx.address, timeout=F.CALL_TIMEOUT, max_attempts=10,
                                initial_backoff=0.05, max_backoff=0.5)

    @classmethod
    def tearDownClass(cls):
        problems = []
        if getattr(cls, "front", None):
            cls.front.close()
        for obj in [getattr(cls, "nginx", None)] + list(getattr(cls, "nodes", [])):
            try:
                if obj:
                    obj.stop()
            except Exception as e:
                problems.append(repr(e))
        cls.redis.kill()
        if problems:
            raise AssertionError("; ".join(problems))

    def statuses(self, bid):
        """The batch as nginx and every node answer it."""
        out = {"nginx": self.front.batch_status(bid, timeout=30)}
        for n in self.nodes:
            out[n.name] = n.status(bid)
        return out

    def test_1_batch_progress_is_the_same_through_nginx_and_on_every_node(self):
        bid = "fleet-progress-%d" % os.getpid()
        images = ["a.png", "slow.img", "a.png", "slow.img", "a.png"]
        seen = failed = 0
        for msg in self.front.extract_batch(images, batch_id=bid, timeout=600):
            seen = msg.processed_images
            failed += msg.current_result.status != SUCCESS
            # Everyone sees at least what the stream reported, never more
            # than the total, and a batch still running is IN_PROGRESS.
            for where, st in H.poll(lambda: self._all_at_least(bid, seen),
                                    "every node to see %d images" % seen).items():
                self.assertEqual(st.total_images, len(images), where)
                self.assertIn(st.state, ("IN_PROGRESS", "SUCCESS"), where)
                if st.processed_images < len(images):
                    self.assertEqual(st.state, "IN_PROGRESS", where)
        self.assertEqual(seen, len(images))
        final = H.poll(lambda: self._all_final(bid), "the final state everywhere")
        first = final["nginx"]
        self.assertEqual(first.state, "SUCCESS")
        self.assertEqual((first.processed_images, first.failed_images), (5, failed))
        for where, st in final.items():
            self.assertEqual(st, first, where)

    def _all_at_least(self, bid, k):
        s = self.statuses(bid)
        return s if all(st.processed_images >= k for st in s.values()) else None

    def _all_final(self, bid):
        s = self.statuses(bid)
        return s if all(st.state not in ("PENDING", "IN_PROGRESS")
                        for st in s.values()) else None

    def test_2_result_cache_is_shared(self):
        img = H.read_bytes(H.render_line(os.path.join(self.root, "c.png"),
                                         "cache %d" % os.getpid()))
        a, c = self.nodes[0], self.nodes[2]
        r = a.client.extract(image_data=img)
        self.assertEqual(r.metadata.data["cache"], "miss")
        r = c.client.extract(image_data=img)
        self.assertEqual(r.metadata.data["cache"], "hit")

    def test_3_rolling_restart_loses_no_call(self):
        stream = F.CallStream(self.nginx.address, self.png)
        stream.start()
        try:
            stream.wait_calls(20, "calls through nginx")
            for n in self.nodes:
                n.stop()  # SIGTERM: drains, exits 0 (asserted)
                n.restart()
                # Traffic keeps flowing before the next node goes.
                stream.wait_calls(stream.count() + 20, "calls after restarting " + n.name)
        finally:
            stream.stop()
        self.assertEqual(stream.failures, [])
        self.assertGreater(len(stream.batch_ids), 0)
        for bid in stream.batch_ids:
            for where, st in self.statuses(bid).items():
                self.assertEqual((st.state, st.processed_images), ("SUCCESS", 2),
                                 "%s on %s" % (bid, where))

    def test_4_sigkill_calls_retried_and_batch_abandoned(self):
        a, b, c = self.nodes
        bid = "fleet-killed-%d" % os.getpid()
        errors = []

        def run_batch():
            try:
                for _ in b.client.extract_batch(["slow.img"] * 500, batch_id=bid,
                                                timeout=3600):
                    pass
            except Exception as e:  # the node dies under it
                errors.append(e)

        t = threading.Thread(target=run_batch, daemon=True)
        t.start()
        H.poll(lambda: a.status(bid).processed_images >= 1
               if self._known(a, bid) else None, "the batch to start on B")
        stream = F.CallStream(self.nginx.address, self.png)
        stream.start()
        try:
            stream.wait_calls(20, "calls through nginx")
            b.kill()
            stream.wait_calls(stream.count() + 30, "calls after killing B")
            b.restart()
            stream.wait_calls(stream.count() + 20, "calls after restarting B")
        finally:
            stream.stop()
        t.join(F.WAIT)
        self.assertEqual(stream.failures, [])
        self.assertEqual(len(errors), 1, "the batch's stream must fail with its node")
        # The batch will never finish: once its lease runs out every node
        # says so, instead of IN_PROGRESS forever.
        for n in (a, b, c):
            try:
                st = H.poll(lambda: self._abandoned(n, bid), "ABANDONED on " + n.name)
            except AssertionError as e:
                raise AssertionError("%s; last answer: %s" % (e, self.last_status))
            self.assertEqual(st.status, FAILURE)
            self.assertEqual(st.total_images, 500)
            self.assertLess(st.processed_images, 500)

    def test_5_client_side_round_robin_without_a_proxy(self):
        nodes = self.nodes
        targets = [n.address for n in nodes]
        tag = "rr-%d-" % os.getpid()
        client = F.OcrClient(targets, timeout=F.CALL_TIMEOUT, max_attempts=10,
                             initial_backoff=0.05, max_backoff=0.5)
        try:
            # Calls spread over every node (each logs the request id).
            def every_node_served():
                for i in range(10):
                    r = client.extract(image_data=self.png,
                                       request_id="%s%d" % (tag, self.rr_calls))
                    self.assertEqual(r.status, SUCCESS)
                    self.rr_calls += 1
                return all(n.srv.stderr_text().count("request " + tag) > 0
                           for n in nodes)
            self.rr_calls = 0
            H.poll(every_node_served, "round robin to reach every node")
        finally:
            client.close()
        # AsyncOcrClient takes the same list.
        async def async_calls():
            async with ocrpc_client.AsyncOcrClient(targets, timeout=F.CALL_TIMEOUT) as ac:
                for _ in range(6):
                    r = await ac.extract(image_data=self.png)
                    self.assertEqual(r.status, SUCCESS)
        asyncio.run(async_calls())
        # One node stops mid-run: the stream of calls (a list of targets)
        # carries on without a failed call.
        stream = F.CallStream(targets, self.png)
        stream.start()
        b = nodes[1]
        try:
            stream.wait_calls(20, "calls over the list")
            b.stop()
            stream.wait_calls(stream.count() + 30, "calls with B stopped")
            # The CLI with several targets: B first or not, every run
            # reaches a live server.
            for _ in range(4):
                r = subprocess.run([CLI, "-s", "%s,%s,%s" % (b.address, b.address,
                                                           nodes[0].address),
                                    "--timeout", "60s", "health"],
                                   capture_output=True, text=True, timeout=120)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("STATUS_SUCCESS", r.stdout)
            r = subprocess.run([CLI, "-s", b.address, "health"], capture_output=True,
                               text=True, timeout=120)
            self.assertEqual(r.returncode, 3, "B alone is down")
            b.restart()
            stream.wait_calls(stream.count() + 20, "calls with B back")
        finally:
            stream.stop()
            if b.srv is None:
                b.restart()
        self.assertEqual(stream.failures, [])

    def test_6_rest_through_proxy_pass(self):
        base = "http://127.0.0.1:%d" % self.nginx.http_port
        bid = "fleet-rest-%d" % os.getpid()
        for _ in self.front.extract_batch(["a.png", "a.png"], batch_id=bid, timeout=600):
            pass
        with httpx.Client(timeout=F.CALL_TIMEOUT, trust_env=False) as c:
            for _ in range(6):  # over every node
                r = c.post(base + "/ocr/extract", json={"private_image_path": "a.png"})
                self.assertEqual(r.status_code, 200, r.text)
                self.assertEqual(r.json()["text"], "mock text")
                r = c.get(base + "/v1/batches/" + bid)
                self.assertEqual(r.status_code, 200, r.text)
                j = r.json()
                self.assertEqual((j["batch_id"], j["state"], j["processed_images"]),
                                 (bid, "SUCCESS", 2))

    @staticmethod
    def _known(node, bid):
        try:
            node.status(bid)
            return True
        except ocrpc_client.OcrNotFound:
            return False

    def _abandoned(self, node, bid):
        st = node.status(bid)
        self.last_status = st
        return st if st.state == "ABANDONED" else None


if __name__ == "__main__":
    unittest.main()
