# SPDX-License-Identifier: MIT
"""Starts and stops the real ocrpc-server for the client tests.

The binary comes from $OCRPC_SERVER_BIN (CTest sets it). The server listens
on 127.0.0.1 with --port 0; the bound port is read from its "listening on
127.0.0.1:PORT" log line. stderr is drained by a thread so the server never
blocks on a full pipe; stop() sends SIGTERM and checks a clean exit and no
sanitizer report.
"""

import os
import re
import signal
import subprocess
import tempfile
import threading

LISTEN_RE = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
SANITIZER_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer")
STARTUP_TIMEOUT = float(os.environ.get("OCRPC_STARTUP_TIMEOUT", "120"))
STOP_TIMEOUT = 120  # above the default 30 s drain window: only a hang reaches it


class Server:
    def __init__(self, engine="mock", workers=2, image_root=None, extra=()):
        binary = os.environ.get("OCRPC_SERVER_BIN")
        if not binary or not os.access(binary, os.X_OK):
            raise RuntimeError("OCRPC_SERVER_BIN must name the ocrpc-server binary")
        self.image_root = image_root or tempfile.mkdtemp(prefix="ocrpc-client-root-")
        self.argv = [binary, "--host", "127.0.0.1", "--port", "0", "--http-port", "off",
                     "--engine", engine, "--workers", str(workers),
                     "--image-root", self.image_root] + list(extra)
        self.lines = []
        self.port = None
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        threading.Thread(target=self._drain, daemon=True).start()
        if not self._ready.wait(STARTUP_TIMEOUT) or self.port is None:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not start:\n" + self.stderr())

    def _drain(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace")
            with self._lock:
                self.lines.append(line)
                if self.port is None:
                    m = LISTEN_RE.search(line)
                    if m:
                        self.port = int(m.group(1))
                        self._ready.set()
        self._ready.set()  # EOF: the server exited

    def stderr(self):
        with self._lock:
            return "".join(self.lines)

    @property
    def target(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(STOP_TIMEOUT)
        log = self.stderr()
        for marker in SANITIZER_MARKERS:
            if marker in log:
                raise AssertionError("sanitizer report in server log:\n" + log)
        if rc != 0:
            raise AssertionError("server exited with %d:\n%s" % (rc, log))
