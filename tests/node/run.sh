#!/bin/sh
# SPDX-License-Identifier: MIT
# CTest entry point of the grpc-js behaviour tests: installs the pinned npm
# packages when needed, then runs every test file with Node's test runner,
# one file at a time. Needs OCRPC_SERVER (the ocrpc-server binary).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
"$here/../../scripts/install-node-deps.sh"
cd "$here"
exec node --test --test-concurrency=1 test/behaviour.test.js test/shutdown.test.js \
  test/auth.test.js test/llm.test.js test/tls.test.js test/overload.test.js
