# SPDX-License-Identifier: MIT
"""Images as people send them, over gRPC (issue #13): decompression bombs
answered TOO_LARGE with the server's peak RSS unchanged, multi-page TIFF
and PDF with TextBox.page and metadata["pages"] (by path, inline and as a
batch item), PDF text layer on request, encrypted PDFs, EXIF orientation in
the metadata, and nothing but log lines on the server's stderr while it
takes damaged uploads."""

import os
import re
import struct
import subprocess
import unittest

import harness as H

S = H.load_stubs("repo")
ocr_pb2 = S.ocr
ocr_grpc = S.ocr_grpc
common_pb2 = S.common
SUCCESS = common_pb2.STATUS_SUCCESS
FAILURE = common_pb2.STATUS_FAILURE
TIMEOUT = 120
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")

server = None
stub = None


def setUpModule():
    global server, stub
    server = H.Server(workers=2).start()
    stub = ocr_grpc.OCRServiceStub(server.channel())
    root = server.image_root
    H.render_line(os.path.join(root, "p1.png"), "Page one text")
    H.render_line(os.path.join(root, "p2.png"), "Second page here")
    subprocess.run([H.CONVERT, os.path.join(root, "p1.png"),
                    os.path.join(root, "p2.png"), "-depth", "8",
                    os.path.join(root, "two.tif")], check=True)
    subprocess.run(["/usr/bin/img2pdf", os.path.join(root, "p1.png"),
                    os.path.join(root, "p2.png"), "-o",
                    os.path.join(root, "two.pdf")], check=True,
                   capture_output=True)


def tearDownModule():
    if server is not None:
        server.stop()


def meta(resp):
    return dict(resp.metadata.data)


def extract(**kw):
    return stub.ExtractText(ocr_pb2.OCRRequest(language="eng", **kw),
                            timeout=TIMEOUT)


def vm(field):
    with open("/proc/%d/status" % server.proc.pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc status" % field)


def gif_bomb(side):
    # A 100x100 screen, one side x side frame, a few LZW bytes.
    return (b"GIF89a" + struct.pack("<HHBBB", 100, 100, 0, 0, 0) +
            b"\x2c" + struct.pack("<HHHHB", 0, 0, side, side, 0) +
            b"\x02\x02\x4c\x01\x00\x3b")


def bmp_bomb(side):
    return (b"BM" + struct.pack("<IHHI", 154, 0, 0, 54) +
            struct.pack("<IiiHHIIiiII", 40, side, side, 1, 24, 0, 0, 2835,
                        2835, 0, 0) + b"\0" * 100)


class Inputs(unittest.TestCase):
    def test_bombs_are_too_large_and_rss_stays(self):
        # Warm both workers up first so that Tesseract's own memory is
        # already counted in the peak.
        png = H.read_bytes(server.path("p1.png"))
        for _ in range(2):
            self.assertEqual(extract(image_data=png).status, SUCCESS)
        before = vm("VmHWM")
        for data in (gif_bomb(20000), gif_bomb(32000), bmp_bomb(30000)):
            r = extract(image_data=data)
            self.assertEqual(r.status, FAILURE)
            self.assertEqual(r.error.details, "TOO_LARGE", r.error.message)
        with open(server.path("bomb.gif"), "wb") as f:
            f.write(gif_bomb(20000))
        r = extract(private_image_path="bomb.gif")
        self.assertEqual(r.error.details, "TOO_LARGE")
        # Decoding 20000 x 20000 would take 400 MB at least.
        self.assertLess(vm("VmHWM") - before, 100 * 1024)

    def check_two_pages(self, r):
        self.assertEqual(r.status, SUCCESS, r.error.message)
        self.assertEqual(H.norm_text(r.text), "Page one text\nSecond page here")
        self.assertEqual([b.page for b in r.text_boxes], [1, 2])
        self.assertEqual(meta(r)["pages"], "2")

    def test_multi_page_tiff_by_path_and_inline(self):
        self.check_two_pages(extract(private_image_path="two.tif"))
        self.check_two_pages(
            extract(image_data=H.read_bytes(server.path("two.tif"))))

    def test_pdf_by_path_inline_and_batch(self):
        self.check_two_pages(extract(private_image_path="two.pdf"))
        data = H.read_bytes(server.path("two.pdf"))
        self.check_two_pages(extract(image_data=data))
        req = ocr_pb2.OCRBatchRequest(
            image_paths=[ocr_pb2.ImagePath(data=data),
                         ocr_pb2.ImagePath(private_path="two.pdf")],
            language="eng")
        results = [p.current_result
                   for p in stub.ExtractTextBatch(req, timeout=TIMEOUT)]
        self.assertEqual(len(results), 2)
        for r in results:
            self.assertEqual(r.status, SUCCESS, r.error.message)
            self.assertEqual([b.page for b in r.text_boxes], [1, 2])

    def test_pdf_failures_have_their_own_details(self):
        cut = H.read_bytes(server.path("two.pdf"))[:200]
        r = extract(image_data=cut)
        self.assertEqual(r.error.details, "PDF_ERROR", r.error.message)

    def test_exif_orientation_in_metadata(self):
        root = server.image_root
        H.render_line(os.path.join(root, "inv.png"), "Invoice total 318")
        out = os.path.join(root, "inv6.jpg")
        subprocess.run([H.CONVERT, os.path.join(root, "inv.png"), "-rotate",
                        "-90", out], check=True)
        subprocess.run(["/usr/bin/exiftool", "-q", "-overwrite_original", "-n",
                        "-Orientation=6", out], check=True)
        for r in (extract(private_image_path="inv6.jpg"),
                  extract(image_data=H.read_bytes(out))):
            self.assertEqual(r.status, SUCCESS, r.error.message)
            self.assertEqual(H.norm_text(r.text), "Invoice total 318")
            self.assertEqual(meta(r)["exif_orientation"], "6")
            self.assertEqual(meta(r)["image_width"], "120")

    def test_damaged_uploads_leave_stderr_to_the_log(self):
        root = server.image_root
        for ext in ("jpg", "tif", "gif", "webp", "jp2"):
            path = os.path.join(root, "src." + ext)
            subprocess.run([H.CONVERT, os.path.join(root, "p1.png"), path],
                           check=True)
            data = bytearray(H.read_bytes(path))
            for k in range(3):
                extract(image_data=bytes(data[:len(data) * (k + 1) // 4]))
                for j in range(len(data) // 3, len(data) // 3 + 24):
                    data[j] = (data[j] * 31 + 7 + k) & 0xff
                extract(image_data=bytes(data))
        extract(image_data=H.read_bytes(server.path("two.pdf"))[:300])
        self.assertEqual(extract(image_data=H.read_bytes(server.path("p1.png"))).status,
                         SUCCESS)
        strays = [l for l in server.stderr_text().splitlines()
                  if l.strip() and not LOG_LINE.match(l)]
        self.assertEqual(strays, [], "decoder output on stderr")


if __name__ == "__main__":
    unittest.main()
