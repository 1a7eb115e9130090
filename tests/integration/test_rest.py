# SPDX-License-Identifier: MIT
"""The legacy REST endpoint (dual mode) against the real ocrpc-server: the
guide's own OCRStage._execute_http code path with httpx (Debian
python3-httpx) on both ports, the same text and boxes as the gRPC answer
for the same rendered image, every failure row of the README's status
table, a raw image body, the gRPC port serving HTTP/1.1 and gRPC at once,
the batch status route, health and readiness (also while draining), and
HTTP/1.1 edge cases over raw sockets, each followed by a normal call."""

import asyncio
import base64
import json
import os
import signal
import socket
import threading
import time
import unittest

import grpc
import httpx

import harness as H

S = H.load_stubs("repo")
ocr_pb2, ocr_grpc = S.ocr, S.ocr_grpc

WAIT = 60  # seconds: a ceiling only a hang reaches
HEADER_TIMEOUT_MS = 700
MAX_BODY = 4 * 1024 * 1024
EN = ("en.png", "Invoice number 4711")

server = None


def setUpModule():
    global server
    server = H.Server("--max-pixels", "1500000", "--language", "english",
                      "--http-header-timeout-ms", str(HEADER_TIMEOUT_MS),
                      "--max-message-bytes", str(MAX_BODY))
    server.start()
    unittest.addModuleCleanup(server.stop)
    root = server.image_root
    H.render_line(os.path.join(root, EN[0]), EN[1])
    with open(os.path.join(root, "notimage.png"), "wb") as f:
        f.write(b"plain text, not an image\n" * 20)
    H.render_line(os.path.join(root, "huge.png"), "Too many pixels",
                  width=2000, height=1000)


class PipelineContext:
    """The fields of the guide's context that _execute_http reads/writes."""

    def __init__(self, public_file_path, input_file_path):
        self.public_file_path = public_file_path
        self.input_file_path = input_file_path
        self.ocr_result = None


class OCRResult:
    def __init__(self, text, confidence, bbox, metadata):
        self.text, self.confidence = text, confidence
        self.bbox, self.metadata = bbox, metadata


class OCRStage:
    """The guide's OCRStage._execute_http, unchanged but for the class
    plumbing (ml_server_url is MODEL_SERVER_URL)."""

    def __init__(self, ml_server_url):
        self.ml_server_url = ml_server_url

    async def _execute_http(self, context):
        async with httpx.AsyncClient(timeout=300.0) as client:
            response = await client.post(
                f"{self.ml_server_url}/ocr/extract",
                json={
                    "public_image_path": context.public_file_path,
                    "private_image_path": context.input_file_path,
                },
            )
            response.raise_for_status()
        ocr_data = response.json()
        context.ocr_result = OCRResult(
            text=ocr_data.get("text", ""),
            confidence=ocr_data.get("confidence", 0.0),
            bbox=ocr_data.get("text_boxes"),
            metadata=ocr_data.get("metadata", {}),
        )
        return context


def grpc_extract(**kw):
    stub = ocr_grpc.OCRServiceStub(server.channel())
    return stub.ExtractText(ocr_pb2.OCRRequest(**kw), timeout=WAIT)


def grpc_port_base():
    return "http://%s" % server.address


def post(base, body=None, **kw):
    with httpx.Client(timeout=WAIT) as c:
        return c.post(base + "/ocr/extract", json=body, **kw)


