# SPDX-License-Identifier: MIT
"""Shared pieces of the ocrpc integration tests.

- load_stubs("seed"|"repo"): Python gRPC stubs generated at test time with
  protoc from tests/integration/seed_protos/ (the guide's own files) or from
  the repository's protos/ (our extended contract).  Both sets define modules
  named common_pb2/ocr_pb2/... and register files named "ocr.proto" etc. in
  protobuf's default descriptor pool, so one process can hold only one set:
  each test file uses one set and CTest runs each file in its own process.
- Server: starts the ocrpc-server named by $OCRPC_SERVER on a free port with a
  temporary image root, parses the bound port from its stderr, keeps draining
  stderr, and on stop() sends SIGTERM and checks exit status 0 and that no
  sanitizer report was printed.
- render_*: images drawn with the real ImageMagick (/usr/bin/convert).
"""

import atexit
import importlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("OCRPC_REPO") or os.path.dirname(os.path.dirname(HERE))

PROTOC = shutil.which("protoc") or "/usr/bin/protoc"
GRPC_PYTHON_PLUGIN = "/usr/bin/grpc_python_plugin"
CONVERT = "/usr/bin/convert"  # never the stand-in earlier on PATH
DEJAVU = "DejaVu-Sans"
NANUM = "/usr/share/fonts/truetype/nanum/NanumGothic.ttf"

MB = 1024 * 1024
# As the guide's client does.
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", 100 * MB),
    ("grpc.max_receive_message_length", 100 * MB),
    # Talk to 127.0.0.1 directly even if the environment sets a proxy.
    ("grpc.enable_http_proxy", 0),
]

STARTUP_TIMEOUT = float(os.environ.get("OCRPC_STARTUP_TIMEOUT", "120"))
# Above the server's default drain window (30 s): a stop waits out a full
# drain on a loaded machine; only a hang reaches it.
STOP_TIMEOUT = float(os.environ.get("OCRPC_STOP_TIMEOUT", "120"))
SANITIZER_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer")
LISTEN_RE = re.compile(r"listening on (\S+):(\d+)")
HTTP_LISTEN_RE = re.compile(r"REST over HTTP/1\.1 at (\S+):(\d+)")

# Ceiling of a wait for an event (a poll): only a hang reaches it, on a
# loaded 2-core machine with the sanitizer tree too. Never an assertion
# about speed.
WAIT = 120

_STUB_MODULES = ("common_pb2", "ocr_pb2", "llm_pb2",
                 "common_pb2_grpc", "ocr_pb2_grpc", "llm_pb2_grpc")


# --------------------------------------------------------------------------
# Waiting and ports
# --------------------------------------------------------------------------

def free_port():
    """A TCP port on 127.0.0.1 nothing listens on (bound to 0, then
    closed), for a process that takes its port as an argument."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(pred, what, timeout=WAIT):
    """Calls pred until it returns a true value and returns that value;
    fails after timeout seconds (a hang, never a speed judgement)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0fs waiting for %s"
                                 % (timeout, what))
        time.sleep(0.02)  # polling interval, not a synchronisation


def poll_until(fetch, done, timeout=WAIT):
    """Calls fetch() until done(result) and returns that result; bounded
    by timeout seconds. For fetches that are a round trip to a server, so
    no sleep is needed between them."""
    deadline = time.monotonic() + timeout
    while True:
        r = fetch()
        if done(r):
            return r
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in %.0fs; last: %r"
                                 % (timeout, r))


