# SPDX-License-Identifier: MIT
"""Redis that fails over or forgets, with two ocrpc-servers sharing it (all
started by the test on free loopback ports; mock engine).

- Sentinel: one master, one replica, three redis-sentinels; the servers
  use REDIS_URL=redis+sentinel://s1,s2,s3/mymaster. The master is killed
  (SIGKILL) while a batch runs: the sentinels promote the replica, the
  servers ask them for the new master, reconnect, replay what they
  buffered and write again what the new master may have missed
  (replication is asynchronous): the batch's final status is complete and
  correct on both servers.
- Empty restart: a batch finishes, then Redis (no persistence) is killed
  and started again empty on the same port: the server that ran the batch
  sees the new run_id and writes the batch again; both servers answer it.
"""

import os
import subprocess
import threading
import unittest

import harness as H
import fleet as F
from fleet import ocrpc_client

SENTINEL = "/usr/bin/redis-sentinel"
MASTER_NAME = "mymaster"
IMAGES = 12


def sentinel_cmd(port, *args):
    r = subprocess.run(["/usr/bin/redis-cli", "-h", "127.0.0.1", "-p", str(port)]
                       + list(args), capture_output=True, text=True, timeout=30)
    return r.stdout if r.returncode == 0 else ""


class Sentinel:
    def __init__(self, master_port, workdir):
        self.port = H.free_port()
        self.conf = os.path.join(workdir, "sentinel-%d.conf" % self.port)
        with open(self.conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\n"
                    "sentinel monitor %s 127.0.0.1 %d 2\n"
                    "sentinel down-after-milliseconds %s 1000\n"
                    "sentinel failover-timeout %s 5000\n"
                    % (self.port, workdir, MASTER_NAME, master_port, MASTER_NAME,
                       MASTER_NAME))
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([SENTINEL, self.conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        return self

    def ready(self):
        """Knows the replica and the two other sentinels."""
        if self.proc.poll() is not None:
            raise AssertionError("redis-sentinel exited with %s" % self.proc.returncode)
        return ("num-slaves\n1\n" in sentinel_cmd(self.port, "SENTINEL", "master",
                                                  MASTER_NAME)
                and "num-other-sentinels\n2\n" in sentinel_cmd(
                    self.port, "SENTINEL", "master", MASTER_NAME))

    def master_port(self):
        out = sentinel_cmd(self.port, "SENTINEL", "get-master-addr-by-name",
                           MASTER_NAME).split()
        return int(out[1]) if len(out) == 2 else None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(F.WAIT)


def final(node, bid):
    try:
        st = node.status(bid)
    except (ocrpc_client.OcrUnavailable, ocrpc_client.OcrNotFound):
        return None  # reconnecting, or not rewritten yet
    return st if st.state == "SUCCESS" and len(st.results) == st.total_images else None


class Base(unittest.TestCase):
    def check_everywhere(self, bid, nodes):
        sts = [H.poll(lambda: final(n, bid), "%s complete on %s" % (bid, n.name))
               for n in nodes]
        for st in sts:
            self.assertEqual((st.total_images, st.processed_images, st.failed_images),
                             (IMAGES, IMAGES, 0))
            self.assertEqual(sorted(r.index for r in st.results), list(range(IMAGES)))
            self.assertTrue(all(r.text == "mock text" for r in st.results))
        self.assertEqual(sts[0], sts[1])

    def run_batch(self, node, bid, images):
        msgs = list(node.client.extract_batch(images, batch_id=bid, timeout=600))
        self.assertEqual(len(msgs), len(images))


class Failover(Base):
    def setUp(self):
        self.work = H.tempdir("ocrpc-sentinel-")
        self.root = H.tempdir("ocrpc-sentinel-root-")
        F.sparse_file(os.path.join(self.root, "slow.img"), 4 << 20)
        self.master = F.Redis().start()
        self.replica = F.Redis(None, "--replicaof", "127.0.0.1",
                               str(self.master.port)).start()
        self.sentinels = [Sentinel(self.master.port, self.work).start()
                          for _ in range(3)]
        self.nodes = []
        H.poll(lambda: all(s.ready() for s in self.sentinels),
               "the sentinels to know the replica and each other")
        url = "redis+sentinel://%s/%s" % (
            ",".join("127.0.0.1:%d" % s.port for s in self.sentinels), MASTER_NAME)
        self.nodes = [F.Node(n, self.root, "--redis-url", url).start() for n in "AB"]

    def tearDown(self):
        for n in self.nodes:
            n.stop()
        for s in self.sentinels:
            s.kill()
        self.master.kill()
        self.replica.kill()

    def test_master_killed_during_a_batch(self):
        a, b = self.nodes
        bid = "failover-%d" % os.getpid()
        done = []
        t = threading.Thread(target=lambda: done.append(
            self.run_batch(a, bid, ["slow.img"] * IMAGES)), daemon=True)
        t.start()
        H.poll(lambda: self._started(b, bid), "the batch to start")
        old = self.master.port
        self.master.kill()
        H.poll(lambda: self.sentinels[0].master_port() not in (None, old),
               "the sentinels to promote the replica")
        t.join(F.WAIT)
        self.assertEqual(done, [None], "the batch stream completed")
        self.check_everywhere(bid, self.nodes)
        # A ran the batch: it wrote it again to the new master. The line is
        # logged before those writes, but the harness reads the server's
        # stderr on its own thread: wait for it (bounded) rather than
        # assume it was read already.
        H.poll(lambda: "the master changed: writing 1 batches again"
               in a.srv.stderr_text(), "A's log of the rewrite")

    @staticmethod
    def _started(node, bid):
        try:
            return node.status(bid).processed_images >= 1
        except (ocrpc_client.OcrNotFound, ocrpc_client.OcrUnavailable):
            return False


class EmptyRestart(Base):
    def test_batch_finished_before_redis_came_back_empty(self):
        root = H.tempdir("ocrpc-empty-root-")
        png = H.render_line(os.path.join(root, "a.png"), "empty")
        redis = F.Redis().start()
        url = "redis://127.0.0.1:%d/0" % redis.port
        nodes = [F.Node(n, root, "--redis-url", url).start() for n in "AB"]
        try:
            bid = "empty-%d" % os.getpid()
            self.run_batch(nodes[0], bid, [os.path.basename(png)] * IMAGES)
            self.check_everywhere(bid, nodes)
            redis.kill()
            redis = F.Redis(redis.port).start()  # empty: no persistence
            self.check_everywhere(bid, nodes)
            # Logged before the rewrite that check_everywhere just read back;
            # the harness reads stderr on its own thread: wait (bounded).
            H.poll(lambda: "Redis restarted (run_id changed): writing 1 batches again"
                   in nodes[0].srv.stderr_text(), "A's log of the rewrite")
        finally:
            for n in nodes:
                n.stop()
            redis.kill()


if __name__ == "__main__":
    unittest.main()
