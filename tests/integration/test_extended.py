# SPDX-License-Identifier: MIT
"""Our extended contract (stubs generated from the repository's protos/):
inline image bytes (OCRRequest.image_data), multi-megabyte messages, the
message size limit, and gRPC-level errors (unknown method/service, bytes
that do not parse)."""

import os
import unittest

import grpc

import harness as H

S = H.load_stubs("repo")
ocr_pb2 = S.ocr
common_pb2 = S.common
SUCCESS = common_pb2.STATUS_SUCCESS
FAILURE = common_pb2.STATUS_FAILURE

CALL_TIMEOUT = 120  # a ceiling only a hang reaches
SMALL_LIMIT = 100000

SMALL = "Inline bytes work"
LARGE = "Large inline image"

server = None       # default limits
small_server = None  # --max-message-bytes 100000
work = None
small_png = None
large_tiff = None


def setUpModule():
    global server, small_server, work, small_png, large_tiff
    work = H.tempdir("ocrpc-ext-")
    small_png = H.read_bytes(H.render_line(os.path.join(work, "small.png"),
                                           SMALL))
    # 1600x1200 8-bit RGB, uncompressed: ~5.5 MiB on the wire.
    large_tiff = H.read_bytes(H.render_line(
        os.path.join(work, "large.tif"), LARGE, width=1600, height=1200,
        extra=["-type", "TrueColor", "-compress", "none"]))
    server = H.Server()
    server.start()
    unittest.addModuleCleanup(server.stop)
    small_server = H.Server("--max-message-bytes", str(SMALL_LIMIT))
    small_server.start()
    unittest.addModuleCleanup(small_server.stop)


class Base(unittest.TestCase):
    srv = None

    @classmethod
    def setUpClass(cls):
        cls.channel = cls.srv().channel()
        cls.stub = S.ocr_grpc.OCRServiceStub(cls.channel)

    def inline(self, data, language="english", stub=None):
        req = ocr_pb2.OCRRequest(image_data=data, language=language)
        return (stub or self.stub).ExtractText(req, timeout=CALL_TIMEOUT)

    def assert_text(self, resp, text, width, height):
        d = "response: %s" % str(resp)[:3000]
        self.assertEqual(resp.status, SUCCESS, d)
        self.assertEqual(H.norm_text(resp.text), text, d)
        self.assertGreater(resp.overall_confidence, 0.0, d)
        self.assertLessEqual(resp.overall_confidence, 1.0, d)
        self.assertEqual(len(resp.text_boxes), 1, d)
        for v in resp.text_boxes[0].bbox.coordinates:
            self.assertGreaterEqual(v, 0.0, d)
        c = list(resp.text_boxes[0].bbox.coordinates)
        self.assertEqual(len(c), 8, d)
        self.assertTrue(all(x <= width for x in c[0::2]), d)
        self.assertTrue(all(y <= height for y in c[1::2]), d)
        md = dict(resp.metadata.data)
        self.assertEqual(md.get("engine"), "tesseract", d)
        self.assertEqual(md.get("language"), "eng", d)
        self.assertEqual(md.get("image_width"), str(width), d)
        self.assertEqual(md.get("image_height"), str(height), d)

    def assert_small_call_works(self, stub=None):
        self.assert_text(self.inline(small_png, stub=stub), SMALL, 900, 120)


class TestInline(Base):
    srv = staticmethod(lambda: server)

    def test_stubs_have_image_data(self):
        fields = ocr_pb2.OCRRequest.DESCRIPTOR.fields_by_name
        self.assertIn("image_data", fields)
        self.assertEqual(fields["image_data"].number, 7)

    def test_inline_png(self):
        self.assert_small_call_works()

    def test_inline_large_uncompressed_tiff(self):
        self.assertGreater(len(large_tiff), 5 * H.MB)
        resp = self.inline(large_tiff)
        self.assert_text(resp, LARGE, 1600, 1200)
        self.assert_small_call_works()

    def test_inline_garbage_is_decode_error(self):
        resp = self.inline(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 100)
        d = str(resp)
        self.assertEqual(resp.status, FAILURE, d)
        self.assertEqual(resp.error.code, "OCR_ERROR", d)
        self.assertEqual(resp.error.details, "DECODE_ERROR", d)
        self.assertEqual(resp.text, "", d)
        self.assert_small_call_works()


class TestGrpcErrors(Base):
    srv = staticmethod(lambda: server)

    def raw(self, method):
        return self.channel.unary_unary(method, request_serializer=None,
                                        response_deserializer=None)

    def test_unknown_method(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.raw("/ocr.OCRService/Nope")(b"", timeout=CALL_TIMEOUT)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED,
                         cm.exception.details())
        self.assert_small_call_works()

    def test_unknown_service(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.raw("/nosuch.Service/ExtractText")(b"", timeout=CALL_TIMEOUT)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED,
                         cm.exception.details())
        self.assert_small_call_works()

    def test_garbage_request_bytes(self):
        with self.assertRaises(grpc.RpcError) as cm:
            self.raw("/ocr.OCRService/ExtractText")(b"\xff\xff\xff",
                                                    timeout=CALL_TIMEOUT)
        self.assertIn(cm.exception.code(),
                      (grpc.StatusCode.INTERNAL,
                       grpc.StatusCode.INVALID_ARGUMENT),
                      cm.exception.details())
        self.assert_small_call_works()


class TestMessageLimit(Base):
    srv = staticmethod(lambda: small_server)

    def test_small_message_under_limit_works(self):
        self.assertLess(len(small_png), SMALL_LIMIT)
        self.assert_small_call_works()

    def test_over_limit_is_resource_exhausted(self):
        data = os.urandom(200 * 1024)
        with self.assertRaises(grpc.RpcError) as cm:
            self.inline(data)
        self.assertEqual(cm.exception.code(),
                         grpc.StatusCode.RESOURCE_EXHAUSTED,
                         cm.exception.details())
        self.assertTrue(small_server.alive(),
                        small_server.stderr_text()[-5000:])
        # Same channel, then a fresh connection: both still served.
        self.assert_small_call_works()
        fresh = S.ocr_grpc.OCRServiceStub(small_server.channel())
        self.assert_small_call_works(stub=fresh)


if __name__ == "__main__":
    unittest.main()
