#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# smtpblock exemption selftests: temporary relays with an expiry, a note
# and a hit count (/sys/kernel/smtpblock/exemptions, bulk loads of them,
# their log lines). Same topology and conventions as tests/smtpblock.sh
# (see its picture).
#
# Usage: tests/exemptions.sh [-k smtpblock.ko] [TEST...]

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
KO=$HERE/../smtpblock.ko
CTL=$HERE/../tools/smtpblockctl
APPLY=$HERE/../tools/smtpblock-apply

if [ "${1:-}" = "-k" ]; then
	KO=$2
	shift 2
fi

. "$HERE/lib.sh"

# exempt LINE...: the lines in one write. (Not printf or echo straight to
# the file: bash's builtins write() a line at a time; cat of a file
# writes it whole.)
exempt() { printf '%s\n' "$@" > $TMP/write && cat $TMP/write > $SYS/exemptions; }
# expect_exempt ERRNO LINE...: exempt's write fails with ERRNO (or OK).
expect_exempt() {
	local want=$1 out got
	shift
	printf '%s\n' "$@" > $TMP/write
	out=$(cat $TMP/write 2>&1 > $SYS/exemptions)
	case "$out" in
	"") got=OK ;;
	*"Invalid argument"*) got=EINVAL ;;
	*"No such file"*) got=ENOENT ;;
	*"Argument list too long"*) got=E2BIG ;;
	*"No space left"*) got=ENOSPC ;;
	*) got=$out ;;
	esac
	[ "$got" = "$want" ] || fail "exemptions write '$*' -> $got, want $want"
}
# field PREFIX KEY: KEY's value on PREFIX's line of the exemptions file.
field() {
	local line
	while read -r line; do
		[ "${line%% *}" = "$1" ] || continue
		line=" ${line#* } "
		line=${line#* $2=}
		[ "$line" != " ${line#* }" ] || return
		echo "${line%% *}"
		return
	done < $SYS/exemptions
}
# epoch UTC-TIME: seconds since 1970 (date, once per test).
epoch() { date -u -d "$1" +%s; }
# reached T: the clock is at T (seconds since 1970) or later.
reached() { [ $EPOCHSECONDS -ge "$1" ]; }

# A campus host, and the router itself (OUTPUT), send on 25 while their
# exemption holds, over IPv4 and IPv6; in the second of its until= they
# are blocked again, and the expiry is logged within 2 s.
test_exempt_campus_host() {
	load_default
	local until t
	dmesg -C
	snap
	# (8 s: four probes and the checks fit, on the debug kernel too)
	exempt "+$CL4 for=8 note=INC-4711" "+$CL6/128 for=8" "+10.0.1.1 for=8" \
		"+2001:db8:c:1::1 for=8 note=INC-4712" || fail "grant"
	expect_probe connected cl $MX4 25
	expect_probe connected cl $MX6 25
	expect_probe connected router -b 10.0.1.1 $MX4 25
	expect_probe connected router -b 2001:db8:c:1::1 $MX6 25
	until=$(field $CL4/32 until)
	[ -n "$until" ] || { fail "no line for $CL4/32: $(cat $SYS/exemptions)"; return; }
	expect_delta allowed_relay 4
	expect_delta blocked 0
	assert_eq "$(field $CL4/32 hits)" 1 "hits of $CL4"
	assert_eq "$(klog | grep -c "^smtpblock: exemption added prefix=$CL4/32 until=$until note=INC-4711$")" 1 \
		"log line of the grant: $(klog | tr '\n' '|')"
	assert_eq "$(klog | grep -c "^smtpblock: exemption added prefix=$CL6/128 until=$until$")" 1 \
		"log line of a grant without a note"
	t=$(epoch "$until")
	wait_until 10 reached $t || fail "the clock never reached $until"
	expect_probe timeout cl $MX4 25
	expect_probe timeout cl $MX6 25
	expect_probe timeout router -b 10.0.1.1 $MX4 25
	expect_probe timeout router -b 2001:db8:c:1::1 $MX6 25
	expect_delta blocked 4
	wait_until 2 eval '[ "$(klog | grep -c "^smtpblock: exemption expired ")" -eq 4 ]' ||
		fail "expiry log lines: $(klog | grep expired | tr '\n' '|')"
	assert_eq "$(klog | grep -c "^smtpblock: exemption expired prefix=$CL4/32 hits=1 note=INC-4711$")" 1 \
		"log line of the expiry"
	assert_eq "$(klog | grep -c "^smtpblock: exemption expired prefix=10.0.1.1/32 hits=1$")" 1 \
		"log line of an expiry without a note"
	assert_eq "$(cat $SYS/exemptions)" "" "table after the expiry"
	counters_add_up
	unload
}

# An outside smarthost (a destination) likewise, until it is removed.
test_exempt_smarthost() {
	load_default
	dmesg -C
	snap
	expect_probe timeout cl $MX4 25
	exempt "+$MX4 for=600 note=conf-smarthost" "+$MX6 for=600"
	expect_probe connected cl $MX4 25
	expect_probe connected cl $MX6 25
	expect_probe timeout cl 198.51.100.26 25
	expect_delta allowed_relay 2
	exempt "-$MX4" "-$MX6/128"
	expect_probe timeout cl $MX4 25
	# and one that expires
	exempt "+$MX6 for=3"
	expect_probe connected cl $MX6 25
	wait_until 10 reached $(epoch "$(field $MX6/128 until)") || fail "no expiry"
	expect_probe timeout cl $MX6 25
	assert_eq "$(klog | grep -c "^smtpblock: exemption removed prefix=$MX4/32 hits=1 note=conf-smarthost$")" 1 \
		"log line of the removal: $(klog | tr '\n' '|')"
	assert_eq "$(klog | grep -c "^smtpblock: exemption removed prefix=$MX6/128 hits=1$")" 1 \
		"log line of a removal without a note"
	counters_add_up
	unload
}

# hits: exact across CPUs; kept when the grant is renewed and when
# other entries change.
test_exempt_hits_two_cpus() {
	load_default
	local n p1 p2
	n=$(scaled 2000)
	exempt "+$CL4 for=600 note=a" "+$CL6/128 for=600"
	snap
	on cl taskset -c 0 "$TOOLS/pktcraft" send --dst $MX4 --count $n > /dev/null &
	p1=$!
	on cl taskset -c 1 "$TOOLS/pktcraft" send --dst $MX4 --count $n > /dev/null &
	p2=$!
	on cl taskset -c 1 "$TOOLS/pktcraft" send -6 --dst $MX6 --count $n > /dev/null
	wait $p1 $p2 || fail "a sender failed"
	settle
	assert_eq "$(field $CL4/32 hits)" $((2 * n)) "hits of $CL4 from two CPUs"
	assert_eq "$(field $CL6/128 hits)" $n "hits of $CL6"
	expect_delta allowed_relay $((3 * n))
	expect_delta blocked 0
	exempt "+$CL4 for=900 note=b" "+192.0.2.0/24 for=60"
	exempt "-192.0.2.0/24"
	assert_eq "$(field $CL4/32 hits)" $((2 * n)) "hits after a renewal and other changes"
	assert_eq "$(field $CL4/32 note)" b "note after the renewal"
	counters_add_up
	unload
}

# Reading: sorted by expiry, then prefix; the format of each line.
test_exemptions_file() {
	load_default
	local got
	expect_exempt EINVAL "+10.9.0.0/16 until=2030-01-01T00:00:00Z"
	exempt "+10.9.0.0/16 for=500 note=x" "+10.8.0.0/16 for=100" \
		"+2001:db8:e:9::/64 for=100 note=y@z" "+10.7.0.0/16 for=300"
	got=$(cut -d' ' -f1 $SYS/exemptions | tr '\n' ' ')
	assert_eq "$got" "10.8.0.0/16 2001:db8:e:9::/64 10.7.0.0/16 10.9.0.0/16 " "order"
	grep -Eq '^2001:db8:e:9::/64 until=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z hits=0 note=y@z$' \
		$SYS/exemptions || fail "line format: $(cat $SYS/exemptions)"
	assert_eq "$(stat -c %a $SYS/exemptions)" 644 "mode"
	dmesg -C
	exempt flush "+10.9.0.0/16 for=60"
	assert_eq "$(cut -d' ' -f1 $SYS/exemptions)" 10.9.0.0/16 "after flush and a grant"
	exempt flush
	assert_eq "$(cat $SYS/exemptions)" "" "after flush"
	assert_eq "$(klog | grep -v "^smtpblock: config changed " | tr '\n' '|')" \
		"smtpblock: exemptions flushed removed=4 entries=1|smtpblock: exemptions flushed removed=1 entries=0|" \
		"log lines of flushes"
	unload
}

# Every bad input: its errno, one log line naming the line, no change.
# (The log is read once at the end: a process costs much under TCG.)
test_exempt_bad_input() {
	load_default
	local before now line errno many n=0 log
	exempt "+10.9.0.0/16 for=500 note=x"
	mapfile -t before < $SYS/exemptions
	dmesg -C
	while IFS='|' read -r errno line; do
		expect_exempt "$errno" "+10.6.0.0/16 for=5" "$line"
		n=$((n + 1))
	done <<- 'EOF'
	EINVAL|+10.1.2.3/8 for=60
	EINVAL|+10.1.2 for=60
	EINVAL|+10.1.2.3 until=2030-01-01T00:00:00Z for=60
	EINVAL|+10.1.2.3
	EINVAL|+10.1.2.3 until=2020-01-01T00:00:00Z
	EINVAL|+10.1.2.3 until=2030-01-01T00:00:00Z
	EINVAL|+10.1.2.3 until=2026-12-31 17:00:00
	EINVAL|+10.1.2.3 for=0
	EINVAL|+10.1.2.3 for=31622401
	EINVAL|+10.1.2.3 for=60 note=a=b
	EINVAL|+10.1.2.3 for=60 note=x1234567890123456789012345678901234567890123456789012345678901234
	EINVAL|+10.1.2.3 for=60 ttl=9
	EINVAL|+10.1.2.3 for=60 note=a note=b
	EINVAL|flush
	EINVAL|-10.9.0.0/16 for=5
	ENOENT|-10.5.0.0/16
	EOF
	expect_exempt EINVAL "" ""
	mapfile -t many < <(printf '+10.1.%d.3 for=60 note=n%d\n' $(seq 300 | sed 'p'))
	expect_exempt E2BIG "${many[@]}"
	log=$(klog)
	assert_eq "$(grep -c "^smtpblock: exemptions: line 2 '.*': .*, nothing changed$" <<< "$log")" $n \
		"one log line naming line 2 per bad write: $(tr '\n' '|' <<< "$log")"
	assert_eq "$(grep -c '^smtpblock: exemptions: empty write' <<< "$log")" 1 "empty write logged"
	assert_eq "$(grep -c '^smtpblock: exemptions: a write must be one write()' <<< "$log")" 1 \
		"E2BIG logged"
	assert_eq "$(grep -c '^smtpblock: ' <<< "$log")" $((n + 2)) "no other line"
	grep -q "line 2 '-10.5.0.0/16': not in the table" <<< "$log" || fail "ENOENT line: $log"
	grep -q "line 2 '+10.1.2.3 for=0': for= is not 1 to 31622400 seconds" <<< "$log" ||
		fail "the reason is given: $log"
	mapfile -t now < $SYS/exemptions
	assert_eq "${now[*]}" "${before[*]}" "table after the refusals"
	unload
}

# exemptions_max: module parameter and file; ENOSPC beyond, one log line.
test_exemptions_max() {
	load_default exemptions_max=2
	assert_eq "$(cat $SYS/exemptions_max)" 2 "exemptions_max"
	exempt "+10.9.0.1 for=60" "+10.9.0.2 for=60"
	dmesg -C
	expect_exempt ENOSPC "+10.9.0.3 for=60"
	assert_eq "$(klog | grep -c '^smtpblock: exemptions: more than exemptions_max (2), nothing changed$')" 1 \
		"log line: $(klog)"
	expect_exempt OK "+10.9.0.2 for=90"
	expect_write OK exemptions_max 3
	expect_exempt OK "+10.9.0.3 for=60"
	# Lowered under the count: removals and renewals work, growth not.
	expect_write OK exemptions_max 1
	expect_exempt OK "-10.9.0.1" "+10.9.0.2 for=99"
	expect_exempt ENOSPC "+10.9.0.4 for=60"
	assert_eq "$(wc -l < $SYS/exemptions)" 2 "entries over a lowered limit"
	expect_write EINVAL exemptions_max 65537
	expect_write EINVAL exemptions_max 0
	expect_write OK exemptions_max 65536
	unload
	load_default exemptions_max=0 2> /dev/null && { unload; fail "exemptions_max=0 loaded"; }
	true
}

# Exemptions survive reloads of the lists, with their hits.
test_exempt_kept_across_reloads() {
	load_default
	exempt "+$CL4 for=600 note=keep"
	expect_probe connected cl $MX4 25
	printf '%s' "$RELAYS" > $SYS/relays
	printf campus > $SYS/bulk/begin && printf '%s\n' 10.0.0.0/8 2001:db8:c::/48 > $SYS/bulk/data &&
		printf 1 > $SYS/bulk/commit || fail "campus reload"
	printf relays > $SYS/bulk/begin && printf '%s\n' $RL4 $SH4 > $SYS/bulk/data &&
		printf 1 > $SYS/bulk/commit || fail "relays reload"
	expect_probe connected cl $MX4 25
	assert_eq "$(field $CL4/32 hits)" 2 "hits across reloads"
	assert_eq "$(field $CL4/32 note)" keep "note across reloads"
	unload
}

# A bulk load replaces the table whole: under a flood from an exempt
# host, loads that keep it (with 1000 others that change) never block a
# SYN, and its hits count every one; the log has one line per load.
test_exempt_bulk_atomic_under_load() {
	load_default
	local loads i pid sent
	loads=$(scaled 20)
	awk -v cl=$CL4 'BEGIN { print "# table A"; print cl " for=600 note=INC-1 # kept";
		for (i = 0; i < 1000; i++) printf "10.50.%d.%d for=600\n", i / 256, i % 256 }' > $TMP/A
	awk -v cl=$CL4 'BEGIN { print cl " for=700 note=INC-1";
		for (i = 0; i < 1000; i++) printf "10.60.%d.%d for=600 note=T#%d\n", i / 256, i % 256, i }' > $TMP/B
	exempt "+$CL4 for=600"
	snap
	dmesg -C
	rm -f "$TMP/stop"
	send_until_stopped fl cl --dst $MX4 --count 200 &
	pid=$!
	for i in $(seq $loads); do
		for f in A B; do
			printf exemptions > $SYS/bulk/begin && cat $TMP/$f > $SYS/bulk/data &&
				printf 1 > $SYS/bulk/commit || { fail "bulk load $f ($i)"; break 2; }
		done
	done
	stop_background
	wait $pid
	settle
	sent=$(sent fl)
	[ "$sent" -gt 0 ] || fail "nothing sent"
	expect_delta blocked 0
	expect_delta allowed_relay "$sent"
	assert_eq "$(field $CL4/32 hits)" "$sent" "hits under the loads"
	assert_eq "$(wc -l < $SYS/exemptions)" 1001 "entries"
	assert_eq "$(klog | grep -c '^smtpblock: bulk: exemptions: 1001 entries from 1001 lines$')" $loads \
		"one line per load of B"
	assert_eq "$(klog | grep -c 'exemption added')" 0 "no line per entry"
	# A load's bad line: named, with what is wrong; the table unchanged.
	printf exemptions > $SYS/bulk/begin
	printf '10.1.0.0/16 for=60\n10.2.0.0/16 for=0\n' > $TMP/bad
	cat $TMP/bad > $SYS/bulk/data 2> /dev/null && fail "a bad line accepted"
	assert_eq "$(klog | grep -c "^smtpblock: bulk: exemptions: line 2: invalid entry '10.2.0.0/16 for=0': for= is not 1 to 31622400 seconds$")" 1 \
		"bad line logged: $(klog | tail -n 2 | tr '\n' '|')"
	printf 1 > $SYS/bulk/abort
	assert_eq "$(wc -l < $SYS/exemptions)" 1001 "entries after a failed load"
	# A line whose until= has passed is left out, not an error: one line.
	dmesg -C
	printf '%s until=2026-01-01T00:00:00Z\n%s for=60\n' 10.3.0.0/16 $CL4 > $TMP/stale
	printf exemptions > $SYS/bulk/begin && cat $TMP/stale > $SYS/bulk/data &&
		printf 1 > $SYS/bulk/commit || fail "a load with an expired line"
	assert_eq "$(cut -d' ' -f1 $SYS/exemptions)" $CL4/32 "after a load with an expired line"
	assert_eq "$(klog | grep -c '^smtpblock: bulk: exemptions: 1 lines expired before the commit, left out$')" 1 \
		"one log line for the expired lines: $(klog | tr '\n' '|')"
	unload
}

