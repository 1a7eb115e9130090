# SPDX-License-Identifier: MIT
"""The `ocrpc` CLI against the real server with the Tesseract engine.

Images are rendered with the real ImageMagick (/usr/bin/convert; the
`convert` on PATH may be a stand-in). The CLI comes from $OCRPC_CLI_BIN, the
server from $OCRPC_SERVER_BIN (both set by CTest)."""

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server import SANITIZER_MARKERS, STOP_TIMEOUT, Server  # noqa: E402

CONVERT = "/usr/bin/convert"
TEXTS = ("QUICK BROWN FOX", "LAZY DOG SLEEPS")


def render(path, text, size="900x120"):
    subprocess.run([CONVERT, "-size", size, "xc:white", "-font", "DejaVu-Sans",
                    "-pointsize", "40", "-fill", "black", "-annotate", "+20+80",
                    text, path], check=True)


def words(s):
    return re.sub(r"[^A-Z ]", "", s.upper()).split()


class CLI(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="ocrpc-cli-")
        cls.png = []
        for i, t in enumerate(TEXTS):
            p = os.path.join(cls.dir, "line%d.png" % i)
            render(p, t)
            cls.png.append(p)
        # A large page: Tesseract needs far longer than 1 ms for it.
        cls.big = os.path.join(cls.dir, "big.png")
        render(cls.big, " ".join(TEXTS), size="3000x3000")
        cls.root = os.path.join(cls.dir, "root")
        os.mkdir(cls.root)
        shutil.copy(cls.png[0], os.path.join(cls.root, "served.png"))
        cls.server = Server(engine="tesseract", workers=2, image_root=cls.root)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def ocrpc(self, *args, target=None):
        argv = [os.environ["OCRPC_CLI_BIN"], "--server",
                target or self.server.target, "--language", "english"]
        argv += list(args)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        for marker in SANITIZER_MARKERS:
            self.assertNotIn(marker, p.stderr)
        return p

    def assertHasText(self, out, text):
        got = words(out)
        for w in text.split():
            self.assertIn(w, got, out)

    def test_extract_prints_text(self):
        p = self.ocrpc("extract", self.png[0])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertHasText(p.stdout, TEXTS[0])

    def test_extract_server_path(self):
        p = self.ocrpc("extract", "--path", "served.png")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertHasText(p.stdout, TEXTS[0])

    def test_extract_json(self):
        p = self.ocrpc("extract", "--json", self.png[1])
        self.assertEqual(p.returncode, 0, p.stderr)
        r = json.loads(p.stdout)
        self.assertEqual(r["status"], "STATUS_SUCCESS")
        self.assertHasText(r["text"], TEXTS[1])
        self.assertGreater(r["overallConfidence"], 0)
        self.assertGreater(len(r["textBoxes"]), 0)
        for b in r["textBoxes"]:
            self.assertIn("text", b)
            self.assertIn("confidence", b)
            self.assertEqual(len(b["bbox"]["coordinates"]), 8)
        self.assertIn("language", r["metadata"]["data"])

    def test_extract_missing_server_path_fails_with_1(self):
        p = self.ocrpc("extract", "--path", "nope.png")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("NOT_FOUND", p.stderr)

    def test_batch_with_missing_file(self):
        missing = os.path.join(self.dir, "missing.png")
        p = self.ocrpc("batch", "--batch-id", "cli-batch-1", self.png[0], missing,
                       self.png[1])
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertHasText(p.stdout, TEXTS[0])
        self.assertHasText(p.stdout, TEXTS[1])
        self.assertIn("missing.png", p.stderr)
        self.assertIn("batch cli-batch-1", p.stderr)
        # The batch's id is known to the server afterwards.
        s = self.ocrpc("status", "cli-batch-1")
        self.assertEqual(s.returncode, 0, s.stderr)
        self.assertIn("cli-batch-1", s.stdout)
        self.assertIn("2/2 processed", s.stdout)
        s = self.ocrpc("status", "--json", "cli-batch-1")
        self.assertEqual(s.returncode, 0, s.stderr)
        r = json.loads(s.stdout)
        self.assertEqual(r["batchId"], "cli-batch-1")
        self.assertEqual(r["totalImages"], 2)
        self.assertEqual(len(r["results"]), 2)
        self.assertEqual([x.get("index", 0) for x in r["results"]], [0, 1])

    def test_empty_file_is_refused_locally(self):
        empty = os.path.join(self.dir, "empty.png")
        open(empty, "wb").close()
        p = self.ocrpc("extract", empty)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("empty.png: empty file (0 bytes)", p.stderr)
        self.assertNotIn("no image", p.stderr)
        p = self.ocrpc("batch", empty, self.png[0])
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("empty file", p.stderr)
        self.assertHasText(p.stdout, TEXTS[0])

    def test_nothing_recognised_is_said_on_stderr(self):
        blank = os.path.join(self.dir, "blank.png")
        subprocess.run([CONVERT, "-size", "300x100", "xc:white", blank], check=True)
        p = self.ocrpc("extract", blank)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("blank.png: no text recognised (language eng)", p.stderr)
        self.assertIn("--language", p.stderr)

    def test_batch_json_lines(self):
        p = self.ocrpc("batch", "--json", *self.png)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
        self.assertEqual(len(lines), 2)
        self.assertEqual(sorted(l["index"] for l in lines), [0, 1])
        for l in lines:
            self.assertEqual(l["file"], self.png[l["index"]])
            self.assertHasText(l["currentResult"]["text"], TEXTS[l["index"]])
        # The batch id printed at the end is the one the server reports.
        m = re.search(r"batch (\S+):", p.stderr)
        self.assertIsNotNone(m, p.stderr)
        self.assertEqual(m.group(1), lines[0]["batchId"])
        s = self.ocrpc("status", m.group(1))
        self.assertEqual(s.returncode, 0, s.stderr)

    def test_health(self):
        p = self.ocrpc("health")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("STATUS_SUCCESS", p.stdout)
        self.assertIn("tesseract", p.stdout)
        p = self.ocrpc("health", "--json")
        self.assertEqual(json.loads(p.stdout)["engineType"], "tesseract")

    def test_status_unknown_batch_is_server_error(self):
        p = self.ocrpc("status", "no-such-batch")
        self.assertEqual(p.returncode, 5, p.stdout + p.stderr)
        self.assertIn("NOT_FOUND", p.stderr)

    def test_connection_refused(self):
        p = self.ocrpc("health", target="127.0.0.1:1")
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
        self.assertIn("connection refused", p.stderr)
        self.assertIn("127.0.0.1:1", p.stderr)

    def test_deadline(self):
        p = self.ocrpc("--timeout", "1ms", "extract", self.big)
        self.assertEqual(p.returncode, 4, p.stdout + p.stderr)
        self.assertIn("deadline", p.stderr)

    def test_usage_errors(self):
        self.assertEqual(self.ocrpc().returncode, 2)
        self.assertEqual(self.ocrpc("frobnicate").returncode, 2)
        self.assertEqual(self.ocrpc("extract").returncode, 2)
        self.assertEqual(self.ocrpc("--timeout", "soon", "health").returncode, 2)
        p = self.ocrpc("health", target="no-port:")
        self.assertEqual(p.returncode, 2, p.stderr)
        h = subprocess.run([os.environ["OCRPC_CLI_BIN"], "--help"],
                           capture_output=True, text=True)
        self.assertEqual(h.returncode, 0)
        for s in ("OCRPC_TARGET", "Exit status", "deadline exceeded",
                  "never retried"):
            self.assertIn(s, h.stdout)


