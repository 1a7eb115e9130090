# SPDX-License-Identifier: MIT
"""RFC 9113 rules the server must enforce while a gRPC stream is open,
written from the RFC, frame by frame (rawwire). h2spec's GET/POST requests
get an immediate Trailers-Only answer, so its cases close the stream before
the bad frame arrives; here a health Watch (or a request whose body has not
ended) holds a real gRPC stream open, and the test checks both the error
the RFC asks for and, for stream errors, that the connection's other
streams live on."""

import unittest

import hyperframe.frame as hf

import harness as H
import rawwire as R

EXTRACT = "/ocr.OCRService/ExtractText"
WATCH = "/grpc.health.v1.Health/Watch"
CHECK = "/grpc.health.v1.Health/Check"
REFLECT = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
MAX_STREAMS = 4
WINDOW = 65535


class Conformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = H.Server("--max-concurrent-streams", str(MAX_STREAMS),
                              "--initial-window-bytes", str(WINDOW), engine="mock")
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def wire(self, settings=None):
        w = R.Wire(self.server).handshake(settings)
        self.addCleanup(w.close)
        return w

    def watch(self, w, sid):
        """A health Watch on sid: half-closed by us, held open by the
        server, which has sent its first status."""
        w.send_headers(sid, R.grpc_headers(WATCH))
        w.send_data(sid, R.grpc_frame(b""), end_stream=True)
        w.until(lambda: sid in w.data, "the Watch's first status on %d" % sid)

    def open_request(self, w, sid):
        """An ExtractText whose body has not ended: open on both sides."""
        w.send_headers(sid, R.grpc_headers(EXTRACT))
        w.send_data(sid, R.grpc_frame(b"")[:3])

    def assert_stream_error(self, w, sid, codes, alive, next_sid):
        w.until(lambda: sid in w.resets, "RST_STREAM on stream %d" % sid)
        self.assertIn(w.resets[sid], codes)
        self.assertIsNone(w.goaway, "a stream error ended the connection")
        for a in alive:
            self.assertNotIn(a, w.resets, "stream %d died with %d" % (a, sid))
        w.call(next_sid, CHECK, b"")
        self.assertEqual(w.grpc_status(next_sid), 0)

    # 5.1: DATA on a half-closed (remote) stream: STREAM_CLOSED.
    def test_data_on_half_closed_stream(self):
        w = self.wire()
        self.watch(w, 1)
        w.send(w.data_frame(1, R.grpc_frame(b"")))
        w.until(lambda: 1 in w.resets or w.closed, "an answer to the DATA")
        if 1 in w.resets:
            self.assertEqual(w.resets[1], R.STREAM_CLOSED)
        else:
            self.assertEqual(w.goaway.error_code, R.STREAM_CLOSED)

    # 6.1: padding as long as the payload: connection error PROTOCOL_ERROR.
    def test_data_padding_longer_than_payload(self):
        w = self.wire()
        self.open_request(w, 1)
        # Length 4: pad length 10 + 3 bytes: the padding passes the end.
        head = (4).to_bytes(3, "big") + bytes([0x0, 0x8]) + (1).to_bytes(4, "big")
        w.send(head + bytes([10]) + b"abc")
        w.expect_goaway(R.PROTOCOL_ERROR)

    # 6.9.1: more DATA than the stream's window. The stream's requests are
    # held unread (a reflection stream whose answers we do not read), so
    # the window is not reopened; FLOW_CONTROL_ERROR, as a stream or
    # connection error (the connection window is as small).
    def test_flow_control_overrun(self):
        w = self.wire({hf.SettingsFrame.INITIAL_WINDOW_SIZE: 0})
        w.send_headers(1, R.grpc_headers(REFLECT))
        request = R.grpc_frame(b"\x3a\x00")  # list_services
        w.send_data(1, request * (600000 // len(request)))
        w.until(lambda: 1 in w.resets or w.closed, "a flow-control error")
        if 1 in w.resets:
            self.assertEqual(w.resets[1], R.FLOW_CONTROL_ERROR)
        else:
            self.assertEqual(w.goaway.error_code, R.FLOW_CONTROL_ERROR)

    # 8.3: unknown pseudo-header, and a pseudo-header after a regular one:
    # malformed, stream error PROTOCOL_ERROR.
    def test_invalid_pseudo_headers(self):
        w = self.wire()
        self.watch(w, 1)
        w.send_headers(3, R.grpc_headers(CHECK) + [(":foo", "bar")])
        self.assert_stream_error(w, 3, [R.PROTOCOL_ERROR], [1], 5)
        hdrs = R.grpc_headers(CHECK)
        w.send_headers(7, hdrs[:4] + [("x-a", "b"), (":scheme", "http")] + hdrs[4:])
        self.assert_stream_error(w, 7, [R.PROTOCOL_ERROR], [1], 9)

    # 8.1: trailers on an open stream may not carry pseudo-headers.
    def test_pseudo_header_in_trailers_of_open_stream(self):
        w = self.wire()
        self.watch(w, 1)
        self.open_request(w, 3)
        w.send_headers(3, [(":path", "/x")], end_stream=True)
        self.assert_stream_error(w, 3, [R.PROTOCOL_ERROR], [1], 5)

    # 8.2: field names must be lower case.
    def test_uppercase_header_name(self):
        w = self.wire()
        self.watch(w, 1)
        w.send_headers(3, R.grpc_headers(CHECK) + [("X-Upper", "v")])
        self.assert_stream_error(w, 3, [R.PROTOCOL_ERROR], [1], 5)

    # 8.2.2: connection-specific fields, and te other than "trailers".
    def test_connection_specific_headers(self):
        w = self.wire()
        self.watch(w, 1)
        w.send_headers(3, R.grpc_headers(CHECK) + [("connection", "keep-alive")])
        self.assert_stream_error(w, 3, [R.PROTOCOL_ERROR], [1], 5)
        hdrs = [(k, "gzip" if k == "te" else v) for k, v in R.grpc_headers(CHECK)]
        w.send_headers(7, hdrs)
        self.assert_stream_error(w, 7, [R.PROTOCOL_ERROR], [1], 9)

    # 5.1.1: a client stream id must be odd.
    def test_even_stream_id(self):
        w = self.wire()
        self.watch(w, 1)
        w.send_headers(2, R.grpc_headers(CHECK))
        w.expect_goaway(R.PROTOCOL_ERROR)

    # 5.1.1: a stream id may not be reused, nor go below one already used.
    def test_stream_id_reuse(self):
        w = self.wire()
        w.call(1, CHECK, b"")
        self.assertEqual(w.grpc_status(1), 0)
        self.watch(w, 3)
        w.send_headers(1, R.grpc_headers(CHECK))
        g = w.expect_goaway(R.PROTOCOL_ERROR)
        self.assertEqual(g.last_stream_id, 3)

    def test_stream_id_lower_than_one_used(self):
        w = self.wire()
        self.watch(w, 5)
        w.send_headers(3, R.grpc_headers(CHECK))
        w.expect_goaway(R.PROTOCOL_ERROR)

    # 5.1.2: streams over SETTINGS_MAX_CONCURRENT_STREAMS: a stream error
    # REFUSED_STREAM (or PROTOCOL_ERROR), and the open ones live on. That
    # is what nghttp2 1.52 does while our SETTINGS are not yet
    # acknowledged (a burst right after the preface, the usual case)...
    def test_streams_over_max_concurrent_burst(self):
        w = R.Wire(self.server)
        self.addCleanup(w.close)
        s = hf.SettingsFrame(0)
        s.settings = {hf.SettingsFrame.INITIAL_WINDOW_SIZE: 0}  # keep them open
        frames = [R.PREFACE, s]
        sids = [1 + 2 * i for i in range(MAX_STREAMS + 1)]
        for sid in sids:
            frames.append(w.headers_frame(sid, R.grpc_headers(WATCH)))
            frames.append(w.data_frame(sid, R.grpc_frame(b""), end_stream=True))
        w.send(*frames)  # before reading, so before acknowledging SETTINGS
        extra = sids[-1]
        w.until(lambda: extra in w.resets, "RST_STREAM on the stream over the limit")
        self.assertIn(w.resets[extra], [R.REFUSED_STREAM, R.PROTOCOL_ERROR])
        self.assertEqual(w.settings.get(hf.SettingsFrame.MAX_CONCURRENT_STREAMS),
                         MAX_STREAMS)
        w.barrier()
        self.assertIsNone(w.goaway)
        for sid in sids[:-1]:
            self.assertNotIn(sid, w.resets)

    # ... but once they are acknowledged, nghttp2 1.52 makes it a connection
    # error PROTOCOL_ERROR (nghttp2_session.c, "request HEADERS: max
    # concurrent streams exceeded"): a deviation from 5.1.2 we cannot
    # change without patching nghttp2, kept visible here. Clients that
    # honour the advertised limit (every gRPC stack) never meet it.
    def test_streams_over_acknowledged_max_concurrent(self):
        w = self.wire()
        self.assertEqual(w.settings.get(hf.SettingsFrame.MAX_CONCURRENT_STREAMS),
                         MAX_STREAMS)
        sids = [1 + 2 * i for i in range(MAX_STREAMS)]
        for sid in sids:
            self.watch(w, sid)
        w.send_headers(sids[-1] + 2, R.grpc_headers(CHECK))
        w.expect_goaway(R.PROTOCOL_ERROR)


if __name__ == "__main__":
    unittest.main()