# smtpblockctl exempt/unexempt change the module, then the file; a
# refused change leaves the file as it was.
test_exempt_ctl() {
	load_default
	local f=$TMP/ex.list until day
	export SMTPBLOCK_EXEMPTIONS_FILE=$f
	printf '# granted by the helpdesk\n' > $f
	ctl 0 exempt $CL4 --for 2h --note INC-1
	until=$(field $CL4/32 until)
	assert_eq "$(cat $f)" "$(printf '# granted by the helpdesk\n%s\n' "$CL4/32 until=$until note=INC-1")" \
		"file after a grant"
	expect_probe connected cl $MX4 25
	ctl 0 exempt $CL4 --for 3h
	assert_eq "$(grep -c "^$CL4/32 " $f)" 1 "one line per prefix"
	assert_eq "$(grep "^$CL4/32 " $f)" "$CL4/32 until=$(field $CL4/32 until)" "file after a renewal"
	assert_eq "$(field $CL4/32 hits)" 1 "hits after a renewal"
	day=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)
	ctl 0 exempt $CL6 --until $day --note a@b
	assert_eq "$(field $CL6/128 until)" "$day" "until= given"
	cp $f $TMP/ex.before
	ctl 3 exempt 10.1.2.3/8 --for 1h
	grep -q "did you mean 10.0.0.0/8" $TMP/ctl.err || fail "hint: $(cat $TMP/ctl.err)"
	ctl 3 exempt 10.1.2.3 --for 0
	ctl 3 exempt 10.1.2.3 --for 367d
	ctl 3 exempt 10.1.2.3 --for 7x
	ctl 3 exempt 10.1.2.3 --for 1h --note 'a=b'
	ctl 2 exempt 10.1.2.3 --for 1h --until $day
	ctl 2 exempt 10.1.2.3
	ctl 3 exempt 10.1.2.3 --until 2020-01-01T00:00:00Z
	echo 2 > $SYS/exemptions_max
	ctl 3 exempt 10.1.2.3 --for 1h
	grep -q "exemptions_max" $TMP/ctl.err || fail "full: $(cat $TMP/ctl.err)"
	cmp -s $f $TMP/ex.before || fail "a refused grant changed the file: $(cat $f)"
	ctl 0 exemptions
	grep -Eq "^$CL4/32 until=.* hits=1 left=2h5[89]m$" $TMP/ctl.out ||
		fail "exemptions: $(cat $TMP/ctl.out)"
	grep -Eq "^$CL6/128 until=$day hits=0 note=a@b left=(1d00h00m|23h59m)$" $TMP/ctl.out ||
		fail "exemptions: $(cat $TMP/ctl.out)"
	ctl 0 status
	grep -Eq "^  exemptions +2 \(next expiry .*, in 2h5[89]m\)$" $TMP/ctl.out ||
		fail "status: $(grep exemptions $TMP/ctl.out)"
	ctl 0 unexempt $CL4
	assert_eq "$(field $CL4/32 until)" "" "module after unexempt"
	assert_eq "$(grep -c "^$CL4/32 " $f)" 0 "file after unexempt"
	expect_probe timeout cl $MX4 25
	cp $f $TMP/ex.before
	ctl 3 unexempt $CL4
	cmp -s $f $TMP/ex.before || fail "a refused removal changed the file"
	unset SMTPBLOCK_EXEMPTIONS_FILE
	unload
}

