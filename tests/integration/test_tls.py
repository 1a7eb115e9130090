# SPDX-License-Identifier: MIT
"""TLS with real clients (issue 15): python3-grpcio over
ssl_channel_credentials, curl --http2, openssl s_client. Certificates are
made by the test with the openssl CLI: a CA, a server certificate for
localhost/127.0.0.1, a client certificate. Covered: a call over TLS,
ALPN (h2 only: http/1.1 alone gets no_application_protocol), TLS 1.1
refused, mutual TLS (no client certificate: refused; with one: served),
and SIGHUP reloading the certificate without dropping an open
connection."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import grpc

import harness as H

CHECK = "/grpc.health.v1.Health/Check"
TIMEOUT = H.WAIT  # a bound only a hang reaches


def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True,
                       text=True, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise AssertionError("openssl %s failed: %s" % (" ".join(args), r.stderr))
    return r.stdout


def make_cert(d, name, cn, ca="ca", san=None, client=False):
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key",
            "-out", name + ".csr", "-subj", "/CN=" + cn, cwd=d)
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        if san:
            f.write("subjectAltName=%s\n" % san)
        f.write("extendedKeyUsage=%s\n" % ("clientAuth" if client else "serverAuth"))
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey",
            ca + ".key", "-CAcreateserial", "-out", name + ".pem", "-days", "2",
            "-extfile", ext, cwd=d)


def read(d, name):
    with open(os.path.join(d, name), "rb") as f:
        return f.read()


class Tls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = tempfile.mkdtemp(prefix="ocrpc-tls-")
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
                "-out", "ca.pem", "-days", "2", "-subj", "/CN=ocrpc test CA", cwd=cls.d)
        make_cert(cls.d, "srv", "localhost", san="DNS:localhost,IP:127.0.0.1")
        make_cert(cls.d, "srv2", "localhost-reloaded", san="DNS:localhost,IP:127.0.0.1")
        make_cert(cls.d, "cli", "worker-1", client=True)
        # The files the server reads: srv.* now, replaced by srv2.* on reload.
        shutil.copy(os.path.join(cls.d, "srv.pem"), os.path.join(cls.d, "cur.pem"))
        shutil.copy(os.path.join(cls.d, "srv.key"), os.path.join(cls.d, "cur.key"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.d, ignore_errors=True)

    def start(self, *extra):
        srv = H.Server("--tls-cert", os.path.join(self.d, "cur.pem"), "--tls-key",
                       os.path.join(self.d, "cur.key"), *extra, engine="mock")
        srv.start()
        self.addCleanup(srv.stop)
        return srv

    def channel(self, srv, client_cert=False):
        creds = grpc.ssl_channel_credentials(
            read(self.d, "ca.pem"),
            read(self.d, "cli.key") if client_cert else None,
            read(self.d, "cli.pem") if client_cert else None)
        ch = grpc.secure_channel("localhost:%d" % srv.port, creds)
        self.addCleanup(ch.close)
        return ch.unary_unary(CHECK, request_serializer=lambda b: b,
                              response_deserializer=lambda b: b)

    def s_client(self, srv, *args):
        r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port,
                            "-CAfile", os.path.join(self.d, "ca.pem")] + list(args),
                           capture_output=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT)
        # The server's HTTP/2 SETTINGS arrive after the handshake: binary.
        return (r.stdout + r.stderr).decode("utf-8", "replace")

    def test_clients_alpn_versions_and_reload(self):
        srv = self.start()
        check = self.channel(srv)
        self.assertEqual(check(b"", timeout=TIMEOUT), b"\x08\x01")  # SERVING
        # curl: HTTP/2 over TLS, gRPC framing by hand.
        body = os.path.join(self.d, "empty.bin")
        with open(body, "wb") as f:
            f.write(b"\0\0\0\0\0")
        r = subprocess.run(["curl", "-sS", "--http2", "--cacert",
                            os.path.join(self.d, "ca.pem"), "-D", "-", "-o", os.devnull,
                            "-H", "content-type: application/grpc", "-H", "te: trailers",
                            "--data-binary", "@" + body,
                            "https://localhost:%d%s" % (srv.port, CHECK)],
                           capture_output=True, text=True, timeout=TIMEOUT)
        self.assertIn("HTTP/2 200", r.stdout, r.stderr)
        self.assertRegex(r.stdout, r"grpc-status: 0")
        # ALPN: h2 chosen; http/1.1 alone refused with the RFC 7301 alert.
        self.assertIn("ALPN protocol: h2", self.s_client(srv, "-alpn", "h2"))
        out = self.s_client(srv, "-alpn", "http/1.1")
        self.assertIn("no application protocol", out)
        # TLS 1.2 at least.
        out = self.s_client(srv, "-tls1_1")
        self.assertIn("alert protocol version", out)
        self.assertIn("Cipher is (NONE)", out)
        # SIGHUP: new connections get the new certificate; the open channel
        # goes on working.
        shutil.copy(os.path.join(self.d, "srv2.pem"), os.path.join(self.d, "cur.pem"))
        shutil.copy(os.path.join(self.d, "srv2.key"), os.path.join(self.d, "cur.key"))
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + TIMEOUT
        while "TLS certificate" not in srv.stderr_text() or \
                "reloaded" not in srv.stderr_text():
            self.assertLess(time.monotonic(), deadline, "no reload logged")
            time.sleep(0.05)  # polling the log reader, bounded above
        self.assertIn("CN = localhost-reloaded", self.s_client(srv, "-alpn", "h2"))
        self.assertEqual(check(b"", timeout=TIMEOUT), b"\x08\x01")

    def test_mutual_tls(self):
        srv = self.start("--tls-client-ca", os.path.join(self.d, "ca.pem"))
        with self.assertRaises(grpc.RpcError) as cm:
            self.channel(srv)(b"", timeout=TIMEOUT)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(self.channel(srv, client_cert=True)(b"", timeout=TIMEOUT),
                         b"\x08\x01")


if __name__ == "__main__":
    unittest.main()
