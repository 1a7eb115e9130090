#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fetches nanopb's runtime sources (pb_*.c/h) from Debian's own source
# package into .deps/nanopb. Debian's libprotobuf-nanopb.a is built with a
# 16-bit pb_size_t, which cannot hold a multi-megabyte image, and linking
# it into code built with PB_FIELD_32BIT silently corrupts every decode; so
# the runtime is compiled with the project's own definitions. Uses a
# private apt list directory: the system's sources are left untouched.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dest="$top/.deps/nanopb"
[ -f "$dest/pb_decode.c" ] && exit 0

version=$(dpkg-query -W -f='${source:Version}' libnanopb-dev 2>/dev/null || true)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/parts"
cat > "$work/parts/debian-src.sources" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/parts"
      -o "Dir::State::Lists=$work/lists" -o APT::Sandbox::User=root)
echo "fetch-nanopb: downloading Debian's nanopb source package${version:+ $version}" >&2
apt-get "${opts[@]}" -qq update
(cd "$work" && apt-get "${opts[@]}" -qq source --download-only "nanopb${version:+=$version}")
orig=$(ls "$work"/nanopb_*.orig.tar.* | head -1)
mkdir -p "$work/x" "$dest"
tar -xf "$orig" -C "$work/x"
src=$(ls -d "$work"/x/nanopb-*/ | head -1)
cp "$src"/pb.h "$src"/pb_common.[ch] "$src"/pb_encode.[ch] "$src"/pb_decode.[ch] \
   "$src"/LICENSE.txt "$dest/"
