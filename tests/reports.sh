#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# smtpblock abuse-report selftests: the offender table, the "blocked"
# event lines, reports in the kernel log and tools/smtpblock-csv. Same
# topology and conventions as tests/smtpblock.sh (see its picture); the
# campus client 10.0.1.2 also sends with spoofed campus sources.
#
# Usage: tests/reports.sh [-k smtpblock.ko] [TEST...]

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
KO=$HERE/../smtpblock.ko
CSV=$HERE/../tools/smtpblock-csv
CTL=$HERE/../tools/smtpblockctl

if [ "${1:-}" = "-k" ]; then
	KO=$2
	shift 2
fi

. "$HERE/lib.sh"

ISO='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'

# Our kernel log lines, without timestamps.
klog_count() { klog | grep -c -- "$1"; }

# send ARGS...: crafted SYNs to port 25 from the campus client, all of
# them seen by the router when it returns (settle, lib.sh).
send() {
	on cl "$TOOLS/pktcraft" send "$@" > /dev/null || fail "pktcraft send $*"
	settle
}

# offender SRC: the offenders file's line of SRC.
offender() { grep "^src=$1 " "$SYS/offenders"; }
# field LINE KEY: the value of KEY= in LINE.
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

expect_field() {
	local got
	got=$(field "$1" "$2")
	[ "$got" = "$3" ] || fail "$2 of '$1': got '$got', want '$3'"
}

report() { printf 1 > "$SYS/report"; }
# (sysfs sizes are 0: test -s cannot tell an empty file.)
no_offenders() { [ -z "$(cat $SYS/offenders)" ]; }
has_report() { klog | grep -q 'report end'; }

test_offender_one_source() {
	load_default
	dmesg -C
	send --dst $MX4 --count 3
	local line now first last out
	line=$(offender $CL4)
	expect_field "$line" syns 3
	expect_field "$line" dsts 1
	expect_field "$line" dport 25
	expect_field "$line" action drop
	expect_field "$line" hook forward
	expect_field "$line" dst $MX4
	echo "$line" | grep -Eq "^src=$CL4 syns=3 dsts=1 first=$ISO last=$ISO dport=25 action=drop( |$)" ||
		fail "offender line: $line"
	now=$(date -u +%s)
	first=$(date -u -d "$(field "$line" first)" +%s)
	last=$(date -u -d "$(field "$line" last)" +%s)
	[ $((now - first)) -ge 0 ] && [ $((now - first)) -lt 60 ] || fail "first=$first, now=$now"
	[ "$last" -ge "$first" ] || fail "last $last before first $first"
	assert_eq "$(klog_count 'blocked ')" 1 "blocked lines"
	assert_eq "$(klog | grep 'blocked ')" \
		"smtpblock: blocked src=$CL4 dst=$MX4 dport=25 hook=forward action=drop" \
		"blocked line"
	# The router's own SYNs: hook=output.
	probe $BLOCKED_MS router -b 10.0.1.1 $MX4 25 > /dev/null
	expect_field "$(offender 10.0.1.1)" hook output
	# Personal data: mode 0400, and CAP_NET_ADMIN in the initial user
	# namespace. (setpriv and unshare must work: their own failure would
	# read as a refusal.)
	assert_eq "$(stat -c %a $SYS/offenders)" 400 "mode of offenders"
	assert_eq "$(setpriv --reuid=65534 --regid=65534 --clear-groups id -u)" 65534 \
		"setpriv as nobody"
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups cat $SYS/offenders 2>&1)
	case "$out" in
	*"Permission denied"*) ;;
	*) fail "nobody reading offenders: '$out'" ;;
	esac
	assert_eq "$(setpriv --inh-caps=-all --bounding-set=-all id -u)" 0 \
		"setpriv as uid 0 without capabilities"
	out=$(setpriv --inh-caps=-all --bounding-set=-all cat $SYS/offenders 2>&1)
	case "$out" in
	*"not permitted"*) ;;
	*) fail "uid 0 without capabilities reading offenders: '$out'" ;;
	esac
	assert_eq "$(unshare -Ur id -u)" 0 "unshare -Ur"
	out=$(unshare -Ur cat $SYS/offenders 2>&1)
	case "$out" in
	*"not permitted"*) ;;
	*) fail "root of a user namespace reading offenders: '$out'" ;;
	esac
	setpriv --inh-caps=-all --bounding-set=-all "$CTL" offenders > /dev/null 2> $TMP/ctl.err
	assert_eq "$?" 5 "smtpblockctl offenders without CAP_NET_ADMIN"
	grep -q 'personal data' $TMP/ctl.err || fail "smtpblockctl offenders: $(cat $TMP/ctl.err)"
	unload
}