class Disconnects(unittest.TestCase):
    """What the CLI does when the connection fails: one attempt, never a
    retry; the call ends UNAVAILABLE and the exit status is 3 with the
    reason on stderr (refused: CLI.test_connection_refused)."""

    def ocrpc(self, target, *args):
        p = subprocess.run([os.environ["OCRPC_CLI_BIN"], "--server", target]
                           + list(args), capture_output=True, text=True,
                           timeout=300)
        for marker in SANITIZER_MARKERS:
            self.assertNotIn(marker, p.stderr)
        return p

    def peer_that_hangs_up(self, reset):
        """A TCP listener that reads the client's first bytes (so the CLI
        has sent its request) and then closes: with RST when reset, else
        with FIN. Returns (target, thread)."""
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        ls.settimeout(120)

        def serve():
            try:
                conn, _ = ls.accept()
                with conn:
                    conn.settimeout(120)
                    got = b""
                    while len(got) < 24:  # the HTTP/2 client preface
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        got += chunk
                    if reset:  # SO_LINGER 0: close() sends RST
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
            finally:
                ls.close()
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        return "127.0.0.1:%d" % ls.getsockname()[1], t

    def test_connection_reset_exits_3(self):
        target, t = self.peer_that_hangs_up(reset=True)
        p = self.ocrpc(target, "health")
        t.join(120)
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
        self.assertIn("unavailable", p.stderr)
        self.assertIn("reset", p.stderr)
        self.assertIn(target, p.stderr)

    def test_connection_closed_exits_3(self):
        target, t = self.peer_that_hangs_up(reset=False)
        p = self.ocrpc(target, "health")
        t.join(120)
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
        self.assertRegex(p.stderr, "closed|reset")
        self.assertIn(target, p.stderr)

    def test_goaway_of_a_draining_server_lets_the_batch_finish(self):
        # SIGTERM makes the server send GOAWAY and drain: the batch in
        # flight (the server's last stream id covers it) runs to its end.
        d = tempfile.mkdtemp(prefix="ocrpc-cli-drain-")
        server = None
        try:
            # Three dense pages, one worker: each recognition takes a good
            # share of a second of CPU, so the batch is still running when
            # the SIGTERM follows its first result.
            pngs = []
            for i in range(3):
                pngs.append(os.path.join(d, "p%d.png" % i))
                args = []
                for k in range(12):
                    args += ["-annotate", "+20+%d" % (70 + 90 * k),
                             "%s LINE %d" % (TEXTS[(i + k) % 2], k)]
                subprocess.run([CONVERT, "-size", "1800x1200", "xc:white",
                                "-font", "DejaVu-Sans", "-pointsize", "40",
                                "-fill", "black"] + args + [pngs[-1]],
                               check=True)
            # A drain window only a hang outlasts (the default is 30 s).
            server = Server(engine="tesseract", workers=1, image_root=d,
                            extra=("--drain-seconds", "600"))
            cli = subprocess.Popen(
                [os.environ["OCRPC_CLI_BIN"], "--server", server.target,
                 "--language", "english", "batch", "--json"] + pngs,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                first = cli.stdout.readline()   # the first result: in flight
                if first:
                    server.proc.send_signal(signal.SIGTERM)
                rest, err = cli.communicate(timeout=300)
                self.assertTrue(first, err)
            finally:
                if cli.poll() is None:
                    cli.kill()
                    cli.wait()
            lines = [json.loads(l) for l in (first + rest).splitlines() if l]
            self.assertEqual(cli.returncode, 0, err)
            self.assertEqual(sorted(l["index"] for l in lines), list(range(3)))
            server.proc.wait(STOP_TIMEOUT)  # it exits by itself once drained
            server.stop()  # checks status 0 and the sanitizer markers
            self.assertRegex(server.stderr(), r"draining [1-9]\d* calls")
            server = None
        finally:
            if server is not None and server.proc.poll() is None:
                server.proc.kill()
                server.proc.wait()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
