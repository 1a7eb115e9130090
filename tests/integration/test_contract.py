# SPDX-License-Identifier: MIT
"""The repository's protos/ keep every package, message, field number, enum
value and RPC of the guide's protos (seed_protos/): additions only, so code
generated from the guide's files keeps working. No server needed."""

import os
import shutil
import subprocess
import tempfile
import unittest

from google.protobuf import descriptor_pb2

import harness as H

FILES = ("common.proto", "ocr.proto", "llm.proto")


def descriptor_set(src):
    out = tempfile.mkdtemp(prefix="ocrpc-desc-")
    try:
        path = os.path.join(out, "set.pb")
        r = subprocess.run([H.PROTOC, "-I", src, "--include_imports",
                            "--descriptor_set_out=" + path] + list(FILES),
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("protoc failed on %s: %s" % (src, r.stderr))
        fds = descriptor_pb2.FileDescriptorSet()
        with open(path, "rb") as f:
            fds.ParseFromString(f.read())
        return {f.name: f for f in fds.file}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def messages(fd):
    """Full name -> DescriptorProto, nested types included."""
    out = {}

    def walk(prefix, msgs):
        for m in msgs:
            name = prefix + "." + m.name
            out[name] = m
            walk(name, m.nested_type)
    walk(fd.package, fd.message_type)
    return out


class TestContract(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.seed = descriptor_set(H.proto_dir("seed"))
        cls.repo = descriptor_set(H.proto_dir("repo"))

    def test_same_files_and_packages(self):
        for name in FILES:
            self.assertIn(name, self.repo)
            self.assertEqual(self.repo[name].package, self.seed[name].package,
                             name)
            self.assertEqual(self.repo[name].syntax, self.seed[name].syntax,
                             name)
            self.assertEqual(list(self.repo[name].dependency),
                             list(self.seed[name].dependency), name)

    def test_every_guide_field_kept(self):
        for name in FILES:
            old, new = messages(self.seed[name]), messages(self.repo[name])
            for mname, m in old.items():
                self.assertIn(mname, new, "%s: message %s removed"
                              % (name, mname))
                newf = {f.number: f for f in new[mname].field}
                for f in m.field:
                    where = "%s %s.%s (%d)" % (name, mname, f.name, f.number)
                    self.assertIn(f.number, newf, where + " removed")
                    g = newf[f.number]
                    self.assertEqual(
                        (g.name, g.type, g.label, g.type_name),
                        (f.name, f.type, f.label, f.type_name),
                        where + " changed")

    def test_every_guide_enum_value_kept(self):
        for name in FILES:
            new_enums = {e.name: e for e in self.repo[name].enum_type}
            for e in self.seed[name].enum_type:
                self.assertIn(e.name, new_enums, name)
                vals = {v.name: v.number for v in new_enums[e.name].value}
                for v in e.value:
                    self.assertEqual(vals.get(v.name), v.number,
                                     "%s %s.%s" % (name, e.name, v.name))

    def test_every_guide_rpc_kept(self):
        for name in FILES:
            new_svcs = {s.name: s for s in self.repo[name].service}
            for s in self.seed[name].service:
                self.assertIn(s.name, new_svcs, name)
                meths = {m.name: m for m in new_svcs[s.name].method}
                for m in s.method:
                    where = "%s %s/%s" % (name, s.name, m.name)
                    self.assertIn(m.name, meths, where + " removed")
                    n = meths[m.name]
                    self.assertEqual(
                        (n.input_type, n.output_type, n.client_streaming,
                         n.server_streaming),
                        (m.input_type, m.output_type, m.client_streaming,
                         m.server_streaming), where + " changed")

    def test_image_data_added(self):
        req = messages(self.repo["ocr.proto"])["ocr.OCRRequest"]
        f = {x.name: x for x in req.field}
        self.assertIn("image_data", f)
        self.assertEqual(f["image_data"].number, 7)
        self.assertEqual(f["image_data"].type,
                         descriptor_pb2.FieldDescriptorProto.TYPE_BYTES)


if __name__ == "__main__":
    unittest.main()
