# SPDX-License-Identifier: MIT
"""One page on every idle core (--split-pages, issue #18): a page sent to an
idle 2-worker server is read in parts on both workers (metadata "parts",
"part_workers") and answers exactly as a server with --split-pages off does
(text, confidence within rounding, every box within a few pixels); small
images stay whole; while another call holds a worker, the same page is
read whole (parts 1) and is split again once the pool is idle."""

import os
import subprocess
import unittest

import harness as H

S = H.load_stubs("repo")
ocr_pb2 = S.ocr
ocr_grpc = S.ocr_grpc
TIMEOUT = 300
LINES = ["Ships arrived in the spring of the year",
         "were fewer than last year, but their cargo",
         "was larger and the quays were busy from",
         "early morning until late in the evening.",
         "The new crane lifted 4120 containers in",
         "ninety days without a single fault, and",
         "the pilots asked for two more boats before",
         "the autumn storms begin on the coast."]

servers = {}
LONG_DOC_PAGES = 40


def setUpModule():
    for mode in ("auto", "off"):
        # The cache off: the same page is read again by the engine.
        s = H.Server("--split-pages", mode, "--result-cache", "off",
                     workers=2).start()
        servers[mode] = (s, ocr_grpc.OCRServiceStub(s.channel()))
        H.render_lines(os.path.join(s.image_root, "page.png"), LINES, width=1000)
        H.render_line(os.path.join(s.image_root, "line.png"), "Hello World 123")
    # A document of many copies of the page: it holds one worker for far
    # longer than one page takes (it is cancelled once the page is read).
    root = servers["auto"][0].image_root
    subprocess.run([H.CONVERT] + [os.path.join(root, "page.png")] * LONG_DOC_PAGES
                   + ["-depth", "8", os.path.join(root, "long.tif")], check=True)


def tearDownModule():
    for s, _ in servers.values():
        s.stop()


def extract(mode, path):
    r = servers[mode][1].ExtractText(
        ocr_pb2.OCRRequest(private_image_path=path, language="eng"), timeout=TIMEOUT)
    return r, dict(r.metadata.data)


def centre(box):
    c = list(box.bbox.coordinates)
    return sum(c[0::2]) / 4, sum(c[1::2]) / 4


class SplitPages(unittest.TestCase):
    def test_idle_page_is_read_in_parts_as_the_whole_page_reads(self):
        whole, wm = extract("off", "page.png")
        parted, pm = extract("auto", "page.png")
        self.assertEqual((wm["parts"], wm["part_workers"]), ("1", "1"))
        self.assertGreaterEqual(int(pm["parts"]), 2, pm)
        # Whether the helper's first part comes before the page's own worker
        # has read them all is the scheduler's choice (the helper loads its
        # engine first): one or both workers.
        self.assertIn(pm["part_workers"], ("1", "2"), pm)
        self.assertEqual(whole.text, "\n".join(LINES))
        self.assertEqual(parted.text, whole.text)
        self.assertAlmostEqual(parted.overall_confidence,
                               whole.overall_confidence, delta=0.02)
        self.assertEqual(len(parted.text_boxes), len(whole.text_boxes))
        for a, b in zip(whole.text_boxes, parted.text_boxes):
            self.assertEqual(a.text, b.text)
            for u, v in zip(centre(a), centre(b)):
                self.assertLessEqual(abs(u - v), 4, (a.text, centre(a), centre(b)))
            for x in b.bbox.coordinates[0::2]:
                self.assertTrue(0 <= x <= 1000, x)

    def test_page_stays_whole_while_another_call_holds_a_worker(self):
        s, stub = servers["auto"]
        H.poll(s.idle, "an idle pool")
        doc = stub.ExtractText.future(
            ocr_pb2.OCRRequest(private_image_path="long.tif", language="eng"),
            timeout=TIMEOUT)
        try:
            # Both workers running with only the document in flight: its page
            # was split, so its own worker is inside the document (counted
            # busy until the document ends) and the other runs a part.
            H.poll(lambda: H.metric_sum(s.metrics(), "ocr_workers_busy") == 2,
                   "the document's page read in parts on both workers")
            page, md = extract("auto", "page.png")
            # The document had not ended when the page was answered (the
            # premise; its 40 pages take far longer than one): a worker was
            # busy for the page's whole call.
            self.assertTrue(doc.cancel(), "the document ended before the page")
        finally:
            doc.cancel()
        self.assertEqual(page.text, "\n".join(LINES))
        self.assertEqual((md["parts"], md["part_workers"]), ("1", "1"), md)
        # The pool idle again (the document's cancel reached its worker):
        # the same page is split.
        H.poll(s.idle, "the pool idle after the cancel")
        again, md = extract("auto", "page.png")
        self.assertEqual(again.text, page.text)
        self.assertGreaterEqual(int(md["parts"]), 2, md)

    def test_small_image_stays_whole(self):
        r, md = extract("auto", "line.png")
        self.assertEqual(r.text, "Hello World 123")
        self.assertEqual((md["parts"], md["part_workers"]), ("1", "1"))


if __name__ == "__main__":
    unittest.main()
