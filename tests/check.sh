#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/check.sh - what `make check` runs; `--demo` is what `make demo` runs.
#
# Lanes, in order: userspace unit tests of the pure files; 30 s of
# libFuzzer on the same parsers (make fuzz); a W=1 build of
# the module against the Debian 12 kernel headers, smtpblockctl and the
# test tools; make lint (W=1, sparse, checkpatch --strict); a dkms round
# trip from the tracked files; the VM suites on that Debian kernel under
# qemu. Each lane prints KTAP; the last line of the run is
# "N passed, N failed" over all of them (a skipped test counts in neither
# and is listed as skipped).
# Installs what it needs from Debian's packages when run as root.
#
# Results and logs: tests/out/ (or $SMTPBLOCK_OUT).

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT" || exit 1
OUT=${SMTPBLOCK_OUT:-$ROOT/tests/out}
rm -rf "$OUT"
mkdir -p "$OUT"

passed=0 failed=0 skipped=0

# tally FILE: adds the KTAP results in FILE (any nesting) to the totals.
tally() {
	local p f s
	p=$(grep -aE '^[[:space:]]*ok [0-9]+ ' "$1" | grep -vc '# SKIP')
	s=$(grep -aE '^[[:space:]]*ok [0-9]+ .*# SKIP' "$1" | wc -l)
	f=$(grep -acE '^[[:space:]]*not ok [0-9]+ ' "$1")
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

# result OK|FAIL NAME [WHY]: one result of this script's own.
n_own=0
result() {
	n_own=$((n_own + 1))
	if [ "$1" = OK ]; then
		echo "ok $n_own $2"
		passed=$((passed + 1))
	else
		echo "not ok $n_own $2${3:+ # $3}"
		failed=$((failed + 1))
	fi
}

finish() {
	if [ "$skipped" -gt 0 ]; then
		echo "# $skipped skipped"
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

lane_unit() {
	echo "# lane: unit tests of the pure files (userspace, ASan+UBSan)"
	make -s -C tests/unit run > "$OUT/unit.log" 2>&1
	local rc=$?
	cat "$OUT/unit.log"
	tally "$OUT/unit.log"
	if [ $rc -ne 0 ] && ! grep -q '^not ok' "$OUT/unit.log"; then
		result FAIL unit.build "see $OUT/unit.log"
	fi
}

# Sets KVER/KDIR/... for the Debian 12 kernel, fetching it if needed.
lane_kernel() {
	echo "# lane: Debian kernel for the VM, headers and rig packages"
	if tests/vm/kernel.sh > "$OUT/kernel.env" 2> "$OUT/kernel.log"; then
		eval "$(cat "$OUT/kernel.env")"
		result OK "kernel.fetch $KVER"
	else
		cat "$OUT/kernel.log"
		result FAIL kernel.fetch "see $OUT/kernel.log"
		return 1
	fi
}

lane_build() {
	echo "# lane: build with W=1 against $KDIR"
	make -C "$KDIR" M="$ROOT" W=1 modules > "$OUT/build.log" 2>&1
	local rc=$?
	if [ $rc -eq 0 ] && ! grep -q 'warning:' "$OUT/build.log"; then
		result OK build.module_w1
	else
		grep -E 'warning:|error:' "$OUT/build.log"
		result FAIL build.module_w1 "see $OUT/build.log"
		return 1
	fi
	if make -s -C tools > "$OUT/ctl.log" 2>&1; then
		result OK build.smtpblockctl
	else
		cat "$OUT/ctl.log"
		result FAIL build.smtpblockctl
		return 1
	fi
	if make -s -C tests/tools > "$OUT/tools.log" 2>&1; then
		result OK build.test_tools
	else
		cat "$OUT/tools.log"
		result FAIL build.test_tools
		return 1
	fi
}

# dkms add/build/remove from a copy of the tracked files, as a packager would.
lane_dkms() {
	echo "# lane: dkms add, build, install and remove for $KVER"
	local ver src
	if ! command -v dkms >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q dkms \
			> "$OUT/dkms-install.log" 2>&1 ||
			{ result FAIL dkms.build "cannot install dkms"; return; }
	fi
	ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
	src=/usr/src/smtpblock-$ver
	dkms remove "smtpblock/$ver" --all > /dev/null 2>&1
	rm -rf "$src"
	mkdir -p "$src"
	git ls-files -z | xargs -0 cp --parents -t "$src"
	if dkms add "smtpblock/$ver" > "$OUT/dkms.log" 2>&1 &&
	   dkms build "smtpblock/$ver" -k "$KVER" >> "$OUT/dkms.log" 2>&1 &&
	   modinfo -F vermagic /var/lib/dkms/smtpblock/"$ver"/"$KVER"/*/module/smtpblock.ko* |
		grep -q "^$KVER "; then
		result OK dkms.build
	else
		cat "$OUT/dkms.log"
		result FAIL dkms.build "see $OUT/dkms.log"
	fi
	# Installed where modprobe finds it for that kernel; removed cleanly.
	if dkms install "smtpblock/$ver" -k "$KVER" >> "$OUT/dkms.log" 2>&1 &&
	   modinfo -k "$KVER" -n smtpblock >> "$OUT/dkms.log" 2>&1; then
		result OK dkms.install
	else
		result FAIL dkms.install "see $OUT/dkms.log"
	fi
	dkms remove "smtpblock/$ver" --all >> "$OUT/dkms.log" 2>&1
	if modinfo -k "$KVER" -n smtpblock > /dev/null 2>&1 ||
	   [ -d /var/lib/dkms/smtpblock/"$ver" ]; then
		result FAIL dkms.remove "module or dkms tree left behind"
	else
		result OK dkms.remove
	fi
	rm -rf "$src"
}

lane_fuzz() {
	echo "# lane: libFuzzer on the parsers, 30 s (make fuzz runs longer)"
	tests/fuzz/run.sh 30 > "$OUT/fuzz-ktap.log" 2>&1
	grep -v '^#' "$OUT/fuzz-ktap.log" | tail -n 40
	tally "$OUT/fuzz-ktap.log"
	grep -qE '^(not )?ok 1 ' "$OUT/fuzz-ktap.log" ||
		result FAIL fuzz.parsers "see $OUT/fuzz-ktap.log"
}

lane_lint() {
	echo "# lane: static checks (make lint)"
	LINT_NO_SUMMARY=1 tests/lint.sh > "$OUT/lint-ktap.log" 2>&1
	cat "$OUT/lint-ktap.log"
	tally "$OUT/lint-ktap.log"
	grep -q '^ok 3 ' "$OUT/lint-ktap.log" || grep -q '^not ok' "$OUT/lint-ktap.log" ||
		result FAIL lint.complete "see $OUT/lint-ktap.log"
}

# vm_run LOGNAME COMMAND...: COMMAND in the VM, its output also in LOGNAME.
vm_run() {
	local log=$1
	shift
	# Generous: three suites take about 6 minutes on an idle 2-core machine.
	tests/vm/run.sh --kver "$KVER" --timeout 2400 --out "$OUT/vm-$log" -- \
		bash -c 'set -o pipefail; "$@" 2>&1 | tee "$SMTPBLOCK_VM_OUT/'"$log"'.log"' \
		vm "$@"
}

# The VM suites, in one boot; each prints its own KTAP.
SUITES="tests/smtpblock.sh tests/reports.sh tests/operations.sh"

lane_vm() {
	echo "# lane: VM suites on $KVER (qemu, TCG): $SUITES"
	vm_run ktap bash -c 'r=0; for s in '"$SUITES"'; do "$s" || r=1; done; exit $r'
	local rc=$? log=$OUT/vm-ktap/ktap.log planned ran
	if [ $rc -ge 120 ]; then
		result FAIL vm.kernel_clean "run.sh exit $rc: the guest crashed, hung, warned or was tainted"
	else
		result OK vm.kernel_clean
	fi
	[ -f "$log" ] || { result FAIL vm.suites "no KTAP output"; return 1; }
	tally "$log"
	planned=$(grep -aoE '^1\.\.[0-9]+' "$log" | cut -c4- |
		awk '{ n += $1 } END { print n + 0 }')
	ran=$(grep -acE '^(not )?ok [0-9]+ ' "$log")
	if [ "$(grep -c '^1\.\.' "$log")" -ne "$(echo $SUITES | wc -w)" ] ||
	   [ "$ran" -ne "${planned:-0}" ]; then
		result FAIL vm.suites_complete "ran $ran of ${planned:-?} tests"
	fi
}

echo "TAP version 13"
if [ "${1:-}" = --demo ]; then
	lane_kernel && lane_build || finish
	vm_run demo tests/demo.sh
	exit
fi
lane_unit
lane_fuzz
lane_kernel && lane_build && lane_lint && lane_dkms && lane_vm
finish
