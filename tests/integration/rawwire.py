# SPDX-License-Identifier: MIT
"""A frame-level HTTP/2 client for attack and conformance tests: frames are
built with Debian's python3-hyperframe and header blocks with python3-hpack,
with no state machine in the way, so a test can send what RFC 9113 forbids
(bad padding, DATA on a closed stream, reused stream ids) and read exactly
what the server answered. Also the helpers the tests share: an ordinary
gRPC call on its own connection, the server's memory from /proc."""

import socket
import time

import hpack
import hyperframe.frame as hf

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
TIMEOUT = 60  # seconds; a bound only a hang reaches, never an assertion

NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
ENHANCE_YOUR_CALM = 0xB
COMPRESSION_ERROR = 0x9


def grpc_frame(payload):
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


def grpc_headers(path, extra=()):
    return [(":method", "POST"), (":scheme", "http"), (":path", path),
            (":authority", "localhost"), ("content-type", "application/grpc"),
            ("te", "trailers")] + list(extra)


class Wire:
    """One connection. Call handshake() first (unless the test is about
    the handshake itself)."""

    def __init__(self, server):
        self.sock = socket.create_connection((server.host, server.port),
                                             timeout=TIMEOUT)
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.dec.max_allowed_table_size = 65536
        self.goaway = None       # the GoAwayFrame received, if any
        self.closed = False      # the server closed the socket
        self.headers = {}        # stream id -> [decoded header lists]
        self.resets = {}         # stream id -> RST_STREAM error code
        self.data = {}           # stream id -> bytes
        self.ended = set()       # streams the server ended
        self.settings = {}       # the server's SETTINGS
        self.ping_acks = 0
        self._block = None       # (frame, bytes) of a header block in flight

    # -- sending ----------------------------------------------------------

    def send(self, *frames):
        out = b"".join(f.serialize() if isinstance(f, hf.Frame) else f
                       for f in frames)
        try:
            self.sock.sendall(out)
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True

    def handshake(self, settings=None):
        s = hf.SettingsFrame(0)
        s.settings = dict(settings or {hf.SettingsFrame.INITIAL_WINDOW_SIZE:
                                       1 << 24})
        w = hf.WindowUpdateFrame(0)
        w.window_increment = (1 << 24)
        self.send(PREFACE, s, w)
        self.until(lambda: self.settings)
        return self

    def block(self, headers):
        return self.enc.encode(headers, huffman=False)

    def headers_frame(self, sid, headers, end_stream=False, raw_block=None):
        f = hf.HeadersFrame(sid)
        f.data = raw_block if raw_block is not None else self.block(headers)
        f.flags.add("END_HEADERS")
        if end_stream:
            f.flags.add("END_STREAM")
        return f

    def send_headers(self, sid, headers, end_stream=False):
        self.send_block(sid, self.block(headers), end_stream)

    def send_block(self, sid, block, end_stream=False, chunk=16384):
        """A header block split into HEADERS + CONTINUATION frames."""
        first = hf.HeadersFrame(sid)
        first.data = block[:chunk]
        if end_stream:
            first.flags.add("END_STREAM")
        frames = [first]
        for i in range(chunk, len(block), chunk):
            c = hf.ContinuationFrame(sid)
            c.data = block[i:i + chunk]
            frames.append(c)
        frames[-1].flags.add("END_HEADERS")
        self.send(*frames)

    def data_frame(self, sid, payload, end_stream=False):
        f = hf.DataFrame(sid)
        f.data = payload
        if end_stream:
            f.flags.add("END_STREAM")
        return f

    def send_data(self, sid, payload, end_stream=False, chunk=16384):
        frames = []
        for i in range(0, max(len(payload), 1), chunk):
            frames.append(self.data_frame(sid, payload[i:i + chunk]))
        if end_stream:
            frames[-1].flags.add("END_STREAM")
        self.send(*frames)

    def call(self, sid, path, message, extra=()):
        """A whole unary gRPC request on stream sid."""
        self.send_headers(sid, grpc_headers(path, extra))
        self.send_data(sid, grpc_frame(message), end_stream=True)

    # -- receiving --------------------------------------------------------

    def _recv_exact(self, n):
        out = b""
        while len(out) < n:
            try:
                chunk = self.sock.recv(n - len(out))
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            out += chunk
        return out

    def read_frame(self):
        """The next frame (PINGs and SETTINGS acknowledged), or None once the
        server closed the connection."""
        head = self._recv_exact(9)
        if head is None:
            self.closed = True
            return None
        f, length = hf.Frame.parse_frame_header(memoryview(head))
        body = self._recv_exact(length) if length else b""
        if body is None:
            self.closed = True
            return None
        f.parse_body(memoryview(body))
        if isinstance(f, hf.SettingsFrame) and "ACK" not in f.flags:
            self.settings.update(f.settings)
            self.send(hf.SettingsFrame(0, flags=["ACK"]))
        elif isinstance(f, hf.PingFrame) and "ACK" not in f.flags:
            self.send(hf.PingFrame(0, opaque_data=f.opaque_data, flags=["ACK"]))
        elif isinstance(f, hf.PingFrame):
            self.ping_acks += 1
        elif isinstance(f, hf.GoAwayFrame):
            self.goaway = f
        elif isinstance(f, hf.RstStreamFrame):
            self.resets[f.stream_id] = f.error_code
        elif isinstance(f, hf.DataFrame):
            self.data[f.stream_id] = self.data.get(f.stream_id, b"") + f.data
            if f.flow_controlled_length:
                # Keep the windows open: the tests are not about our window.
                w0, w1 = hf.WindowUpdateFrame(0), hf.WindowUpdateFrame(f.stream_id)
                w0.window_increment = w1.window_increment = f.flow_controlled_length
                self.send(w0, w1)
            if "END_STREAM" in f.flags:
                self.ended.add(f.stream_id)
        elif isinstance(f, (hf.HeadersFrame, hf.ContinuationFrame)):
            if isinstance(f, hf.HeadersFrame):
                self._block = (f, f.data)
            else:
                self._block = (self._block[0], self._block[1] + f.data)
            if "END_HEADERS" in f.flags:
                first, block = self._block
                self._block = None
                hdrs = [(k.decode() if isinstance(k, bytes) else k,
                         v.decode("latin-1") if isinstance(v, bytes) else v)
                        for k, v in self.dec.decode(block, raw=True)]
                self.headers.setdefault(first.stream_id, []).append(hdrs)
                if "END_STREAM" in first.flags:
                    self.ended.add(first.stream_id)
        return f

    def until(self, pred, what="the expected frame"):
        """Reads frames until pred() is true; fails on a hang or close."""
        deadline = time.monotonic() + TIMEOUT
        while not pred():
            if self.closed:
                raise AssertionError("connection closed before %s" % what)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s within %ds" % (what, TIMEOUT))
            self.sock.settimeout(left)
            try:
                self.read_frame()
            except socket.timeout:
                raise AssertionError("no %s within %ds" % (what, TIMEOUT))
        return True

    def until_closed(self):
        """Reads until the server closes the connection (a GOAWAY may come
        first); fails on a hang."""
        deadline = time.monotonic() + TIMEOUT
        while not self.closed:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("connection not closed within %ds" % TIMEOUT)
            self.sock.settimeout(left)
            try:
                self.read_frame()
            except socket.timeout:
                raise AssertionError("connection not closed within %ds" % TIMEOUT)

    def expect_goaway(self, code):
        """The server ends the connection with GOAWAY `code`, then closes."""
        self.until_closed()
        assert self.goaway is not None, "connection closed without GOAWAY"
        assert self.goaway.error_code == code, (
            "GOAWAY error code %#x, expected %#x (debug %r)"
            % (self.goaway.error_code, code, self.goaway.additional_data))
        return self.goaway

    def barrier(self):
        """PING and wait for its ACK: the server has processed every frame
        sent before it (frames are handled in order)."""
        want = self.ping_acks + 1
        self.send(hf.PingFrame(0, opaque_data=b"barrier!"))
        self.until(lambda: self.ping_acks >= want, "the PING ACK")

    def answered(self, sid):
        return sid in self.resets or sid in self.ended

    def grpc_status(self, sid):
        """grpc-status of a finished stream (trailers or Trailers-Only)."""
        self.until(lambda: self.answered(sid), "an answer on stream %d" % sid)
        for block in reversed(self.headers.get(sid, [])):
            for k, v in block:
                if k == "grpc-status":
                    return int(v)
        return None

    def grpc_message(self, sid):
        for block in reversed(self.headers.get(sid, [])):
            for k, v in block:
                if k == "grpc-message":
                    return v
        return ""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def memory_kib(pid, field="VmRSS"):
    """A field of /proc/PID/status, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("%s not in /proc/%d/status" % (field, pid))


def ordinary_call(server):
    """grpc.health.v1 Check on a new connection of its own; returns the
    grpc-status. The bound is the generous TIMEOUT, never an assertion on
    latency."""
    w = Wire(server).handshake()
    try:
        w.call(1, "/grpc.health.v1.Health/Check", b"")
        return w.grpc_status(1)
    finally:
        w.close()
