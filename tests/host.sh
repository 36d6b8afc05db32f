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
# journalctl -o json of two routers, their reports interleaved (real
# report lines of a VM run, in journald's export fields): each offender
# with its own router's report, time and name; a line outside a report
# and another program's line (with escaped quotes) left out.
test_csv_journal_json() { csv_of journal-json; }

# --router names the router of plain lines; its value is taken as it is.
test_csv_router() {
	"$CSV" --router 'edge\9' "$FIX/dmesg.log" > "$TMP/r.csv" || fail "smtpblock-csv --router: exit $?"
	sed '1!s/,$/,edge\\9/' "$FIX/expected-dmesg.csv" > "$TMP/r-expected.csv"
	diff -u "$TMP/r-expected.csv" "$TMP/r.csv" > "$TMP/diff" ||
		fail "--router: $(tr '\n' ' ' < "$TMP/diff")"
	"$CSV" --bogus < /dev/null > /dev/null 2>&1
	assert_eq $? 2 "exit code of an unknown option"
}

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

# ---------------------------------------------------------------- metrics

# A sysfs tree as the module lays it out, with known values, at
# $TMP/mx/kernel/smtpblock (and the module's version where the tool
# looks for it, ../../module/smtpblock/version).
fake_sysfs() {
	local d=$TMP/mx/kernel/smtpblock f v
	rm -rf "$TMP/mx"
	mkdir -p "$d/stats" "$TMP/mx/module/smtpblock"
	echo 0.1.0 > "$TMP/mx/module/smtpblock/version"
	echo 1 > "$d/enabled"
	echo reject > "$d/mode"
	echo "25 587" > "$d/ports"
	for f in offenders_max:4096 offender_ttl:86400 report_interval:600 report_max:50 \
		 log_burst:10 log_interval:5 bulk_timeout:60 exemptions_max:4096; do
		echo "${f#*:}" > "$d/${f%%:*}"
	done
	v=1
	for f in allowed_external allowed_internal allowed_relay blocked dropped \
		 rejected monitored log_suppressed offenders_evicted hidden_cut_before_flags \
		 hidden_offset_8 hidden_v6_fragment_exthdr hidden_v6_chain_truncated \
		 hidden_v6_chain_too_long hidden_ipv4_header_short offenders campus_entries \
		 relays_entries exemptions_entries memory_bytes generation; do
		echo $v > "$d/stats/$f"
		v=$((v + 1))
	done
	echo 2026-12-01T22:50:13Z > "$d/stats/changed_at"
}

# The Prometheus text format, as promtool reads it, with the values of
# the files: every name the contract names.
test_metrics_format() {
	fake_sysfs
	SMTPBLOCK_SYSFS=$TMP/mx/kernel/smtpblock "$CTL" metrics > "$TMP/metrics" 2> "$TMP/err" ||
		{ fail "smtpblockctl metrics: exit $?: $(cat "$TMP/err")"; return; }
	if command -v promtool > /dev/null; then
		promtool check metrics < "$TMP/metrics" > "$TMP/promtool" 2>&1 ||
			fail "promtool check metrics: $(tr '\n' ' ' < "$TMP/promtool")"
	else
		fail "no promtool (Debian's prometheus package)"
	fi
	local want
	for want in 'smtpblock_syns_total{class="allowed_external"} 1' \
		'smtpblock_syns_total{class="allowed_internal"} 2' \
		'smtpblock_syns_total{class="allowed_relay"} 3' \
		'smtpblock_syns_total{class="blocked"} 4' \
		'smtpblock_blocked_total{action="drop"} 5' \
		'smtpblock_blocked_total{action="reject"} 6' \
		'smtpblock_blocked_total{action="monitor"} 7' \
		'smtpblock_log_suppressed_total 8' 'smtpblock_offenders_evicted_total 9' \
		'smtpblock_hidden_total{reason="cut_before_flags"} 10' \
		'smtpblock_hidden_total{reason="ipv4_header_short"} 15' \
		'smtpblock_offenders 16' 'smtpblock_list_entries{list="campus"} 17' \
		'smtpblock_list_entries{list="relays"} 18' 'smtpblock_exemptions 19' \
		'smtpblock_memory_bytes 20' 'smtpblock_config_generation 21' \
		'smtpblock_config_changed_timestamp_seconds 1796165413' \
		'smtpblock_enabled 1' 'smtpblock_mode{mode="drop"} 0' \
		'smtpblock_mode{mode="reject"} 1' 'smtpblock_mode{mode="monitor"} 0' \
		'smtpblock_watched_port{port="587"} 1' 'smtpblock_offender_ttl_seconds 86400' \
		"smtpblock_build_info{version=\"0.1.0\",kernel=\"$(uname -r)\"} 1" \
		'# TYPE smtpblock_syns_total counter' '# TYPE smtpblock_offenders gauge'; do
		grep -qxF "$want" "$TMP/metrics" || fail "no line '$want'"
	done
	# No addresses in labels, nothing but samples and HELP/TYPE.
	grep -vE '^(# (HELP|TYPE) smtpblock_[a-z0-9_]+ .+|smtpblock_[a-z0-9_]+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? [0-9]+)$' \
		"$TMP/metrics" > "$TMP/odd" && fail "unexpected lines: $(head -n 3 "$TMP/odd")"
	grep -E '[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+|::' "$TMP/metrics" | grep -v build_info > "$TMP/odd" &&
		fail "an address in the metrics: $(head -n 1 "$TMP/odd")"
}

