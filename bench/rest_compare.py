#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The guide's section 9 comparison, side by side in one run: REST on
ocrpc, gRPC on ocrpc, and REST on the guide's FastAPI server
(bench/peers/fastapi/server.py), all with a mock engine, at c=1 and c=64.

- REST: Debian's wrk (HTTP/1.1 keep-alive), POST /ocr/extract with the
  guide's JSON body; a Lua script reports p50/p95/p99 from wrk's own
  latency histogram and checks every status.
- gRPC: ocrpc-bench (every answer decoded and checked), ExtractText with
  the same path, c connections x 1 stream.
- Bytes per call: a separate short run of each client (one connection,
  200 calls) through a counting TCP relay: request plus response bytes on
  the wire, HTTP headers and HTTP/2 framing included (the connection's own
  setup, amortised over the 200 calls, too).
- Rounds interleave the three (A B C, C B A, ...); figures are medians.
  The load generator runs on core 0 and each server on core 1 (taskset),
  as in bench/compare.sh.

    /usr/bin/python3 bench/rest_compare.py [--build build] [--rounds 3]
        [--duration 5] [--out FILE]
"""

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BODY = '{"public_image_path": "bench.png", "private_image_path": "bench.png"}'
START_TIMEOUT = 60

LUA = r"""
wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
local bad = 0
response = function(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%%d errors=%%d non200=%%d duration_us=%%d p50=%%d p95=%%d p99=%%d\n",
    summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.status + summary.errors.timeout,
    summary.errors.status, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
""" % BODY.replace("'", "\\'")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Relay:
    """A TCP relay on a free loopback port to target_port, counting the
    bytes that pass in each direction."""

    def __init__(self, target_port):
        self.target = target_port
        self.up = self.down = 0
        self.lock = threading.Lock()
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(128)
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            s = socket.create_connection(("127.0.0.1", self.target))
            for a, b, up in ((c, s, True), (s, c, False)):
                threading.Thread(target=self._pipe, args=(a, b, up), daemon=True).start()

    def _pipe(self, a, b, up):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                with self.lock:
                    if up:
                        self.up += len(d)
                    else:
                        self.down += len(d)
                b.sendall(d)
        except OSError:
            pass
        for x in (a, b):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.ls.close()


class Proc:
    """A server process with its stderr drained into memory."""

    def __init__(self, argv, env=None):
        self.lines = []
        self.p = subprocess.Popen(["taskset", "-c", "1"] + argv, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  env=env)
        self.t = threading.Thread(target=self._drain, daemon=True)
        self.t.start()

    def _drain(self):
        for raw in iter(self.p.stderr.readline, b""):
            self.lines.append(raw.decode("utf-8", "replace"))

    def wait_for(self, rx):
        end = time.monotonic() + START_TIMEOUT
        while time.monotonic() < end:
            for l in list(self.lines):
                m = re.search(rx, l)
                if m:
                    return m
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        raise SystemExit("server did not start: %s\n%s" % (rx, "".join(self.lines)))

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def wait_http(port, path="/healthy"):
    end = time.monotonic() + START_TIMEOUT
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                           % path).encode())
                if s.recv(12).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("no 200 from GET %s on port %d" % (path, port))


def run_wrk(port, conns, duration, lua):
    out = subprocess.run(["taskset", "-c", "0", "wrk", "-t1", "-c%d" % conns,
                          "-d%s" % duration, "--timeout", "10s", "-s", lua,
                          "http://127.0.0.1:%d/ocr/extract" % port],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"RESULT requests=(\d+) errors=(\d+) non200=(\d+) duration_us=(\d+) "
                  r"p50=(\d+) p95=(\d+) p99=(\d+)", out)
    if not m:
        raise SystemExit("wrk printed no result:\n" + out)
    n, err, non200, dur, p50, p95, p99 = map(int, m.groups())
    return {"requests": n, "errors": err, "rps": n / (dur / 1e6),
            "p50": p50 / 1000, "p95": p95 / 1000, "p99": p99 / 1000}


def run_grpc(bench, port, conns, duration=None, requests=None):
    load = ["-n", str(requests)] if requests else ["-d", "%ss" % duration]
    out = subprocess.run(["taskset", "-c", "0", bench, "-s", "127.0.0.1:%d" % port,
                          "-c", str(conns), "-m", "1"] + load +
                         ["--path", "bench.png", "--json", "--no-progress"],
                         capture_output=True, text=True)
    try:
        j = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SystemExit("ocrpc-bench failed:\n" + out.stdout + out.stderr)
    lat = j.get("latency_ms", j)
    return {"requests": j["requests"], "errors": j.get("errors", 0), "rps": j["rps"],
            "p50": lat["p50"], "p95": lat["p95"], "p99": lat["p99"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    server = os.path.join(args.build, "ocrpc-server")
    bench = os.path.join(args.build, "bench", "ocrpc-bench")
    work = tempfile.mkdtemp(prefix="ocrpc-rest-bench-")
    lua = os.path.join(work, "post.lua")
    with open(lua, "w") as f:
        f.write(LUA)

    ocrpc = Proc([server, "--engine", "mock", "--host", "127.0.0.1", "--port", "0",
                  "--http-port", "0", "--access-log", "off", "--image-root", work])
    grpc_port = int(ocrpc.wait_for(r"listening on 127\.0\.0\.1:(\d+)").group(1))
    http_port = int(ocrpc.wait_for(r"REST over HTTP/1\.1 at 127\.0\.0\.1:(\d+)").group(1))
    fport = free_port()
    fastapi = Proc(["/usr/bin/python3", os.path.join(HERE, "peers", "fastapi", "server.py"),
                    "--port", str(fport)])
    try:
        wait_http(http_port)
        wait_http(fport)
        dur = "%ds" % args.duration
        targets = [
            ("REST on ocrpc", ocrpc.p.pid, lambda c: run_wrk(http_port, c, dur, lua)),
            ("gRPC on ocrpc", ocrpc.p.pid, lambda c: run_grpc(bench, grpc_port, c,
                                                              args.duration)),
            ("REST on FastAPI", fastapi.p.pid, lambda c: run_wrk(fport, c, dur, lua)),
        ]
        res = {}
        load0 = os.getloadavg()
        for conns in (1, 64):
            for r in range(args.rounds):
                order = targets if r % 2 == 0 else targets[::-1]
                for name, _, fn in order:
                    x = fn(conns)
                    res.setdefault((conns, name), []).append(x)
                    print("c=%d round %d %-16s %9.0f req/s p50 %.3f p95 %.3f p99 %.3f ms, "
                          "%d errors" % (conns, r + 1, name, x["rps"], x["p50"], x["p95"],
                                         x["p99"], x["errors"]), file=sys.stderr)
        load1 = os.getloadavg()
        # Bytes per call, through the counting relay.
        per_call = {}
        for name, port in (("REST on ocrpc", http_port), ("gRPC on ocrpc", grpc_port),
                           ("REST on FastAPI", fport)):
            relay = Relay(port)
            if name.startswith("gRPC"):
                n = run_grpc(bench, relay.port, 1, requests=200)["requests"]
            else:
                n = run_wrk(relay.port, 1, "1s", lua)["requests"]
            time.sleep(0.2)  # the relay threads account the last bytes
            with relay.lock:
                per_call[name] = ((relay.up + relay.down) / n, relay.up / n, relay.down / n)
            relay.close()
    finally:
        ocrpc.stop()
        fastapi.stop()

    med = lambda xs, k: statistics.median(x[k] for x in xs)
    lines = ["| c | server | req/s | p50 ms | p95 ms | p99 ms | bytes/call (req + resp) | "
             "req/s × FastAPI | p99 × FastAPI | errors |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for conns in (1, 64):
        ref = res[(conns, "REST on FastAPI")]
        for name, _, _ in targets:
            xs = res[(conns, name)]
            b = per_call[name]
            lines.append("| %d | %s | %s | %.3f | %.3f | %.3f | %.0f (%.0f + %.0f) | %s | %s | %d |" % (
                conns, name, "{:,.0f}".format(med(xs, "rps")), med(xs, "p50"),
                med(xs, "p95"), med(xs, "p99"), b[0], b[1], b[2],
                "" if name.endswith("FastAPI") else "%.1f×" % (med(xs, "rps") /
                                                                med(ref, "rps")),
                "" if name.endswith("FastAPI") else "%.3f×" % (med(xs, "p99") /
                                                                med(ref, "p99")),
                sum(x["errors"] for x in xs)))
    report = ("Generated by `/usr/bin/python3 bench/rest_compare.py --rounds %d --duration %d` "
              "at %s UTC; load average before %.2f, after %.2f.\n\n%s\n" % (
                  args.rounds, args.duration, time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                  load0[0], load1[0], "\n".join(lines)))
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)
    print(report)


if __name__ == "__main__":
    main()
