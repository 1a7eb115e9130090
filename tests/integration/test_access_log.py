# SPDX-License-Identifier: MIT
"""The access log (one line per call) as an operator reads it, against the
real server and the real Tesseract engine, with python3-grpcio:

- a successful ExtractText: info line with peer, method, OK, in-band
  SUCCESS, queue and OCR milliseconds, message bytes in and out, and the
  client's x-request-id;
- failures at warn: in-band NOT_FOUND and DECODE_ERROR (gRPC OK), and gRPC
  errors (UNIMPLEMENTED for an unknown method, NOT_FOUND for an unknown
  batch) with their message;
- a call without x-request-id gets a generated UUID, echoed in the response
  headers and written in its line;
- --log-format json: every line of the process is one JSON object, the
  access line with the same fields;
- --access-log off: no line and no generated id.

Lines are buffered by the server and flushed on a timer: the tests wait for
them with a generous ceiling, never a fixed sleep."""

import json
import os
import re
import time
import unittest

import grpc

import harness as H

S = H.load_stubs("repo")
ocr_pb2 = S.ocr

CALL_TIMEOUT = 300  # a ceiling only a hang reaches (loaded machine, ASan tree)
WAIT = H.WAIT  # ceiling for a buffered line to appear; a hang reaches it
EXTRACT = "/ocr.OCRService/ExtractText"
# A version 4 UUID in base64url without padding (22 characters).
GEN_ID = r"[A-Za-z0-9_-]{22}"


def uuid_of(gen_id):
    import base64
    import uuid
    return uuid.UUID(bytes=base64.urlsafe_b64decode(gen_id + "=="))

work = None
png = None


def setUpModule():
    global work, png
    work = H.tempdir("ocrpc-alog-")
    png = H.render_line(os.path.join(work, "line.png"), "Access log line")


def wait_for(srv, pred, what):
    """Polls the server's stderr lines until pred(line) holds for one;
    returns that line."""
    end = time.monotonic() + WAIT
    while True:
        for line in srv.stderr_text().splitlines():
            if pred(line):
                return line
        if time.monotonic() > end or not srv.alive():
            raise AssertionError("no log line for %s within %ss; stderr:\n%s"
                                 % (what, WAIT, srv.stderr_text()[-4000:]))
        time.sleep(0.02)


def fields(line):
    """A text access line's key=value pairs (values bare or JSON-quoted)."""
    out = {}
    for m in re.finditer(r' (\w+)=("(?:[^"\\]|\\.)*"|\S+)', line):
        v = m.group(2)
        out[m.group(1)] = json.loads(v) if v.startswith('"') else v
    return out


def access_line(srv, request_id):
    line = wait_for(srv, lambda l: " access " in l and
                    ("request_id=%s" % request_id) in l, request_id)
    return line, fields(line)