class GuideWorker(unittest.TestCase):
    def check_same_as_grpc(self, ctx):
        g = grpc_extract(private_image_path=EN[0])
        r = ctx.ocr_result
        self.assertEqual(r.text, g.text)
        self.assertEqual(H.norm_text(r.text), EN[1])
        self.assertAlmostEqual(r.confidence, g.overall_confidence, places=5)
        self.assertEqual(len(r.bbox), len(g.text_boxes))
        for jb, gb in zip(r.bbox, g.text_boxes):
            self.assertEqual(jb["text"], gb.text)
            self.assertAlmostEqual(jb["confidence"], gb.confidence, places=5)
            self.assertEqual(len(jb["bbox"]), 8)
            for a, b in zip(jb["bbox"], gb.bbox.coordinates):
                self.assertAlmostEqual(a, b, places=3)
        for k in ("engine", "engine_version", "language", "image_width",
                  "image_height", "rotation"):
            self.assertEqual(r.metadata[k], g.metadata.data[k], k)

    def test_execute_http_on_the_http_port(self):
        ctx = asyncio.run(OCRStage(server.http_base())._execute_http(
            PipelineContext(EN[0], EN[0])))
        self.check_same_as_grpc(ctx)

    def test_execute_http_on_the_grpc_port(self):
        ctx = asyncio.run(OCRStage(grpc_port_base())._execute_http(
            PipelineContext(EN[0], EN[0])))
        self.check_same_as_grpc(ctx)

    def test_answer_shape(self):
        r = post(server.http_base(), {"private_image_path": EN[0]})
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.headers["content-type"], "application/json")
        j = r.json()
        self.assertEqual(j["status"], "success")
        self.assertEqual(set(j), {"status", "text", "confidence", "text_boxes",
                                  "metadata"})

    def test_raw_image_body_with_query_settings(self):
        data = H.read_bytes(server.path(EN[0]))
        with httpx.Client(timeout=WAIT) as c:
            r = c.post(server.http_base() + "/ocr/extract?language=eng&"
                       "confidence_threshold=0.3", content=data,
                       headers={"content-type": "image/png"})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(H.norm_text(r.json()["text"]), EN[1])
        self.assertEqual(r.json()["metadata"]["language"], "eng")

    def test_image_base64_in_json(self):
        data = base64.b64encode(H.read_bytes(server.path(EN[0]))).decode()
        r = post(server.http_base(), {"image_base64": data,
                                      "language": "english"})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(H.norm_text(r.json()["text"]), EN[1])

    def test_grpc_port_serves_http1_and_grpc_at_once(self):
        errors = []

        def rest_calls():
            try:
                with httpx.Client(timeout=WAIT) as c:
                    for _ in range(3):
                        r = c.post(grpc_port_base() + "/ocr/extract",
                                   json={"private_image_path": EN[0]})
                        assert r.status_code == 200, r.text
                        assert H.norm_text(r.json()["text"]) == EN[1]
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=rest_calls) for _ in range(2)]
        for t in threads:
            t.start()
        stub = ocr_grpc.OCRServiceStub(server.channel())
        futures = [stub.ExtractText.future(
            ocr_pb2.OCRRequest(private_image_path=EN[0]), timeout=WAIT)
            for _ in range(4)]
        for f in futures:
            self.assertEqual(H.norm_text(f.result().text), EN[1])
        for t in threads:
            t.join(WAIT)
            self.assertFalse(t.is_alive())
        self.assertEqual(errors, [])


