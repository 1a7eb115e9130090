#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs each libFuzzer target for a while on a copy of its seed corpus kept
# in the build tree (tests/fuzz/corpus is never written), with the
# regression inputs as a second, read-only corpus. Prints each target's
# final exec/s and coverage; exits non-zero if any target found a crash,
# leak, timeout or failed check (its artifact is in the build tree).
#
# Usage: tests/fuzz/run_fuzz.sh BUILD_DIR SECONDS TARGET... [-- LIBFUZZER_FLAGS]
set -u

build=$1 seconds=$2
shift 2
targets=
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  targets="$targets $1"
  shift
done
[ $# -gt 0 ] && shift # the rest are extra libFuzzer flags

src=$(cd "$(dirname "$0")" && pwd)
failed=
for t in $targets; do
  bin=$build/tests/fuzz/$t
  work=$build/tests/fuzz/run/$t
  mkdir -p "$work/corpus" "$work/artifacts"
  cp -n "$src/corpus/$t/"* "$work/corpus/" 2>/dev/null
  dirs="$work/corpus"
  [ -d "$src/regress/$t" ] && dirs="$dirs $src/regress/$t"
  dict=
  [ -f "$src/$t.dict" ] && dict=-dict=$src/$t.dict
  echo "== $t: ${seconds}s, corpus $work/corpus"
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" $dict "$@" $dirs >"$work/log" 2>&1
  rc=$?
  grep -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec' \
    "$work/log" | sed "s/^/   /"
  if [ $rc -ne 0 ]; then
    echo "   FAILED (exit $rc): see $work/log and $work/artifacts/"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*check failed)' "$work/log" | head -5 | sed "s/^/   /"
    failed="$failed $t"
  fi
done
if [ -n "$failed" ]; then
  echo "fuzz: failures in:$failed"
  exit 1
fi
echo "fuzz: no crash in:$targets"