class TextFormat(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = H.Server()
        cls.srv.start()
        cls.stub = S.ocr_grpc.OCRServiceStub(cls.srv.channel())
        with open(png, "rb") as f, open(cls.srv.path("line.png"), "wb") as g:
            g.write(f.read())

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def call(self, req, rid):
        md = [("x-request-id", rid)] if rid else None
        return self.stub.ExtractText.with_call(req, timeout=CALL_TIMEOUT, metadata=md)

    def test_success_line(self):
        req = ocr_pb2.OCRRequest(private_image_path="line.png", language="english")
        resp, call = self.call(req, "alog-ok-1")
        self.assertEqual(resp.status, S.common.STATUS_SUCCESS, str(resp))
        line, f = access_line(self.srv, "alog-ok-1")
        self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info  access ")
        self.assertRegex(f["peer"], r"^127\.0\.0\.1:\d+$")
        self.assertEqual(f["protocol"], "grpc")
        self.assertEqual(f["method"], EXTRACT)
        self.assertEqual(f["status"], "OK")
        self.assertEqual(f["grpc_code"], "0")
        self.assertEqual(f["ocr_status"], "SUCCESS")
        self.assertEqual(f["details"], "-")
        md = dict(resp.metadata.data)
        # The same milliseconds the response's metadata carries.
        self.assertEqual(f["queue_ms"], md["queue_ms"])
        self.assertEqual(f["ocr_ms"], md["ocr_ms"])
        self.assertGreater(float(f["ocr_ms"]), 0)
        self.assertEqual(int(f["bytes_in"]), 5 + req.ByteSize(), "framed request")
        if resp.ByteSize() + 5 < 1024:  # not gzip-compressed
            self.assertEqual(int(f["bytes_out"]), 5 + resp.ByteSize(), line)
        self.assertGreaterEqual(float(f["duration_ms"]), float(f["ocr_ms"]))
        self.assertNotIn("message", f)
        self.assertIn(("x-request-id", "alog-ok-1"), call.initial_metadata())

    def test_in_band_failures_at_warn(self):
        req = ocr_pb2.OCRRequest(private_image_path="missing.png", language="english")
        resp, _ = self.call(req, "alog-nf-1")
        self.assertEqual(resp.error.details, "NOT_FOUND")
        line, f = access_line(self.srv, "alog-nf-1")
        self.assertRegex(line, r"Z warn  access ")
        self.assertEqual((f["status"], f["ocr_status"], f["details"]),
                         ("OK", "FAILURE", "NOT_FOUND"))
        resp, _ = self.call(ocr_pb2.OCRRequest(image_data=b"not an image"), "alog-dec-1")
        self.assertEqual(resp.error.details, "DECODE_ERROR")
        line, f = access_line(self.srv, "alog-dec-1")
        self.assertRegex(line, r"Z warn  access ")
        self.assertEqual((f["ocr_status"], f["details"]), ("FAILURE", "DECODE_ERROR"))
        self.assertEqual(int(f["bytes_in"]), 5 + len(ocr_pb2.OCRRequest(
            image_data=b"not an image").SerializeToString()))

    def test_grpc_errors_at_warn_with_message(self):
        ch = self.srv.channel()
        unknown = ch.unary_unary("/ocr.OCRService/NoSuchMethod")
        with self.assertRaises(grpc.RpcError) as cm:
            unknown(b"", timeout=CALL_TIMEOUT, metadata=[("x-request-id", "alog-unimpl")])
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        line, f = access_line(self.srv, "alog-unimpl")
        self.assertRegex(line, r"Z warn  access ")
        self.assertEqual((f["status"], f["grpc_code"]), ("UNIMPLEMENTED", "12"))
        self.assertEqual(f["method"], "unknown")
        self.assertIn("NoSuchMethod", f["message"])
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.GetBatchStatus(ocr_pb2.BatchStatusRequest(batch_id="nope"),
                                     timeout=CALL_TIMEOUT,
                                     metadata=[("x-request-id", "alog-status-nf")])
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        line, f = access_line(self.srv, "alog-status-nf")
        self.assertEqual((f["method"], f["status"]),
                         ("/ocr.OCRService/GetBatchStatus", "NOT_FOUND"))
        self.assertEqual(f["ocr_status"], "-")
        self.assertEqual((f["queue_ms"], f["ocr_ms"]), ("-", "-"))
        self.assertIn("no such batch", f["message"])

    def test_generated_request_id_is_echoed_and_logged(self):
        req = ocr_pb2.OCRRequest(private_image_path="missing-gen.png")
        _, call = self.stub.ExtractText.with_call(req, timeout=CALL_TIMEOUT)
        ids = [v for k, v in call.initial_metadata() if k == "x-request-id"]
        self.assertEqual(len(ids), 1, call.initial_metadata())
        self.assertRegex(ids[0], "^%s$" % GEN_ID)
        u = uuid_of(ids[0])
        self.assertEqual((u.version, u.variant), (4, "specified in RFC 4122"))
        _, f = access_line(self.srv, ids[0])
        self.assertEqual(f["details"], "NOT_FOUND")


class Rest(unittest.TestCase):
    """REST calls get the same line: protocol http, method and route, the
    HTTP status, the in-band outcome of /ocr/extract."""

    @classmethod
    def setUpClass(cls):
        cls.srv = H.Server()
        cls.srv.start()
        with open(png, "rb") as f, open(cls.srv.path("line.png"), "wb") as g:
            g.write(f.read())
        cls.base = cls.srv.http_base()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def post(self, body, rid=None):
        import urllib.error
        import urllib.request
        req = urllib.request.Request(self.base + "/ocr/extract", data=body, method="POST")
        req.add_header("Content-Type", "application/json")
        if rid:
            req.add_header("x-request-id", rid)
        try:
            with urllib.request.urlopen(req, timeout=CALL_TIMEOUT) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def test_success_and_failures(self):
        body = json.dumps({"private_image_path": "line.png",
                           "language": "english"}).encode()
        st, hd, out = self.post(body, "rest-ok-1")
        self.assertEqual(st, 200, out)
        self.assertEqual(hd["x-request-id"], "rest-ok-1")
        md = json.loads(out)["metadata"]
        line, f = access_line(self.srv, "rest-ok-1")
        self.assertRegex(line, r"Z info  access ")
        self.assertEqual((f["protocol"], f["method"], f["route"], f["status"]),
                         ("http", "POST", "/ocr/extract", "200"))
        self.assertRegex(f["peer"], r"^127\.0\.0\.1:\d+$")
        self.assertEqual((f["ocr_status"], f["details"]), ("SUCCESS", "-"))
        self.assertEqual((f["queue_ms"], f["ocr_ms"]), (md["queue_ms"], md["ocr_ms"]))
        self.assertEqual(int(f["bytes_in"]), len(body))
        self.assertEqual(int(f["bytes_out"]), len(out))
        self.assertNotIn("grpc_code", f)

        body = json.dumps({"private_image_path": "missing.png"}).encode()
        st, _, out = self.post(body, "rest-nf-1")
        self.assertEqual(st, 404, out)
        line, f = access_line(self.srv, "rest-nf-1")
        self.assertRegex(line, r"Z warn  access ")
        self.assertEqual((f["status"], f["ocr_status"], f["details"]),
                         ("404", "FAILURE", "NOT_FOUND"))

        st, _, out = self.post(b"{not json", "rest-bad-1")
        self.assertEqual(st, 400, out)
        line, f = access_line(self.srv, "rest-bad-1")
        self.assertRegex(line, r"Z warn  access ")
        self.assertEqual((f["status"], f["ocr_status"], f["details"]),
                         ("400", "FAILURE", "INVALID_JSON"))

    def test_unknown_route_and_generated_id(self):
        import urllib.error
        import urllib.request
        try:
            urllib.request.urlopen(self.base + "/no/such/thing", timeout=CALL_TIMEOUT)
            self.fail("an unknown path answered 2xx")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 404)
            rid = e.headers["x-request-id"]
        self.assertRegex(rid, "^%s$" % GEN_ID)
        line, f = access_line(self.srv, rid)
        self.assertEqual((f["method"], f["route"], f["status"]), ("GET", "unknown", "404"))
        self.assertRegex(line, r"Z warn  access ")