# Straight to 127.0.0.1 even if the environment sets an HTTP proxy.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def parse_metrics(text):
    """Prometheus text exposition -> {'name{labels}': value} (labels as
    the server wrote them; comments skipped)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def metric_sum(samples, name, **labels):
    """Sum of the samples of family `name` whose labels include every
    given label=value (all of the family when none is given)."""
    want = ['%s="%s"' % kv for kv in labels.items()]
    total = 0.0
    for key, value in samples.items():
        base, _, rest = key.partition("{")
        if base == name and all(w in rest for w in want):
            total += value
    return total


# --------------------------------------------------------------------------
# Stubs
# --------------------------------------------------------------------------

class Stubs:
    """The generated modules of one proto set, by short name."""

    def __init__(self, kind, modules):
        self.kind = kind
        self.common = modules["common_pb2"]
        self.ocr = modules["ocr_pb2"]
        self.llm = modules["llm_pb2"]
        self.ocr_grpc = modules["ocr_pb2_grpc"]
        self.llm_grpc = modules["llm_pb2_grpc"]


_loaded = {}


def proto_dir(kind):
    if kind == "seed":
        return os.path.join(HERE, "seed_protos")
    if kind == "repo":
        return os.path.join(REPO, "protos")
    raise ValueError(kind)


def load_stubs(kind):
    """Generate and import the stubs of one proto set (cached per process)."""
    if kind in _loaded:
        return _loaded[kind]
    if _loaded:
        other = next(iter(_loaded))
        raise RuntimeError(
            "stubs %r are already loaded in this process; the %r set defines "
            "the same module and .proto file names. Run test files that use "
            "different proto sets in separate processes (as CTest does)."
            % (other, kind))
    src = proto_dir(kind)
    for name in ("common.proto", "ocr.proto", "llm.proto"):
        if not os.path.isfile(os.path.join(src, name)):
            raise RuntimeError("missing %s in %s" % (name, src))
    out = tempfile.mkdtemp(prefix="ocrpc-stubs-%s-" % kind)
    try:
        cmd = [PROTOC, "--python_out=" + out, "--grpc_python_out=" + out,
               "--plugin=protoc-gen-grpc_python=" + GRPC_PYTHON_PLUGIN,
               "-I", src, "common.proto", "ocr.proto", "llm.proto"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("protoc failed (%d): %s\n%s"
                               % (r.returncode, " ".join(cmd), r.stderr))
        for m in _STUB_MODULES:
            if m in sys.modules:
                raise RuntimeError("module %s already imported" % m)
        sys.path.insert(0, out)
        old_dont_write = sys.dont_write_bytecode
        sys.dont_write_bytecode = True
        try:
            importlib.invalidate_caches()
            modules = {m: importlib.import_module(m) for m in _STUB_MODULES}
        finally:
            sys.dont_write_bytecode = old_dont_write
            sys.path.remove(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    # Keep them reachable under set-specific names too, for clarity in
    # tracebacks and to make the origin of each module explicit.
    for m, mod in modules.items():
        sys.modules["ocrpc_%s_%s" % (kind, m)] = mod
    stubs = Stubs(kind, modules)
    _loaded[kind] = stubs
    return stubs


# --------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------

def server_binary():
    path = os.environ.get("OCRPC_SERVER")
    if not path:
        raise RuntimeError("OCRPC_SERVER is not set (CTest sets it to the "
                           "ocrpc-server binary of the build tree)")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RuntimeError("OCRPC_SERVER=%s is not an executable file" % path)
    return path


class Server:
    """One ocrpc-server process on 127.0.0.1 and a free port."""

    def __init__(self, *extra_args, workers=2, engine="tesseract",
                 image_root=None, log_level="info"):
        self.extra_args = list(extra_args)
        self.workers = workers
        self.engine = engine
        self.log_level = log_level
        self._own_root = image_root is None
        self.image_root = image_root
        self.proc = None
        self.host = None
        self.port = None
        self._lines = []
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._http_seen = threading.Event()
        self.http_port = None
        self._eof = False
        self._reader = None
        self._channels = []
        self._stdout = None

    # -- lifecycle ---------------------------------------------------------

    def start(self):
        binary = server_binary()
        try:
            if self._own_root:
                self.image_root = os.path.realpath(
                    tempfile.mkdtemp(prefix="ocrpc-root-"))
            # --http-port 0: the REST listener on a free port too (the
            # default, 8000, would collide between parallel tests).
            self.argv = [binary, "--host", "127.0.0.1", "--port", "0",
                         "--http-port", "0",
                         "--image-root", self.image_root,
                         "--workers", str(self.workers),
                         "--engine", self.engine,
                         "--log-level", self.log_level,
                         # Bursts in these tests queue on purpose and expect
                         # DEADLINE_EXCEEDED; shedding is test_overload's,
                         # which sets its own flags (a later flag wins).
                         "--max-queued-jobs", "1000000",
                         "--shed-by-deadline", "off"] + self.extra_args
            self._stdout = tempfile.TemporaryFile(prefix="ocrpc-stdout-")
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=self._stdout,
                                         stderr=subprocess.PIPE)
            self._reader = threading.Thread(target=self._drain, daemon=True,
                                            name="ocrpc-stderr")
            self._reader.start()
            self._wait_listening()
        except BaseException:
            self._kill()
            raise
        return self

    def _drain(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace")
            with self._lock:
                self._lines.append(line)
                if self.port is None:
                    m = LISTEN_RE.search(line)
                    if m:
                        self.host, self.port = m.group(1), int(m.group(2))
                        self._changed.set()
                if self.http_port is None:
                    m = HTTP_LISTEN_RE.search(line)
                    if m:
                        self.http_port = int(m.group(2))
                        self._http_seen.set()
        with self._lock:
            self._eof = True
        self._changed.set()

    def _wait_listening(self):
        if not self._changed.wait(STARTUP_TIMEOUT):
            raise AssertionError(
                "server did not log 'listening on HOST:PORT' within %.0fs\n"
                "argv: %s\nstderr:\n%s"
                % (STARTUP_TIMEOUT, " ".join(self.argv), self.stderr_text()))
        with self._lock:
            port = self.port
        if port is None:
            rc = self.proc.wait(STOP_TIMEOUT)
            raise AssertionError(
                "server exited (status %s) before listening\nargv: %s\n"
                "stderr:\n%s" % (rc, " ".join(self.argv), self.stderr_text()))
        if not (0 < port < 65536):
            raise AssertionError("bad port in log line: %d" % port)

    def stderr_text(self):
        with self._lock:
            return "".join(self._lines)

    def http_base(self):
        """http://127.0.0.1:PORT of the REST listener (--http-port 0),
        once the server has logged it."""
        if not self._http_seen.wait(STARTUP_TIMEOUT):
            raise AssertionError("server did not log its HTTP port\n"
                                 + self.stderr_text())
        return "http://127.0.0.1:%d" % self.http_port

    def metrics(self, timeout=WAIT):
        """The server's own counters and gauges now (GET /metrics on the
        REST listener), parsed by parse_metrics."""
        with _DIRECT.open(self.http_base() + "/metrics",
                          timeout=timeout) as r:
            return parse_metrics(r.read().decode())

    def idle(self):
        """True when no recognition is running or queued (the server's
        ocr_workers_busy and ocr_queue_depth gauges)."""
        m = self.metrics()
        return (metric_sum(m, "ocr_workers_busy") == 0
                and metric_sum(m, "ocr_queue_depth") == 0)

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def channel(self, options=None):
        ch = grpc.insecure_channel(self.address,
                                   options=options or CHANNEL_OPTIONS)
        self._channels.append(ch)
        return ch

    def _close_channels(self):
        for ch in self._channels:
            try:
                ch.close()
            except Exception:
                pass
        self._channels = []

    def _kill(self):
        self._close_channels()
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        self._cleanup()

    def _cleanup(self):
        if self._reader is not None:
            self._reader.join(STOP_TIMEOUT)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        if self._stdout is not None:
            self._stdout.close()
            self._stdout = None
        if self._own_root and self.image_root:
            shutil.rmtree(self.image_root, ignore_errors=True)

    def stop(self):
        """SIGTERM; assert exit status 0 and a clean sanitizer output."""
        if self.proc is None:
            return
        self._close_channels()
        problems = []
        if self.proc.poll() is not None:
            problems.append("server had already exited with status %s before "
                            "SIGTERM" % self.proc.returncode)
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                problems.append("server did not exit within %.0fs of SIGTERM"
                                % STOP_TIMEOUT)
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        rc = self.proc.returncode
        self._cleanup()  # joins the reader: stderr is complete after this
        text = self.stderr_text()
        if rc != 0 and not problems:
            problems.append("server exited with status %s after SIGTERM "
                            "(expected 0)" % rc)
        for marker in SANITIZER_MARKERS:
            if marker in text:
                problems.append("stderr contains %r" % marker)
        self.proc = None
        if problems:
            tail = text[-20000:]
            raise AssertionError("; ".join(problems) + "\nstderr (tail):\n"
                                 + tail)

    # -- files in the image root ------------------------------------------

    def path(self, *parts):
        return os.path.join(self.image_root, *parts)


# --------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------

LINE_HEIGHT = 90      # vertical pitch of rendered lines
FIRST_BASELINE = 70   # baseline of line 0 (pointsize 40: glyphs ~y 40..80)
LEFT = 20


def _convert(args, out):
    d = os.path.dirname(out)
    if d:
        os.makedirs(d, exist_ok=True)
    fmt = []
    ext = os.path.splitext(out)[1].lower()
    if ext in (".tif", ".tiff"):
        # ImageMagick Q16 writes 16-bit TIFFs by default; ask for the usual
        # 8-bit grayscale/RGB a scanner or a user would produce.
        fmt = ["-depth", "8"]
    cmd = [CONVERT] + args + fmt + [out]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0 or not os.path.isfile(out):
        raise RuntimeError("convert failed (%d): %s\n%s"
                           % (r.returncode, " ".join(cmd), r.stderr))
    return out


def render_line(out, text, width=900, height=120, pointsize=40, font=DEJAVU,
                x=LEFT, y=80, extra=()):
    """One line of black text on white; format from out's extension."""
    return _convert(["-size", "%dx%d" % (width, height), "xc:white",
                     "-font", font, "-pointsize", str(pointsize),
                     "-fill", "black", "-annotate", "+%d+%d" % (x, y), text]
                    + list(extra), out)