# Without the module, or with a file that cannot be read: an exit code
# and nothing on stdout, so a collector publishes nothing stale.
test_metrics_without_module() {
	SMTPBLOCK_SYSFS=$TMP/no-module "$CTL" metrics > "$TMP/metrics" 2> "$TMP/err"
	assert_eq $? 4 "exit code without the module"
	[ ! -s "$TMP/metrics" ] || fail "output without the module: $(head -n 2 "$TMP/metrics")"
	fake_sysfs
	rm "$TMP/mx/kernel/smtpblock/stats/generation"
	SMTPBLOCK_SYSFS=$TMP/mx/kernel/smtpblock "$CTL" metrics > "$TMP/metrics" 2> "$TMP/err"
	assert_eq $? 1 "exit code with a file missing"
	[ ! -s "$TMP/metrics" ] || fail "output with a file missing: $(head -n 2 "$TMP/metrics")"
	echo bogus > "$TMP/mx/kernel/smtpblock/stats/generation"
	SMTPBLOCK_SYSFS=$TMP/mx/kernel/smtpblock "$CTL" metrics > "$TMP/metrics" 2> "$TMP/err"
	assert_eq $? 1 "exit code with a value not a number"
	[ ! -s "$TMP/metrics" ] || fail "output with a bad value"
}

# --textfile: the file replaced whole (never seen half written: a
# temporary dot-file renamed over it), readable by node_exporter; without
# the module it goes, quietly (a timer runs this every 15 s).
test_metrics_textfile() {
	local f=$TMP/tf/smtpblock.prom
	fake_sysfs
	mkdir -p "$TMP/tf"
	SMTPBLOCK_SYSFS=$TMP/mx/kernel/smtpblock "$CTL" metrics > "$TMP/metrics" ||
		fail "metrics to stdout"
	echo stale > "$f"
	SMTPBLOCK_SYSFS=$TMP/mx/kernel/smtpblock "$CTL" metrics --textfile "$f" > "$TMP/out" 2>&1 ||
		fail "metrics --textfile: $(cat "$TMP/out")"
	cmp -s "$f" "$TMP/metrics" || fail "the textfile differs from stdout's metrics"
	assert_eq "$(stat -c %a "$f")" 644 "the textfile's mode"
	assert_eq "$(ls -A "$TMP/tf")" smtpblock.prom "files in the directory"
	[ ! -s "$TMP/out" ] || fail "output with --textfile: $(cat "$TMP/out")"
	SMTPBLOCK_SYSFS=$TMP/no-module "$CTL" metrics --textfile "$f" > "$TMP/out" 2>&1
	assert_eq $? 0 "exit code of --textfile without the module"
	[ ! -e "$f" ] || fail "the textfile stays without the module"
	[ ! -s "$TMP/out" ] || fail "output of --textfile without the module: $(cat "$TMP/out")"
	# A read that fails: no file either, and an error this time.
	fake_sysfs
	echo stale > "$f"
	rm "$TMP/mx/kernel/smtpblock/stats/generation"
	SMTPBLOCK_SYSFS=$TMP/mx/kernel/smtpblock "$CTL" metrics --textfile "$f" > "$TMP/out" 2>&1
	assert_eq $? 1 "exit code of --textfile with a file missing"
	[ ! -e "$f" ] || fail "the textfile stays after a failed read"
	SMTPBLOCK_SYSFS=$TMP/mx/kernel/smtpblock "$CTL" metrics --textfile "$TMP/none/x.prom" > "$TMP/out" 2>&1
	assert_eq $? 1 "exit code of --textfile into a missing directory"
}

# ---------------------------------------------------------------- main

ALL="csv_dmesg csv_dmesg_iso csv_journal_short_iso csv_journal_json csv_router csv_outside_reports
ctl_without_module apply_order apply_dry_run apply_refusals apply_lock
dkms_kernel_range metrics_format metrics_without_module metrics_textfile"
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
