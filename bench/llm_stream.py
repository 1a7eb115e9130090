#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Token streaming through ocrpc against reading the backend directly and
against the guide's design (a Python grpc.aio servicer calling the backend
with httpx), all on the OpenAI-compatible test backend
(tests/integration/llm_backend.py) streaming at full speed ("fast-N").

For each target, in interleaved rounds, a Python client streams N tokens
and records the time to the first token and tokens per second; the report
gives medians (and the spread) per target. Two reference targets take the
Python client libraries out: a raw socket reading the backend (its own
pace) and raw HTTP/2 frames to ocrpc (no grpcio); and ocrpc's own view of
each round (its llm_* metrics) splits what it adds from what the clients
and the machine add.

    bench/llm_stream.py build/ocrpc-server [--tokens 2000] [--rounds 15]
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BACKEND = os.path.join(REPO, "tests", "integration", "llm_backend.py")


def gen_stubs(out):
    subprocess.run(["protoc", "-I", os.path.join(REPO, "protos"), "--python_out=" + out,
                    "--grpc_python_out=" + out,
                    "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin",
                    "common.proto", "llm.proto"], check=True)


# ---- the guide's design: grpc.aio servicer + httpx ------------------------
def run_peer(port_file, backend_url, stubs):
    sys.path.insert(0, stubs)
    import grpc
    import httpx
    import llm_pb2
    import llm_pb2_grpc

    class Servicer(llm_pb2_grpc.LLMServiceServicer):
        def __init__(self):
            self.http = httpx.AsyncClient(timeout=None)

        async def AnalyzeTextStream(self, request, context):
            body = {"model": request.options.data.get("model", "json"),
                    "messages": [{"role": "user", "content": request.text}],
                    "stream": True}
            async with self.http.stream("POST", backend_url + "/chat/completions",
                                        json=body) as r:
                async for line in r.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    ch = chunk.get("choices") or []
                    tok = ch[0].get("delta", {}).get("content") if ch else None
                    if tok:
                        yield llm_pb2.LLMStreamResponse(token=tok)
            yield llm_pb2.LLMStreamResponse(is_complete=True)

    async def main():
        server = grpc.aio.server()
        llm_pb2_grpc.add_LLMServiceServicer_to_server(Servicer(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        with open(port_file, "w") as f:
            f.write(str(port))
        await server.wait_for_termination()

    asyncio.run(main())


# ---- clients ----------------------------------------------------------------
def grpc_round(stub, llm_pb2, common_pb2, n):
    req = llm_pb2.LLMRequest(text="bench", options=common_pb2.Metadata(
        data={"model": "fast-%d" % n, "engine": "openai"}))
    c0 = time.process_time()
    t0 = time.perf_counter()
    first = None
    text = []
    for m in stub.AnalyzeTextStream(req, timeout=120):
        if m.token:
            if first is None:
                first = time.perf_counter()
            text.append(m.token)
    t1 = time.perf_counter()
    MSGS.append(len(text))
    CPU.append(time.process_time() - c0)
    # ocrpc holds a trailing run of digits and spaces back until a
    # character ends it (masking needs numbers whole), and sends tokens
    # arriving less than LLM_STREAM_COALESCE_US apart in one message, so
    # its messages are not cut where the backend's tokens are: compare the
    # text, and count the backend's n tokens.
    assert "".join(text) == "".join("t%d " % i for i in range(n)), text[:5]
    return first - t0, n / (t1 - t0)


def direct_round(client, url, n):
    body = {"model": "fast-%d" % n, "messages": [{"role": "user", "content": "bench"}],
            "stream": True}
    c0 = time.process_time()
    t0 = time.perf_counter()
    first = None
    count = 0
    with client.stream("POST", url + "/chat/completions", json=body) as r:
        for line in r.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            ch = json.loads(data).get("choices") or []
            if ch and ch[0].get("delta", {}).get("content"):
                if first is None:
                    first = time.perf_counter()
                count += 1
    t1 = time.perf_counter()
    MSGS.append(count)
    CPU.append(time.process_time() - c0)
    assert count == n, (count, n)
    return first - t0, count / (t1 - t0)


class RawClient:
    """The backend's own pace: one keep-alive socket, the POST written by
    hand, SSE counted with bytes.count (no HTTP or JSON library), so the
    Python client costs next to nothing."""

    def __init__(self, url):
        import socket
        import urllib.parse
        u = urllib.parse.urlsplit(url)
        self.path = u.path
        self.sock = socket.create_connection((u.hostname, u.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def round(self, n):
        body = json.dumps({"model": "fast-%d" % n, "stream": True,
                           "messages": [{"role": "user", "content": "bench"}]}).encode()
        req = (b"POST %s/chat/completions HTTP/1.1\r\nHost: backend\r\n"
               b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
               % (self.path.encode(), len(body), body))
        t0 = time.perf_counter()
        self.sock.sendall(req)
        data = b""
        first = None
        while not data.endswith(b"\r\n0\r\n\r\n"):
            d = self.sock.recv(1 << 16)
            if not d:
                raise RuntimeError("the backend closed the connection")
            data += d
            if first is None and b'"content"' in data:
                first = time.perf_counter()
        t1 = time.perf_counter()
        assert data.count(b'"content"') == n
        return first - t0, n / (t1 - t0)


class RawGrpc:
    """ocrpc with next to no client cost: HTTP/2 frames by hand on one
    socket (HPACK by python3-hpack), the first DATA frame timed, frames
    skipped by their length until the trailers end the stream. Separates
    what ocrpc adds from what grpcio's client costs."""

    def __init__(self, port, request):
        import socket
        import hpack
        self.enc = hpack.Encoder()
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.body = b"\0" + len(request).to_bytes(4, "big") + request
        self.sid = 1
        big = (1 << 31) - 1
        self.sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                          + self.frame(4, 0, 0, (4).to_bytes(2, "big") + big.to_bytes(4, "big"))
                          + self.frame(8, 0, 0, (big - 65535).to_bytes(4, "big")))
        self.buf = b""

    @staticmethod
    def frame(kind, flags, sid, payload):
        return (len(payload).to_bytes(3, "big") + bytes([kind, flags])
                + sid.to_bytes(4, "big") + payload)

    def round(self, n, port):
        sid, self.sid = self.sid, self.sid + 2
        hdrs = self.enc.encode([(":method", "POST"), (":scheme", "http"),
                                (":path", "/llm.LLMService/AnalyzeTextStream"),
                                (":authority", "127.0.0.1:%d" % port),
                                ("content-type", "application/grpc"), ("te", "trailers")])
        t0 = time.perf_counter()
        self.sock.sendall(self.frame(1, 4, sid, hdrs) + self.frame(0, 1, sid, self.body))
        first = None
        got = 0
        while True:
            while len(self.buf) >= 9:
                ln = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) < 9 + ln:
                    break
                kind, flags = self.buf[3], self.buf[4]
                fsid = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
                if kind == 4 and not flags & 1:  # SETTINGS: ACK it
                    self.sock.sendall(self.frame(4, 1, 0, b""))
                if kind == 6 and not flags & 1:  # PING: answer
                    self.sock.sendall(self.frame(6, 1, 0, self.buf[9:9 + ln]))
                self.buf = self.buf[9 + ln:]
                if fsid != sid:
                    continue
                if kind == 0:
                    got += ln
                    if first is None:
                        first = time.perf_counter()
                if kind in (0, 1) and flags & 1:
                    t1 = time.perf_counter()
                    self.sock.sendall(self.frame(8, 0, 0, max(got, 1).to_bytes(4, "big")))
                    return first - t0, n / (t1 - t0)
            d = self.sock.recv(1 << 16)
            if not d:
                raise RuntimeError("ocrpc closed the connection")
            self.buf += d


# Messages and client CPU seconds (this process, all its threads) of the
# last round of the grpc and direct clients: the client's own cost, which
# the machine's load does not change much.
MSGS = []
CPU = []


def server_seconds(port):
    """ocrpc's own sums (seconds) of llm_time_to_first_token_seconds and
    llm_request_duration_seconds for the openai engine, from /metrics on
    the gRPC port (HTTP/1.1 there too)."""
    import urllib.request
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=60) as r:
        text = r.read().decode()
    out = []
    for name in ("llm_time_to_first_token_seconds_sum", "llm_request_duration_seconds_sum"):
        m = re.search(r'(?m)^%s\{engine="openai"\} (\S+)$' % name, text)
        out.append(float(m.group(1)) if m else 0.0)
    return out


def wait_line(proc, pattern, what):
    for line in iter(proc.stderr.readline if pattern.startswith("listening") else
                     proc.stdout.readline, b""):
        m = re.search(pattern, line.decode())
        if m:
            return m
    raise RuntimeError("%s did not start" % what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server")
    ap.add_argument("--tokens", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--coalesce-us", type=int, default=None,
                    help="ocrpc's --llm-stream-coalesce-us (default: its own default)")
    ap.add_argument("--pin", action="store_true",
                    help="clients on CPU 0, backend and servers on the other CPUs: "
                         "the client's wake-up does not wait for the streaming processes")
    ap.add_argument("--peer", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.peer:
        return run_peer(*a.peer)
    others = None
    if a.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            sys.exit("--pin needs two CPUs")
        others = set(cpus[1:])
        os.sched_setaffinity(0, {cpus[0]})  # before grpc starts its threads
    pin = (lambda: os.sched_setaffinity(0, others)) if others else None

    import grpc
    import httpx
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    tmp = tempfile.mkdtemp(prefix="ocrpc-llm-bench-")
    procs = []
    try:
        gen_stubs(tmp)
        sys.path.insert(0, tmp)
        import common_pb2
        import llm_pb2
        import llm_pb2_grpc
        be = subprocess.Popen(["/usr/bin/python3", BACKEND], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, env=env, preexec_fn=pin)
        procs.append(be)
        port = int(wait_line(be, r"^port (\d+)", "backend").group(1))
        url = "http://127.0.0.1:%d/v1" % port
        coalesce = ([] if a.coalesce_us is None else
                    ["--llm-stream-coalesce-us", str(a.coalesce_us)])
        srv = subprocess.Popen([a.server, "--host", "127.0.0.1", "--port", "0",
                                "--engine", "mock", "--workers", "1", "--http-port", "off",
                                "--llm-base-url", url] + coalesce, stderr=subprocess.PIPE,
                               env=env, preexec_fn=pin)
        procs.append(srv)
        sport = int(wait_line(srv, r"listening on \S+:(\d+)", "ocrpc-server").group(1))
        pfile = os.path.join(tmp, "peer.port")
        peer = subprocess.Popen(["/usr/bin/python3", os.path.abspath(__file__), a.server,
                                 "--peer", pfile, url, tmp], env=env, preexec_fn=pin)
        procs.append(peer)
        t_end = time.monotonic() + 60
        while not os.path.exists(pfile) or not open(pfile).read():
            if time.monotonic() > t_end or peer.poll() is not None:
                raise RuntimeError("the grpc.aio peer did not start")
            time.sleep(0.05)
        pport = int(open(pfile).read())
        opts = [("grpc.enable_http_proxy", 0)]
        ocrpc = llm_pb2_grpc.LLMServiceStub(grpc.insecure_channel("127.0.0.1:%d" % sport,
                                                                  options=opts))
        aio = llm_pb2_grpc.LLMServiceStub(grpc.insecure_channel("127.0.0.1:%d" % pport,
                                                                options=opts))
        http = httpx.Client(timeout=None)
        raw = RawClient(url)
        rawgrpc = RawGrpc(sport, llm_pb2.LLMRequest(text="bench", options=common_pb2.Metadata(
            data={"model": "fast-%d" % a.tokens, "engine": "openai"})).SerializeToString())
        inside = []  # ocrpc's own view of each ocrpc round: (ttft, duration) s

        def ocrpc_round():
            before = server_seconds(sport)
            r = grpc_round(ocrpc, llm_pb2, common_pb2, a.tokens)
            after = server_seconds(sport)
            inside.append((after[0] - before[0], after[1] - before[1]))
            return r
        targets = {
            "direct (httpx → backend)": lambda: direct_round(http, url, a.tokens),
            "ocrpc (grpcio → ocrpc → backend)": ocrpc_round,
            "guide (grpcio → grpc.aio+httpx → backend)":
                lambda: grpc_round(aio, llm_pb2, common_pb2, a.tokens),
            "raw socket → backend (the backend's own pace)":
                lambda: raw.round(a.tokens),
            "raw HTTP/2 → ocrpc → backend (no grpcio)":
                lambda: rawgrpc.round(a.tokens, sport),
        }
        for f in targets.values():  # warm-up: connections, caches
            f()
        res = {k: [] for k in targets}
        msgs = {k: [] for k in targets}
        cpu = {k: [] for k in targets}
        inside.clear()
        for _ in range(a.rounds):
            for k, f in targets.items():
                MSGS.clear()
                CPU.clear()
                res[k].append(f())
                if MSGS:
                    msgs[k].append(MSGS[-1])
                    cpu[k].append(CPU[-1])
        print("%d tokens per stream, %d interleaved rounds, medians (min-max); ocrpc's "
              "--llm-stream-coalesce-us %s%s\n"
              % (a.tokens, a.rounds, "default" if a.coalesce_us is None else a.coalesce_us,
                 "; clients pinned to one CPU, backend and servers to the others" if a.pin
                 else ""))
        print("| target | time to first token (ms) | tokens/s | tokens/s ÷ direct "
              "| messages with tokens per stream | client CPU ms per stream |")
        print("|---|---|---|---|---|---|")
        d_rate = statistics.median(r for _, r in res["direct (httpx → backend)"])
        for k, v in res.items():
            ttft = sorted(t * 1000 for t, _ in v)
            rate = sorted(r for _, r in v)
            m = ("%.0f" % statistics.median(msgs[k])) if msgs[k] else "–"
            c = ("%.1f" % (1000 * statistics.median(cpu[k]))) if cpu[k] else "–"
            print("| %s | %.2f (%.2f–%.2f) | %.0f (%.0f–%.0f) | %.2f | %s | %s |"
                  % (k, statistics.median(ttft), ttft[0], ttft[-1], statistics.median(rate),
                     rate[0], rate[-1], statistics.median(rate) / d_rate, m, c))
        ttft = sorted(t * 1000 for t, _ in inside)
        dur = sorted(d * 1000 for _, d in inside)
        print("\nocrpc's own view (its llm_* metrics, per round): time to first token "
              "%.2f ms (%.2f–%.2f), call %.2f ms (%.2f–%.2f): request headers in to the "
              "first token handed to HTTP/2, and to the status" % (
                  statistics.median(ttft), ttft[0], ttft[-1], statistics.median(dur),
                  dur[0], dur[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                if p.stdin:
                    p.stdin.close()
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
