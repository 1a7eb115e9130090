# SPDX-License-Identifier: MIT
"""A small OpenAI-compatible chat-completions server for the tests.

The only stand-in the project allows: it speaks the real protocol (HTTP/1.1
keep-alive, JSON bodies, server-sent events over chunked encoding) and the
model name picks what it does, so the server under test is configured as
for any backend:

  json       a JSON answer {analysis, confidence, entities} with usage
  text       a plain-text answer (not the JSON asked for)
  tokens     streams "Hello", " world", ... then usage and [DONE]
  private    streams a card and a resident registration number split
             across tokens
  gated      first token, then waits for release() before the rest
             (whole answers: waits before answering)
  badjson    200 with a body that is not JSON
  http400    400 "model does not exist";  context: 400 context length
  http500, http503, http429
  disconnect streams two tokens, then closes the connection mid-stream
  stall      answers nothing until the client goes away
  big-N-S    streams N tokens of S bytes, with non-blocking writes; records
             the token at which its socket stayed unwritable for a second
             (the reader stopped reading) and when it finished
  fast-N     streams N short tokens as fast as it can (benchmarks)

Everything is recorded: requests (method, path, headers, JSON body),
connections opened, and which scenarios saw their client disconnect.
Tests in this process use the Backend object; other processes (grpc-js)
run `python3 llm_backend.py`, read "port N" from its stdout, and use
GET /_test/state, POST /_test/release and /_test/reset (the gate), and
GET /_test/wait?disconnected=NAME or ?requests=N (answers once it happened),
POST /_test/models?status=N (what the health probe, GET /models, gets).
"""

import http.server
import json
import select
import socket
import socketserver
import sys
import threading
import time