class FailureRows(unittest.TestCase):
    def expect(self, body, status, details, **kw):
        r = post(server.http_base(), body, **kw)
        self.assertEqual(r.status_code, status, r.text)
        d = r.json()["detail"]
        self.assertEqual(d["details"], details, d)
        self.assertIn("message", d)
        with self.assertRaises(httpx.HTTPStatusError):
            r.raise_for_status()  # what the guide's worker does
        return d

    def test_not_found_404(self):
        d = self.expect({"private_image_path": "missing.png"}, 404, "NOT_FOUND")
        self.assertEqual(d["code"], "OCR_ERROR")

    def test_forbidden_path_403(self):
        self.expect({"private_image_path": "../../etc/passwd"}, 403,
                    "FORBIDDEN_PATH")

    def test_decode_error_422(self):
        self.expect({"private_image_path": "notimage.png"}, 422, "DECODE_ERROR")

    def test_unsupported_language_422(self):
        self.expect({"private_image_path": EN[0], "language": "klingon"}, 422,
                    "UNSUPPORTED_LANGUAGE")

    def test_invalid_argument_422(self):
        self.expect({}, 422, "INVALID_ARGUMENT")
        self.expect({"private_image_path": 7}, 422, "INVALID_ARGUMENT")
        self.expect({"private_image_path": EN[0], "confidence_threshold": "x"},
                    422, "INVALID_ARGUMENT")
        self.expect([1, 2], 422, "INVALID_ARGUMENT")

    def test_out_of_range_psm_422_names_the_field(self):
        # Read as the gRPC front door reads it: refused, never ignored.
        for psm in ("99", "six", 0, 2.5):
            d = self.expect({"private_image_path": EN[0],
                             "options": {"psm": psm}}, 422, "INVALID_ARGUMENT")
            self.assertIn("options.psm", d["message"])

    def test_too_large_413(self):
        self.expect({"private_image_path": "huge.png"}, 413, "TOO_LARGE")

    def test_invalid_json_400_names_the_position(self):
        r = post(server.http_base(), None, content=b'{"private_image_path": ',
                 headers={"content-type": "application/json"})
        self.assertEqual(r.status_code, 400)
        d = r.json()["detail"]
        self.assertEqual(d["details"], "INVALID_JSON")
        self.assertIn("at byte", d["message"])

    def test_wrong_method_405_with_allow(self):
        with httpx.Client(timeout=WAIT) as c:
            r = c.get(server.http_base() + "/ocr/extract")
            self.assertEqual(r.status_code, 405)
            self.assertEqual(r.headers["allow"], "POST")
            r = c.post(server.http_base() + "/healthz")
            self.assertEqual(r.status_code, 405)
            self.assertEqual(r.headers["allow"], "GET")

    def test_unknown_path_404(self):
        with httpx.Client(timeout=WAIT) as c:
            r = c.get(server.http_base() + "/nope")
        self.assertEqual(r.status_code, 404)
        self.assertEqual(r.json(), {"detail": "Not Found"})

    def test_unsupported_media_type_415(self):
        r = post(server.http_base(), None, content=b"x",
                 headers={"content-type": "text/plain"})
        self.assertEqual(r.status_code, 415)


class HealthAndBatches(unittest.TestCase):
    def test_health_endpoints(self):
        with httpx.Client(timeout=WAIT) as c:
            for path, status in (("/healthy", "healthy"), ("/healthz", "ok"),
                                 ("/readyz", "ready")):
                r = c.get(server.http_base() + path)
                self.assertEqual(r.status_code, 200, path)
                self.assertEqual(r.json()["status"], status)

    def test_batch_status_as_json(self):
        stub = ocr_grpc.OCRServiceStub(server.channel())
        req = ocr_pb2.OCRBatchRequest(batch_id="rest-batch-1", image_paths=[
            ocr_pb2.ImagePath(private_path=EN[0]),
            ocr_pb2.ImagePath(private_path="missing.png")])
        self.assertEqual(len(list(stub.ExtractTextBatch(req, timeout=WAIT))), 2)
        with httpx.Client(timeout=WAIT) as c:
            r = c.get(server.http_base() + "/v1/batches/rest-batch-1")
            self.assertEqual(r.status_code, 200, r.text)
            j = r.json()
            self.assertEqual(j["batch_id"], "rest-batch-1")
            self.assertEqual(j["state"], "SUCCESS")
            self.assertEqual((j["total_images"], j["processed_images"],
                              j["failed_images"]), (2, 2, 1))
            by = {x["index"]: x for x in j["results"]}
            self.assertEqual(H.norm_text(by[0]["text"]), EN[1])
            self.assertEqual(by[1]["error"]["details"], "NOT_FOUND")
            r = c.get(server.http_base() + "/v1/batches/no-such-batch")
            self.assertEqual(r.status_code, 404)


# ---- raw sockets --------------------------------------------------------

def connect(port=None):
    s = socket.create_connection(("127.0.0.1", port or server.http_port),
                                 timeout=WAIT)
    return s


def read_until_closed(s):
    out = b""
    while True:
        try:
            b = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            break
        if not b:
            break
        out += b
    return out


def read_response(s, buf=b""):
    """One response (head, body) from s; returns (status, headers, body,
    rest of buf)."""
    while b"\r\n\r\n" not in buf:
        b = s.recv(65536)
        if not b:
            raise AssertionError("closed before a response: %r" % buf)
        buf += b
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = dict((k.lower(), v.strip()) for k, v in
                (l.split(":", 1) for l in lines[1:]))
    n = int(hdrs.get("content-length", "0"))
    while len(buf) < n:
        b = s.recv(65536)
        if not b:
            raise AssertionError("closed inside a body")
        buf += b
    return status, hdrs, buf[:n], buf[n:]


