#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/check.sh - what `make check` runs; `--debug` is `make check-debug`,
# `--compat` is `make check-compat`, `--demo` is `make demo`.
#
# Lanes, in order: userspace unit tests of the pure files; the userspace
# tools on the host (tests/host.sh); 30 s of
# libFuzzer on the same parsers (make fuzz); a W=1 build of
# the module against the Debian 12 kernel headers, smtpblockctl and the
# test tools; the test tools' self-check (host); make lint (W=1, sparse, checkpatch --strict); a dkms round
# trip from the tracked files; the VM suites on that Debian kernel under
# qemu. Each lane prints KTAP; the last line of the run is
# "N passed, N failed, N skipped" over all of them (a skipped test counts
# as neither pass nor fail; a VM suite that skips itself whole fails).
# Installs what it needs from Debian's packages when run as root.
#
# Results and logs: tests/out/{check,debug,compat,demo}/ (or under
# $SMTPBLOCK_OUT).

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT" || exit 1
case ${1:-} in --demo) lane=demo ;; --debug) lane=debug ;; --compat) lane=compat ;; *) lane=check ;; esac
OUT=${SMTPBLOCK_OUT:-$ROOT/tests/out}/$lane
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
	echo "$passed passed, $failed failed, $skipped skipped"
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
	make -C "$KDIR" M="$ROOT" W=1 V=1 modules > "$OUT/build.log" 2>&1
	local rc=$?
	if [ $rc -eq 0 ] && ! grep -q 'warning:' "$OUT/build.log"; then
		result OK build.module_w1
	else
		grep -E 'warning:|error:' "$OUT/build.log"
		result FAIL build.module_w1 "see $OUT/build.log"
		return 1
	fi
	# `make SMTPBLOCK_UNTESTED_KERNEL=1` (README) reaches the compiler
	# through the top Makefile and Kbuild; without it, it does not.
	# (compat.range_guard checks what the define does; lint rebuilds.)
	if make module KDIR="$KDIR" SMTPBLOCK_UNTESTED_KERNEL=1 V=1 > "$OUT/untested.log" 2>&1 &&
	   grep -q -- '-DSMTPBLOCK_UNTESTED_KERNEL' "$OUT/untested.log" &&
	   ! grep -q -- '-DSMTPBLOCK_UNTESTED_KERNEL' "$OUT/build.log"; then
		result OK build.untested_kernel_flag
	else
		result FAIL build.untested_kernel_flag "see $OUT/untested.log"
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
	ver=$(cat VERSION)
	src=/usr/src/smtpblock-$ver
	dkms remove "smtpblock/$ver" --all > /dev/null 2>&1
	rm -rf "$src"
	# README's way: make dkms-source, then dkms install.
	make -s dkms-source > "$OUT/dkms.log" 2>&1
	if dkms add "smtpblock/$ver" >> "$OUT/dkms.log" 2>&1 &&
	   dkms build "smtpblock/$ver" -k "$KVER" >> "$OUT/dkms.log" 2>&1 &&
	   [[ $(modinfo -F vermagic /var/lib/dkms/smtpblock/"$ver"/"$KVER"/*/module/smtpblock.ko*) == "$KVER "* ]]; then
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

# make install into a staging DESTDIR, as a packager runs it: everything
# lands under DESTDIR (the module in lib/modules/KVER/extra, the tools,
# the unit, the examples), nothing is written anywhere else (no depmod of
# the real tree, no systemctl), and make uninstall takes back all but the
# configuration.
lane_install() {
	echo "# lane: make install and uninstall with DESTDIR and PREFIX"
	local dest stamp f changed left
	dest=$(mktemp -d) stamp=$(mktemp)
	sleep 1	# (mtimes have a resolution; find -newer must see ours only)
	if make -s install DESTDIR="$dest" PREFIX=/usr KVER="$KVER" KDIR="$KDIR" \
		> "$OUT/install.log" 2>&1; then
		result OK install.staged
	else
		cat "$OUT/install.log"
		result FAIL install.staged "see $OUT/install.log"
	fi
	for f in lib/modules/$KVER/extra/smtpblock.ko usr/sbin/smtpblockctl \
		 usr/sbin/smtpblock-apply usr/bin/smtpblock-csv \
		 usr/share/man/man8/smtpblockctl.8 usr/lib/systemd/system/smtpblock.service \
		 usr/lib/systemd/system/smtpblock-metrics.service \
		 usr/lib/systemd/system/smtpblock-metrics.timer \
		 etc/smtpblock/smtpblock.conf etc/modprobe.d/smtpblock.conf; do
		[ -f "$dest/$f" ] || result FAIL install.files "no $f under DESTDIR"
	done
	grep -q '^ExecStart=/usr/sbin/smtpblock-apply' "$dest/usr/lib/systemd/system/smtpblock.service" ||
		result FAIL install.files "the unit does not run /usr/sbin/smtpblock-apply"
	# Outside DESTDIR and the source tree: nothing new or changed (the
	# cache is left out: CI builds the debug kernel there meanwhile).
	changed=$(find /usr /etc /opt /srv /root /boot /var/lib -xdev \
		\( -path "$ROOT" -o -path /var/lib/apt -o -path /var/lib/dpkg \
		-o -path "${SMTPBLOCK_CACHE:-/var/cache/smtpblock}" \) -prune \
		-o -newer "$stamp" -print 2>/dev/null | head -n 5)
	if [ -z "$changed" ]; then
		result OK install.nothing_outside
	else
		result FAIL install.nothing_outside "changed outside DESTDIR: $(echo $changed)"
	fi
	make -s uninstall DESTDIR="$dest" PREFIX=/usr KVER="$KVER" >> "$OUT/install.log" 2>&1
	left=$(cd "$dest" && find . -type f ! -path './etc/*' | head -n 5)
	if [ -z "$left" ]; then
		result OK install.uninstall
	else
		result FAIL install.uninstall "left under DESTDIR: $(echo $left)"
	fi
	rm -rf "$dest" "$stamp"
}

# The Debian packages (tests/deb.sh check): the one version, the build
# with Debian's tooling, lintian, the packages' contents and depends.
lane_deb() {
	echo "# lane: tests/deb.sh check (make deb: smtpblock-dkms, smtpblock, lintian)"
	tests/deb.sh check > "$OUT/deb.log" 2>&1
	grep -v '^TAP version\|passed, .* failed$' "$OUT/deb.log"
	tally "$OUT/deb.log"
	grep -q '^ok 2 deb.build' "$OUT/deb.log" || result FAIL deb.ran "see $OUT/deb.log"
}

# The userspace tools without the module (tests/host.sh): CSV fixtures,
# smtpblockctl's validation and exit codes, smtpblock-apply's steps.
lane_host() {
	echo "# lane: tests/host.sh (smtpblock-csv, smtpblockctl, smtpblock-apply on the host)"
	if ! make -s -C tools > "$OUT/host-build.log" 2>&1; then
		cat "$OUT/host-build.log"
		result FAIL host.build
		return
	fi
	# promtool (Debian's prometheus) checks smtpblockctl metrics' format.
	if ! command -v promtool > /dev/null && [ "$(id -u)" -eq 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			prometheus > "$OUT/host-apt.log" 2>&1 ||
			result FAIL host.promtool "cannot install prometheus (promtool)"
	fi
	tests/host.sh > "$OUT/host.log" 2>&1
	cat "$OUT/host.log"
	tally "$OUT/host.log"
	grep -q '^1\.\.[1-9]' "$OUT/host.log" || result FAIL host.ran "see $OUT/host.log"
}

# The test tools' own check (tcpprobe, pktcraft: every VM oracle relies
# on them), on the host: namespaces and veth work here, the module is not
# needed.
lane_selfcheck() {
	echo "# lane: tests/tools/selfcheck.sh (the test tools, on the host)"
	if tests/tools/selfcheck.sh > "$OUT/selfcheck.log" 2>&1; then
		result OK tools.selfcheck
	else
		grep -v '^ok ' "$OUT/selfcheck.log"
		result FAIL tools.selfcheck "see $OUT/selfcheck.log"
	fi
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

# vm_run LOGNAME KVER [RUN.SH OPTIONS] -- COMMAND...: COMMAND in the VM on
# KVER, its output also in LOGNAME.
vm_run() {
	local log=$1 kver=$2 opts=()
	shift 2
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	# Sized so that a hang ends in a summary inside CI's 90 minutes
	# (.ci/run: check, then compat and debug side by side): the stock and
	# compat suites take under 10 minutes each, the debug ones about 25
	# (their own, longer, VM_TIMEOUT).
	tests/vm/run.sh --kver "$kver" --timeout "${VM_TIMEOUT:-1200}" \
		--out "$OUT/vm-$log" ${opts[@]+"${opts[@]}"} -- \
		bash -c 'set -o pipefail; "$@" 2>&1 | tee "$SMTPBLOCK_VM_OUT/'"$log"'.log"' \
		vm "$@"
}

# The VM suites, in one boot; each prints its own KTAP.
SUITES="tests/smtpblock.sh tests/reports.sh tests/operations.sh tests/exemptions.sh
tests/stress.sh"

# lane_vm LABEL KVER KO [RUN.SH OPTIONS] [-- RUN-SUITES OPTIONS]: every VM
# suite on KVER with module KO.
lane_vm() {
	local label=$1 kver=$2 ko=$3 opts=() extra=() nsuites
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	[ $# -gt 0 ] && shift && extra=("$@")
	nsuites=$(echo $SUITES | wc -w)
	[ ${#extra[@]} -eq 0 ] || nsuites=$((nsuites + 1)) # the leak check
	echo "# lane: VM suites on $kver (qemu, TCG): $SUITES ${extra[*]}"
	if [ ! -f "$ko" ]; then
		result FAIL "vm.$label.module" "no module file $ko"
		return 1
	fi
	vm_run "$label" "$kver" ${opts[@]+"${opts[@]}"} -- \
		tests/run-suites.sh ${extra[@]+"${extra[@]}"} -k "$ko" $SUITES
	local rc=$? log=$OUT/vm-$label/$label.log planned ran
	# The guest wrote rc only if it booted and ran the suites to the end.
	if [ $rc -ge 120 ] || [ ! -s "$OUT/vm-$label/rc" ]; then
		result FAIL "vm.$label.kernel_clean" "run.sh exit $rc: the guest did not boot, crashed, hung, warned or was tainted"
	else
		result OK "vm.$label.kernel_clean"
	fi
	[ -f "$log" ] || { result FAIL "vm.$label.suites" "no KTAP output"; return 1; }
	tally "$log"
	# A suite that skipped itself whole ran none of its tests: a failure.
	if grep -aqE '^1\.\.0' "$log"; then
		result FAIL "vm.$label.suites_ran" "$(grep -aE '^1\.\.0' "$log" | head -n 3 | tr '\n' ' ')"
	fi
	planned=$(grep -aoE '^1\.\.[0-9]+' "$log" | cut -c4- |
		awk '{ n += $1 } END { print n + 0 }')
	ran=$(grep -acE '^(not )?ok [0-9]+ ' "$log")
	if [ "$(grep -c '^1\.\.' "$log")" -ne "$nsuites" ] ||
	   [ "$ran" -ne "${planned:-0}" ]; then
		result FAIL "vm.$label.suites_complete" "ran $ran of ${planned:-?} tests in $(grep -c '^1\.\.' "$log") of $nsuites suites"
	fi
}

# build_copy NAME KDIR: the tracked files built against KDIR in
# $OUT/build-NAME (not in the tree: each kernel needs its own .ko).
build_copy() {
	local dir=$OUT/build-$1 kdir=$2
	rm -rf "$dir"
	mkdir -p "$dir"
	git ls-files -z | xargs -0 cp --parents -t "$dir"
	make -C "$kdir" M="$dir" W=1 modules > "$dir/build.log" 2>&1 &&
		! grep -q 'warning:' "$dir/build.log"
}

# build_tools LANE: smtpblockctl and the test tools the VM suites run
# (userspace, the same for every guest kernel).
build_tools() {
	make -s -C tools > "$OUT/ctl.log" 2>&1 &&
		make -s -C tests/tools >> "$OUT/ctl.log" 2>&1 && return 0
	cat "$OUT/ctl.log"
	result FAIL "$1.tools"
	return 1
}

# make check-debug: the debug kernel (KASAN, UBSAN, kmemleak, lockdep,
# PROVE_RCU, ...), built once and cached; every VM suite on it with
# panic_on_warn=1 (a warning is a failure, not a line in a log), then a
# kmemleak scan after the module is gone. The kernel is about four times
# slower than the stock one (every fork+exec: 0.4 s against 0.1 s), so the
# loops that repeat for races run a quarter of their rounds
# (SMTPBLOCK_TEST_SCALE, tests/lib.sh); the stock and compat lanes run
# them in full.
lane_debug() {
	echo "# lane: debug kernel (tests/vm/debug.config), built once and cached"
	if tests/vm/debug-kernel.sh > "$OUT/debug-kernel.env" 2> "$OUT/debug-kernel.log"; then
		eval "$(cat "$OUT/debug-kernel.env")"
		result OK "debug.kernel $KVER"
	else
		cat "$OUT/debug-kernel.log"
		result FAIL debug.kernel "see $OUT/debug-kernel.log"
		return 1
	fi
	if build_copy debug "$KDIR"; then
		result OK debug.module_w1
	else
		grep -E 'warning:|error:' "$OUT/build-debug/build.log"
		result FAIL debug.module_w1 "see $OUT/build-debug/build.log"
		return 1
	fi
	build_tools debug || return 1
	# q35, not the default pc machine: the latter's ACPI _PRT is an AML
	# loop that this kernel's interpreter (KASAN, lockdep, under TCG) runs
	# into its 30 s timeout, twice, before PCI interrupts work.
	VM_TIMEOUT=3300 lane_vm debug "$KVER" "$OUT/build-debug/smtpblock.ko" \
		--append "panic_on_warn=1" --env SMTPBLOCK_DEBUG_KERNEL=1 \
		--env SMTPBLOCK_TEST_SCALE=25 --qemu-arg -M --qemu-arg q35 -- --kmemleak
}

# compat_guard MAJOR MINOR [CFLAGS]: compiles compat.h alone against a
# fake <linux/version.h>; prints the #error, if any.
compat_guard() {
	local dir=$OUT/compat-guard
	mkdir -p "$dir/linux"
	printf '%s\n' '#define KERNEL_VERSION(a, b, c) (((a) << 16) + ((b) << 8) + (c))' \
		"#define LINUX_VERSION_CODE KERNEL_VERSION($1, $2, 0)" > "$dir/linux/version.h"
	gcc -fsyntax-only ${3:-} -I"$dir" -x c include/smtpblock/compat.h 2>&1 |
		sed -n 's/.*#error //p'
}

# The supported range is enforced by compat.h, with a message saying so.
lane_compat_guard() {
	local v why=""
	for v in "6 1" "6 12" "6 16" "7 2"; do
		[ -z "$(compat_guard $v)" ] || why+="$v refused; "
	done
	# Not "| grep -q": under pipefail, grep quitting early fails the pipe.
	[[ $(compat_guard 6 0) == *'supports Linux 6.1 to 7.2'* ]] || why+="6.0 not refused; "
	[[ $(compat_guard 7 3) == *'SMTPBLOCK_UNTESTED_KERNEL=1'* ]] || why+="7.3 not refused; "
	[ -z "$(compat_guard 7 3 -DSMTPBLOCK_UNTESTED_KERNEL)" ] || why+="override ignored; "
	if [ -z "$why" ]; then
		result OK compat.range_guard
	else
		result FAIL compat.range_guard "$why"
	fi
}

# make check-compat: the module built in a chroot of each newer Debian
# suite with its own compiler, and every VM suite on that suite's kernel.
COMPAT_SUITES="trixie sid"
lane_compat() {
	local suite
	lane_compat_guard
	build_tools compat || return 1
	for suite in $COMPAT_SUITES; do
		echo "# lane: Debian $suite: build in its chroot, VM suites on its kernel"
		if tests/vm/suite-kernel.sh "$suite" --module "$OUT/build-$suite" \
			> "$OUT/$suite.env" 2> "$OUT/$suite.log"; then
			eval "$(cat "$OUT/$suite.env")"
			result OK "compat.$suite.module_w1 $KVER"
		else
			cat "$OUT/$suite.log"
			result FAIL "compat.$suite.module_w1" "see $OUT/$suite.log"
			continue
		fi
		# compat.h holds the kernels' differences; the race loops'
		# repetitions are the stock lane's (SMTPBLOCK_TEST_SCALE, lib.sh).
		lane_vm "$suite" "$KVER" "$OUT/build-$suite/smtpblock.ko" \
			--env SMTPBLOCK_TEST_SCALE=20
	done
}

echo "TAP version 13"
case ${1:-} in
--demo)
	lane_kernel && lane_build || finish
	vm_run demo "$KVER" -- tests/demo.sh
	exit
	;;
--debug)
	lane_debug
	;;
--compat)
	lane_compat
	;;
'')
	lane_unit
	lane_host
	lane_deb
	lane_fuzz
	lane_kernel && lane_build && lane_selfcheck && lane_lint && lane_dkms &&
		lane_install &&
		lane_vm stock "$KVER" "$ROOT/smtpblock.ko"
	;;
*)
	echo "usage: $0 [--demo|--debug|--compat]" >&2
	exit 2
	;;
esac
finish
