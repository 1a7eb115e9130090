#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Opens N idle HTTP/2 (h2c) connections to HOST:PORT and holds them.

Each connection sends the client preface and an empty SETTINGS frame, then
only answers what a live client must answer: SETTINGS (ACK) and PING (ACK),
so that servers with keepalive or settings timeouts keep it. asyncio with
raw sockets, no HTTP/2 library. Connects CONCURRENCY at a time.

Prints one JSON line when all attempts are done ({"event":"ready",
"open":..., "connect_errors":...}), holds until SIGTERM/SIGINT or stdin
closes, then prints {"event":"done","open":...,"closed_by_server":...,
"goaways":...}. Raise `ulimit -n` above N first.

Usage: h2hold.py HOST:PORT N [--concurrency 200]
"""
import argparse
import asyncio
import json
import signal
import struct
import sys

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS_EMPTY = struct.pack(">I", 0)[1:] + bytes([4, 0]) + struct.pack(">I", 0)
SETTINGS_ACK = struct.pack(">I", 0)[1:] + bytes([4, 1]) + struct.pack(">I", 0)


class Stats:
    def __init__(self):
        self.open = 0
        self.connect_errors = 0
        self.closed_by_server = 0
        self.goaways = 0
        self.first_error = ""


async def hold(host, port, st, ready_evt, stop_evt):
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
        writer.write(PREFACE + SETTINGS_EMPTY)
        await writer.drain()
    except Exception as e:  # noqa: BLE001
        st.connect_errors += 1
        st.first_error = st.first_error or repr(e)
        ready_evt.set()
        return
    st.open += 1
    ready_evt.set()
    closed = False
    try:
        read_task = None
        while not stop_evt.is_set():
            read_task = asyncio.ensure_future(reader.readexactly(9))
            stop_task = asyncio.ensure_future(stop_evt.wait())
            done, _ = await asyncio.wait({read_task, stop_task},
                                         return_when=asyncio.FIRST_COMPLETED)
            if stop_task not in done:
                stop_task.cancel()
            if read_task not in done:
                read_task.cancel()
                break
            hdr = read_task.result()
            length = int.from_bytes(hdr[0:3], "big")
            ftype, flags = hdr[3], hdr[4]
            payload = await reader.readexactly(length) if length else b""
            if ftype == 4 and not flags & 1:          # SETTINGS
                writer.write(SETTINGS_ACK)
            elif ftype == 6 and not flags & 1:        # PING
                writer.write(struct.pack(">I", 8)[1:] + bytes([6, 1]) +
                             struct.pack(">I", 0) + payload)
            elif ftype == 7:                          # GOAWAY
                st.goaways += 1
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        closed = True
    if closed:
        st.closed_by_server += 1
    st.open -= 1
    writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target")
    ap.add_argument("n", type=int)
    ap.add_argument("--concurrency", type=int, default=200)
    a = ap.parse_args()
    host, _, port = a.target.rpartition(":")
    host = host.strip("[]") or "localhost"
    st = Stats()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(s, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: (sys.stdin.buffer.read1(4096) or stop.set()) if True else None)
    sem = asyncio.Semaphore(a.concurrency)
    tasks = []

    async def one():
        ev = asyncio.Event()
        await sem.acquire()
        t = asyncio.ensure_future(hold(host, int(port), st, ev, stop))
        await ev.wait()
        sem.release()
        return t

    holders = await asyncio.gather(*(one() for _ in range(a.n)))
    tasks.extend(holders)
    await asyncio.sleep(0.5)  # let the SETTINGS exchanges finish
    print(json.dumps({"event": "ready", "open": st.open, "connect_errors": st.connect_errors,
                      "closed_by_server": st.closed_by_server,
                      "first_error": st.first_error}), flush=True)
    await stop.wait()
    print(json.dumps({"event": "done", "open": st.open, "connect_errors": st.connect_errors,
                      "closed_by_server": st.closed_by_server, "goaways": st.goaways,
                      "first_error": st.first_error}), flush=True)
    for t in tasks:
        t.cancel()
    # Closing sockets is up to process exit.


if __name__ == "__main__":
    asyncio.run(main())
