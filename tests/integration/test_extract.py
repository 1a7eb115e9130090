# SPDX-License-Identifier: MIT
"""ExtractText / CheckHealth through stubs generated from the guide's own
protos (tests/integration/seed_protos): proves that existing workers, built
against the guide's contract, keep working against ocrpc-server."""

import os
import re
import shutil
import tempfile
import unittest
from concurrent import futures

import grpc

import harness as H

S = H.load_stubs("seed")
ocr_pb2 = S.ocr
common_pb2 = S.common
SUCCESS = common_pb2.STATUS_SUCCESS
FAILURE = common_pb2.STATUS_FAILURE

CALL_TIMEOUT = 120  # seconds, per RPC: a ceiling only a hang reaches
MAX_PIXELS = 1500000

EN_PNG = ("en.png", "Invoice number 4711")
EN_JPG = ("en.jpg", "The quick brown fox")
EN_TIF = ("en.tif", "Payment due in March")
EN_3LINES = ("three.png", ["First line here", "Second line 42",
                           "Third and last"])
KO_PNG = ("ko.png", "오늘 날씨가 좋습니다")
CONCURRENT = [("c%d.png" % i, t) for i, t in enumerate(
    ["Alpha report 101", "Bravo invoice 202", "Charlie order 303",
     "Delta receipt 404"])]

server = None
outside_dir = None


