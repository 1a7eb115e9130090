# SPDX-License-Identifier: MIT
"""Pieces of the fleet tests: several ocrpc-servers on fixed free ports
(so that a node restarts where nginx expects it), one redis-server, and
nginx in front of them, all on 127.0.0.1 and started by the test.

- Nginx: the Debian nginx binary with its own prefix and configuration
  (written from NGINX_CONF, the example the README's Deployment section
  shows), on a free port, as an unprivileged listener (no port below 1024,
  no file outside its prefix); stop() checks its error log for crashes.
- Node: one ocrpc-server of the fleet; restart() after stop() or kill()
  comes back on the same port with the same arguments.
- CallStream: a thread pushing a bounded number of calls through one
  target with ocrpc_client's retry policy, recording every failure.
"""

import os
import signal
import socket
import subprocess
import sys
import threading

import harness as H

sys.path.insert(0, os.path.join(H.REPO, "clients", "python"))
import ocrpc_client  # noqa: E402
from ocrpc_client import OcrClient, ocr_pb2, ocr_pb2_grpc  # noqa: E402,F401

NGINX = "/usr/sbin/nginx"
REDIS_SERVER = "/usr/bin/redis-server"
WAIT = H.WAIT  # ceiling of every wait; only a hang reaches it
CALL_TIMEOUT = 300  # per call (OCR on a loaded machine, ASan tree): a hang ceiling


def accepting(port):
    try:
        with socket.create_connection(("127.0.0.1", port), 1):
            return True
    except OSError:
        return False


