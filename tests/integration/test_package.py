# SPDX-License-Identifier: MIT
"""The installable server: the Debian package CPack builds from this tree.

- Builds ocrpc_VERSION_ARCH.deb (cpack into a temporary directory), checks
  its control fields (name, version from CMake's project(VERSION), runtime
  Depends, language packs as Recommends), its conffiles and its file list.
- Unpacks it (dpkg-deb -x) into a temporary root and runs the unpacked
  server (mock engine) against a health check made by the unpacked `ocrpc`
  CLI; --version of all three programs; the man pages help2man generated.
- `systemd-analyze verify` on the unpacked unit (ExecStart pointed at the
  unpacked server, MANPATH at the unpacked pages): no finding at all.
  systemd need not be PID 1 for that (offline verification).
"""

import gzip
import os
import re
import shutil
import subprocess
import unittest

import harness as H

BUILD = os.environ["OCRPC_BUILD"]
CPACK = shutil.which("cpack") or "/usr/bin/cpack"
SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"


def project_version():
    with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
        m = re.search(r"^CMAKE_PROJECT_VERSION:STATIC=(\S+)$", f.read(), re.M)
    assert m, "no CMAKE_PROJECT_VERSION in CMakeCache.txt"
    return m.group(1)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise AssertionError("%s exited %d\n%s\n%s" % (" ".join(cmd), r.returncode,
                                                       r.stdout, r.stderr))
    return r.stdout


EXPECTED_FILES = {
    "./etc/default/ocrpc",
    "./usr/bin/ocrpc",
    "./usr/bin/ocrpc-bench",
    "./usr/bin/ocrpc-server",
    "./usr/lib/systemd/system/ocrpc.service",
    "./usr/share/man/man1/ocrpc-bench.1.gz",
    "./usr/share/man/man1/ocrpc-server.1.gz",
    "./usr/share/man/man1/ocrpc.1.gz",
}


class Package(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.version = project_version()
        cls.arch = run(["dpkg", "--print-architecture"]).strip()
        cls.out = H.tempdir("ocrpc-pkg-")
        run([CPACK, "-G", "DEB", "--config", os.path.join(BUILD, "CPackConfig.cmake"),
             "-B", cls.out])
        cls.deb = os.path.join(cls.out, "ocrpc_%s_%s.deb" % (cls.version, cls.arch))
        assert os.path.isfile(cls.deb), os.listdir(cls.out)
        cls.root = H.tempdir("ocrpc-pkg-root-")
        run(["dpkg-deb", "-x", cls.deb, cls.root])

    def field(self, name):
        return run(["dpkg-deb", "-f", self.deb, name]).strip()

    def test_control_fields(self):
        self.assertEqual(self.field("Package"), "ocrpc")
        self.assertEqual(self.field("Version"), self.version)
        self.assertEqual(self.field("Architecture"), self.arch)
        depends = {d.split()[0] for d in self.field("Depends").split(", ")}
        for pkg in ("tesseract-ocr", "libuv1", "libnghttp2-14", "libhiredis0.14",
                    "libtesseract5", "liblept5", "libcjson1", "libhttp-parser2.9",
                    "zlib1g", "libc6"):
            self.assertIn(pkg, depends)
        # The sanitizer runtimes of a debug tree must never leak into it.
        self.assertFalse([d for d in depends if "asan" in d or "ubsan" in d], depends)
        recommends = self.field("Recommends")
        for pkg in ("tesseract-ocr-kor", "tesseract-ocr-eng"):
            self.assertIn(pkg, recommends)
        ctrl = subprocess.run(["dpkg-deb", "--ctrl-tarfile", self.deb],
                              capture_output=True, check=True).stdout
        conffiles = subprocess.run(["tar", "-xO", "./conffiles"], input=ctrl,
                                   capture_output=True, check=True).stdout
        self.assertEqual(conffiles.decode().split(), ["/etc/default/ocrpc"])

    def test_file_list(self):
        listing = run(["dpkg-deb", "-c", self.deb]).splitlines()
        files = {line.split()[-1] for line in listing if not line.startswith("d")}
        self.assertEqual(files, EXPECTED_FILES)

    def test_versions_agree(self):
        for prog in ("ocrpc-server", "ocrpc", "ocrpc-bench"):
            out = run([os.path.join(self.root, "usr/bin", prog), "--version"])
            self.assertEqual(out.strip(), "%s %s" % (prog, self.version))

    def test_man_pages(self):
        with gzip.open(os.path.join(self.root, "usr/share/man/man1/ocrpc-server.1.gz"),
                       "rt") as f:
            page = f.read()
        self.assertIn(".TH OCRPC-SERVER", page)
        self.assertIn(self.version, page)
        for name in ("redis\\-url", "REDIS_URL", "drain\\-seconds"):
            self.assertIn(name, page)

    def test_unpacked_server_serves(self):
        server = os.path.join(self.root, "usr/bin/ocrpc-server")
        cli = os.path.join(self.root, "usr/bin/ocrpc")
        old = os.environ.get("OCRPC_SERVER")
        os.environ["OCRPC_SERVER"] = server
        try:
            srv = H.Server(engine="mock").start()
        finally:
            os.environ["OCRPC_SERVER"] = old
        try:
            out = run([cli, "-s", srv.address, "--timeout", "60s", "health"])
            self.assertIn("status:       STATUS_SUCCESS\n", out)
            self.assertIn("version:      %s\n" % self.version, out)
        finally:
            srv.stop()

    def test_systemd_unit_verifies(self):
        unit = os.path.join(self.root, "usr/lib/systemd/system/ocrpc.service")
        with open(unit) as f:
            text = f.read()
        for line in ("ExecStart=/usr/bin/ocrpc-server", "DynamicUser=yes",
                     "ProtectSystem=strict", "NoNewPrivileges=yes",
                     "EnvironmentFile=-/etc/default/ocrpc", "Restart=on-failure",
                     "ReadOnlyPaths=-/srv/ocrpc", "TimeoutStopSec=45"):
            self.assertIn(line + "\n", text)
        # TimeoutStopSec leaves room for the default drain.
        with open(os.path.join(self.root, "etc/default/ocrpc")) as f:
            self.assertIn("#GRPC_DRAIN_SECONDS=30\n", f.read())
        d = H.tempdir("ocrpc-unit-")
        copy = os.path.join(d, "ocrpc.service")
        with open(copy, "w") as f:
            f.write(text.replace("ExecStart=/usr/bin/",
                                 "ExecStart=%s/usr/bin/" % self.root))
        env = dict(os.environ, MANPATH=os.path.join(self.root, "usr/share/man"))
        r = subprocess.run([SYSTEMD_ANALYZE, "verify", copy], capture_output=True,
                           text=True, env=env)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))


if __name__ == "__main__":
    unittest.main()
