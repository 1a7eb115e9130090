#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/.

Deterministic: running it again gives the same bytes. HTTP/2 frames come
from Debian's python3-h2 (a real client state machine, HPACK without
Huffman so the fuzzer sees header names and paths as plain bytes);
protobuf messages are encoded by hand with the standard library. The
generated files are committed, so `make fuzz` does not need this script.

Usage: /usr/bin/python3 tests/fuzz/make_corpus.py [corpus-dir]
"""
import functools
import gzip
import os
import struct
import sys
import zlib

import h2.config
import h2.connection
import h2.errors
import h2.settings

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# A PNG signature and IHDR of a 4x2 image: enough for the mock engine's
# header read (ocr__image_header).
TINY_PNG = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" +
            struct.pack(">IIBBBBB", 4, 2, 8, 0, 0, 0, 0) + b"\x00\x00\x00\x00")


# ---- protobuf, by hand ----

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(num, value):
    if isinstance(value, str):
        value = value.encode()
    return varint(num << 3 | 2) + varint(len(value)) + value


def field_varint(num, value):
    return varint(num << 3) + varint(value)


def field_float(num, value):
    return varint(num << 3 | 5) + struct.pack("<f", value)


def metadata(pairs):
    """common.Metadata {map<string,string> data = 1}."""
    return b"".join(field_bytes(1, field_bytes(1, k) + field_bytes(2, v))
                    for k, v in pairs)


def ocr_request(public_path="", private_path="", language="", threshold=0.0,
                angle=False, options=None, image=b""):
    m = b""
    if public_path:
        m += field_bytes(1, public_path)
    if private_path:
        m += field_bytes(2, private_path)
    if language:
        m += field_bytes(3, language)
    if threshold:
        m += field_float(4, threshold)
    if angle:
        m += field_varint(5, 1)
    if options:
        m += field_bytes(6, metadata(options))
    if image:
        m += field_bytes(7, image)
    return m


def image_path(public="", private="", data=b""):
    m = b""
    if public:
        m += field_bytes(1, public)
    if private:
        m += field_bytes(2, private)
    if data:
        m += field_bytes(3, data)
    return m


def batch_request(images, language="", batch_id=""):
    m = b"".join(field_bytes(1, image_path(**i)) for i in images)
    if language:
        m += field_bytes(2, language)
    if batch_id:
        m += field_bytes(5, batch_id)
    return m


def grpc_frame(payload, compressed=False, length=None):
    n = len(payload) if length is None else length
    return struct.pack(">BI", 1 if compressed else 0, n) + payload


def gz(data):
    return gzip.compress(data, mtime=0)


# ---- HTTP/2, with python3-h2 ----

class Client:
    def __init__(self, settings=None):
        self.c = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        enc = self.c.encoder
        enc.encode = functools.partial(enc.encode, huffman=False)
        self.c.initiate_connection()
        if settings:
            self.c.update_settings(settings)
        self.out = bytearray()
        self.flush()

    def flush(self):
        self.out += self.c.data_to_send()

    def headers(self, sid, path, extra=(), ctype="application/grpc", method="POST",
                end=False):
        h = [(":method", method), (":scheme", "http"), (":path", path),
             (":authority", "localhost"), ("content-type", ctype), ("te", "trailers")]
        self.c.send_headers(sid, h + list(extra), end_stream=end)
        self.flush()

    def data(self, sid, payload, end=False):
        self.c.send_data(sid, payload, end_stream=end)
        self.flush()

    def unary(self, sid, path, msg, extra=(), compressed=False):
        self.headers(sid, path, extra)
        self.data(sid, grpc_frame(msg, compressed), end=True)

    def raw(self, data):
        self.out += data

    def bytes(self):
        out = bytes(self.out)
        assert out.startswith(PREFACE)
        return out[len(PREFACE):]  # the target feeds the preface itself


def raw_frame(ftype, flags, sid, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", sid) + payload


OCR = "/ocr.OCRService/"
HEALTH = "/grpc.health.v1.Health/"


def h2_seeds():
    s = {}

    c = Client()
    c.unary(1, OCR + "ExtractText",
            ocr_request(image=TINY_PNG, language="eng", options=[("psm", "6")]))
    s["extract_inline"] = c.bytes()

    c = Client()
    c.unary(1, OCR + "ExtractText", ocr_request(public_path="a.png", threshold=0.3),
            extra=[("grpc-timeout", "1m"), ("x-request-id", "req-1"),
                   ("trace-bin", "AAEC"), ("user-key", "v")])
    s["extract_path_deadline_md"] = c.bytes()

    c = Client()
    c.unary(1, OCR + "CheckHealth", b"")
    s["check_health"] = c.bytes()

    c = Client()
    c.unary(1, HEALTH + "Check", field_bytes(1, ""))
    c.unary(3, HEALTH + "Watch", field_bytes(1, "ocr.OCRService"))
    c.unary(5, HEALTH + "Check", field_bytes(1, "nope"))
    s["health_check_watch"] = c.bytes()

    c = Client()
    c.unary(1, OCR + "ExtractTextBatch",
            batch_request([{"data": TINY_PNG}, {"public": "b.png"}, {}],
                          language="kor", batch_id="b1"))
    c.unary(3, OCR + "GetBatchStatus", field_bytes(1, "b1"))
    c.unary(5, OCR + "GetBatchStatus", field_bytes(1, "nope"))
    s["batch_then_status"] = c.bytes()

    c = Client()
    c.unary(1, OCR + "CheckHealth", gz(field_bytes(1, "x")), compressed=True,
            extra=[("grpc-encoding", "gzip"), ("grpc-accept-encoding", "identity,gzip")])
    c.unary(3, OCR + "ExtractText", gz(ocr_request(private_path="p.png")),
            compressed=True, extra=[("grpc-encoding", "gzip")])
    s["gzip_requests"] = c.bytes()

    # One message over three DATA frames (the prefix itself split), then
    # END_STREAM on an empty DATA frame.
    c = Client()
    msg = grpc_frame(ocr_request(public_path="split.png", language="korean"))
    c.headers(1, OCR + "ExtractText")
    c.data(1, msg[:2])
    c.data(1, msg[2:9])
    c.data(1, msg[9:])
    c.data(1, b"", end=True)
    s["split_frames"] = c.bytes()

    # Two messages in one DATA frame on a unary call, and a zero-length
    # message.
    c = Client()
    c.headers(1, OCR + "CheckHealth")
    c.data(1, grpc_frame(b"") + grpc_frame(b""), end=True)
    c.unary(3, HEALTH + "Check", b"")
    s["two_messages_empty"] = c.bytes()

    # Requests refused at the head or at the first message.
    c = Client()
    c.unary(1, OCR + "NoSuchMethod", b"")
    c.unary(3, "/no.Such/Service", b"")
    c.unary(5, OCR + "CheckHealth", b"", extra=[("grpc-encoding", "br")])
    c.unary(7, OCR + "CheckHealth", b"", extra=[("grpc-timeout", "123456789X")])
    c.unary(9, OCR + "CheckHealth", b"", extra=[("bad-bin", "!!!")])
    c.headers(11, OCR + "CheckHealth", ctype="text/plain", end=True)
    c.headers(13, OCR + "CheckHealth", method="GET", end=True)
    c.headers(15, OCR + "ExtractText")
    c.data(15, grpc_frame(b"", length=0x7FFFFFFF), end=True)
    c.headers(17, OCR + "CheckHealth")
    c.data(17, grpc_frame(b"\x0a\x01x", compressed=True), end=True)
    c.headers(19, OCR + "ExtractText", end=True)
    c.unary(21, OCR + "ExtractText", b"\x0a\xff\xff\xff\xff\x0f")  # bad length
    s["refusals"] = c.bytes()

    # A gzip bomb: 2 MiB of zeros against the 1 MiB limit.
    c = Client()
    c.unary(1, OCR + "CheckHealth", gz(b"\0" * (2 << 20)), compressed=True,
            extra=[("grpc-encoding", "gzip")])
    s["gzip_bomb"] = c.bytes()

    # The client cancels a call in flight and pings; a stream with a
    # deadline that passes before its message arrives.
    c = Client()
    c.headers(1, OCR + "ExtractText", extra=[("grpc-timeout", "1n")])
    c.headers(3, OCR + "ExtractText")
    c.data(3, grpc_frame(ocr_request(public_path="x.png"))[:4])
    c.c.reset_stream(3, h2.errors.ErrorCodes.CANCEL)
    c.c.ping(b"12345678")
    c.flush()
    c.unary(5, OCR + "ExtractText", ocr_request(public_path="y.png"))
    c.c.reset_stream(5, h2.errors.ErrorCodes.CANCEL)
    c.flush()
    s["cancel_ping_deadline"] = c.bytes()

    # A client with a zero stream window: response bodies wait (deferred
    # data) until its WINDOW_UPDATE; the shutdown PING is answered.
    c = Client({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    c.unary(1, OCR + "ExtractTextBatch",
            batch_request([{"public": "%d.png" % i} for i in range(4)], batch_id="b2"))
    c.raw(raw_frame(0x8, 0, 1, struct.pack(">I", 100)))  # WINDOW_UPDATE
    c.raw(raw_frame(0x4, 0x1, 0, b""))  # SETTINGS ack
    c.raw(raw_frame(0x6, 0x1, 0, b"\0" * 8))  # PING ack
    s["zero_window_batch"] = c.bytes()

    # Protocol errors: a DATA frame on stream 0, then junk.
    c = Client()
    c.unary(1, OCR + "CheckHealth", b"")
    c.raw(raw_frame(0x0, 0, 0, b"x"))
    c.raw(b"\xff" * 16)
    s["protocol_error"] = c.bytes()

    # Server reflection (bidi streaming): several requests on one stream,
    # v1 answered and closed, v1alpha left open for the shutdown.
    refl = (field_bytes(7, ""),
            field_bytes(4, "ocr.OCRService"),
            field_bytes(3, "ocr.proto"),
            field_bytes(1, "h") + field_bytes(4, "no.Such"),
            field_bytes(5, field_bytes(1, "ocr.OCRRequest") + field_varint(2, 9)),
            field_bytes(6, "ocr.OCRRequest"))
    c = Client()
    c.headers(1, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
    c.data(1, b"".join(grpc_frame(m) for m in refl), end=True)
    c.headers(3, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
    c.data(3, grpc_frame(refl[0]) + grpc_frame(refl[2])[:7])
    s["reflection"] = c.bytes()

    s["settings_only"] = Client().bytes()
    return s


def deframe_seeds():
    def seed(limit_idx, splits, payload, stop=0):
        return bytes([limit_idx | stop << 3]) + bytes(splits) + payload
    two = grpc_frame(b"hello") + grpc_frame(b"") + grpc_frame(b"world!", True)
    return {
        "two_whole": seed(6, [255] * 8, two),
        "two_bytewise": seed(6, [1] * 8, two),
        "odd_splits": seed(6, [0, 2, 3, 7, 1, 0, 5, 11], two * 2),
        "over_limit": seed(3, [4, 4, 4, 4, 4, 4, 4, 4], grpc_frame(b"a" * 17)),
        "partial_tail": seed(7, [3, 5, 2, 9, 1, 1, 1, 1], two + b"\0\0\0\1"),
        "stop_second": seed(6, [6, 1, 2, 3, 4, 5, 6, 7], two, stop=2),
        "empty_limit0": seed(0, [5, 0, 5, 0, 5, 0, 5, 0], grpc_frame(b"") * 3),
    }


def pb_seeds():
    # Indexes into types[] of fuzz_pb_decode.c.
    return {
        "ocr_request": b"\x00" + ocr_request(
            public_path="a.png", private_path="b.png", language="eng",
            threshold=0.5, angle=True, options=[("psm", "6"), ("k", "v")],
            image=TINY_PNG),
        "batch_request": b"\x01" + batch_request(
            [{"public": "a"}, {"private": "b"}, {"data": b"\1\2"}], "kor", "id"),
        "ocr_health": b"\x02" + field_bytes(1, "svc"),
        "batch_status": b"\x03" + field_bytes(1, "b1"),
        "grpc_health": b"\x04" + field_bytes(1, "ocr.OCRService"),
        "llm_request": b"\x05" + field_bytes(1, "t") + field_bytes(2, "p") +
        field_bytes(3, metadata([("a", "b")])),
        "image_path": b"\x06" + image_path(public="x", data=b"\0"),
        "metadata": b"\x07" + metadata([("psm", "6")] * 3),
        "repeated_fields": b"\x00" + field_bytes(1, "a") + field_bytes(1, "bb") +
        field_bytes(6, metadata([("a", "1")])) + field_bytes(6, metadata([("b", "2")])),
        "reflection_request": b"\x08" + field_bytes(1, "host") +
        field_bytes(4, "ocr.OCRService") + field_bytes(7, ""),
        "reflection_extension": b"\x09" + field_bytes(1, "ocr.OCRRequest") +
        field_varint(2, 5),
        "unknown_fields": b"\x01" + field_varint(15, 7) + field_float(16, 1.0) +
        varint(17 << 3 | 1) + b"\0" * 8 + field_bytes(18, "z"),
    }


def pb_limits_seeds():
    # First byte: bit 0 batch (1) or ExtractText options (0); bit 1 a limit
    # of 3 instead of a million.
    empty = b"\x0a\x00"
    return {
        "batch_small": b"\x01" + batch_request(
            [{"public": "a"}, {"private": "b"}, {"data": b"\1"}], "kor", "id"),
        "batch_over_3": b"\x03" + empty * 5,
        "batch_empty_entries": b"\x01" + empty * 4000,
        "options_small": b"\x00" + ocr_request(
            public_path="a.png", options=[("psm", "6"), ("k", "v")]),
        "options_split": b"\x02" + field_bytes(6, metadata([("a", "1")] * 2)) +
        field_bytes(6, metadata([("b", "2")] * 2)),
        "options_empty_entries": b"\x00" + field_bytes(6, empty * 4000),
    }


def metadata_seeds():
    return {
        "timeout_ms": b"\x00100m",
        "timeout_long": b"\x00999999999999H",
        "timeout_nanos": b"\x001n",
        "timeout_bad": b"\x0012x",
        "base64_padded": b"\x01AAECAw==",
        "base64_unpadded": b"\x01AAECAw",
        "base64_urlsafe": b"\x01-_-_",
        "base64_bad": b"\x01A",
        "percent_utf8": b"\x02\x10" + "tab\there ☺ 😈 100%".encode(),
        "percent_escapes": b"\x02\x05%41%zz%4",
        "gunzip_ok": b"\x03\x40\x00" + gz(b"hello, world " * 4),
        "gunzip_bomb": b"\x03\x01\x00" + gz(b"\0" * 4096),
        "gunzip_truncated": b"\x03\xff\x03" + gz(b"abcdef" * 10)[:-6],
        "zlib_ok": b"\x03\x10\x00" + bytes.fromhex("789c4b4c4a0600024d0127"),
    }


def h1_seeds():
    """HTTP/1.1 bytes for fuzz_h1_rest: every route, both body kinds."""
    import base64
    import json

    def post(path, body, ctype="application/json", extra=b""):
        return (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n%s"
                b"Content-Length: %d\r\n\r\n" % (path, ctype.encode(), extra,
                                                  len(body)) + body)
    js = json.dumps({"private_image_path": "a.png", "language": "english",
                     "confidence_threshold": 0.4, "use_angle_cls": True,
                     "options": {"psm": "6"}}).encode()
    b64 = json.dumps({"image_base64": base64.b64encode(TINY_PNG).decode()}).encode()
    chunked = (b"POST /ocr/extract HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
               b"Content-Type: application/json\r\n\r\n" +
               b"".join(b"%x\r\n%s\r\n" % (len(b64[i:i + 16]), b64[i:i + 16])
                        for i in range(0, len(b64), 16)) + b"0\r\n\r\n")
    # The first byte picks the read size: byte % 64 + 1.
    seeds = {
        "healthz": b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "health_pipelined": b"GET /healthy HTTP/1.1\r\n\r\nGET /readyz HTTP/1.1\r\n\r\n"
                            b"HEAD /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "extract_json": post(b"/ocr/extract", js),
        "extract_base64": post(b"/ocr/extract", b64),
        "extract_raw": post(b"/ocr/extract?language=kor%2Beng&use_angle_cls=true&psm=3",
                            TINY_PNG, "image/png"),
        "extract_chunked": chunked,
        "extract_expect": post(b"/ocr/extract", js, extra=b"Expect: 100-continue\r\n"),
        "extract_bad_json": post(b"/ocr/extract", b'{"private_image_path": [1, {'),
        "extract_wrong_types": post(b"/ocr/extract", b'{"language": 5, "options": []}'),
        "batch_status": b"GET /v1/batches/abc-123 HTTP/1.1\r\n\r\n",
        "wrong_method": b"DELETE /ocr/extract HTTP/1.1\r\n\r\n",
        "connection_close": b"GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n"
                            b"GET /healthz HTTP/1.1\r\n\r\n",
    }
    out = {k: b"\x3f" + v for k, v in seeds.items()}  # 64-byte reads
    out["extract_json_bytewise"] = b"\x00" + seeds["extract_json"]
    out["extract_chunked_split7"] = b"\x06" + seeds["extract_chunked"]
    return out


def auth_seeds():
    """fuzz_auth: even first byte, an authorization value (the target's
    tokens are tok-alpha and tok-bravo-2); odd, a token file."""
    return {
        "valid": b"\x00Bearer tok-alpha",
        "spaces": b"\x00bearer   tok-bravo-2",
        "basic": b"\x00Basic tok-alpha",
        "file": b"\x01# c\n\n a \r\nb\n",
        "empty_file": b"\x01\n\n",
    }


def png_file(w, h):
    """A real w x h 8-bit grey PNG (stdlib zlib)."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff))
    raw = b"".join(b"\0" + b"\xff" * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def tiff_file(endian, pages, tiled=False):
    """A TIFF whose IFDs give each (w, h) of pages; no pixel data."""
    e = "<" if endian == b"II" else ">"
    out = bytearray(endian + struct.pack(e + "HI", 42, 8))
    for i, (w, h) in enumerate(pages):
        tags = [(256, 4, w), (257, 3, h), (259, 3, 1)]
        if tiled:
            tags.append((322, 3, 16))
        ifd = len(out)
        out += struct.pack(e + "H", len(tags))
        for tag, typ, v in tags:
            out += struct.pack(e + "HHI", tag, typ, 1)
            out += struct.pack(e + "I", v) if typ == 4 else struct.pack(e + "HH", v, 0)
        nxt = ifd + 2 + 12 * len(tags) + 4 if i + 1 < len(pages) else 0
        out += struct.pack(e + "I", nxt)
    return bytes(out)


def image_header_seeds():
    # First byte: page cap - 1 (mod 8).
    exif = b"Exif\0\0MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0"
    app1 = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 48, 64, 1) + b"\x01\x11\x00"
    gif = (b"GIF89a" + struct.pack("<HHBBB", 16, 8, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff" +
           b"\x21\xf9\x04\x00\x00\x00\x00\x00" +
           b"\x2c" + struct.pack("<HHHHB", 0, 0, 16, 8, 0) + b"\x02\x02\x4c\x01\x00" +
           b"\x2c" + struct.pack("<HHHHB", 4, 4, 40, 30, 0) + b"\x02\x02\x4c\x01\x00" +
           b"\x3b")
    bmp = (b"BM" + struct.pack("<IHHI", 54 + 32, 0, 0, 54) +
           struct.pack("<IiiHHIIiiII", 40, 4, -2, 1, 24, 0, 32, 2835, 2835, 0, 0) + b"\0" * 32)
    vp8 = (b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8 " + struct.pack("<I", 18) +
           b"\x00\x00\x00\x9d\x01\x2a" + struct.pack("<HH", 64, 32) + b"\0" * 8)
    vp8l = (b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8L" + struct.pack("<I", 10) +
            b"\x2f" + struct.pack("<I", (63) | (31 << 14)) + b"\0" * 5)
    vp8x = (b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8X" + struct.pack("<I", 10) +
            b"\x10\0\0\0" + bytes([63, 0, 0, 31, 0, 0]) + b"\0" * 4)
    ihdr = b"ihdr" + struct.pack(">IIHBBBB", 32, 64, 1, 7, 7, 0, 0)
    jp2h = struct.pack(">I", 8 + len(ihdr) + 4) + b"jp2h" + struct.pack(">I", len(ihdr) + 4) + ihdr
    jp2 = (b"\0\0\0\x0cjP  \r\n\x87\n" + struct.pack(">I", 20) + b"ftypjp2 \0\0\0\0jp2 " +
           jp2h)
    j2k = b"\xff\x4f\xff\x51" + struct.pack(">HHIIII", 41, 0, 64, 32, 0, 0) + b"\0" * 24
    return {
        "png": b"\x00" + png_file(8, 4),
        "jpeg_exif6": b"\x00" + b"\xff\xd8" + app1 + sof + b"\xff\xd9",
        "gif_two_frames": b"\x01" + gif,
        "bmp_top_down": b"\x00" + bmp,
        "webp_vp8": b"\x00" + vp8,
        "webp_vp8l": b"\x00" + vp8l,
        "webp_vp8x": b"\x00" + vp8x,
        "jp2_boxes": b"\x00" + jp2,
        "j2k_codestream": b"\x00" + j2k,
        "pgm_comment": b"\x00" + b"P5\n# c\n 8 4\n255\n" + b"\xff" * 32,
        "pam": b"\x00" + b"P7\nWIDTH 8\nHEIGHT 4\nDEPTH 1\nMAXVAL 255\nENDHDR\n" + b"\0" * 32,
        "tiff_le_3pages": b"\x03" + tiff_file(b"II", [(8, 4), (16, 8), (4, 4)]),
        "tiff_be_tiled": b"\x00" + tiff_file(b"MM", [(64, 64)], tiled=True),
        "tiff_cap_exceeded": b"\x00" + tiff_file(b"II", [(8, 4), (8, 4), (8, 4)]),
        "bigtiff": b"\x00" + b"II+\0\x08\0\0\0" + b"\0" * 16,
        "pdf": b"\x00" + b"%PDF-1.4\n%%EOF\n",
    }


def write(root, target, seeds):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        os.unlink(os.path.join(d, name))
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")
    write(root, "fuzz_h2_rpc", h2_seeds())
    write(root, "fuzz_deframe", deframe_seeds())
    write(root, "fuzz_pb_decode", pb_seeds())
    write(root, "fuzz_metadata", metadata_seeds())
    write(root, "fuzz_image_header", image_header_seeds())
    write(root, "fuzz_h1_rest", h1_seeds())
    write(root, "fuzz_pb_limits", pb_limits_seeds())
    write(root, "fuzz_auth", auth_seeds())


if __name__ == "__main__":
    main()