# The gRPC part of the README's example: an upstream of every node,
# HTTP/2 to the clients, and a failed connection tried on the next node
# (a call already sent is not: the client's retry policy owns that).
NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 100m;

    upstream ocrpc_grpc {{
{servers}
        keepalive 16;
    }}
    upstream ocrpc_http {{
{http_servers}
        keepalive 16;
    }}
    # REST (POST /ocr/extract, GET /v1/batches/ID, /healthz) on the nodes'
    # HTTP_PORT.
    server {{
        listen 127.0.0.1:{http_port};
        location / {{
            proxy_pass http://ocrpc_http;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout;
            proxy_read_timeout 300s;
        }}
    }}
    server {{
        listen 127.0.0.1:{port} http2;
        location / {{
            grpc_pass grpc://ocrpc_grpc;
            grpc_next_upstream error timeout;
            grpc_read_timeout 300s;
            grpc_send_timeout 300s;
            error_page 502 503 504 = @unavailable;
        }}
        # No node could take the call: answer as a gRPC server would, so
        # clients see UNAVAILABLE (retryable), not an HTML error page.
        location @unavailable {{
            default_type application/grpc;
            add_header grpc-status 14 always;
            add_header grpc-message "no ocrpc node available" always;
            return 204;
        }}
    }}
}}
"""


class Nginx:
    def __init__(self, upstream_ports, http_ports=()):
        self.upstream_ports = list(upstream_ports)
        self.http_ports = list(http_ports)
        self.port = H.free_port()
        self.http_port = H.free_port()
        self.proc = None
        self.prefix = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        self.prefix = H.tempdir("ocrpc-nginx-")
        # The workers run as nobody when the test runs as root.
        os.chmod(self.prefix, 0o755)
        servers = "\n".join(
            "        server 127.0.0.1:%d max_fails=1 fail_timeout=2s;" % p
            for p in self.upstream_ports)
        http_servers = "\n".join(
            "        server 127.0.0.1:%d max_fails=1 fail_timeout=2s;" % p
            for p in self.http_ports)
        conf = os.path.join(self.prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(prefix=self.prefix, port=self.port,
                                      servers=servers, http_port=self.http_port,
                                      http_servers=http_servers))
        self.proc = subprocess.Popen(
            [NGINX, "-p", self.prefix, "-c", conf, "-e",
             os.path.join(self.prefix, "error.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        H.poll(lambda: self._check_alive() and accepting(self.port),
             "nginx to listen on %d" % self.port)
        return self

    def _check_alive(self):
        if self.proc.poll() is not None:
            raise AssertionError("nginx exited with %s: %s\n%s" % (
                self.proc.returncode, self.proc.stderr.read().decode(),
                self.error_log()))
        return True

    def error_log(self):
        try:
            with open(os.path.join(self.prefix, "error.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if not self.proc:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)
        self.proc.stderr.close()
        self.proc = None
        log = self.error_log()
        for bad in ("[alert]", "[emerg]", "exited on signal"):
            if bad in log:
                raise AssertionError("nginx error log has %s:\n%s" % (bad, log))


class Node:
    """One fleet member on a fixed port."""

    def __init__(self, name, image_root, *args, engine="mock", workers=2):
        self.name = name
        self.port = H.free_port()
        self.http_port = H.free_port()
        self.image_root = image_root
        self.args = ["--port", str(self.port), "--http-port", str(self.http_port)] + list(args)
        self.engine = engine
        self.workers = workers
        self.srv = None
        self.client = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        self.srv = H.Server(*self.args, engine=self.engine, workers=self.workers,
                            image_root=self.image_root).start()
        assert self.srv.port == self.port, (self.srv.port, self.port)
        self.client = OcrClient(self.address, timeout=CALL_TIMEOUT, max_attempts=1)
        if "--redis-url" in self.args:
            # Store reads answer UNAVAILABLE until the first connection.
            H.poll(lambda: "redis: connected" in self.srv.stderr_text(),
                 "%s to connect to Redis" % self.name)
        return self

    def _close_client(self):
        if self.client:
            self.client.close()
            self.client = None

    def stop(self):
        """SIGTERM (drain); exit status 0 and a clean log are asserted."""
        self._close_client()
        srv, self.srv = self.srv, None
        if srv:
            srv.stop()

    def kill(self):
        """SIGKILL: no drain, nothing written at exit. The client closes
        after: closing it first would cancel the calls in flight."""
        srv, self.srv = self.srv, None
        if srv:
            srv.proc.send_signal(signal.SIGKILL)
            srv.proc.wait(WAIT)
            srv._cleanup()
        self._close_client()

    def restart(self):
        H.poll(lambda: not accepting(self.port), "port %d to be free" % self.port)
        return self.start()

    def status(self, batch_id):
        return self.client.batch_status(batch_id, timeout=30)


class Redis:
    """A throwaway redis-server on 127.0.0.1 without persistence."""

    def __init__(self, port=None, *args):
        self.port = port or H.free_port()
        self.args = list(args)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--daemonize", "no",
             # A replica's full sync goes through an RDB file: keep it
             # out of the source tree.
             "--dir", H.tempdir("ocrpc-redis-"),
             "--loglevel", "warning"] + self.args,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        H.poll(self._pong, "redis-server on port %d to answer PING" % self.port)
        return self

    def _pong(self):
        if self.proc.poll() is not None:
            raise AssertionError("redis-server exited with %s" % self.proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", self.port), 1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(WAIT)
        self.proc = None


class CallStream(threading.Thread):
    """Calls through target until stop() (at least min_calls, at most
    max_calls): ExtractText of `image` inline, and every batch_every-th call
    a batch of two images; every call must end OK, UNAVAILABLE being
    retried by ocrpc_client's policy (bounded attempts and backoff)."""

    def __init__(self, target, image, batch_every=20, max_calls=5000):
        super().__init__(daemon=True, name="calls")
        self.client = OcrClient(target, timeout=CALL_TIMEOUT, max_attempts=30,
                                initial_backoff=0.05, max_backoff=0.5,
                                retry_hook=self._on_retry)
        self.image = image
        self.batch_every = batch_every
        self.max_calls = max_calls
        self.calls = 0
        self.retries = 0
        self.failures = []
        self.batch_ids = []
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def _on_retry(self, ev):
        with self._lock:
            self.retries += 1

    def run(self):
        try:
            while not self._halt.is_set() and self.calls < self.max_calls:
                n = self.calls
                try:
                    if n % self.batch_every == self.batch_every - 1:
                        bid = "fleet-stream-%d-%d" % (os.getpid(), n)
                        msgs = list(self.client.extract_batch(
                            [self.image, self.image], batch_id=bid))
                        if len(msgs) != 2 or msgs[-1].progress_percentage != 100:
                            raise AssertionError("batch %s: %d messages" % (bid, len(msgs)))
                        self.batch_ids.append(bid)
                    else:
                        r = self.client.extract(image_data=self.image)
                        if r.status != ocrpc_client.common_pb2.STATUS_SUCCESS:
                            raise AssertionError("call %d: status %s" % (n, r.status))
                except Exception as e:  # recorded, asserted by the test
                    self.failures.append("call %d: %r" % (n, e))
                with self._lock:
                    self.calls += 1
        finally:
            self.client.close()

    def count(self):
        with self._lock:
            return self.calls

    def wait_calls(self, n, what):
        H.poll(lambda: self.count() >= n or not self.is_alive(), what)
        if self.count() < n:
            raise AssertionError("the call stream ended early: %s" % self.failures[:5])

    def stop(self):
        self._halt.set()
        self.join(WAIT)
        if self.is_alive():
            raise AssertionError("the call stream did not stop")


def sparse_file(path, size):
    """A file of `size` zero bytes without writing them: slow to read and
    hash, instant to make (not an image: DECODE_ERROR)."""
    with open(path, "wb") as f:
        f.truncate(size)
    return path