WAIT_CEILING = 60.0  # only a hang reaches it


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "llm-test-backend"

    def log_message(self, fmt, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        # Headers and body are separate writes: without this, Nagle and
        # the client's delayed ACK add 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.backend.note_connection()

    @property
    def backend(self):
        return self.server.backend

    # -- helpers ----------------------------------------------------------
    def _send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _start_sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _event(self, obj):
        data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        self._chunk(b"data: " + data + b"\n\n")

    def _delta(self, model, text):
        return {"id": "c1", "object": "chat.completion.chunk", "model": model,
                "choices": [{"index": 0, "delta": {"content": text},
                             "finish_reason": None}]}

    def _end_sse(self, model, ntok):
        self._event({"id": "c1", "object": "chat.completion.chunk", "model": model,
                     "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        self._event({"id": "c1", "object": "chat.completion.chunk", "model": model,
                     "choices": [], "usage": {"prompt_tokens": 11,
                                              "completion_tokens": ntok,
                                              "total_tokens": 11 + ntok}})
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _client_gone(self, timeout):
        """True once the peer closed its side (read returns EOF)."""
        r, _, _ = select.select([self.connection], [], [], timeout)
        if not r:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _wait_gate_or_gone(self, name):
        """Waits for release(); returns False when the client went away."""
        deadline = time.monotonic() + WAIT_CEILING
        while time.monotonic() < deadline:
            if self.backend.gate.is_set():
                return True
            if self._client_gone(0.02):
                self.backend.note_disconnect(name)
                return False
        return False

    # -- routes -------------------------------------------------------------
    def do_GET(self):
        if self.path.endswith("/models"):
            self.backend.record("GET", self.path, dict(self.headers), None)
            if self.backend.models_status != 200:  # the health probe fails
                return self._send_json(self.backend.models_status,
                                       {"error": {"message": "probe refused"}})
            return self._send_json(200, {"object": "list", "data": [
                {"id": "json", "object": "model"}]})
        if self.path == "/_test/state":
            return self._send_json(200, self.backend.state())
        if self.path.startswith("/_test/wait?disconnected="):
            name = self.path.split("=", 1)[1]
            ok = self.backend.wait(lambda: name in self.backend.disconnected)
            return self._send_json(200 if ok else 504, {"ok": ok})
        if self.path.startswith("/_test/wait?requests="):
            n = int(self.path.split("=", 1)[1])
            ok = self.backend.wait(lambda: len(self.backend.requests) >= n)
            return self._send_json(200 if ok else 504, {"ok": ok})
        self._send_json(404, {"error": {"message": "no such route"}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        if self.path == "/_test/release":
            self.backend.release()
            return self._send_json(200, {"ok": True})
        if self.path.startswith("/_test/models?status="):
            self.backend.models_status = int(self.path.split("=", 1)[1])
            return self._send_json(200, {"ok": True})
        if self.path == "/_test/reset":
            self.backend.reset_gate()
            return self._send_json(200, {"ok": True})
        try:
            body = json.loads(raw)
        except ValueError:
            return self._send_json(400, {"error": {"message": "body is not JSON"}})
        self.backend.record("POST", self.path, dict(self.headers), body)
        if not self.path.endswith("/chat/completions"):
            return self._send_json(404, {"error": {"message": "no such route"}})
        model = body.get("model") or "json"
        stream = bool(body.get("stream"))
        try:
            self._scenario(model, stream, body)
        except (BrokenPipeError, ConnectionResetError):
            self.backend.note_disconnect(model.split("-")[0])
            self.close_connection = True

    def _scenario(self, model, stream, body):
        b = self.backend
        kind = model.split("-")[0]
        if kind in ("http400", "context", "http500", "http503", "http429"):
            status = {"http400": 400, "context": 400, "http500": 500, "http503": 503,
                      "http429": 429}[kind]
            msg = {"http400": "The model `%s` does not exist" % model,
                   "context": "This model's maximum context length is 4096 tokens. "
                              "However, your messages resulted in 9000 tokens.",
                   }.get(kind, "backend failure %d" % status)
            return self._send_json(status, {"error": {"message": msg,
                                                      "type": "invalid_request_error"}})
        if kind == "badjson":
            data = b"this is not JSON {"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if kind == "stall":
            deadline = time.monotonic() + WAIT_CEILING
            while time.monotonic() < deadline:
                if self._client_gone(0.05):
                    b.note_disconnect("stall")
                    break
            self.close_connection = True
            return
        if kind == "disconnect":
            if stream:
                self._start_sse()
                self._event(self._delta(model, "partial"))
                self._event(self._delta(model, " answer"))
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        if kind == "big":
            return self._big(model)
        if kind == "fast":
            n = int(model.split("-")[1])
            self._start_sse()
            for i in range(n):
                self._event(self._delta(model, "t%d " % i))
            return self._end_sse(model, n)
        if not stream:
            if kind == "gated" and not self._wait_gate_or_gone("gated"):
                self.close_connection = True
                return
            if kind == "text":
                content = "This is a receipt from Hanbit, paid by card."
            else:
                content = json.dumps(b.json_answer)
            return self._send_json(200, {
                "id": "c1", "object": "chat.completion", "model": model,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": 42, "completion_tokens": 17,
                          "total_tokens": 59}})
        self._start_sse()
        self._chunk(b": keep-alive comment\n\n")
        toks = b.stream_tokens
        if kind == "private":
            toks = ["Card ", "4111", "-1111-", "1111-11", "11 and RRN 900101", "-1234567",
                    ". 한글 끝"]
        self._event(self._delta(model, toks[0]))
        if kind == "gated":
            b.note_first_token_sent()
            if not self._wait_gate_or_gone("gated"):
                self.close_connection = True
                return
        for t in toks[1:]:
            self._event(self._delta(model, t))
        self._end_sse(model, len(toks))

    def _big(self, model):
        _, n, size = model.split("-")
        n, size = int(n), int(size)
        b = self.backend
        self._start_sse()
        self.wfile.flush()
        sock = self.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        sock.setblocking(False)
        pad = "x" * (size - 8)
        try:
            for i in range(n):
                ev = json.dumps(self._delta(model, "%07d %s" % (i, pad))).encode()
                data = b"%x\r\ndata: %s\n\n\r\n" % (len(ev) + 8, ev)
                view = memoryview(data)
                while view:
                    try:
                        sent = sock.send(view)
                        view = view[sent:]
                    except BlockingIOError:
                        # Unwritable for a whole second: the reader has
                        # stopped taking bytes (not just fallen behind).
                        _, w, _ = select.select([], [sock], [], 1.0)
                        if not w:
                            b.note_blocked(i)
                b.big_sent = i + 1
            b.note_big_finished()
            sock.setblocking(True)
            self._end_sse(model, n)
        finally:
            sock.setblocking(True)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A client that goes away (what several tests do on purpose) is
        # recorded by the handler, not printed as a traceback.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class Backend:
    """The test backend on 127.0.0.1 and a free port (one per test class)."""

    def __init__(self):
        self.requests = []
        self.models_status = 200  # GET /models (the server's health probe)
        self.connections = 0
        self.disconnected = []
        self.gate = threading.Event()
        self.cond = threading.Condition()
        self.first_token_sent = False
        self.blocked_at = None
        self.big_sent = 0
        self.big_finished = False
        self.on_big_finished = None
        self.stream_tokens = ["Hello", " world", ",", " this", " is", " ocrpc", "."]
        self.json_answer = {
            "analysis": "A receipt from Hanbit dated 2024-03-05, total 12000 KRW; "
                        "card 4111-1111-1111-1111.",
            "confidence": 0.87,
            "entities": {"date": "2024-03-05", "amount_total": "12000 KRW",
                         "card_number": "4111 1111 1111 1111", "items": 3}}
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.backend = self
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d/v1" % self.port
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        name="llm-backend", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- recording ------------------------------------------------------------
    def _notify(self):
        with self.cond:
            self.cond.notify_all()

    def record(self, method, path, headers, body):
        with self.cond:
            self.requests.append({"method": method, "path": path,
                                  "headers": headers, "body": body})
            self.cond.notify_all()

    def note_connection(self):
        with self.cond:
            self.connections += 1
            self.cond.notify_all()

    def note_disconnect(self, name):
        with self.cond:
            self.disconnected.append(name)
            self.cond.notify_all()

    def note_first_token_sent(self):
        with self.cond:
            self.first_token_sent = True
            self.cond.notify_all()

    def note_blocked(self, i):
        with self.cond:
            if self.blocked_at is None:
                self.blocked_at = i
            self.cond.notify_all()

    def note_big_finished(self):
        with self.cond:
            self.big_finished = True
            if self.on_big_finished:
                self.on_big_finished()
            self.cond.notify_all()

    def release(self):
        self.gate.set()
        self._notify()

    def reset_gate(self):
        self.gate.clear()
        self.first_token_sent = False

    def wait(self, pred, ceiling=WAIT_CEILING):
        """Waits for pred() (an event the backend records); False only on a
        hang."""
        with self.cond:
            return self.cond.wait_for(pred, timeout=ceiling)

    def chat_requests(self):
        with self.cond:
            return [r for r in self.requests if r["method"] == "POST"]

    def state(self):
        with self.cond:
            return {"requests": len(self.requests), "connections": self.connections,
                    "disconnected": list(self.disconnected),
                    "first_token_sent": self.first_token_sent,
                    "authorization": [r["headers"].get("Authorization")
                                      for r in self.requests]}


def main():
    b = Backend().start()
    print("port %d" % b.port, flush=True)
    # Serve until our parent closes stdin (or kills us).
    sys.stdin.read()
    b.stop()


if __name__ == "__main__":
    main()
