#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/mutants.sh - what `make mutants` runs: can the tests fail? Each
# patch in tests/mutants/ breaks the module in one small way that a test
# should notice. For each, in turn: a copy of the tracked files with the
# patch applied, its module built, the unit tests of the copy (when the
# patch names "unit") and the VM tests the patch names, each in a VM of
# its own, with the mutant module. A mutant is caught when one of them
# fails: a named test's "not ok", or a crash or kernel warning (a suite
# that skipped or bailed out catches nothing). Prints a table, mutation,
# caught or not, by which; exits 1 unless every mutant was caught.
#
#   tests/mutants.sh [NAME...]      (default: every patch; NAME: 03 or
#                                    03-offset8-fragment-passes)
#
# A patch's header, before its diff:
#   first line     what the mutation does
#   Catch: ...     the checks that should catch it: "unit" and/or
#                  SUITE:TEST[,TEST...] (SUITE a file in tests/)
#   Kernel: debug  boot the debug kernel (KASAN...) instead of the stock
#                  one: for a mutation that only a sanitizer can see
#   Scale: N       SMTPBLOCK_TEST_SCALE for the VM tests (default 100, or
#                  10 on the debug kernel): a race needs its rounds
# Not in CI: about 10 minutes (9 min 35 s for 14 mutants). Results: tests/out/mutants/.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT" || exit 1
OUT=${SMTPBLOCK_OUT:-$ROOT/tests/out}/mutants
rm -rf "$OUT"
mkdir -p "$OUT"

header() { sed -n "s/^$2: //p" "$1" | head -n 1; }

kernel_env() {
	local which=$1
	[ -f "$OUT/$which.env" ] && return 0
	if [ "$which" = debug ]; then
		tests/vm/debug-kernel.sh > "$OUT/$which.env" 2> "$OUT/$which.log"
	else
		tests/vm/kernel.sh > "$OUT/$which.env" 2> "$OUT/$which.log"
	fi || { cat "$OUT/$which.log"; rm -f "$OUT/$which.env"; return 1; }
}

make -s -C tests/tools > "$OUT/tools.log" 2>&1 || { cat "$OUT/tools.log"; exit 1; }
make -s -C tools > "$OUT/ctl.log" 2>&1 || { cat "$OUT/ctl.log"; exit 1; }

patches=()
if [ $# -eq 0 ]; then
	patches=(tests/mutants/*.patch)
else
	for n in "$@"; do patches+=(tests/mutants/"$n"*.patch); done
fi

caught_all=1
rows=()
for patch in "${patches[@]}"; do
	name=$(basename "$patch" .patch)
	dir=$OUT/$name
	mkdir -p "$dir/src"
	git ls-files -z | xargs -0 cp --parents -t "$dir/src"
	catch=$(header "$patch" Catch)
	kernel=$(header "$patch" Kernel)
	scale=$(header "$patch" Scale)
	by=() odd=()
	echo "# $name: $(head -n 1 "$patch")"
	if ! git -C "$dir/src" apply "$ROOT/$patch" 2> "$dir/apply.log" &&
	   ! (cd "$dir/src" && patch -p1 -s < "$ROOT/$patch") >> "$dir/apply.log" 2>&1; then
		rows+=("$name|NOT APPLIED|$(head -n 1 "$dir/apply.log")")
		caught_all=0
		continue
	fi
	kernel_env "${kernel:-stock}" || { rows+=("$name|NO KERNEL|"); caught_all=0; continue; }
	eval "$(cat "$OUT/${kernel:-stock}.env")"
	if ! make -C "$KDIR" M="$dir/src" modules > "$dir/build.log" 2>&1; then
		rows+=("$name|NOT BUILT|see $dir/build.log")
		caught_all=0
		continue
	fi
	for c in $catch; do
		if [ "$c" = unit ]; then
			make -s -C "$dir/src/tests/unit" run > "$dir/unit.log" 2>&1 ||
				by+=("unit: $(grep -m 3 '^not ok' "$dir/unit.log" |
					sed 's/^not ok [0-9]* //; s/ #.*//' | tr '\n' ' ')")
			continue
		fi
		suite=${c%%:*} tests=${c#*:}
		opts=(--env "SMTPBLOCK_TEST_SCALE=${scale:-100}")
		[ "$kernel" = debug ] && opts=(--append panic_on_warn=1
			--env SMTPBLOCK_DEBUG_KERNEL=1 --env "SMTPBLOCK_TEST_SCALE=${scale:-10}"
			--qemu-arg -M --qemu-arg q35)
		tests/vm/run.sh --kver "$KVER" --timeout 1800 --out "$dir/vm-$suite" \
			"${opts[@]}" -- tests/"$suite" -k "$dir/src/smtpblock.ko" ${tests//,/ } \
			> "$dir/vm-$suite.log" 2>&1
		rc=$?
		if [ $rc -ge 120 ]; then
			by+=("$suite: the guest crashed or warned (run.sh $rc)")
		elif grep -q '^not ok' "$dir/vm-$suite.log"; then
			by+=("$suite: $(grep '^not ok' "$dir/vm-$suite.log" |
				sed 's/^not ok [0-9]* //; s/ #.*//' | tr '\n' ' ')")
		elif [ $rc -ne 0 ] || ! grep -q '^ok ' "$dir/vm-$suite.log"; then
			# A skip, a bail-out or a hang is no catch: nothing
			# the suite asserted failed.
			odd+=("$suite: exit $rc with no failed test")
		fi
	done
	if [ ${#by[@]} -gt 0 ]; then
		rows+=("$name|caught|$(IFS=';'; echo "${by[*]}")")
	else
		rows+=("$name|NOT CAUGHT|$catch passed${odd[*]:+ ($(IFS=';'; echo "${odd[*]}"))}")
		caught_all=0
	fi
	echo "# $name: ${rows[-1]#*|}"
done

echo
echo "| mutation | caught | by |"
echo "|---|---|---|"
for r in "${rows[@]}"; do
	IFS='|' read -r n c b <<< "$r"
	echo "| $n | $c | $b |"
done
[ $caught_all = 1 ]
