# SPDX-License-Identifier: MIT
"""AsyncOcrClient (grpc.aio) against the real ocrpc-server: the same
methods, typed errors and retry policy as OcrClient, batches as async
iterators; empty images refused locally by both clients; and
`pip install` of clients/python into a temporary target offline
(--no-build-isolation --no-deps --no-index, Debian's setuptools), after
which the installed package imports and answers a call."""

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import harness

CLIENT_DIR = os.path.join(harness.REPO, "clients", "python")
sys.path.insert(0, CLIENT_DIR)
sys.dont_write_bytecode = True

import ocrpc_client  # noqa: E402
from ocrpc_client import (AsyncOcrClient, OcrClient, OcrFailed,  # noqa: E402
                          OcrNotFound, OcrUnavailable, common_pb2)

TEXTS = ["Hello brave world", "The quick brown fox", "Invoice number 4821"]
NO_PROXY = [("grpc.enable_http_proxy", 0)]
server = None


def setUpModule():
    global server
    server = harness.Server("--language", "english", workers=2)
    server.start()
    unittest.addModuleCleanup(server.stop)
    for i, t in enumerate(TEXTS):
        harness.render_line(server.path("t%d.png" % i), t)




def run(coro):
    return asyncio.run(coro)


class AsyncClient(unittest.TestCase):
    def client(self, **kw):
        kw.setdefault("options", NO_PROXY)
        kw.setdefault("timeout", 120)
        return AsyncOcrClient(server.address, **kw)

    def test_extract_by_path_and_bytes(self):
        async def go():
            async with self.client() as c:
                r = await c.extract(path="t0.png", language="english")
                data = harness.read_bytes(server.path("t1.png"))
                r2 = await c.extract(image_data=data, request_id="aio-1")
                return r, r2
        r, r2 = run(go())
        self.assertEqual(r.status, common_pb2.STATUS_SUCCESS)
        self.assertEqual(harness.norm_text(r.text), TEXTS[0])
        self.assertEqual(len(r.text_boxes), 1)
        self.assertEqual(harness.norm_text(r2.text), TEXTS[1])

    def test_typed_errors(self):
        async def go():
            async with self.client() as c:
                with self.assertRaises(OcrFailed) as cm:
                    await c.extract(path="missing.png")
                self.assertEqual(cm.exception.details, "NOT_FOUND")
                r = await c.extract(path="missing.png", raise_on_failure=False)
                self.assertEqual(r.error.details, "NOT_FOUND")
                with self.assertRaises(OcrNotFound):
                    await c.batch_status("no-such-batch")
                r = await c.extract(path="t0.png", options={"psm": "99"},
                                    raise_on_failure=False)
                self.assertEqual(r.error.details, "INVALID_ARGUMENT")
                self.assertIn("options.psm", r.error.message)
        run(go())

    def test_batch_is_an_async_iterator_and_status_lists_by_index(self):
        async def go():
            async with self.client() as c:
                got = [p async for p in c.extract_batch(
                    ["t0.png", "t1.png", "missing.png", "t2.png"],
                    language="english", batch_id="aio-batch-1")]
                st = await c.batch_status("aio-batch-1")
                ordered = [p async for p in c.extract_batch(
                    ["t2.png", "t1.png", "t0.png"], language="english",
                    completion_order=False)]
                h = await c.health()
                return got, st, ordered, h
        got, st, ordered, h = run(go())
        want = [TEXTS[0], TEXTS[1], None, TEXTS[2]]
        self.assertEqual([p.processed_images for p in got], [1, 2, 3, 4])
        self.assertEqual(sorted(p.index for p in got), [0, 1, 2, 3])
        for p in got:
            if want[p.index] is None:
                self.assertEqual(p.current_result.error.details, "NOT_FOUND")
            else:
                self.assertEqual(harness.norm_text(p.current_result.text),
                                 want[p.index])
        self.assertEqual(st.state, "SUCCESS")
        self.assertEqual([r.index for r in st.results], [0, 1, 2, 3])
        self.assertEqual([p.index for p in ordered], [0, 1, 2])
        self.assertEqual([harness.norm_text(p.current_result.text)
                          for p in ordered], [TEXTS[2], TEXTS[1], TEXTS[0]])
        self.assertEqual(h.status, common_pb2.STATUS_SUCCESS)

    def test_leaving_the_batch_loop_early_cancels_it(self):
        async def go():
            async with self.client() as c:
                async for p in c.extract_batch(["t0.png"] * 6,
                                               language="english"):
                    break
                # The channel still serves other calls.
                return p, await c.extract(path="t1.png", language="english")
        p, r = run(go())
        self.assertEqual(p.processed_images, 1)
        self.assertEqual(harness.norm_text(r.text), TEXTS[1])

    def test_nothing_listening_is_retried_then_unavailable(self):
        events = []

        async def hook(ev):           # a coroutine hook is awaited
            events.append(ev)

        async def go():
            async with AsyncOcrClient("127.0.0.1:%d" % harness.free_port(),
                                      options=NO_PROXY, max_attempts=3,
                                      initial_backoff=0.01, max_backoff=0.05,
                                      timeout=5, retry_hook=hook) as c:
                with self.assertRaises(OcrUnavailable) as cm:
                    await c.extract(path="t0.png")
                return cm.exception
        e = run(go())
        self.assertEqual(e.attempts, 3)
        self.assertTrue(e.retryable)
        self.assertEqual([ev.attempt for ev in events], [1, 2, 3])
        self.assertIsNone(events[-1].delay)
        self.assertTrue(all(ev.delay is not None for ev in events[:-1]))
        self.assertTrue(all(ev.method == "ExtractText" for ev in events))


