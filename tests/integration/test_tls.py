# SPDX-License-Identifier: MIT
"""TLS with real clients (issue 15): python3-grpcio over
ssl_channel_credentials, python3-httpx, curl --http2 / --http1.1, openssl
s_client. Certificates are made by the test with the openssl CLI: a CA, a
server certificate for localhost/127.0.0.1, a client certificate, and
expired server and client certificates (`openssl ca` with -startdate and
-enddate in the past: `openssl x509 -req -days` cannot backdate). Covered:
a call over TLS, ALPN (h2 and http/1.1; neither: no_application_protocol),
REST over TLS on the gRPC port and on the HTTP port (https), TLS 1.1
refused, mutual TLS (no client certificate: refused; with one: served; an
expired one: refused with certificate_expired), an expired server
certificate refused by grpcio and by s_client -verify_return_error, and
SIGHUP reloading the certificate without dropping an open connection."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import grpc
import httpx

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


def make_expired(d, name, cn, san=None, client=False):
    """A certificate of the test CA valid from 2020-01-01 to 2020-01-02:
    `openssl ca` takes explicit dates, `openssl x509 -req` does not."""
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key",
            "-out", name + ".csr", "-subj", "/CN=" + cn, cwd=d)
    db = os.path.join(d, "ca-db")
    os.makedirs(db, exist_ok=True)
    open(os.path.join(db, "index.txt"), "a").close()
    conf = os.path.join(d, name + ".cnf")
    with open(conf, "w") as f:
        f.write("[ca]\ndefault_ca = test\n[test]\n"
                "dir = %s\ndatabase = $dir/index.txt\nnew_certs_dir = $dir\n"
                "rand_serial = yes\ndefault_md = sha256\npolicy = any\n"
                "unique_subject = no\ncopy_extensions = none\n"
                "x509_extensions = ext\n[any]\ncommonName = supplied\n[ext]\n"
                "extendedKeyUsage = %s\n" % (db, "clientAuth" if client else "serverAuth"))
        if san:
            f.write("subjectAltName = %s\n" % san)
    openssl("ca", "-batch", "-config", conf, "-cert", "ca.pem", "-keyfile", "ca.key",
            "-in", name + ".csr", "-out", name + ".pem", "-notext",
            "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", cwd=d)


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
        make_expired(cls.d, "old", "localhost", san="DNS:localhost,IP:127.0.0.1")
        make_expired(cls.d, "oldcli", "worker-old", client=True)
        # The files the server reads: srv.* now, replaced by srv2.* on reload.
        shutil.copy(os.path.join(cls.d, "srv.pem"), os.path.join(cls.d, "cur.pem"))
        shutil.copy(os.path.join(cls.d, "srv.key"), os.path.join(cls.d, "cur.key"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.d, ignore_errors=True)

    def start(self, *extra, cert="cur"):
        srv = H.Server("--tls-cert", os.path.join(self.d, cert + ".pem"), "--tls-key",
                       os.path.join(self.d, cert + ".key"), *extra, engine="mock")
        srv.start()
        self.addCleanup(srv.stop)
        return srv

    def channel(self, srv, client_cert=False, client="cli"):
        creds = grpc.ssl_channel_credentials(
            read(self.d, "ca.pem"),
            read(self.d, client + ".key") if client_cert else None,
            read(self.d, client + ".pem") if client_cert else None)
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
        # ALPN: h2 preferred, http/1.1 for REST clients; neither refused
        # with the RFC 7301 alert.
        self.assertIn("ALPN protocol: h2", self.s_client(srv, "-alpn", "http/1.1,h2"))
        self.assertIn("ALPN protocol: http/1.1", self.s_client(srv, "-alpn", "http/1.1"))
        out = self.s_client(srv, "-alpn", "spdy/3")
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

    def test_rest_over_tls_on_both_ports(self):
        srv = self.start()
        H.render_line(os.path.join(srv.image_root, "a.png"), "Over TLS")
        ca = os.path.join(self.d, "ca.pem")
        grpc_base = "https://localhost:%d" % srv.port
        http_base = srv.http_base().replace("http://127.0.0.1", "https://localhost")
        self.assertIn("(over TLS)", srv.stderr_text())
        for base in (grpc_base, http_base):
            # httpx (HTTP/1.1, ALPN http/1.1) trusting the test CA only.
            with httpx.Client(verify=ca, timeout=TIMEOUT, trust_env=False) as c:
                r = c.get(base + "/healthz")
                self.assertEqual(r.status_code, 200, r.text)
                self.assertEqual(r.http_version, "HTTP/1.1")
                # The guide's JSON body, recognised (mock engine) over TLS.
                r = c.post(base + "/ocr/extract",
                           json={"private_image_path": "a.png", "language": "english"})
                self.assertEqual(r.status_code, 200, r.text)
                self.assertEqual(r.json()["status"], "success", r.text)
            # A client that does not trust the certificate fails the handshake.
            with httpx.Client(timeout=TIMEOUT, trust_env=False) as c:
                with self.assertRaises(httpx.ConnectError) as cm:
                    c.get(base + "/healthz")
                self.assertIn("CERTIFICATE_VERIFY_FAILED", str(cm.exception))
            r = subprocess.run(["curl", "-sS", "--http1.1", "--cacert", ca, "-o", os.devnull,
                                "-w", "%{http_version} %{http_code}", base + "/healthz"],
                               capture_output=True, text=True, timeout=TIMEOUT)
            self.assertEqual(r.stdout, "1.1 200", r.stderr)
        # curl --http2 to the gRPC port: REST over HTTP/2 is not served (the
        # HTTP/2 side is gRPC), but TLS and ALPN h2 work and the answer is a
        # gRPC one; to the REST port, ALPN gives http/1.1 and curl falls
        # back to it.
        r = subprocess.run(["curl", "-sS", "--http2", "--cacert", ca, "-o", os.devnull,
                            "-w", "%{http_version}", grpc_base + "/healthz"],
                           capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(r.stdout, "2", r.stderr)
        r = subprocess.run(["curl", "-sS", "--http2", "--cacert", ca, "-o", os.devnull,
                            "-w", "%{http_version} %{http_code}", http_base + "/healthz"],
                           capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(r.stdout, "1.1 200", r.stderr)
        # The REST port never picks h2 (it speaks HTTP/1.1 alone).
        r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.http_port,
                            "-CAfile", ca, "-alpn", "h2"],
                           capture_output=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT)
        self.assertIn("no application protocol", (r.stdout + r.stderr).decode("utf-8", "replace"))
        # No plaintext left: an http:// request on either port is not served.
        for port in (srv.port, srv.http_port):
            r = subprocess.run(["curl", "-sS", "--http1.1", "-o", os.devnull, "-w",
                                "%{http_code}", "http://127.0.0.1:%d/healthz" % port],
                               capture_output=True, text=True, timeout=TIMEOUT)
            self.assertNotEqual(r.stdout, "200", "plaintext served on %d" % port)
        self.assertTrue(srv.alive())

    def test_expired_server_certificate(self):
        srv = self.start(cert="old")
        with self.assertRaises(grpc.RpcError) as cm:
            self.channel(srv)(b"", timeout=TIMEOUT)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        # grpcio names the check, not its cause; s_client and httpx name it.
        self.assertIn("certificate verify failed", cm.exception.details())
        out = self.s_client(srv, "-alpn", "h2", "-verify_return_error")
        self.assertIn("verify error:num=10:certificate has expired", out)
        self.assertIn("certificate verify failed", out)
        with httpx.Client(verify=os.path.join(self.d, "ca.pem"), timeout=TIMEOUT,
                          trust_env=False) as c:
            with self.assertRaises(httpx.ConnectError) as cm:
                c.get("https://localhost:%d/healthz" % srv.port)
            self.assertIn("certificate has expired", str(cm.exception))
        self.assertTrue(srv.alive())

    def test_mutual_tls_expired_client_certificate(self):
        srv = self.start("--tls-client-ca", os.path.join(self.d, "ca.pem"))
        with self.assertRaises(grpc.RpcError) as cm:
            self.channel(srv, client_cert=True, client="oldcli")(b"", timeout=TIMEOUT)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        # The server's alert names the cause (certificate_expired). TLS 1.2:
        # its client certificate is checked before the handshake ends, so
        # s_client reads the alert for sure (TLS 1.3 checks it after).
        out = self.s_client(srv, "-tls1_2", "-alpn", "h2", "-cert", os.path.join(self.d, "oldcli.pem"),
                            "-key", os.path.join(self.d, "oldcli.key"))
        self.assertIn("alert certificate expired", out)
        self.assertEqual(self.channel(srv, client_cert=True)(b"", timeout=TIMEOUT),
                         b"\x08\x01")

    def test_mutual_tls(self):
        srv = self.start("--tls-client-ca", os.path.join(self.d, "ca.pem"))
        with self.assertRaises(grpc.RpcError) as cm:
            self.channel(srv)(b"", timeout=TIMEOUT)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
        self.assertEqual(self.channel(srv, client_cert=True)(b"", timeout=TIMEOUT),
                         b"\x08\x01")


if __name__ == "__main__":
    unittest.main()