# Privacy addresses rotate inside a /64: one offender per /64.
test_offenders_ipv6_prefix() {
	load_default
	dmesg -C
	send --src $CL6 --dst $MX6 --count 5 --vary-src 5
	expect_field "$(offender 2001:db8:c:1::/64)" syns 5
	send --src $CL6 --dst $MX6 --count 3 --vary-net 3
	expect_field "$(offender 2001:db8:c:1::/64)" syns 6
	expect_field "$(offender 2001:db8:c:2::/64)" syns 1
	expect_field "$(offender 2001:db8:c:3::/64)" syns 1
	assert_eq "$(wc -l < $SYS/offenders)" 3 "offenders"
	assert_eq "$(klog | grep 'blocked ' | head -n 1)" \
		"smtpblock: blocked src=2001:db8:c:1::/64 dst=$MX6 dport=25 hook=forward action=drop" \
		"blocked line"
	unload
}

test_offenders_distinct_dsts() {
	load_default
	local d
	send --src 10.0.1.11 --dst 198.51.100.100 --count 2 --vary-dst 2
	send --src 10.0.1.12 --dst 198.51.100.100 --count 30 --vary-dst 10
	send --src 10.0.1.13 --dst 198.51.100.100 --count 100 --vary-dst 50
	expect_field "$(offender 10.0.1.11)" dsts 2
	# README: within 25% up to 100 destinations.
	d=$(field "$(offender 10.0.1.12)" dsts)
	[ $((4 * d)) -ge $((3 * 10)) ] && [ $((4 * d)) -le $((5 * 10)) ] ||
		fail "10 destinations read as $d"
	d=$(field "$(offender 10.0.1.13)" dsts)
	[ $((4 * d)) -ge $((3 * 50)) ] && [ $((4 * d)) -le $((5 * 50)) ] ||
		fail "50 destinations read as $d"
	expect_field "$(offender 10.0.1.13)" syns 100
	unload
}

# More sources than offenders_max: bounded table, evictions counted, the
# event lines rate-limited and their suppression counted.
test_offenders_many_sources() {
	load_default offenders_max=64
	dmesg -C
	send --src 10.5.0.0 --dst $MX4 --count 200 --vary-src 200
	local n evicted events suppressed
	n=$(wc -l < $SYS/offenders)
	evicted=$(counter offenders_evicted)
	assert_eq "$n" 64 "offenders in a table of 64"
	assert_eq "$((n + evicted))" 200 "offenders + offenders_evicted"
	events=$(klog_count 'blocked ')
	suppressed=$(counter log_suppressed)
	[ "$events" -ge 10 ] && [ "$events" -le 20 ] || fail "$events blocked lines"
	assert_eq "$((events + suppressed))" 200 "blocked lines + log_suppressed"
	report
	klog | grep -q "report begin period=[0-9]* offenders=64 syns=200 suppressed=$suppressed\$" ||
		fail "begin line: $(klog | grep 'report begin')"
	assert_eq "$(klog_count ' offender ')" 50 "offender lines (report_max)"
	unload
}