def lines_height(n):
    return FIRST_BASELINE + LINE_HEIGHT * (n - 1) + 50


def render_lines(out, lines, width=900, pointsize=40, font=DEJAVU, extra=()):
    """Several lines, line i with baseline at FIRST_BASELINE + LINE_HEIGHT*i."""
    args = ["-size", "%dx%d" % (width, lines_height(len(lines))), "xc:white",
            "-font", font, "-pointsize", str(pointsize), "-fill", "black"]
    for i, text in enumerate(lines):
        args += ["-annotate", "+%d+%d" % (LEFT, FIRST_BASELINE + LINE_HEIGHT * i),
                 text]
    return _convert(args + list(extra), out)


def render_korean(out, text, width=900, height=120, pointsize=40):
    return render_line(out, text, width=width, height=height,
                       pointsize=pointsize, font=NANUM, x=40, y=80)


def render_blank(out, width, height):
    return _convert(["-size", "%dx%d" % (width, height), "xc:white"], out)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------

def norm_text(s):
    """Collapse runs of whitespace inside lines and drop empty lines."""
    return "\n".join(" ".join(line.split()) for line in s.splitlines()
                     if line.strip())


def no_spaces(s):
    return "".join(s.split())


def box_points(box):
    c = list(box.bbox.coordinates)
    return [(c[0], c[1]), (c[2], c[3]), (c[4], c[5]), (c[6], c[7])] \
        if len(c) == 8 else None


def tempdir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, d, True)
    return d
