# SPDX-License-Identifier: MIT
"""GET /metrics against real Prometheus tools:

- the live server's exposition (after gRPC and REST calls of every kind)
  passes `promtool check metrics` (Debian's prometheus package), and
  carries HELP and TYPE for every family the README lists;
- a real Prometheus server, started here on a free loopback port with its
  own configuration and data directory, scrapes ocrpc every second; the
  test reads grpc_requests_total and http_requests_total back through
  Prometheus' HTTP query API and finds exactly the calls it made. It waits
  for a scrape by polling the API with a generous ceiling (a hang reaches
  it, a slow machine does not), never by sleeping a fixed time.

The server runs the mock engine: what is measured here is the layer above
OCR (counters, labels, the text format, the scrape), and the answers do not
depend on Tesseract."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import grpc

import harness as H

S = H.load_stubs("repo")
ocr_pb2 = S.ocr

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
CALL_TIMEOUT = 300  # a ceiling only a hang reaches (loaded machine, ASan tree)
WAIT = 120  # ceiling for Prometheus to start and scrape

# Families README.md documents; each must have HELP and TYPE.
FAMILIES = {
    "grpc_requests_total": "counter",
    "grpc_request_duration_seconds": "histogram",
    "http_requests_total": "counter",
    "http_request_duration_seconds": "histogram",
    "ocr_images_total": "counter",
    "ocr_recognition_seconds": "histogram",
    "ocr_queue_wait_seconds": "histogram",
    "ocr_queue_depth": "gauge",
    "ocr_workers_busy": "gauge",
    "ocr_result_cache_hits_total": "counter",
    "ocr_result_cache_misses_total": "counter",
    "ocr_batches_in_flight": "gauge",
    "ocrpc_connections_open": "gauge",
    "ocrpc_job_store_connected": "gauge",
    "process_cpu_seconds_total": "counter",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_resident_memory_bytes": "gauge",
    "process_start_time_seconds": "gauge",
}

# The calls this test makes, and what the counters must say afterwards.
N_EXTRACT_OK = 7        # gRPC ExtractText, OK
N_STATUS_NOT_FOUND = 3  # gRPC GetBatchStatus of an unknown batch: NOT_FOUND
N_UNIMPLEMENTED = 2     # gRPC unknown method
N_REST_OK = 5           # POST /ocr/extract, 200
N_REST_404 = 4          # GET of an unknown path
N_REST_HEALTHZ = 6      # GET /healthz




def http(method, url, body=None, ctype=None):
    req = urllib.request.Request(url, data=body, method=method)
    if ctype:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=CALL_TIMEOUT) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class Prometheus:
    """A real Prometheus server scraping one target every second."""

    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="ocrpc-prom-")
        self.target = target
        self.proc = None
        self.port = None
        self.log = None

    def start(self):
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: ocrpc\n    static_configs:\n"
                    "      - targets: ['%s']\n" % self.target)
        # Prometheus cannot report a port it picked itself: ask the OS for
        # a free one, and take another if it was taken in between.
        for _ in range(5):
            self.port = H.free_port()
            self.log = open(os.path.join(self.dir, "prometheus.log"), "w+")
            self.proc = subprocess.Popen(
                [PROMETHEUS, "--config.file=" + cfg,
                 "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                 "--web.listen-address=127.0.0.1:%d" % self.port,
                 "--log.level=warn"],
                stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
            if self._wait_ready():
                return self
            self.stop()
        raise AssertionError("prometheus did not start:\n" + self.log_text())

    def _wait_ready(self):
        end = time.monotonic() + WAIT
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False  # e.g. the port was taken: try another
            try:
                st, _, _ = http("GET", "http://127.0.0.1:%d/-/ready" % self.port)
                if st == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def log_text(self):
        if not self.log:
            return ""
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-5000:]

    def query(self, promql):
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            self.port, urllib.parse.urlencode({"query": promql}))
        st, _, body = http("GET", url)
        if st != 200:
            raise AssertionError("query %s: HTTP %d %s" % (promql, st, body[:500]))
        j = json.loads(body)
        return {tuple(sorted(r["metric"].items())): float(r["value"][1])
                for r in j["data"]["result"]}

    def wait_value(self, promql, want):
        """Polls until the query's single value equals want; returns it."""
        end = time.monotonic() + WAIT
        got = None
        while time.monotonic() < end:
            res = self.query(promql)
            got = list(res.values())
            if got == [want]:
                return
            time.sleep(0.2)
        raise AssertionError("%s: Prometheus says %s, expected [%s]\nprometheus log:\n%s"
                             % (promql, got, want, self.log_text()))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        if self.log:
            self.log.close()
            self.log = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = H.Server(engine="mock")  # the harness adds --http-port 0
        cls.srv.start()
        cls.base = cls.srv.http_base()
        cls.http_port = cls.srv.http_port
        cls.make_calls()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    @classmethod
    def make_calls(cls):
        stub = S.ocr_grpc.OCRServiceStub(cls.srv.channel())
        for _ in range(N_EXTRACT_OK):
            r = stub.ExtractText(ocr_pb2.OCRRequest(private_image_path="a.png"),
                                 timeout=CALL_TIMEOUT)
            assert r.status == S.common.STATUS_SUCCESS, r
        for _ in range(N_STATUS_NOT_FOUND):
            try:
                stub.GetBatchStatus(ocr_pb2.BatchStatusRequest(batch_id="nope"),
                                    timeout=CALL_TIMEOUT)
                raise AssertionError("GetBatchStatus of an unknown id succeeded")
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.NOT_FOUND, e
        unknown = cls.srv.channel().unary_unary("/ocr.OCRService/NoSuchMethod")
        for _ in range(N_UNIMPLEMENTED):
            try:
                unknown(b"", timeout=CALL_TIMEOUT)
                raise AssertionError("an unknown method succeeded")
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.UNIMPLEMENTED, e
        body = json.dumps({"private_image_path": "a.png",
                           "public_image_path": "a.png"}).encode()
        for _ in range(N_REST_OK):
            st, _, b = http("POST", cls.base + "/ocr/extract", body, "application/json")
            assert st == 200, (st, b)
        for i in range(N_REST_404):
            st, _, _ = http("GET", cls.base + "/no/such/path/%d" % i)
            assert st == 404, st
        for _ in range(N_REST_HEALTHZ):
            st, _, _ = http("GET", cls.base + "/healthz")
            assert st == 200, st

    def test_exposition_passes_promtool(self):
        st, headers, body = http("GET", self.base + "/metrics")
        self.assertEqual(st, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"),
                        headers["Content-Type"])
        text = body.decode()
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=body,
                           capture_output=True)
        self.assertEqual(r.returncode, 0, "promtool: %s%s\n%s" % (
            r.stdout.decode(), r.stderr.decode(), text[:3000]))
        for name, kind in FAMILIES.items():
            self.assertRegex(text, r"(?m)^# HELP %s \S" % name)
            self.assertRegex(text, r"(?m)^# TYPE %s %s$" % (name, kind))
        self.assertIn('grpc_requests_total{method="/ocr.OCRService/ExtractText",'
                      'status="OK"} %d\n' % N_EXTRACT_OK, text)
        self.assertIn('http_requests_total{route="/healthz",code="200"} %d\n'
                      % N_REST_HEALTHZ, text)
        # The gRPC port answers HTTP/1.1 too: the same registry there.
        st, _, body2 = http("GET", "http://%s/metrics" % self.srv.address)
        self.assertEqual(st, 200)
        self.assertIn(b"grpc_requests_total", body2)

    def test_prometheus_scrapes_the_calls_made(self):
        prom = Prometheus("127.0.0.1:%d" % self.http_port)
        try:
            prom.start()
            prom.wait_value('up{job="ocrpc"}', 1.0)
            g = 'grpc_requests_total{job="ocrpc",method="%s",status="%s"}'
            prom.wait_value(g % ("/ocr.OCRService/ExtractText", "OK"), N_EXTRACT_OK)
            prom.wait_value(g % ("/ocr.OCRService/GetBatchStatus", "NOT_FOUND"),
                            N_STATUS_NOT_FOUND)
            prom.wait_value(g % ("unknown", "UNIMPLEMENTED"), N_UNIMPLEMENTED)
            h = 'http_requests_total{job="ocrpc",route="%s",code="%s"}'
            prom.wait_value(h % ("/ocr/extract", "200"), N_REST_OK)
            prom.wait_value(h % ("unknown", "404"), N_REST_404)
            prom.wait_value(h % ("/healthz", "200"), N_REST_HEALTHZ)
            prom.wait_value('sum(ocr_images_total{job="ocrpc",result="success"})',
                            N_EXTRACT_OK + N_REST_OK)
            prom.wait_value('grpc_request_duration_seconds_count{job="ocrpc",'
                            'method="/ocr.OCRService/ExtractText"}', N_EXTRACT_OK)
            # Prometheus' own scrapes are HTTP requests too: at least one.
            res = prom.query('http_requests_total{job="ocrpc",route="/metrics",'
                             'code="200"}')
            self.assertTrue(res and list(res.values())[0] >= 1, res)
        finally:
            prom.cleanup()


if __name__ == "__main__":
    unittest.main()