# Across a reboot (rmmod, then smtpblock-apply as at boot): what the file
# holds comes back, what expired meanwhile does not, with one message
# each and no error.
test_exempt_persistence() {
	local t
	mkdir -p $TMP/etc
	cat > $TMP/modprobe <<-EOF
	#!/bin/sh
	shift
	modprobe nf_reject_ipv4 && modprobe nf_reject_ipv6 && exec insmod $KO "\$@"
	EOF
	chmod +x $TMP/modprobe
	printf '10.0.0.0/8\n2001:db8:c::/48\n' > $TMP/etc/campus.list
	printf '%s\n' $RL4 > $TMP/etc/relays.list
	printf 'ENABLED=1\nMODE=drop\nPORTS=25\nCAMPUS_LIST=%s\nRELAYS_LIST=%s\n' \
		$TMP/etc/campus.list $TMP/etc/relays.list > $TMP/etc/smtpblock.conf
	export SMTPBLOCKCTL=$CTL MODPROBE=$TMP/modprobe SMTPBLOCK_LOCK=$TMP/lock \
		SMTPBLOCK_EXEMPTIONS_FILE=$TMP/etc/exemptions.list
	printf '# exemptions\n10.9.9.9/32 until=2026-01-01T00:00:00Z note=old\n' \
		> $TMP/etc/exemptions.list
	"$APPLY" --conf $TMP/etc/smtpblock.conf > $TMP/apply.out 2>&1 ||
		fail "apply: $(cat $TMP/apply.out)"
	assert_eq "$(grep -c 'exemptions.list:2: expired, skipped$' $TMP/apply.out)" 1 \
		"one message for the expired line: $(cat $TMP/apply.out)"
	ctl 0 exempt $CL4 --for 1h --note keep
	ctl 0 exempt $CL6 --for 3 --note short
	assert_eq "$(wc -l < $SYS/exemptions)" 2 "exemptions before the reboot"
	unload
	t=$(epoch "$(grep "^$CL6/128" $TMP/etc/exemptions.list | sed 's/.*until=\([^ ]*\).*/\1/')")
	wait_until 10 reached $t || fail "the short one never expired"
	"$APPLY" --conf $TMP/etc/smtpblock.conf > $TMP/apply.out 2>&1 ||
		fail "apply after the reboot: $(cat $TMP/apply.out)"
	assert_eq "$(cut -d' ' -f1,4 $SYS/exemptions)" "$CL4/32 note=keep" "exemptions after the reboot"
	# (the grant after the first apply took the old line out of the file)
	assert_eq "$(grep -c 'expired, skipped$' $TMP/apply.out)" 1 "messages: $(cat $TMP/apply.out)"
	assert_eq "$(grep -c '^10.9.9.9/32' $TMP/etc/exemptions.list)" 0 "expired lines left in the file"
	expect_probe connected cl $MX4 25
	expect_probe timeout cl $MX6 25
	# An invalid line fails the reload, which changes nothing.
	# (for=, renewed at each load, would never expire: an error in a file)
	echo "10.8.0.0/16 for=60" >> $TMP/etc/exemptions.list
	"$APPLY" --conf $TMP/etc/smtpblock.conf > $TMP/apply.out 2>&1
	assert_eq $? 3 "exit code of an invalid exemptions file: $(cat $TMP/apply.out)"
	grep -q "exemptions.list:[0-9]*: for= has no place in a file" $TMP/apply.out ||
		fail "why: $(cat $TMP/apply.out)"
	assert_eq "$(wc -l < $SYS/exemptions)" 1 "exemptions after an invalid reload"
	unset SMTPBLOCKCTL MODPROBE SMTPBLOCK_LOCK SMTPBLOCK_EXEMPTIONS_FILE
	unload
}

ALL_TESTS="exempt_campus_host exempt_smarthost exempt_hits_two_cpus
exemptions_file exempt_bad_input exemptions_max exempt_kept_across_reloads
exempt_bulk_atomic_under_load exempt_ctl exempt_persistence"
run_suite ${*:-$ALL_TESTS}
