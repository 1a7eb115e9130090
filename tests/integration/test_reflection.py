# SPDX-License-Identifier: MIT
"""Server reflection, as grpcurl uses it: a client with no OCR stubs at all
discovers ocr.OCRService, builds the request type from the descriptors the
server returns, and calls ExtractText. Both grpc.reflection.v1 and v1alpha.
Only the reflection protocol's own stubs are generated (from protos/)."""

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

import harness

_gen = tempfile.mkdtemp(prefix="ocrpc-refl-stubs-")
subprocess.run([harness.PROTOC, "--python_out=" + _gen, "--grpc_python_out=" + _gen,
                "--plugin=protoc-gen-grpc_python=" + harness.GRPC_PYTHON_PLUGIN,
                "-I", os.path.join(harness.REPO, "protos"),
                "reflection.proto", "reflection_v1alpha.proto"], check=True)
sys.path.insert(0, _gen)
V1 = (importlib.import_module("reflection_pb2"),
      importlib.import_module("reflection_pb2_grpc"))
V1ALPHA = (importlib.import_module("reflection_v1alpha_pb2"),
           importlib.import_module("reflection_v1alpha_pb2_grpc"))
sys.path.remove(_gen)
shutil.rmtree(_gen)

SERVED = {"ocr.OCRService", "llm.LLMService", "grpc.health.v1.Health",
          "grpc.reflection.v1.ServerReflection",
          "grpc.reflection.v1alpha.ServerReflection"}


class ReflectionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server()
        cls.server.start()
        harness.render_line(cls.server.path("hello.png"), "Reflection works 42")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def exchange(self, version, requests):
        pb2, pb2_grpc = version
        stub = pb2_grpc.ServerReflectionStub(self.server.channel())
        return list(stub.ServerReflectionInfo(iter(requests), timeout=30))

    def check_version(self, version):
        pb2 = version[0]
        R = pb2.ServerReflectionRequest
        resps = self.exchange(version, [
            R(list_services=""),
            R(file_containing_symbol="ocr.OCRService"),
            R(file_containing_symbol="no.such.Symbol"),
            R(file_by_filename="common.proto"),
            R(file_by_filename="health.proto"),
            R(file_containing_symbol="ocr.OCRRequest"),
            R(file_containing_symbol="ocr.OCRService.ExtractText"),
            R(file_containing_symbol="common.Status"),
            R(file_by_filename="missing.proto"),
        ])
        # One answer per request, the stream kept open after errors.
        self.assertEqual(len(resps), 9)
        names = {s.name for s in resps[0].list_services_response.service}
        self.assertEqual(names, SERVED)

        files = [descriptor_pb2.FileDescriptorProto.FromString(b)
                 for b in resps[1].file_descriptor_response.file_descriptor_proto]
        # Requested file first, then its imports not yet sent on this stream.
        self.assertEqual([f.name for f in files], ["ocr.proto", "common.proto"])
        self.assertEqual(resps[1].original_request.file_containing_symbol,
                         "ocr.OCRService")

        self.assertEqual(resps[2].error_response.error_code, grpc.StatusCode.NOT_FOUND.value[0])
        self.assertTrue(resps[2].error_response.error_message)

        # Asked for by name, a file comes even if sent before.
        self.assertEqual(
            [descriptor_pb2.FileDescriptorProto.FromString(b).name
             for b in resps[3].file_descriptor_response.file_descriptor_proto],
            ["common.proto"])
        self.assertEqual(
            [descriptor_pb2.FileDescriptorProto.FromString(b).name
             for b in resps[4].file_descriptor_response.file_descriptor_proto],
            ["health.proto"])
        for i in (5, 6):
            self.assertEqual(
                descriptor_pb2.FileDescriptorProto.FromString(
                    resps[i].file_descriptor_response.file_descriptor_proto[0]).name,
                "ocr.proto")
        self.assertEqual(
            descriptor_pb2.FileDescriptorProto.FromString(
                resps[7].file_descriptor_response.file_descriptor_proto[0]).name,
            "common.proto")
        self.assertEqual(resps[8].error_response.error_code, grpc.StatusCode.NOT_FOUND.value[0])
        return files

    def test_v1(self):
        self.check_version(V1)

    def test_v1alpha(self):
        self.check_version(V1ALPHA)

    def test_call_extract_text_from_reflection_alone(self):
        files = self.check_version(V1)
        pool = descriptor_pool.DescriptorPool()
        for f in reversed(files):  # imports first
            pool.Add(f)
        method = pool.FindServiceByName("ocr.OCRService").FindMethodByName("ExtractText")
        factory = message_factory.MessageFactory(pool)
        Req = factory.GetPrototype(method.input_type)
        Resp = factory.GetPrototype(method.output_type)
        call = self.server.channel().unary_unary(
            "/ocr.OCRService/ExtractText",
            request_serializer=Req.SerializeToString,
            response_deserializer=Resp.FromString)
        req = Req()
        req.private_image_path = "hello.png"
        req.language = "english"
        resp = call(req, timeout=60)
        status_enum = pool.FindEnumTypeByName("common.Status")
        self.assertEqual(status_enum.values_by_number[resp.status].name, "STATUS_SUCCESS")
        self.assertEqual(harness.norm_text(resp.text), "Reflection works 42")


if __name__ == "__main__":
    unittest.main()
