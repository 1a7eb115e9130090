# SPDX-License-Identifier: MIT
"""The `ocrpc` CLI against the real server with the Tesseract engine.

Images are rendered with the real ImageMagick (/usr/bin/convert; the
`convert` on PATH may be a stand-in). The CLI comes from $OCRPC_CLI_BIN, the
server from $OCRPC_SERVER_BIN (both set by CTest)."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server import SANITIZER_MARKERS, Server  # noqa: E402

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
        for s in ("OCRPC_TARGET", "Exit status", "deadline exceeded"):
            self.assertIn(s, h.stdout)


if __name__ == "__main__":
    unittest.main()
