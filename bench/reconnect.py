# SPDX-License-Identifier: MIT
"""How soon the Python client (clients/python/ocrpc_client) reaches a server
that starts late, under four reconnect strategies (issue #12).

For each outage (the server starts DELAY seconds after the client's first,
refused, attempt) and each strategy, one CheckHealth call with an unlimited
retry budget is made against the real ocrpc-server (mock engine); printed:
the seconds from the server's "listening" line to the answer, and how many
attempts failed after the server was already listening (attempts burnt on
the channel's stale reconnect backoff). Strategies:

- old:     grpcio's own reconnect backoff (1 s, x1.6, up to 120 s), retries
           sent fail-fast (the client before #12 without its backoff options);
- backoff: reconnect backoff bounded by the client's (0.1 s .. max_backoff),
           retries fail-fast;
- wfr:     grpcio's backoff, retries sent with wait_for_ready;
- both:    bounded backoff and wait_for_ready retries (the client now).

Usage: OCRPC_SERVER=build/ocrpc-server /usr/bin/python3 bench/reconnect.py
       [DELAY...]  (default 0.1 2 10 30). Takes about 4 x sum(DELAY) s.
"""

import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(REPO, "tests", "integration"),
                os.path.join(REPO, "clients", "python")]
sys.dont_write_bytecode = True

import harness  # noqa: E402
from ocrpc_client import OcrClient  # noqa: E402

GRPC_DEFAULT_BACKOFF = [("grpc.initial_reconnect_backoff_ms", 1000),
                        ("grpc.max_reconnect_backoff_ms", 120000)]
STRATEGIES = ("old", "backoff", "wfr", "both")
MAX_BACKOFF = 5.0   # the client's default


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def measure(strategy, delay):
    port = free_port()
    server = harness.Server("--port", str(port), engine="mock", workers=1)
    listening = {}
    attempts = []   # start times of attempts (monotonic)

    def start_server():
        server.start()
        listening["t"] = time.monotonic()

    def hook(ev):
        if ev.attempt == 1:
            threading.Timer(delay, start_server).start()

    opts = [("grpc.enable_http_proxy", 0)]
    if strategy in ("old", "wfr"):
        opts += GRPC_DEFAULT_BACKOFF
    c = OcrClient("127.0.0.1:%d" % port, options=opts, max_attempts=10 ** 6,
                  max_backoff=MAX_BACKOFF, retry_hook=hook, timeout=600)
    real = c._stub.CheckHealth

    def check(req, **kw):
        attempts.append(time.monotonic())
        if strategy in ("old", "backoff"):
            kw["wait_for_ready"] = False
        return real(req, **kw)
    c._stub.CheckHealth = check
    try:
        c.health()
        done = time.monotonic()
        t = listening["t"]
        burnt = sum(1 for a in attempts[:-1] if a > t)
        return done - t, burnt, len(attempts)
    finally:
        c.close()
        server.stop()


def main():
    delays = [float(a) for a in sys.argv[1:]] or [0.1, 2.0, 10.0, 30.0]
    print("%-8s %7s %12s %14s %9s" % ("strategy", "outage", "reached after",
                                      "burnt attempts", "attempts"))
    for delay in delays:
        for s in STRATEGIES:
            reach, burnt, n = measure(s, delay)
            print("%-8s %6.1fs %11.2fs %14d %9d" % (s, delay, reach, burnt, n),
                  flush=True)


if __name__ == "__main__":
    main()
