#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Regenerates the Python gRPC stubs of ocrpc_client from the repository's
# protos/ (the contract) into clients/python/ocrpc_client/_gen/, or into the
# directory given as $1 (the integration test regenerates into a temporary
# directory and checks the result equals the committed copy).
#
# Uses Debian's protoc (protobuf-compiler) and grpc_python_plugin
# (protobuf-compiler-grpc), matching python3-protobuf / python3-grpcio.
# protoc emits absolute imports (`import common_pb2 as common__pb2`); they are
# rewritten to package-relative ones (`from . import common_pb2 as ...`) so
# the stubs import as ocrpc_client._gen.* without touching sys.path, and the
# module name protoc hard-codes for the message classes ('ocr_pb2') becomes
# __name__, so that messages pickle (Celery's prefork pool pickles them).
# The files are added to a private descriptor pool (_gen/_pool.py), so the
# package can share a process with the fleet's own stubs of the guide.
#
# Run it after any change to protos/*.proto and keep the output in the tree.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$here/ocrpc_client/_gen}"
protoc="${PROTOC:-/usr/bin/protoc}"
plugin="${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}"
protos=(common.proto ocr.proto llm.proto health.proto)

mkdir -p "$out"
"$protoc" -I "$repo/protos" \
  --python_out="$out" --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python="$plugin" \
  "${protos[@]}"

for f in "$out"/*_pb2.py "$out"/*_pb2_grpc.py; do
  sed -i -E \
    -e 's/^import ([A-Za-z0-9_]+_pb2) as /from . import \1 as /' \
    -e "s/(BuildTopDescriptorsAndMessages\(DESCRIPTOR, )'[A-Za-z0-9_]+_pb2', /\1__name__, /" \
    -e 's/^DESCRIPTOR = _descriptor_pool\.Default\(\)\.AddSerializedFile\(/DESCRIPTOR = _POOL.AddSerializedFile(/' \
    -e 's/^(_sym_db = _symbol_database\.Default\(\))$/\1\nfrom ._pool import POOL as _POOL/' \
    "$f"
done

# The stubs' files go into a descriptor pool of their own, not protobuf's
# default one: a worker that also imports stubs generated from the guide's
# files (same file names common.proto/ocr.proto, same message names, fewer
# fields) would otherwise fail with "A file with this name is already in
# the pool", whichever it imports first.
if [ ! -f "$out/_pool.py" ]; then
  cat > "$out/_pool.py" <<'PY'
# SPDX-License-Identifier: MIT
"""The private descriptor pool of ocrpc_client's stubs (see generate.sh)."""
from google.protobuf import descriptor_pool

POOL = descriptor_pool.DescriptorPool()
PY
fi

if [ ! -f "$out/__init__.py" ]; then
  cat > "$out/__init__.py" <<'PY'
# SPDX-License-Identifier: MIT
"""Stubs generated from protos/ by clients/python/generate.sh. Do not edit."""
PY
fi
