#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/fuzz/run.sh [SECONDS] - what `make fuzz` runs: the libFuzzer target
# tests/fuzz/fuzz_parsers.c (every text and packet parser of the module,
# from the module's own pure files, under ASan and UBSan) for SECONDS
# (default 60), starting from the seed corpus in tests/fuzz/corpus. Prints
# one KTAP test; crashes and their inputs are kept in tests/out/fuzz/.
# Installs clang and its fuzzer runtime from Debian's packages if missing.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$ROOT" || exit 1
SECONDS_TO_RUN=${1:-60}
OUT=${SMTPBLOCK_OUT:-$ROOT/tests/out}/fuzz
rm -rf "$OUT"
mkdir -p "$OUT/corpus"

echo "TAP version 13"
echo "1..1"
if ! command -v clang > /dev/null ||
   ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a \
	> /dev/null 2>&1; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang \
		libclang-rt-14-dev > "$OUT/apt.log" 2>&1
fi
if ! clang -g -O1 -std=gnu11 -Iinclude \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-o "$OUT/fuzz_parsers" tests/fuzz/fuzz_parsers.c src/addr.c \
	src/prefix_set.c src/parse.c src/packet.c src/classify.c \
	src/staged.c src/radix_sort.c src/utc.c src/exemption.c > "$OUT/build.log" 2>&1; then
	cat "$OUT/build.log"
	echo "not ok 1 fuzz.parsers # cannot build the fuzzer"
	exit 1
fi
cd "$OUT" || exit 1
if ./fuzz_parsers -max_total_time="$SECONDS_TO_RUN" -print_final_stats=1 \
	corpus "$ROOT/tests/fuzz/corpus" > fuzz.log 2>&1; then
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' fuzz.log)
	echo "ok 1 fuzz.parsers # $runs inputs in ${SECONDS_TO_RUN}s"
else
	tail -n 30 fuzz.log
	echo "not ok 1 fuzz.parsers # see $OUT/fuzz.log and crash-* there"
	exit 1
fi
