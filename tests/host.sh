#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side tests of the userspace tools: what needs no module and no VM.
#   csv_*        tools/smtpblock-csv on fixtures of real report lines
#                (tests/csv/: dmesg, dmesg --time-format iso, and
#                journalctl -o short-iso), each against a CSV written by
#                hand from the log lines, not by the tool
#   ctl_*        smtpblockctl's validation and exit codes without the
#                module (SMTPBLOCK_SYSFS names a directory that is not
#                there)
#   apply_*      smtpblock-apply with a smtpblockctl and a modprobe that
#                record what they are asked to do (and pass `check` on to
#                the real smtpblockctl): the order of the steps, what a
#                conf leaves out, --dry-run, refusals, the lock
# KTAP; no root needed. Usage: tests/host.sh [TEST...]

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
CSV=$HERE/../tools/smtpblock-csv
CTL=$HERE/../tools/smtpblockctl
APPLY=$HERE/../tools/smtpblock-apply
FIX=$HERE/csv
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

fail=0
fail() { echo "# FAIL: $*"; fail=1; }
assert_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }

# ---------------------------------------------------------------- csv

# csv_of FIXTURE: the tool's output differs from the hand-written CSV?
csv_of() {
	"$CSV" "$FIX/$1.log" > "$TMP/$1.csv" || { fail "smtpblock-csv $1: exit $?"; return; }
	diff -u "$FIX/expected-$1.csv" "$TMP/$1.csv" > "$TMP/diff" ||
		fail "smtpblock-csv on $1.log: $(tr '\n' ' ' < "$TMP/diff")"
}

# Two reports, IPv4 and IPv6 sources, other kernel lines around them.
test_csv_dmesg() { csv_of dmesg; }
# The log's own time has a comma: quoted.
test_csv_dmesg_iso() { csv_of dmesg-iso; }
# Host names, "kernel:", other programs' lines, the boot separator.
test_csv_journal_short_iso() { csv_of journal-short-iso; }

# Offender lines outside a report and an unterminated report: rows only
# for offender lines between a begin and the next end or begin.
test_csv_outside_reports() {
	{
		grep -m 1 'smtpblock: offender ' "$FIX/dmesg.log"
		sed -n '/report begin/,$p' "$FIX/dmesg.log" | sed '/report end/,$d'
	} > "$TMP/partial.log"
	"$CSV" "$TMP/partial.log" > "$TMP/partial.csv"
	assert_eq "$(wc -l < "$TMP/partial.csv")" 4 "header and the 3 rows of report 1"
	assert_eq "$(cut -d, -f1 "$TMP/partial.csv" | sort -u | tr '\n' ' ')" "1 report " \
		"report numbers"
}

# ---------------------------------------------------------------- ctl

# ctl WANT_RC ARGS...: smtpblockctl without the module; output in $TMP/out.
ctl() {
	local want=$1 rc
	shift
	SMTPBLOCK_SYSFS=$TMP/no-module "$CTL" "$@" > "$TMP/out" 2>&1 < "${CTL_STDIN:-/dev/null}"
	rc=$?
	[ $rc = "$want" ] || fail "smtpblockctl $* -> $rc, want $want: $(head -c 200 "$TMP/out")"
}

test_ctl_without_module() {
	printf '# campus\n10.0.0.0/8\n\n2001:db8:c::/48 # v6\n' > "$TMP/good"
	printf '10.0.0.0/8\n10.1.2.3/8\n' > "$TMP/bad"
	: > "$TMP/empty"
	printf '# nothing but comments\n\n' > "$TMP/comments"
	local c
	for c in status "show campus" "set mode drop" "load campus $TMP/good" \
		 "add relays 192.0.2.1" "del relays 192.0.2.1" offenders report; do
		ctl 4 $c
		grep -q 'not loaded' "$TMP/out" || fail "$c: $(cat "$TMP/out")"
	done
	ctl 0 check campus "$TMP/good"
	assert_eq "$(cat "$TMP/out")" "" "check prints nothing on success"
	ctl 3 check campus "$TMP/bad"
	[[ $(cat "$TMP/out") == "smtpblockctl: $TMP/bad:2: invalid entry '10.1.2.3/8'"* ]] ||
		fail "check's message: $(cat "$TMP/out")"
	ctl 3 check relays "$TMP/empty"
	grep -q 'no entries' "$TMP/out" || fail "empty file: $(cat "$TMP/out")"
	ctl 3 check relays "$TMP/comments"
	ctl 1 check campus "$TMP/missing"
	CTL_STDIN=$TMP/good ctl 0 check relays -
	ctl 2 frobnicate
	ctl 2 load campus
	ctl 2 check campuses "$TMP/good"
	ctl 2 set colour blue
	ctl 0 --help
	for c in 0 1 2 3 4 5 6; do
		grep -q "^  $c  " "$TMP/out" || fail "--help does not explain exit status $c"
	done
}