# Whatever the traffic, the log grows by a bounded number of lines.
test_log_bounded_under_flood() {
	load_default log_burst=5 log_interval=60
	dmesg -C
	send --src 10.6.0.0 --dst $MX4 --count 20000 --vary-src 20000
	send --src 2001:db8:c:1::2 --dst $MX6 --count 5000 --vary-net 5000
	local lines
	lines=$(klog_count 'blocked ')
	[ "$lines" -le 10 ] || fail "$lines blocked lines for 25000 new sources"
	assert_eq "$(($(counter log_suppressed) + lines))" 25000 "suppressed + logged"
	assert_eq "$(counter blocked)" 25000 "blocked"
	unload
}

# The TTL leaves room for a slow read after the send (about 1.5 s on the
# debug kernel, more on a loaded machine); the entry must go, but not
# before its TTL (less the 1 s granularity of its times).
test_offender_ttl() {
	local ttl=8 t0 gone
	load_default offender_ttl=$ttl
	dmesg -C
	t0=${EPOCHREALTIME/./}
	send --dst $MX4
	[ -n "$(offender $CL4)" ] || fail "no offender line"
	wait_until 20 no_offenders || fail "not forgotten after the TTL"
	gone=$(((${EPOCHREALTIME/./} - t0) / 1000))
	[ $gone -ge $(((ttl - 1) * 1000)) ] || fail "forgotten after $gone ms, TTL $ttl s"
	send --dst $MX4
	expect_field "$(offender $CL4)" syns 1
	assert_eq "$(klog_count 'blocked ')" 2 "blocked lines: new, and new again"
	unload
}

# step_clock SECONDS: steps the wall clock (only; boot time goes on),
# keeping its fraction of a second, so that the steps add up to nothing.
step_clock() {
	local now=$EPOCHREALTIME
	date -s "@$((${now%.*} + $1)).${now#*.}" > /dev/null || fail "date -s"
}

# Ages come from a clock that does not jump: after the wall clock is
# stepped forward two days a fresh offender stays; after a step back of
# an hour one past its TTL goes; first= and last= stay the wall-clock
# times of the blocks.
test_offender_clock_steps() {
	load_default offender_ttl=30
	local t0 line
	t0=$EPOCHSECONDS
	send --dst $MX4
	step_clock $((2 * 86400))
	line=$(offender $CL4)
	[ -n "$line" ] || fail "a fresh offender gone after a step of two days"
	[ $(($(date -u -d "$(field "$line" last)" +%s) - t0)) -lt 60 ] ||
		fail "last= moved with the clock: $line"
	send --src 10.0.1.9 --dst $MX4
	line=$(offender 10.0.1.9)
	[ $(($(date -u -d "$(field "$line" first)" +%s) - EPOCHSECONDS)) -le 0 ] &&
		[ $(($(date -u -d "$(field "$line" first)" +%s) - EPOCHSECONDS)) -gt -60 ] ||
		fail "first= of a block after the step is not the (stepped) wall time: $line"
	step_clock $((-2 * 86400))
	unload
	load_default offender_ttl=3
	send --dst $MX4
	step_clock -3600
	# 3 s of boot time later: past the TTL, whatever the wall clock says.
	nap 4
	[ -z "$(offender $CL4)" ] || fail "an offender past its TTL kept after a step back: $(offender $CL4)"
	step_clock 3600
	unload
}

