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
        [--duration 5] [--out FILE] [--nice N]
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
NICE = []  # --nice N: every server and load generator alike

# wrk's own percentiles are corrected for coordinated omission: each
# sample longer than the mean interval between requests adds synthetic
# samples (stats_correct in wrk 4). At c=1 one scheduling stall of another
# process then weighs in proportion to the server's speed (a 50 ms stall
# adds ~500 samples at 0.1 ms per request, ~4 at FastAPI's 13 ms), so the
# script also times every request itself (CLOCK_MONOTONIC through LuaJIT's
# FFI, from request() just before the write to response()), the way
# ocrpc-bench measures the gRPC rows. Valid with one request in flight per
# thread, so printed at c=1 only.
LUA = r"""
wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } rc_timespec;
int clock_gettime(int clk, rc_timespec *ts);
]]
local ts = ffi.new("rc_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end
local req, t0 = nil, nil
raw, nraw = {}, 0
request = function()
  if not req then req = wrk.format() end
  t0 = now_us()
  return req
end
response = function(status, headers, body)
  if t0 then
    nraw = nraw + 1
    raw[nraw] = now_us() - t0
    t0 = nil
  end
end
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%%d errors=%%d non200=%%d duration_us=%%d p50=%%d p95=%%d p99=%%d\n",
    summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.status + summary.errors.timeout,
    summary.errors.status, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
  if RAW_ON then
    local all = {}
    for _, t in ipairs(threads) do
      for _, v in ipairs(t:get("raw")) do all[#all + 1] = v end
    end
    table.sort(all)
    local function pct(p)
      if #all == 0 then return 0 end
      return all[math.max(1, math.ceil(#all * p / 100))]
    end
    io.write(string.format("RAW n=%%d p50=%%.1f p95=%%.1f p99=%%.1f\n", #all,
                           pct(50), pct(95), pct(99)))
  end
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
        self.p = subprocess.Popen(NICE + ["taskset", "-c", "1"] + argv, stdin=subprocess.DEVNULL,
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
    lua = lua[conns == 1]  # the script that times requests itself at c=1
    out = subprocess.run(NICE + ["taskset", "-c", "0", "wrk", "-t1", "-c%d" % conns,
                          "-d%s" % duration, "--timeout", "10s", "-s", lua,
                          "http://127.0.0.1:%d/ocr/extract" % port],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"RESULT requests=(\d+) errors=(\d+) non200=(\d+) duration_us=(\d+) "
                  r"p50=(\d+) p95=(\d+) p99=(\d+)", out)
    if not m:
        raise SystemExit("wrk printed no result:\n" + out)
    n, err, non200, dur, p50, p95, p99 = map(int, m.groups())
    r = {"requests": n, "errors": err, "rps": n / (dur / 1e6),
         "p50": p50 / 1000, "p95": p95 / 1000, "p99": p99 / 1000}
    m = re.search(r"RAW n=(\d+) p50=([\d.]+) p95=([\d.]+) p99=([\d.]+)", out)
    if m:
        r.update(raw_p50=float(m.group(2)) / 1000, raw_p95=float(m.group(3)) / 1000,
                 raw_p99=float(m.group(4)) / 1000)
    return r


def run_grpc(bench, port, conns, duration=None, requests=None):
    load = ["-n", str(requests)] if requests else ["-d", "%ss" % duration]
    out = subprocess.run(NICE + ["taskset", "-c", "0", bench, "-s", "127.0.0.1:%d" % port,
                          "-c", str(conns), "-m", "1"] + load +
                         ["--path", "bench.png", "--json", "--no-progress"],
                         capture_output=True, text=True)
    try:
        j = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SystemExit("ocrpc-bench failed:\n" + out.stdout + out.stderr)
    lat = j.get("latency_ms", j)
    # ocrpc-bench's percentiles are per request already (no correction).
    return {"requests": j["requests"], "errors": j.get("errors", 0), "rps": j["rps"],
            "p50": lat["p50"], "p95": lat["p95"], "p99": lat["p99"],
            "raw_p50": lat["p50"], "raw_p95": lat["p95"], "raw_p99": lat["p99"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--out", default=None)
    ap.add_argument("--nice", type=int, default=0,
                    help="run the servers and load generators at this nice value "
                         "(negative needs root): on a shared machine, measures the "
                         "servers rather than their neighbours' scheduling")
    args = ap.parse_args()
    if args.nice:
        NICE[:] = ["nice", "-n", str(args.nice)]
    server = os.path.join(args.build, "ocrpc-server")
    bench = os.path.join(args.build, "bench", "ocrpc-bench")
    work = tempfile.mkdtemp(prefix="ocrpc-rest-bench-")
    lua = [os.path.join(work, "post.lua"), os.path.join(work, "post-raw.lua")]
    for path, raw_on in zip(lua, ("false", "true")):
        with open(path, "w") as f:
            f.write("RAW_ON = %s\n" % raw_on + LUA)

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
                    print("c=%d round %d %-16s %9.0f req/s p50 %.3f p95 %.3f p99 %.3f ms "
                          "(per request: p50 %s p99 %s), %d errors" % (
                              conns, r + 1, name, x["rps"], x["p50"], x["p95"], x["p99"],
                              "%.3f" % x["raw_p50"] if "raw_p50" in x else "-",
                              "%.3f" % x["raw_p99"] if "raw_p99" in x else "-", x["errors"]),
                          file=sys.stderr)
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

    def raw(xs, k):  # per-request percentile, when every round has one
        return med(xs, k) if all(k in x for x in xs) else None

    lines = ["| c | server | req/s | p50 ms | p95 ms | p99 ms | per request: p50 / p99 ms | "
             "bytes/call (req + resp) | req/s × FastAPI | p99 × FastAPI | "
             "per-request p99 × FastAPI | errors |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for conns in (1, 64):
        ref = res[(conns, "REST on FastAPI")]
        for name, _, _ in targets:
            xs = res[(conns, name)]
            b = per_call[name]
            rp50, rp99, ref99 = raw(xs, "raw_p50"), raw(xs, "raw_p99"), raw(ref, "raw_p99")
            fast = name.endswith("FastAPI")
            lines.append("| %d | %s | %s | %.3f | %.3f | %.3f | %s | %.0f (%.0f + %.0f) | %s | %s | %s | %d |" % (
                conns, name, "{:,.0f}".format(med(xs, "rps")), med(xs, "p50"),
                med(xs, "p95"), med(xs, "p99"),
                "%.3f / %.3f" % (rp50, rp99) if rp99 is not None else "–",
                b[0], b[1], b[2],
                "" if fast else "%.1f×" % (med(xs, "rps") / med(ref, "rps")),
                "" if fast else "%.3f×" % (med(xs, "p99") / med(ref, "p99")),
                "" if fast or rp99 is None or ref99 is None else "%.3f×" % (rp99 / ref99),
                sum(x["errors"] for x in xs)))
    cmd = "/usr/bin/python3 bench/rest_compare.py --rounds %d --duration %d%s" % (
        args.rounds, args.duration, " --nice %d" % args.nice if args.nice else "")
    report = ("Generated by `%s` at %s UTC; load average before %.2f, after %.2f. "
              "p50/p95/p99: wrk's (corrected for coordinated omission) for REST, "
              "ocrpc-bench's for gRPC; per request: each request timed alone (c=1 only "
              "for wrk).\n\n%s\n" % (
                  cmd, time.strftime("%Y-%m-%d %H:%M", time.gmtime()), load0[0], load1[0],
                  "\n".join(lines)))
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)
    print(report)


if __name__ == "__main__":
    main()
