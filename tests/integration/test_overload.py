# SPDX-License-Identifier: MIT
"""Overload sheds instead of queueing (issue 15): with one Tesseract worker
and --max-queued-jobs 2, a burst of calls is answered OK or UNAVAILABLE,
every one of them, and some are shed; a call whose deadline the queue ahead
would miss is refused at once with UNAVAILABLE rather than left to expire.
The REST front door sheds the same way: 503 with Retry-After. Each refusal
adds exactly one to ocr_requests_shed_total{protocol,reason}.
Judged by counts and status codes, never by timing."""

import asyncio
import unittest

import grpc
import httpx

import harness as H

S = H.load_stubs("repo")
LINES = ["Overload line %d alpha bravo charlie delta" % i for i in range(6)]
CALL_TIMEOUT = 300  # a bound only a hang reaches


class Overload(unittest.TestCase):
    def start(self, *args):
        srv = H.Server("--shed-by-deadline", "on", *args, workers=1)
        srv.start()
        self.addCleanup(srv.stop)
        H.render_lines(srv.path("page.png"), LINES)
        return srv

    def shed_counts(self, srv):
        m = srv.metrics()
        return {(p, r): H.metric_sum(m, "ocr_requests_shed_total", protocol=p, reason=r)
                for p in ("grpc", "http") for r in ("queue_full", "deadline")}

    def assert_shed_grew(self, srv, before, **want):
        """The counter grew by exactly want[(protocol, reason)] per series
        (keys written protocol_reason), every other series not at all."""
        after = self.shed_counts(srv)
        for (p, r), v in after.items():
            self.assertEqual(v - before[(p, r)], want.get("%s_%s" % (p, r), 0),
                             "ocr_requests_shed_total{protocol=%s,reason=%s}" % (p, r))

    def request(self):
        return S.ocr.OCRRequest(public_image_path="page.png", language="english")

    def test_burst_is_answered_ok_or_unavailable_and_sheds(self):
        srv = self.start("--max-queued-jobs", "2")
        stub = S.ocr_grpc.OCRServiceStub(srv.channel())
        stub.ExtractText(self.request(), timeout=CALL_TIMEOUT)  # warm the engine
        before = self.shed_counts(srv)
        futures = [stub.ExtractText.future(self.request(), timeout=CALL_TIMEOUT)
                   for _ in range(24)]
        ok = shed = 0
        for f in futures:
            try:
                resp = f.result()
                self.assertEqual(resp.status, S.common.STATUS_SUCCESS)
                ok += 1
            except grpc.RpcError as e:
                self.assertEqual(e.code(), grpc.StatusCode.UNAVAILABLE, e.details())
                self.assertIn("--max-queued-jobs", e.details())
                shed += 1
        self.assertEqual(ok + shed, 24)
        self.assertGreater(shed, 0, "nothing was shed")
        self.assertGreaterEqual(ok, 3, "fewer calls served than one worker + 2 queued")
        self.assert_shed_grew(srv, before, grpc_queue_full=shed)

    def test_deadline_the_queue_would_miss_is_refused_early(self):
        srv = self.start("--max-queued-jobs", "100")
        stub = S.ocr_grpc.OCRServiceStub(srv.channel())
        warm = stub.ExtractText(self.request(), timeout=CALL_TIMEOUT)
        ocr_ms = float(dict(warm.metadata.data)["ocr_ms"])
        before = self.shed_counts(srv)
        ahead = [stub.ExtractText.future(self.request(), timeout=CALL_TIMEOUT)
                 for _ in range(16)]
        # Time for about four recognitions; sixteen are queued ahead. The
        # margin is wide both ways: the server's estimate (15 queued x the
        # mean run) is ~4x the deadline, and the refusal is answered on
        # arrival, so the client's own timer (four recognitions, at least
        # 200 ms) is not what ends the call even on a loaded machine.
        with self.assertRaises(grpc.RpcError) as cm:
            stub.ExtractText(self.request(), timeout=max(4 * ocr_ms, 200) / 1000.0)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE,
                         cm.exception.details())
        self.assertIn("deadline", cm.exception.details())
        for f in ahead:
            self.assertEqual(f.result().status, S.common.STATUS_SUCCESS)
        self.assert_shed_grew(srv, before, grpc_deadline=1)

    def test_rest_burst_is_answered_200_or_503_and_sheds(self):
        # POST /ocr/extract shares the gRPC queue and its limit: a burst of
        # the guide's JSON requests is answered 200 or 503 (Retry-After,
        # the guide's client retries it), none lost, some shed.
        srv = self.start("--max-queued-jobs", "2")
        base = srv.http_base()
        body = {"public_image_path": "page.png", "language": "english"}
        n = 24

        async def burst():
            limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
            async with httpx.AsyncClient(timeout=CALL_TIMEOUT, limits=limits) as c:
                warm = await c.post(base + "/ocr/extract", json=body)
                self.assertEqual(warm.status_code, 200, warm.text)
                return await asyncio.gather(
                    *[c.post(base + "/ocr/extract", json=body) for _ in range(n)])

        before = self.shed_counts(srv)
        ok = shed = 0
        for r in asyncio.run(burst()):
            if r.status_code == 200:
                self.assertEqual(r.json()["status"], "success")
                ok += 1
            else:
                self.assertEqual(r.status_code, 503, r.text)
                self.assertEqual(r.headers.get("retry-after"), "1")
                detail = r.json()["detail"]
                self.assertEqual(detail["details"], "UNAVAILABLE")
                self.assertIn("--max-queued-jobs", detail["message"])
                shed += 1
        self.assertEqual(ok + shed, n)
        self.assertGreater(shed, 0, "nothing was shed")
        self.assertGreaterEqual(ok, 3, "fewer served than one worker + 2 queued")
        self.assert_shed_grew(srv, before, http_queue_full=shed)


if __name__ == "__main__":
    unittest.main()