test_report_on_demand() {
	load_default
	dmesg -C
	send --dst $MX4 --count 3
	send --src 10.0.1.3 --dst $MX4
	report
	local re="offender src=%s syns=%s dsts=1 first=$ISO last=$ISO dport=25 action=drop"
	klog | grep -v 'blocked ' > $TMP/report
	assert_eq "$(wc -l < $TMP/report)" 4 "report lines"
	grep -Eq "^smtpblock: report begin period=[0-9]+ offenders=2 syns=4 suppressed=0$" \
		$TMP/report || fail "begin: $(sed -n 1p $TMP/report)"
	sed -n 2p $TMP/report | grep -Eq "^smtpblock: $(printf "$re" $CL4 3)$" ||
		fail "first offender: $(sed -n 2p $TMP/report)"
	sed -n 3p $TMP/report | grep -Eq "^smtpblock: $(printf "$re" 10.0.1.3 1)$" ||
		fail "second offender: $(sed -n 3p $TMP/report)"
	assert_eq "$(sed -n 4p $TMP/report)" "smtpblock: report end" "end"
	# A period with no blocks: nothing to list.
	report
	klog | tail -n 2 | head -n 1 | grep -Eq "report begin period=[0-9]+ offenders=0 syns=0 suppressed=0$" ||
		fail "empty period: $(klog | tail -n 2)"
	expect_write EINVAL report 0
	expect_write EINVAL report $'\n'
	# The abuse desk's CSV, from the real log.
	dmesg | "$CSV" > $TMP/csv
	assert_eq "$(sed -n 1p $TMP/csv)" "report,logged,src,syns,dsts,first,last,dport,action,hidden,router" header
	assert_eq "$(wc -l < $TMP/csv)" 3 "CSV rows"
	sed -n 2p $TMP/csv | grep -Eq "^1,[0-9.]+,$CL4,3,1,$ISO,$ISO,25,drop,0,$" ||
		fail "CSV row: $(sed -n 2p $TMP/csv)"
	sed -n 3p $TMP/csv | grep -Eq "^1,[0-9.]+,10.0.1.3,1,1,$ISO,$ISO,25,drop,0,$" ||
		fail "CSV row: $(sed -n 3p $TMP/csv)"
	unload
}

# A source is news again after a whole report period without blocks.
test_report_quiet_period() {
	load_default
	dmesg -C
	send --dst $MX4
	report
	send --dst $MX4
	assert_eq "$(klog_count 'blocked ')" 1 "active in the last period: no line"
	report
	report
	send --dst $MX4
	assert_eq "$(klog_count 'blocked ')" 2 "quiet for a period: a line"
	unload
}

test_report_timer() {
	load_default report_interval=2
	dmesg -C
	send --dst $MX4
	wait_until 10 has_report || fail "no timed report"
	expect_write OK report_interval 0
	dmesg -C
	sleep 3
	assert_eq "$(klog_count 'report begin')" 0 "reports with report_interval=0"
	unload
}

# Reports off at load, switched on at run time: they come, and each says
# the period it covers (period= seconds since the last one).
test_report_interval_runtime() {
	load_default report_interval=0
	dmesg -C
	local periods p
	expect_write OK report_interval 2
	wait_until 15 reports_at_least 3 || fail "fewer than 3 reports in 15 s: $(klog | grep 'report begin')"
	periods=$(klog | sed -n 's/.*report begin period=\([0-9]*\) .*/\1/p' | sed -n '2,3p')
	# Timers fire late under load, never early: 2 s, or a little more
	# (up to 5 s: a loaded debug VM runs its work late).
	for p in $periods; do
		[ "$p" -ge 2 ] && [ "$p" -le 5 ] || fail "period=$p for report_interval=2: $(echo $periods)"
	done
	assert_eq "$(echo $periods | wc -w)" 2 "periods read"
	unload
}
reports_at_least() { [ "$(klog_count 'report begin')" -ge "$1" ]; }