# ---------------------------------------------------------------- apply

# A smtpblockctl that records each call in $TMP/calls and answers as the
# module would; `check` is the real one. A modprobe that records its call
# and makes the sysfs directory.
make_stubs() {
	mkdir -p "$TMP/bin"
	cat > "$TMP/bin/smtpblockctl" <<-EOF
	#!/bin/sh
	[ "\$1" = check ] && exec "$CTL" "\$@"
	echo "ctl \$*" >> "$TMP/calls"
	EOF
	cat > "$TMP/bin/modprobe" <<-EOF
	#!/bin/sh
	echo "modprobe \$*" >> "$TMP/calls"
	mkdir -p "$TMP/sys"
	EOF
	chmod +x "$TMP/bin/smtpblockctl" "$TMP/bin/modprobe"
	printf '10.0.0.0/8\n2001:db8:c::/48\n' > "$TMP/campus.list"
	printf '10.0.2.25\n' > "$TMP/relays.list"
}

# apply WANT_RC CONF_LINES...: smtpblock-apply on a conf of those lines.
apply() {
	local want=$1 rc
	shift
	printf '%s\n' "$@" > "$TMP/smtpblock.conf"
	rm -f "$TMP/calls"
	SMTPBLOCKCTL=$TMP/bin/smtpblockctl MODPROBE=$TMP/bin/modprobe \
		SMTPBLOCK_SYSFS=$TMP/sys SMTPBLOCK_LOCK=$TMP/lock \
		${APPLY_PREFIX:-} "$APPLY" --conf "$TMP/smtpblock.conf" ${APPLY_ARGS:-} \
		> "$TMP/apply.out" 2>&1
	rc=$?
	touch "$TMP/calls"
	[ $rc = "$want" ] ||
		{ fail "apply ($*) -> $rc, want $want: $(head -c 300 "$TMP/apply.out")"; return 1; }
}

CONF=(ENABLED=1 MODE=reject PORTS=25,2525 "CAMPUS_LIST=$TMP/campus.list"
	"RELAYS_LIST=$TMP/relays.list")

# Loaded disabled, then the lists, then the settings, enabled last; a
# setting the conf leaves out is not touched.
test_apply_order() {
	make_stubs
	rm -rf "$TMP/sys"
	apply 0 "${CONF[@]}" REPORT_INTERVAL=600
	assert_eq "$(tr '\n' '|' < "$TMP/calls")" "modprobe smtpblock enabled=0|ctl load campus $TMP/campus.list|ctl load relays $TMP/relays.list|ctl set mode reject|ctl set ports 25 2525|ctl set report_interval 600|ctl set enabled 1|" \
		"steps from an unloaded module"
	# Loaded already: no modprobe; OFFENDERS_MAX and the rest left alone.
	apply 0 "${CONF[@]}"
	assert_eq "$(tr '\n' '|' < "$TMP/calls")" "ctl load campus $TMP/campus.list|ctl load relays $TMP/relays.list|ctl set mode reject|ctl set ports 25 2525|ctl set enabled 1|" \
		"steps with the module loaded"
}

test_apply_dry_run() {
	make_stubs
	rm -rf "$TMP/sys"
	APPLY_ARGS=--dry-run apply 0 "${CONF[@]}"
	assert_eq "$(cat "$TMP/calls")" "" "calls of a dry run"
	[ ! -e "$TMP/sys" ] || fail "a dry run loaded the module"
	assert_eq "$(grep -c '^would run: ' "$TMP/apply.out")" 6 "steps a dry run prints"
	grep -q "^would run: $TMP/bin/modprobe smtpblock enabled=0" "$TMP/apply.out" ||
		fail "dry run: $(cat "$TMP/apply.out")"
	APPLY_ARGS=--dry-run apply 3 "${CONF[@]}" MODE=block
	assert_eq "$(cat "$TMP/calls")" "" "calls of an invalid dry run"
}

