#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/lint.sh - what `make lint` runs: the module's static checks, each a
# KTAP test: a W=1 build (no warning), sparse (make C=2, no warning), and
# checkpatch.pl --strict from Debian's linux-source of the same series as
# the test kernel. checkpatch runs on the module's sources (src/,
# include/); justified exceptions:
#   MACRO_ARG_REUSE      the macros that trip it paste tokens or build
#                        static initialisers: no argument has side effects;
#   PREFER_KERNEL_TYPES  include/smtpblock/base.h defines u8... for the
#                        userspace build from <stdint.h> types, on purpose.
#   LINUX_VERSION_CODE,  include/smtpblock/compat.h only: an out-of-tree
#   CONSTANT_COMPARISON  module's one header of version tests, written
#                        "LINUX_VERSION_CODE >= KERNEL_VERSION(...)".
# Installs sparse and fetches linux-source into /var/cache/smtpblock when
# missing (as root). Ends with "N passed, N failed" unless LINT_NO_SUMMARY.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT" || exit 1
CACHE=${SMTPBLOCK_CACHE:-/var/cache/smtpblock}
OUT=${SMTPBLOCK_OUT:-$ROOT/tests/out}/lint
mkdir -p "$OUT"
n=0 passed=0 failed=0

result() {
	n=$((n + 1))
	if [ "$1" = OK ]; then
		echo "ok $n $2"
		passed=$((passed + 1))
	else
		echo "not ok $n $2${3:+ # $3}"
		failed=$((failed + 1))
	fi
}

finish() {
	[ -n "${LINT_NO_SUMMARY:-}" ] || echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

# The checkpatch of the test kernel's series, from Debian's linux-source.
checkpatch() {
	local series=$1 dir=$CACHE/src deb lock
	local cp=$dir/linux-source-$series/scripts/checkpatch.pl
	if [ ! -x "$cp" ]; then
		mkdir -p "$dir" && cd "$dir" || return 1
		# The lock of debug-kernel.sh's download of the same package.
		exec {lock}>"$dir/.lock"
		flock "$lock"
		deb=$(ls linux-source-"$series"_*.deb 2>/dev/null | head -n 1)
		if [ -z "$deb" ]; then
			apt-get -q -o APT::Sandbox::User=root download \
				"linux-source-$series" >&2 || return 1
			deb=$(ls linux-source-"$series"_*.deb | head -n 1)
		fi
		dpkg-deb --fsys-tarfile "$deb" |
			tar -xO --wildcards './usr/src/linux-source-*.tar.xz' |
			tar -xJ --wildcards "linux-source-$series/scripts/checkpatch.pl" \
				"linux-source-$series/scripts/spelling.txt" \
				"linux-source-$series/scripts/const_structs.checkpatch" ||
			return 1
		exec {lock}>&-
		cd "$ROOT" || return 1
	fi
	echo "$cp"
}

echo "TAP version 13"
echo "1..3"
if ! eval "$(tests/vm/kernel.sh 2> "$OUT/kernel.log")"; then
	cat "$OUT/kernel.log"
	echo "Bail out! no kernel headers"
	exit 1
fi
if ! command -v sparse > /dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q sparse \
		> "$OUT/apt.log" 2>&1
fi

make -s -C "$KDIR" M="$ROOT" clean > /dev/null 2>&1
if make -C "$KDIR" M="$ROOT" W=1 modules > "$OUT/w1.log" 2>&1 &&
   ! grep -q 'warning:' "$OUT/w1.log"; then
	result OK lint.build_w1
else
	grep -E 'warning:|error:' "$OUT/w1.log"
	result FAIL lint.build_w1 "see $OUT/w1.log"
fi

if ! command -v sparse > /dev/null; then
	result FAIL lint.sparse "sparse is not installed and could not be"
elif make -C "$KDIR" M="$ROOT" C=2 modules > "$OUT/sparse.log" 2>&1 &&
     ! grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' "$OUT/sparse.log"; then
	result OK lint.sparse
else
	result FAIL lint.sparse "see $OUT/sparse.log"
fi

series=$(echo "$KVER" | cut -d. -f1,2)
if ! cp=$(checkpatch "$series"); then
	result FAIL lint.checkpatch "cannot fetch linux-source-$series"
else
	files=(src/*.c $(ls include/smtpblock/*.h | grep -v '/base.h\|/compat.h'))
	# Not --terse: that prints nothing for a clean file, and a total:
	# line for every file is how we know checkpatch ran on it.
	{
		"$cp" --no-tree --strict --ignore MACRO_ARG_REUSE -f "${files[@]}"
		"$cp" --no-tree --strict \
			--ignore MACRO_ARG_REUSE,PREFER_KERNEL_TYPES -f \
			include/smtpblock/base.h
		"$cp" --no-tree --strict \
			--ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON -f \
			include/smtpblock/compat.h
	} > "$OUT/checkpatch-all.log" 2>&1
	totals=$(grep -c '^total: ' "$OUT/checkpatch-all.log")
	grep '^total: ' "$OUT/checkpatch-all.log" |
		grep -v '^total: 0 errors, 0 warnings, 0 checks,' > "$OUT/checkpatch.log"
	if [ "$totals" -ne $((${#files[@]} + 2)) ]; then
		cat "$OUT/checkpatch-all.log"
		result FAIL lint.checkpatch "$totals total: lines for $((${#files[@]} + 2)) files"
	elif [ -s "$OUT/checkpatch.log" ]; then
		grep -E '^(ERROR|WARNING|CHECK):|^#[0-9]+: FILE:' "$OUT/checkpatch-all.log"
		result FAIL lint.checkpatch
	else
		result OK lint.checkpatch
	fi
fi
finish