# A read of several pages is one snapshot of the table, even when sources
# are added between its pages.
test_offenders_read_consistent() {
	load_default offenders_max=1024 log_burst=0
	local n
	send --src 10.0.1.100 --dst $MX4 --count 100 --vary-src 100
	assert_eq "$(wc -l < $SYS/offenders)" 100 "offenders before"
	{
		dd bs=4096 count=1 status=none
		on cl "$TOOLS/pktcraft" send --src 10.0.3.1 --dst $MX4 --count 50 \
			--vary-src 50 > /dev/null
		settle > /dev/null
		cat
	} < $SYS/offenders > $TMP/read
	[ "$(wc -c < $TMP/read)" -gt 4096 ] || fail "the table fits one page: nothing tested"
	n=$(wc -l < $TMP/read)
	assert_eq "$(grep -c '^src=10\.0\.3\.' $TMP/read)" 0 "sources added during the read"
	assert_eq "$n" 100 "lines of the read"
	assert_eq "$(grep -cE '^src=[0-9.]+ syns=1 dsts=1 ' $TMP/read)" 100 "whole lines"
	assert_eq "$(wc -l < $SYS/offenders)" 150 "offenders after"
	unload
}

test_monitor_mode_reporting() {
	load_default mode=monitor
	dmesg -C
	expect_probe connected cl $MX4 25
	expect_field "$(offender $CL4)" action monitor
	assert_eq "$(klog | grep 'blocked ')" \
		"smtpblock: blocked src=$CL4 dst=$MX4 dport=25 hook=forward action=monitor" \
		"blocked line"
	unload
}

test_tunables() {
	load_default
	local f good bad v
	while read -r f good bad; do
		expect_write OK "$f" "$good"
		assert_eq "$(cat $SYS/$f)" "$good" "$f"
		for v in $bad x -1 01 $'\n' "1 2"; do
			expect_write EINVAL "$f" "$v"
		done
		assert_eq "$(cat $SYS/$f)" "$good" "$f after bad writes"
		assert_eq "$(stat -c %a $SYS/$f)" 644 "mode of $f"
	done <<-EOF
	offenders_max 100 0 262145
	offender_ttl 86400 0 31536001
	report_interval 600 604801
	report_max 0 1001
	log_burst 3 101
	log_interval 10 0 3601
	bulk_timeout 30 0 3601
	EOF
	for f in report offenders_reset; do
		assert_eq "$(stat -c %a $SYS/$f)" 200 "mode of $f"
	done
	out=$(unshare -Ur bash -c "echo 1 > $SYS/report" 2>&1)
	case "$out" in *"not permitted"*) ;; *) fail "userns root reporting: '$out'" ;; esac
	unload
	for v in offenders_max=0 offender_ttl=0 report_max=1001 log_burst=101 \
		 log_interval=0 report_interval=604801; do
		dmesg -C
		load "$v" 2>/dev/null && { fail "insmod $v"; unload; }
		assert_eq "$(klog_count "invalid parameter ${v%=*}=")" 1 "log line for $v"
	done
}

# The table survives resizing and configuration changes; reset empties it.
test_offenders_survive_changes() {
	load_default
	send --src 10.0.1.20 --dst $MX4 --count 3 --vary-src 3
	# Later by more than the 1 s of the times it keeps: the most recent.
	nap 1.2
	send --src 10.0.1.20 --dst $MX4
	expect_write OK offenders_max 128
	expect_write OK campus "+192.0.2.0/24"
	expect_write OK mode monitor
	assert_eq "$(wc -l < $SYS/offenders)" 3 "offenders after changes"
	expect_field "$(offender 10.0.1.20)" syns 2
	expect_write OK offenders_max 1
	assert_eq "$(wc -l < $SYS/offenders)" 1 "offenders in a table of 1"
	expect_field "$(offender 10.0.1.20)" syns 2
	expect_write EINVAL offenders_reset 0
	expect_write OK offenders_reset 1
	no_offenders || fail "offenders after reset: $(cat $SYS/offenders)"
	unload
}

ALL_TESTS="offender_one_source offenders_ipv6_prefix offenders_distinct_dsts
offenders_many_sources log_bounded_under_flood offender_ttl report_on_demand
report_quiet_period report_timer report_interval_runtime monitor_mode_reporting
tunables offenders_survive_changes offenders_read_consistent offender_clock_steps"
run_suite ${*:-$ALL_TESTS}
