#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Checks that src/ keeps the layering each folder's README.md states (the
table of ARCHITECTURE.md): which folders a folder's files may include, that
only src/loop and the client's libuv file include uv.h, that OpenSSL stays
in src/loop (TLS) and src/base (libcrypto), and that a module's *_internal.h is included
only by that module and its tests. Prints every violation; exit 1 if any."""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Folder -> folders its files may include ("*": every folder but the
# clients). Keep in step with each src/<folder>/README.md.
MAY_INCLUDE = {
    "base": set(),
    "h1": {"base"},
    "h2": {"base"},
    "ocr": {"base"},
    "llm": {"base"},
    "jobs": {"base"},
    "app": {"base", "ocr", "llm", "jobs"},
    "rest": {"base", "app"},
    # ARCHITECTURE.md wants rpc on app and base only; its services still
    # read ocr's, jobs' and llm's types directly (README.md of src/rpc).
    "rpc": {"base", "app", "ocr", "jobs", "llm"},
    "conn": {"base", "h1", "h2", "rpc", "rest"},
    "loop": {"base", "conn", "h1", "h2", "rpc", "rest", "app", "ocr", "llm", "jobs"},
    "client": {"base", "rpc", "loop"},
    "cli": {"base", "client"},
    "main.c": {"base", "loop"},
}
# Narrower grants: (folder, included folder) -> the only headers allowed.
ONLY = {
    ("client", "rpc"): {"rpc/rpc_wire.h"},
    ("client", "loop"): {"loop/loop_timer.h"},
}
UV_OK = ("src/loop/", "src/client/client_uv.c")
# TLS (libssl) in src/loop; base uses libcrypto (SHA-256, constant-time
# compares).
OPENSSL_OK = ("src/loop/", "src/base/")

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def files(top):
    for dirpath, _, names in os.walk(os.path.join(ROOT, top)):
        for n in sorted(names):
            if n.endswith((".c", ".h", ".cc")):
                yield os.path.relpath(os.path.join(dirpath, n), ROOT)


def main():
    bad = []
    for rel in files("src"):
        parts = rel.split("/")
        folder = parts[1]
        text = open(os.path.join(ROOT, rel), encoding="utf-8").read()
        for kind, inc in INCLUDE.findall(text):
            if kind == "<":
                if inc == "uv.h" and not rel.startswith(UV_OK):
                    bad.append(f"{rel}: includes uv.h (only src/loop and client_uv.c may)")
                if inc.startswith("openssl/") and not rel.startswith(OPENSSL_OK):
                    bad.append(f"{rel}: includes <{inc}> (OpenSSL stays in src/loop)")
                continue
            if "/" not in inc:
                continue  # a header of the same folder
            target = inc.split("/")[0]
            if target == folder or target not in MAY_INCLUDE or target == "main.c":
                continue
            if target not in MAY_INCLUDE.get(folder, set()):
                bad.append(f"{rel}: includes {inc} ({folder} may not include {target})")
            elif (folder, target) in ONLY and inc not in ONLY[(folder, target)]:
                bad.append(f"{rel}: includes {inc} ({folder} may include only "
                           f"{', '.join(sorted(ONLY[(folder, target)]))} of {target})")
            if inc.endswith("_internal.h"):
                bad.append(f"{rel}: includes {inc}, another module's internals")
    for rel in files("tests"):
        if rel.startswith("tests/fuzz/"):
            continue  # each fuzz target reaches into the module it fuzzes
        text = open(os.path.join(ROOT, rel), encoding="utf-8").read()
        own = rel.split("/")[1]
        for kind, inc in INCLUDE.findall(text):
            if kind == '"' and "/" in inc and inc.endswith("_internal.h") and \
                    inc.split("/")[0] != own:
                bad.append(f"{rel}: includes {inc}, another module's internals")
    for b in bad:
        print(b)
    print(f"{len(bad)} layering violations")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