class AsyncAnalysis(unittest.TestCase):
    """llm.LLMService through AsyncOcrClient, with the server's rules
    engine (no backend needed)."""

    def test_analyze_and_token_stream(self):
        from ocrpc_client import LlmFailed
        text = "영수증\n2024년 3월 5일\n합계 12,000원\n"

        async def go():
            async with AsyncOcrClient(server.address, options=NO_PROXY) as c:
                r = await c.analyze(text, engine="rules")
                toks = [t async for t in c.analyze_stream(text, engine="rules")]
                with self.assertRaises(LlmFailed) as cm:
                    await c.analyze("", engine="rules")
                return r, toks, cm.exception
        r, toks, e = run(go())
        self.assertEqual(r.status, common_pb2.STATUS_SUCCESS)
        self.assertEqual(dict(r.entities)["date"], "2024-03-05")
        self.assertEqual(dict(r.entities)["amount_total"], "12000 KRW")
        self.assertGreater(len(toks), 1)
        self.assertEqual("".join(toks), r.analysis)
        self.assertEqual(e.details, "INVALID_ARGUMENT")


class EmptyImage(unittest.TestCase):
    """proto3 cannot tell empty bytes from no image: both clients refuse
    them before sending anything."""

    def test_sync_client(self):
        with OcrClient(server.address, options=NO_PROXY) as c:
            with self.assertRaisesRegex(ValueError, "empty"):
                c.extract(image_data=b"")
            with self.assertRaisesRegex(ValueError, "empty"):
                c.extract_batch([b"", "t0.png"])

    def test_async_client(self):
        async def go():
            async with AsyncOcrClient(server.address, options=NO_PROXY) as c:
                with self.assertRaisesRegex(ValueError, "empty"):
                    await c.extract(image_data=bytearray())
                with self.assertRaisesRegex(ValueError, "empty"):
                    c.extract_batch(["t0.png", b""])
        run(go())


class Install(unittest.TestCase):
    def test_pip_install_offline_into_a_target(self):
        tmp = tempfile.mkdtemp(prefix="ocrpc-pip-")
        self.addCleanup(shutil.rmtree, tmp, True)
        src = os.path.join(tmp, "src")   # pip builds in the tree: a copy
        shutil.copytree(CLIENT_DIR, src,
                        ignore=shutil.ignore_patterns("__pycache__", "build",
                                                      "*.egg-info"))
        target = os.path.join(tmp, "site")
        env = {k: v for k, v in os.environ.items()
               if not k.lower().endswith("_proxy")}
        env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
                   PYTHONDONTWRITEBYTECODE="1")
        p = subprocess.run(
            ["/usr/bin/python3", "-m", "pip", "install", "--no-build-isolation",
             "--no-deps", "--no-index", "--target", target, src],
            capture_output=True, text=True, timeout=300, env=env)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        script = ("import sys, ocrpc_client as o; "
                  "assert o.__file__.startswith(sys.argv[1]), o.__file__; "
                  "c = o.OcrClient(sys.argv[2], options=[('grpc.enable_http_proxy', 0)]); "
                  "print(c.extract(path='t2.png', language='english').text); "
                  "print(o.AsyncOcrClient.__name__, o.__version__)")
        p = subprocess.run(["/usr/bin/python3", "-c", script, target,
                            server.address],
                           capture_output=True, text=True, timeout=120,
                           env=dict(env, PYTHONPATH=target), cwd=tmp)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(harness.norm_text(lines[0]), TEXTS[2])
        self.assertEqual(lines[1], "AsyncOcrClient " + ocrpc_client.__version__)


if __name__ == "__main__":
    unittest.main()
