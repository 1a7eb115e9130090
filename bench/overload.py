#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Overload benchmark (issue 15): what admitted calls see when a Tesseract
server is offered 3x the throughput its workers can give.

1. Capacity: a closed loop of 2 x workers callers for --measure seconds
   gives the throughput X the workers sustain.
2. Open loop at --factor x X for --seconds, each call with a --timeout
   deadline (the guide's worker uses 30 s), against the server as
   configured (shedding: --max-queued-jobs default) and, for contrast,
   with shedding effectively off (--max-queued-jobs 1000000).

Prints, per run: calls offered, OK, UNAVAILABLE (shed), other errors
(must be 0: nothing lost), p50/p99 latency of the OK calls and the
recognition time (server ocr_ms, median), as Markdown rows.

Usage: OCRPC_SERVER=build/ocrpc-server bench/overload.py [--workers 2]
       [--factor 3] [--seconds 20] [--measure 10] [--timeout 30]"""

import argparse
import os
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
os.environ.setdefault("OCRPC_REPO", os.path.join(HERE, ".."))

import grpc  # noqa: E402

import harness as H  # noqa: E402

S = H.load_stubs("repo")
LINES = ["Overload line %d alpha bravo charlie delta" % i for i in range(6)]


def request():
    return S.ocr.OCRRequest(public_image_path="page.png", language="english")


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def capacity(stub, workers, seconds):
    done = []
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def caller():
        while time.monotonic() < stop:
            stub.ExtractText(request(), timeout=300)
            with lock:
                done.append(time.monotonic())

    threads = [threading.Thread(target=caller) for _ in range(2 * workers)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(done) / (time.monotonic() - t0)


def open_loop(stub, rate, seconds, timeout):
    results = []
    lock = threading.Lock()

    def on_done(start, fut):
        end = time.monotonic()
        try:
            resp = fut.result()
            rec = ("OK", end - start, float(dict(resp.metadata.data)["ocr_ms"]))
        except grpc.RpcError as e:
            rec = (e.code().name, end - start, None)
        with lock:
            results.append(rec)

    n = int(rate * seconds)
    t0 = time.monotonic()
    futs = []
    for i in range(n):
        due = t0 + i / rate
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)  # pacing the open loop, not synchronisation
        start = time.monotonic()
        f = stub.ExtractText.future(request(), timeout=timeout)
        f.add_done_callback(lambda fut, s=start: on_done(s, fut))
        futs.append(f)
    for f in futs:
        try:
            f.result()
        except grpc.RpcError:
            pass
    while True:
        with lock:
            if len(results) == n:
                return results
        time.sleep(0.01)


def run(args, extra, label):
    srv = H.Server(*extra, workers=args.workers)
    srv.start()
    try:
        H.render_lines(srv.path("page.png"), LINES)
        stub = S.ocr_grpc.OCRServiceStub(srv.channel())
        stub.ExtractText(request(), timeout=300)  # warm the engines
        x = capacity(stub, args.workers, args.measure)
        rate = args.factor * x
        res = open_loop(stub, rate, args.seconds, args.timeout)
    finally:
        srv.stop()
    ok = [r[1] * 1000 for r in res if r[0] == "OK"]
    ocr = [r[2] for r in res if r[0] == "OK"]
    shed = sum(1 for r in res if r[0] == "UNAVAILABLE")
    other = {}
    for r in res:
        if r[0] not in ("OK", "UNAVAILABLE"):
            other[r[0]] = other.get(r[0], 0) + 1
    med_ocr = statistics.median(ocr) if ocr else float("nan")
    print("| %s | %.1f | %.1f | %d | %d | %d | %s | %.0f | %.0f | %.0f | %.1f |" % (
        label, x, rate, len(res), len(ok), shed,
        ", ".join("%s %d" % kv for kv in other.items()) or "0",
        pct(ok, 50), pct(ok, 99), med_ocr, pct(ok, 99) / med_ocr), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--factor", type=float, default=3.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--measure", type=float, default=10.0)
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()
    print("| server | capacity req/s | offered req/s | calls | OK | UNAVAILABLE | "
          "other errors | OK p50 ms | OK p99 ms | ocr_ms median | p99 / ocr_ms |")
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|")
    # The test harness turns shedding off by default; each row says what
    # it wants (a later flag wins).
    run(args, ["--max-queued-jobs", "0", "--shed-by-deadline", "on"],
        "shedding (default --max-queued-jobs: 4 per worker; --shed-by-deadline on)")
    run(args, ["--max-queued-jobs", "1000000", "--shed-by-deadline", "off"],
        "no shedding (--max-queued-jobs 1000000, --shed-by-deadline off)")


if __name__ == "__main__":
    main()