# Every problem exits 3 and changes nothing; all of them are reported.
test_apply_refusals() {
	make_stubs
	mkdir -p "$TMP/sys"
	local bad
	for bad in MODE=block ENABLED=2 PORTS=0 PORTS=25,,587 OFFENDERS_MAX=0 \
		   FLUSH_ALL=1 "MODE=drop # twice" "CAMPUS_LIST=relative.list"; do
		apply 3 "${CONF[@]}" "$bad"
		assert_eq "$(cat "$TMP/calls")" "" "calls with $bad"
	done
	apply 3 ENABLED=1 MODE=drop "CAMPUS_LIST=$TMP/campus.list" "RELAYS_LIST=$TMP/relays.list"
	grep -q 'PORTS is missing' "$TMP/apply.out" || fail "missing PORTS: $(cat "$TMP/apply.out")"
	: > "$TMP/empty.list"
	apply 3 ENABLED=1 MODE=drop PORTS=25 "CAMPUS_LIST=$TMP/empty.list" \
		"RELAYS_LIST=$TMP/relays.list"
	grep -q 'no entries' "$TMP/apply.out" || fail "empty list: $(cat "$TMP/apply.out")"
	assert_eq "$(cat "$TMP/calls")" "" "calls with an empty list"
	apply 3 "${CONF[@]/MODE=reject/MODE=block}" PORTS=0
	grep -q "MODE: 'block'" "$TMP/apply.out" && grep -q "PORTS given twice" "$TMP/apply.out" ||
		fail "not every problem reported: $(cat "$TMP/apply.out")"
}

# Two runs do not interleave: a second waits for the lock.
test_apply_lock() {
	make_stubs
	mkdir -p "$TMP/sys"
	command -v flock > /dev/null || { fail "flock not found"; return; }
	rm -f "$TMP/calls" "$TMP/held"
	flock "$TMP/lock" sh -c "touch $TMP/held; sleep 2" &
	local holder=$! pid
	until [ -e "$TMP/held" ]; do sleep 0.1; done
	apply 0 "${CONF[@]}" &
	pid=$!
	sleep 1
	assert_eq "$(cat "$TMP/calls" 2>/dev/null)" "" "calls while the lock is held"
	wait $holder
	wait $pid || fail "smtpblock-apply after the lock was free"
	assert_eq "$(wc -l < "$TMP/calls")" 5 "calls once the lock is free"
}

# ---------------------------------------------------------------- dkms

# dkms.conf's BUILD_EXCLUSIVE_KERNEL: the supported range (README,
# "Supported kernels": 6.1 to 7.2), as dkms matches it (a regex on
# `uname -r`), against versions inside and outside.
test_dkms_kernel_range() {
	local re v
	re=$(sed -n 's/^BUILD_EXCLUSIVE_KERNEL="\(.*\)"$/\1/p' "$HERE/../dkms.conf")
	[ -n "$re" ] || { fail "no BUILD_EXCLUSIVE_KERNEL in dkms.conf"; return; }
	for v in 6.1.0-57-amd64 6.1.192-sbdebug-19904d6a 6.9.1 6.10.0-1-amd64 \
		 6.12.117+deb13-amd64 6.99.0 7.0.0 7.2.13+deb14-amd64; do
		[[ $v =~ $re ]] || fail "dkms would not build for $v"
	done
	for v in 5.10.0-30-amd64 6.0.12 6.0.0-1-amd64 7.3.0 7.10.1 7.20.0 8.0.0 \
		 16.1.0 61.0.0; do
		[[ $v =~ $re ]] && fail "dkms would build for $v"
	done
}

# ---------------------------------------------------------------- main

ALL="csv_dmesg csv_dmesg_iso csv_journal_short_iso csv_outside_reports
ctl_without_module apply_order apply_dry_run apply_refusals apply_lock
dkms_kernel_range"
set -- ${*:-$ALL}
echo "TAP version 13"
echo "1..$#"
n=0 failed=0
for t in "$@"; do
	n=$((n + 1)) fail=0
	if declare -F "test_$t" > /dev/null; then
		"test_$t"
	else
		fail "no test named $t"
	fi
	if [ $fail = 0 ]; then
		echo "ok $n $t"
	else
		echo "not ok $n $t"
		failed=$((failed + 1))
	fi
done
[ $failed = 0 ]