class RawHTTP1(unittest.TestCase):
    def tearDown(self):
        # After every edge case a normal call still succeeds.
        r = post(server.http_base(), {"private_image_path": EN[0]})
        self.assertEqual(r.status_code, 200, r.text)

    def test_pipelined_requests_answered_in_order(self):
        s = connect()
        body = json.dumps({"private_image_path": EN[0]}).encode()
        s.sendall(b"GET /healthz HTTP/1.1\r\n\r\n"
                  b"POST /ocr/extract HTTP/1.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s"
                  b"GET /nope HTTP/1.1\r\n\r\n"
                  b"GET /healthy HTTP/1.1\r\nConnection: close\r\n\r\n"
                  % (len(body), body))
        rest = b""
        statuses = []
        for _ in range(4):
            st, h, b, rest = read_response(s, rest)
            statuses.append(st)
            if len(statuses) == 2:
                self.assertEqual(H.norm_text(json.loads(b)["text"]), EN[1])
        self.assertEqual(statuses, [200, 200, 404, 200])
        self.assertEqual(read_until_closed(s), b"")
        s.close()

    def test_chunked_body(self):
        s = connect(server.port)  # the gRPC port, sniffed as HTTP/1.1
        body = json.dumps({"private_image_path": EN[0]}).encode()
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7])
                          for i in range(0, len(body), 7))
        s.sendall(b"POST /ocr/extract HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                  b"Content-Type: application/json\r\n\r\n" + chunks + b"0\r\n\r\n")
        st, _, b, _ = read_response(s)
        self.assertEqual(st, 200, b)
        self.assertEqual(H.norm_text(json.loads(b)["text"]), EN[1])
        s.close()

    def test_expect_100_continue(self):
        s = connect()
        data = H.read_bytes(server.path(EN[0]))
        s.sendall(b"POST /ocr/extract HTTP/1.1\r\nContent-Type: image/png\r\n"
                  b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(data))
        st, _, _, rest = read_response(s)
        self.assertEqual(st, 100)
        s.sendall(data)
        st, _, b, _ = read_response(s, rest)
        self.assertEqual(st, 200, b)
        s.close()

    def test_http10_without_keep_alive_closes(self):
        s = connect()
        s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        out = read_until_closed(s)
        self.assertTrue(out.startswith(b"HTTP/1.1 200 OK\r\n"), out)
        s.close()

    def test_oversized_header_block_431(self):
        s = connect()
        s.sendall(b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
        out = read_until_closed(s)
        self.assertTrue(out.startswith(b"HTTP/1.1 431 "), out[:100])
        s.close()

    def test_oversized_body_refused_before_it_is_sent(self):
        s = connect()
        total = MAX_BODY + 1
        s.sendall(b"POST /ocr/extract HTTP/1.1\r\nContent-Type: image/png\r\n"
                  b"Content-Length: %d\r\n\r\n" % total)
        # Nothing of the body has been sent: the answer comes anyway.
        st, h, b, _ = read_response(s)
        self.assertEqual(st, 413)
        self.assertEqual(h.get("connection"), "close")
        self.assertEqual(read_until_closed(s), b"")
        s.close()

    def test_slowloris_closed_after_the_header_timeout(self):
        s = connect()
        req = b"GET /healthz HTTP/1.1\r\n" + b"X-Slow: " + b"s" * 400 + b"\r\n\r\n"
        sent = 0
        closed = False
        # One byte every 50 ms: the header timeout (700 ms) passes long
        # before the request is whole (about 21 s).
        for i in range(len(req)):
            try:
                s.sendall(req[i:i + 1])
                sent += 1
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            s.settimeout(0.05)
            try:
                if s.recv(1) == b"":
                    closed = True
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed = True
                break
        self.assertTrue(closed, "the server kept a byte-a-while client")
        self.assertLess(sent, len(req))
        s.close()

    def test_silent_client_closed_after_the_header_timeout(self):
        for port in (server.http_port, server.port):
            s = connect(port)
            s.sendall(b"GET /heal")
            self.assertEqual(read_until_closed(s), b"")
            s.close()

    def test_malformed_request_lines_400(self):
        for line in (b"GARBAGE\r\n\r\n", b"GET / HTTP/9.x\r\n\r\n",
                     b"GET\x00 / HTTP/1.1\r\n\r\n"):
            s = connect()
            s.sendall(line)
            out = read_until_closed(s)
            self.assertRegex(out[:12].decode("latin-1"), r"^HTTP/1\.1 (400|505)", line)
            s.close()

    def test_client_disconnects_mid_request(self):
        for port in (server.http_port, server.port):
            s = connect(port)
            s.sendall(b"POST /ocr/extract HTTP/1.1\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100\r\n\r\n{\"private_")
            s.close()
        # Disconnect while the recognition runs: its answer is dropped.
        s = connect()
        body = json.dumps({"private_image_path": EN[0]}).encode()
        s.sendall(b"POST /ocr/extract HTTP/1.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        s.close()


# ---- what the HTTP/1.1 layer refuses, and connections not yet sniffed ----

def scrape(client, base):
    """GET /metrics as {(name, frozenset(labels)): value}."""
    import re
    r = client.get(base + "/metrics")
    assert r.status_code == 200, r.text
    out = {}
    for line in r.text.splitlines():
        m = re.match(r'^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$', line)
        if not m:
            continue
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def metric(values, name, **labels):
    return values.get((name, frozenset(labels.items())), 0.0)


def access_lines(srv, *needles):
    return [l for l in srv.stderr_text().splitlines()
            if " access protocol=http " in l and all(n in l for n in needles)]


def wait_lines(srv, count, *needles):
    """Waits (ceiling only a hang reaches) until `count` access lines hold
    every needle; returns them."""
    end = time.monotonic() + WAIT
    while True:
        lines = access_lines(srv, *needles)
        if len(lines) >= count:
            return lines
        if time.monotonic() > end:
            raise AssertionError("no access line with %r; stderr:\n%s"
                                 % (needles, srv.stderr_text()[-3000:]))
        time.sleep(0.02)


class RefusedBeforeRouting(unittest.TestCase):
    """Requests h1 answers itself (400, 413, 431) are counted in
    http_requests_total and logged, under their route, or `unknown` when
    the request line was not read whole."""

    def refuse(self, raw, status, port=None):
        s = connect(port)
        s.sendall(raw)
        out = read_until_closed(s)
        s.close()
        self.assertTrue(out.startswith(b"HTTP/1.1 %d " % status), out[:100])

    def test_refused_requests_are_counted_and_logged(self):
        base = server.http_base()
        rid = "refused-%d" % os.getpid()
        cases = [  # (raw request, status, route, method, needle)
            (b"POST /ocr/extract HTTP/1.1\r\nContent-Type: image/png\r\n"
             b"X-Request-Id: " + rid.encode() + b"\r\n"
             b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1),
             413, "/ocr/extract", "POST", "request_id=" + rid),
            (b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
             431, "/healthz", "GET", "request_id=-"),
            (b"GARBAGE\r\n\r\n", 400, "unknown", "-", "request_id=-"),
        ]
        with httpx.Client(timeout=WAIT) as client:
            before = scrape(client, base)
            logged = {st: len(access_lines(server, "route=%s " % route,
                                           "status=%d " % st))
                      for _, st, route, _, _ in cases}
            for raw, st, _, _, _ in cases:
                self.refuse(raw, st)
            self.refuse(b"GARBAGE\r\n\r\n", 400, port=server.port)  # sniffed port
            after = scrape(client, base)
        for _, st, route, method, needle in cases:
            want = 2 if st == 400 else 1
            self.assertEqual(
                metric(after, "http_requests_total", route=route, code=str(st)) -
                metric(before, "http_requests_total", route=route, code=str(st)),
                want, (route, st))
            self.assertEqual(
                metric(after, "http_request_duration_seconds_count", route=route) -
                metric(before, "http_request_duration_seconds_count", route=route),
                want, route)
            lines = wait_lines(server, logged[st] + want, "route=%s " % route,
                               "status=%d " % st)
            last = lines[-1]
            self.assertIn(" warn ", last)
            self.assertIn(" method=%s " % method, last)
            self.assertIn(needle, last)


class ConnectionsNotYetSniffed(unittest.TestCase):
    """ocrpc_connections_open counts a connection to the gRPC port whose
    first bytes have not come as protocol="unknown", then moves it to
    http1 or http2."""

    def test_unknown_until_the_first_bytes(self):
        # A header timeout only a hang reaches: the sockets stay undecided
        # for as long as the test needs.
        srv = H.Server("--http-header-timeout-ms", "600000", engine="mock")
        srv.start()
        socks = []
        try:
            base = srv.http_base()
            with httpx.Client(timeout=WAIT) as client:
                def conns():
                    v = scrape(client, base)
                    return {p: metric(v, "ocrpc_connections_open", protocol=p)
                            for p in ("unknown", "http1", "http2")}

                start = conns()  # the scraper's own connection: http1
                self.assertEqual(start, {"unknown": 0, "http1": 1, "http2": 0})
                a = socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT)
                b = socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT)
                socks += [a, b]
                b.sendall(b"PRI * HTTP/2")  # a prefix of the preface: undecided
                end = time.monotonic() + WAIT
                while conns()["unknown"] != 2:  # accepted in the loop's time
                    self.assertLess(time.monotonic(), end, conns())
                    time.sleep(0.02)
                self.assertEqual(conns(), {"unknown": 2, "http1": 1, "http2": 0})
                a.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
                st, _, _, _ = read_response(a)
                self.assertEqual(st, 200)
                # The rest of the preface and an empty SETTINGS frame.
                b.sendall(b".0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
                end = time.monotonic() + WAIT
                while conns() != {"unknown": 0, "http1": 2, "http2": 1}:
                    self.assertLess(time.monotonic(), end, conns())
                    time.sleep(0.02)
        finally:
            for s in socks:
                s.close()
            srv.stop()


class Draining(unittest.TestCase):
    """A request under way when SIGTERM comes is still answered: /readyz
    with 503 naming the drain, new work with 503 and Retry-After."""

    def test_readyz_and_extract_while_draining(self):
        srv = H.Server(engine="mock", workers=1)
        srv.start()
        try:
            base = srv.http_base()
            with httpx.Client(timeout=WAIT) as c:
                self.assertEqual(c.get(base + "/readyz").status_code, 200)
            a = connect(srv.http_port)
            b = connect(srv.http_port)
            a.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n")
            body = b'{"private_image_path": "x.png"}'
            b.sendall(b"POST /ocr/extract HTTP/1.1\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body))
            # Both requests are under way (the server has read their
            # first bytes) before the signal: wait for the server to have
            # them by asking on a third connection until it answers.
            with httpx.Client(timeout=WAIT) as c:
                c.get(base + "/healthz")
            srv.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + WAIT
            while "draining" not in srv.stderr_text():
                self.assertLess(time.monotonic(), deadline, "no drain logged")
                time.sleep(0.01)
            a.sendall(b"\r\n")
            st, h, out, _ = read_response(a)
            self.assertEqual(st, 503, out)
            self.assertIn("draining", json.loads(out)["reasons"][0])
            self.assertEqual(h.get("connection"), "close")
            b.sendall(body)
            st, h, out, _ = read_response(b)
            self.assertEqual(st, 503, out)
            self.assertEqual(h.get("retry-after"), "1")
            self.assertEqual(json.loads(out)["detail"]["details"], "UNAVAILABLE")
            a.close()
            b.close()
            self.assertEqual(srv.proc.wait(WAIT), 0)
        finally:
            if srv.proc is not None and srv.proc.poll() is None:
                srv.proc.kill()
            srv._cleanup()
            srv.proc = None


class Ports(unittest.TestCase):
    def test_http_port_off(self):
        srv = H.Server("--http-port", "off", engine="mock")
        srv.start()
        try:
            self.assertNotIn("REST over HTTP/1.1", srv.stderr_text())
            # The gRPC port still answers HTTP/1.1.
            with httpx.Client(timeout=WAIT) as c:
                r = c.get("http://%s/healthy" % srv.address)
            self.assertEqual(r.status_code, 200)
        finally:
            srv.stop()

    def test_bad_http_port_is_an_error(self):
        import subprocess
        r = subprocess.run([H.server_binary(), "--http-port", "eighty"],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--http-port", r.stderr)


if __name__ == "__main__":
    unittest.main()
