# SPDX-License-Identifier: MIT
"""A dual-mode worker's process: stubs generated from the guide's own
.proto files next to the ocrpc_client package.

- The guide's stubs (no OCRBatchProgress.index) get batch results in input
  order: each result belongs to the image at its position, although the
  images are recognised in parallel and a large first page finishes after
  the small ones.
- The guide's stubs imported first, then ocrpc_client: both work in one
  process (ocrpc_client's stubs live in their own descriptor pool).
- The other import order, in a fresh interpreter.
"""

import os
import subprocess
import sys
import tempfile
import unittest

import harness as H

G = H.load_stubs("seed")          # the guide's stubs, in the default pool
CLIENT_DIR = os.path.join(H.REPO, "clients", "python")
sys.path.insert(0, CLIENT_DIR)
sys.dont_write_bytecode = True
import ocrpc_client  # noqa: E402  (after the guide's stubs, on purpose)

TIMEOUT = 120
PAGE = ["Page line %d of a longer page with text" % i for i in range(14)]
LINES = ["Small line number %d" % i for i in range(5)]
NO_PROXY = [("grpc.enable_http_proxy", 0)]

server = None


def setUpModule():
    global server
    server = H.Server("--language", "english", workers=2)
    server.start()
    unittest.addModuleCleanup(server.stop)
    H.render_lines(server.path("page.png"), PAGE, width=1400)
    for i, t in enumerate(LINES):
        H.render_line(server.path("line%d.png" % i), t)


class GuideStubs(unittest.TestCase):
    def test_guide_client_gets_results_in_input_order(self):
        names = ["page.png"] + ["line%d.png" % i for i in range(5)]
        want = [PAGE] + [[t] for t in LINES]
        req = G.ocr.OCRBatchRequest(
            image_paths=[G.ocr.ImagePath(private_path=n) for n in names],
            language="english")
        stub = G.ocr_grpc.OCRServiceStub(server.channel())
        got = list(stub.ExtractTextBatch(req, timeout=TIMEOUT))
        self.assertEqual([p.processed_images for p in got],
                         list(range(1, len(names) + 1)))
        # The guide's client pairs the k-th message with the k-th image.
        for k, p in enumerate(got):
            self.assertEqual(p.current_result.status,
                             G.common.STATUS_SUCCESS, names[k])
            self.assertEqual(H.norm_text(p.current_result.text).splitlines(),
                             want[k], names[k])
        self.assertFalse(hasattr(got[0], "index"))

    def test_package_beside_the_guide_stubs(self):
        stub = G.ocr_grpc.OCRServiceStub(server.channel())
        r = stub.ExtractText(G.ocr.OCRRequest(private_image_path="line0.png",
                                              language="english"),
                             timeout=TIMEOUT)
        self.assertEqual(H.norm_text(r.text), LINES[0])
        with ocrpc_client.OcrClient(server.address, options=NO_PROXY,
                                    timeout=TIMEOUT) as c:
            r2 = c.extract(path="line1.png", language="english")
            self.assertEqual(H.norm_text(r2.text), LINES[1])
            progress = list(c.extract_batch(["line2.png", "line3.png"],
                                            language="english"))
            self.assertEqual(sorted(p.index for p in progress), [0, 1])
        # Distinct classes of the same wire format.
        self.assertIsNot(ocrpc_client.ocr_pb2.OCRRequest, G.ocr.OCRRequest)
        same = G.ocr.OCRResponse.FromString(r2.SerializeToString())
        self.assertEqual(same.text, r2.text)

    def test_package_first_then_guide_stubs_in_a_fresh_process(self):
        with tempfile.TemporaryDirectory(prefix="ocrpc-guide-") as out:
            subprocess.run(
                [H.PROTOC, "--python_out=" + out, "--grpc_python_out=" + out,
                 "--plugin=protoc-gen-grpc_python=" + H.GRPC_PYTHON_PLUGIN,
                 "-I", H.proto_dir("seed"), "common.proto", "ocr.proto"],
                check=True)
            script = r"""
import sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import ocrpc_client
import grpc, ocr_pb2, ocr_pb2_grpc
ch = grpc.insecure_channel(sys.argv[3], options=[("grpc.enable_http_proxy", 0)])
r = ocr_pb2_grpc.OCRServiceStub(ch).ExtractText(
    ocr_pb2.OCRRequest(private_image_path="line4.png", language="english"),
    timeout=120)
with ocrpc_client.OcrClient(sys.argv[3], options=[("grpc.enable_http_proxy", 0)]) as c:
    r2 = c.extract(path="line4.png", language="english")
ch.close()
print(r.text.strip() == r2.text.strip() and r.text.strip())
"""
            p = subprocess.run(
                ["/usr/bin/python3", "-c", script, CLIENT_DIR, out,
                 server.address],
                capture_output=True, text=True, timeout=TIMEOUT,
                env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(H.norm_text(p.stdout), LINES[4])


if __name__ == "__main__":
    unittest.main()