class JsonFormat(unittest.TestCase):
    def test_every_line_is_json(self):
        srv = H.Server("--log-format", "json")
        srv.start()
        try:
            stub = S.ocr_grpc.OCRServiceStub(srv.channel())
            resp = stub.ExtractText(ocr_pb2.OCRRequest(private_image_path="none.png"),
                                    timeout=CALL_TIMEOUT,
                                    metadata=[("x-request-id", 'json "quoted" id')])
            self.assertEqual(resp.error.details, "NOT_FOUND")
            wait_for(srv, lambda l: '"msg":"access"' in l, "the JSON access line")
        finally:
            srv.stop()
        objs = [json.loads(l) for l in srv.stderr_text().splitlines() if l.strip()]
        self.assertTrue(any(o.get("msg", "").startswith("listening on") for o in objs))
        acc = [o for o in objs if o.get("msg") == "access"]
        self.assertEqual(len(acc), 1, objs)
        a = acc[0]
        self.assertRegex(a["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(a["level"], "warn")
        self.assertEqual(a["protocol"], "grpc")
        self.assertEqual(a["method"], EXTRACT)
        self.assertEqual(a["status"], "OK")
        self.assertEqual(a["grpc_code"], 0)
        self.assertEqual(a["ocr_status"], "FAILURE")
        self.assertEqual(a["details"], "NOT_FOUND")
        self.assertEqual(a["request_id"], 'json "quoted" id')
        self.assertIsInstance(a["queue_ms"], float)
        self.assertIsInstance(a["bytes_in"], int)
        self.assertIsInstance(a["duration_ms"], float)
        for o in objs:
            self.assertIn(o["level"], ("debug", "info", "warn", "error"), o)


class Off(unittest.TestCase):
    def test_no_line_and_no_generated_id(self):
        srv = H.Server("--access-log", "off")
        srv.start()
        try:
            stub = S.ocr_grpc.OCRServiceStub(srv.channel())
            for _ in range(3):
                _, call = stub.ExtractText.with_call(
                    ocr_pb2.OCRRequest(private_image_path="none.png"), timeout=CALL_TIMEOUT)
                self.assertNotIn("x-request-id", dict(call.initial_metadata()))
        finally:
            srv.stop()  # flushes whatever was buffered before exiting
        self.assertNotIn(" access ", srv.stderr_text())


if __name__ == "__main__":
    unittest.main()