def setUpModule():
    global server, outside_dir
    server = H.Server("--max-pixels", str(MAX_PIXELS))
    server.start()
    unittest.addModuleCleanup(server.stop)
    outside_dir = os.path.realpath(tempfile.mkdtemp(prefix="ocrpc-outside-"))
    unittest.addModuleCleanup(shutil.rmtree, outside_dir, True)

    root = server.image_root
    for name, text in (EN_PNG, EN_JPG, EN_TIF):
        H.render_line(os.path.join(root, name), text)
    H.render_lines(os.path.join(root, EN_3LINES[0]), EN_3LINES[1])
    H.render_korean(os.path.join(root, KO_PNG[0]), KO_PNG[1])
    for name, text in CONCURRENT:
        H.render_line(os.path.join(root, name), text)
    os.makedirs(os.path.join(root, "sub"))
    H.render_line(os.path.join(root, "sub", "nested.png"), EN_PNG[1])

    # Undecodable files.
    good = H.read_bytes(os.path.join(root, EN_PNG[0]))
    with open(os.path.join(root, "truncated.png"), "wb") as f:
        f.write(good[:len(good) // 3])
    with open(os.path.join(root, "notimage.png"), "wb") as f:
        f.write(b"This is a plain text file, not an image.\n" * 20)
    open(os.path.join(root, "empty.png"), "wb").close()

    # Over --max-pixels (2000x1000 = 2,000,000 > 1,500,000).
    H.render_line(os.path.join(root, "huge.png"), "Too many pixels",
                  width=2000, height=1000)

    # A real, readable image outside the root, reachable by absolute path,
    # by "..", and by a symlink inside the root.
    H.render_line(os.path.join(outside_dir, "secret.png"), "Secret outside")
    os.symlink(os.path.join(outside_dir, "secret.png"),
               os.path.join(root, "escape.png"))
    os.symlink(outside_dir, os.path.join(root, "escape_dir"))


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.channel = server.channel()
        cls.stub = S.ocr_grpc.OCRServiceStub(cls.channel)

    def extract(self, path="", language="", stub=None, **kw):
        req = ocr_pb2.OCRRequest(private_image_path=path, language=language,
                                 **kw)
        return (stub or self.stub).ExtractText(req, timeout=CALL_TIMEOUT)

    def describe(self, resp):
        return "response: %s" % str(resp)[:3000]

    def assert_ok_text(self, resp, lines, width, height, lang_code="eng",
                       ignore_spaces=False):
        """A successful response carrying exactly these lines."""
        d = self.describe(resp)
        self.assertEqual(resp.status, SUCCESS, d)
        self.assertFalse(resp.error.code, d)
        if ignore_spaces:
            self.assertEqual(H.no_spaces(resp.text),
                             H.no_spaces("".join(lines)), d)
            self.assertEqual(len(H.norm_text(resp.text).splitlines()),
                             len(lines), d)
        else:
            self.assertEqual(H.norm_text(resp.text), "\n".join(lines), d)
        self.assertGreater(resp.overall_confidence, 0.0, d)
        self.assertLessEqual(resp.overall_confidence, 1.0, d)
        # Clean, large, synthetic text: a recogniser is confident about it.
        self.assertGreaterEqual(resp.overall_confidence, 0.5, d)
        self.assert_boxes(resp, lines, width, height, ignore_spaces)
        self.assert_metadata(resp, width, height, lang_code)

    def assert_boxes(self, resp, lines, width, height, ignore_spaces=False):
        d = self.describe(resp)
        self.assertEqual(len(resp.text_boxes), len(lines), d)
        prev_center = -1.0
        for i, (box, line) in enumerate(zip(resp.text_boxes, lines)):
            if ignore_spaces:
                self.assertEqual(H.no_spaces(box.text), H.no_spaces(line), d)
            else:
                self.assertEqual(H.norm_text(box.text), line, d)
            self.assertGreater(box.confidence, 0.0, d)
            self.assertLessEqual(box.confidence, 1.0, d)
            pts = H.box_points(box)
            self.assertIsNotNone(pts, "box %d has %d coordinates, want 8; %s"
                                 % (i, len(box.bbox.coordinates), d))
            for x, y in pts:
                self.assertTrue(0 <= x <= width and 0 <= y <= height,
                                "box %d point (%g,%g) outside %dx%d; %s"
                                % (i, x, y, width, height, d))
            (x1, y1), (x2, y2), (x3, y3), (x4, y4) = pts
            # Clockwise from top-left: TL -> TR -> BR -> BL.
            self.assertLess(x1, x2, "box %d: TL not left of TR; %s" % (i, d))
            self.assertLess(y2, y3, "box %d: TR not above BR; %s" % (i, d))
            self.assertGreater(x3, x4, "box %d: BR not right of BL; %s" % (i, d))
            self.assertGreater(y4, y1, "box %d: BL not below TL; %s" % (i, d))
            # The box is where the line was drawn: glyphs of line i span
            # roughly y = 40+90i .. 80+90i and start at x = 20 (or 40).
            top, bottom = min(y1, y2), max(y3, y4)
            center = (top + bottom) / 2.0
            if len(lines) > 1:
                band = H.FIRST_BASELINE + H.LINE_HEIGHT * i
                self.assertTrue(band - 60 <= center <= band + 20,
                                "box %d centre y=%g not on line %d (baseline "
                                "%d); %s" % (i, center, i, band, d))
            self.assertLess(min(x1, x4), 80, "box %d starts at x=%g; %s"
                            % (i, min(x1, x4), d))
            self.assertGreater(center, prev_center,
                               "boxes not in reading order; %s" % d)
            prev_center = center

    def assert_metadata(self, resp, width, height, lang_code):
        md = dict(resp.metadata.data)
        d = "metadata: %r" % md
        for key in ("engine", "engine_version", "language", "image_width",
                    "image_height", "queue_ms", "ocr_ms"):
            self.assertIn(key, md, d)
        self.assertEqual(md["engine"], "tesseract", d)
        self.assertRegex(md["engine_version"], r"\d+\.\d+", d)
        self.assertEqual(md["language"], lang_code, d)
        self.assertEqual(md["image_width"], str(width), d)
        self.assertEqual(md["image_height"], str(height), d)
        for key in ("queue_ms", "ocr_ms"):
            try:
                v = float(md[key])
            except ValueError:
                self.fail("%s is not a number; %s" % (key, d))
            self.assertGreaterEqual(v, 0.0, d)

    def assert_failure(self, resp, details):
        d = self.describe(resp)
        self.assertEqual(resp.status, FAILURE, d)
        self.assertEqual(resp.error.code, "OCR_ERROR", d)
        self.assertEqual(resp.error.details, details, d)
        self.assertTrue(resp.error.message.strip(), "empty error message; " + d)
        self.assertEqual(resp.text, "", d)
        self.assertEqual(len(resp.text_boxes), 0, d)

    def assert_still_serving(self):
        """After a failure the server must keep answering correctly."""
        self.assertTrue(server.alive(), "server process died:\n"
                        + server.stderr_text()[-5000:])
        resp = self.extract(EN_PNG[0], "english")
        self.assert_ok_text(resp, [EN_PNG[1]], 900, 120)


class TestGuideStubs(Base):
    def test_stubs_are_the_guides(self):
        # The main tests must run on code generated from the guide's files.
        self.assertNotIn("image_data",
                         ocr_pb2.OCRRequest.DESCRIPTOR.fields_by_name)
        self.assertIn("private_image_path",
                      ocr_pb2.OCRRequest.DESCRIPTOR.fields_by_name)


class TestExtractSuccess(Base):
    def test_english_png(self):
        resp = self.extract(EN_PNG[0], "english")
        self.assert_ok_text(resp, [EN_PNG[1]], 900, 120)

    def test_english_jpeg(self):
        resp = self.extract(EN_JPG[0], "english")
        self.assert_ok_text(resp, [EN_JPG[1]], 900, 120)

    def test_english_tiff(self):
        resp = self.extract(EN_TIF[0], "english")
        self.assert_ok_text(resp, [EN_TIF[1]], 900, 120)

    def test_tesseract_language_code(self):
        resp = self.extract(EN_PNG[0], "eng")
        self.assert_ok_text(resp, [EN_PNG[1]], 900, 120)

    def test_three_lines_three_boxes(self):
        name, lines = EN_3LINES
        resp = self.extract(name, "english")
        # text = the lines joined by '\n' (no empty paragraph lines).
        self.assertEqual([" ".join(l.split())
                          for l in resp.text.strip().split("\n")],
                         lines, "text %r" % resp.text)
        self.assert_ok_text(resp, lines, 900, H.lines_height(3))

    def test_nested_relative_path(self):
        resp = self.extract("sub/nested.png", "english")
        self.assert_ok_text(resp, [EN_PNG[1]], 900, 120)

    def test_absolute_path_inside_root(self):
        resp = self.extract(server.path(EN_PNG[0]), "english")
        self.assert_ok_text(resp, [EN_PNG[1]], 900, 120)

    def test_korean(self):
        name, text = KO_PNG
        resp = self.extract(name, "korean")
        self.assert_ok_text(resp, [text], 900, 120, lang_code="kor",
                            ignore_spaces=True)

    def test_default_language_is_korean(self):
        name, text = KO_PNG
        resp = self.extract(name)  # language unset
        self.assert_ok_text(resp, [text], 900, 120, lang_code="kor",
                            ignore_spaces=True)


class TestHealth(Base):
    def test_check_health(self):
        resp = self.stub.CheckHealth(ocr_pb2.HealthCheckRequest(),
                                     timeout=CALL_TIMEOUT)
        d = str(resp)
        self.assertEqual(resp.status, SUCCESS, d)
        self.assertEqual(resp.engine_type, "tesseract", d)
        self.assertTrue(resp.model_loaded, d)
        self.assertTrue(resp.version.strip(), d)

    def test_check_health_with_service_name(self):
        resp = self.stub.CheckHealth(
            ocr_pb2.HealthCheckRequest(service_name="ocr.OCRService"),
            timeout=CALL_TIMEOUT)
        self.assertEqual(resp.status, SUCCESS, str(resp))
        self.assertTrue(resp.model_loaded, str(resp))


class TestExtractFailures(Base):
    def test_missing_file(self):
        self.assert_failure(self.extract("does/not/exist.png", "english"),
                            "NOT_FOUND")
        self.assert_still_serving()

    def test_truncated_png(self):
        self.assert_failure(self.extract("truncated.png", "english"),
                            "DECODE_ERROR")
        self.assert_still_serving()

    def test_not_an_image(self):
        self.assert_failure(self.extract("notimage.png", "english"),
                            "DECODE_ERROR")
        self.assert_still_serving()

    def test_zero_byte_file(self):
        self.assert_failure(self.extract("empty.png", "english"),
                            "DECODE_ERROR")
        self.assert_still_serving()

    def test_dotdot_etc_passwd(self):
        self.assert_failure(self.extract("../etc/passwd", "english"),
                            "FORBIDDEN_PATH")
        self.assert_still_serving()

    def test_deep_dotdot_to_existing_file(self):
        path = "../" * 20 + "etc/passwd"  # exists: must not be read
        self.assert_failure(self.extract(path, "english"), "FORBIDDEN_PATH")
        self.assert_still_serving()

    def test_dotdot_to_existing_image_outside_root(self):
        path = "sub/../../%s/secret.png" % os.path.basename(outside_dir)
        self.assertTrue(os.path.isfile(os.path.join(server.image_root, path)))
        self.assert_failure(self.extract(path, "english"), "FORBIDDEN_PATH")
        self.assert_still_serving()

    def test_absolute_path_outside_root(self):
        self.assert_failure(
            self.extract(os.path.join(outside_dir, "secret.png"), "english"),
            "FORBIDDEN_PATH")
        self.assert_failure(self.extract("/etc/passwd", "english"),
                            "FORBIDDEN_PATH")
        self.assert_still_serving()

    def test_symlink_escaping_root(self):
        self.assert_failure(self.extract("escape.png", "english"),
                            "FORBIDDEN_PATH")
        self.assert_failure(self.extract("escape_dir/secret.png", "english"),
                            "FORBIDDEN_PATH")
        self.assert_still_serving()

    def test_too_many_pixels(self):
        self.assert_failure(self.extract("huge.png", "english"), "TOO_LARGE")
        self.assert_still_serving()

    def test_unsupported_language(self):
        self.assert_failure(self.extract(EN_PNG[0], "klingon"),
                            "UNSUPPORTED_LANGUAGE")
        self.assert_still_serving()

    def test_empty_request(self):
        resp = self.stub.ExtractText(ocr_pb2.OCRRequest(),
                                     timeout=CALL_TIMEOUT)
        self.assert_failure(resp, "INVALID_ARGUMENT")
        self.assert_still_serving()


class TestConcurrency(Base):
    def test_200_calls_over_20_channels(self):
        stubs = [S.ocr_grpc.OCRServiceStub(server.channel())
                 for _ in range(20)]
        calls = []
        for i in range(200):
            name, text = CONCURRENT[i % len(CONCURRENT)]
            req = ocr_pb2.OCRRequest(private_image_path=name,
                                     language="english")
            fut = stubs[i % len(stubs)].ExtractText.future(req, timeout=180)
            calls.append((i, text, fut))
        bad = []
        for i, text, fut in calls:
            try:
                resp = fut.result()
            except grpc.RpcError as e:
                bad.append("call %d: gRPC %s %s" % (i, e.code(), e.details()))
                continue
            if resp.status != SUCCESS:
                bad.append("call %d: status %d error %s" % (i, resp.status,
                                                           resp.error))
            elif H.norm_text(resp.text) != text:
                bad.append("call %d: text %r, want %r" % (i, resp.text, text))
            elif len(resp.text_boxes) != 1:
                bad.append("call %d: %d boxes" % (i, len(resp.text_boxes)))
        self.assertEqual(bad, [], "%d of 200 calls wrong:\n%s"
                         % (len(bad), "\n".join(bad[:20])))
        self.assertTrue(server.alive())


if __name__ == "__main__":
    unittest.main()
