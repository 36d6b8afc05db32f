#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# smtpblock operations selftests: bulk loads of whole lists (any size,
# atomic, one at a time), smtpblockctl, the boot-time apply script and
# the audit trail of configuration changes.
# Same topology and conventions as tests/smtpblock.sh (see its picture).
#
# Usage: tests/operations.sh [-k smtpblock.ko] [TEST...]

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

# bulk/status without the load's id (its own test checks the ids).
status() { local v; v=$(sysval bulk/status); echo "${v% id=*}"; }
load_id() { local v; v=$(sysval bulk/status); [[ $v == *" id="* ]] && echo "${v##* id=}"; }
status_is_loading() { [[ $(status) == loading* ]]; }

# bulk LIST FILE: the raw protocol, the whole file through one descriptor.
bulk() {
	printf '%s' "$1" > $SYS/bulk/begin &&
	cat "$2" > $SYS/bulk/data &&
	printf 1 > $SYS/bulk/commit
}

ms() { echo $(($(date +%s%N) / 1000000)); }

test_bulk_basic() {
	load_default
	cat > $TMP/list <<-EOF
	# campus, as configuration management writes it
	10.0.0.0/8    # the whole campus

	2001:DB8:C::/48
	192.0.2.0/24
	10.0.0.0/8
	EOF
	assert_eq "$(status)" idle "status before"
	bulk campus $TMP/list || fail "bulk load"
	assert_eq "$(cat $SYS/campus | tr '\n' ' ')" \
		"10.0.0.0/8 192.0.2.0/24 2001:db8:c::/48 " "campus"
	assert_eq "$(status)" idle "status after"
	klog | grep -q "bulk: campus: 3 entries from 6 lines" || fail "log: $(klog | tail -n 1)"
	# An empty file is a deliberate empty list here, unlike a plain write.
	: > $TMP/empty
	bulk relays $TMP/empty || fail "empty bulk load"
	assert_eq "$(cat $SYS/relays)" "" "relays after an empty load"
	expect_probe timeout cl $MX4 25
	unload
}

# Large lists: 1,000,000 IPv4 and 100,000 IPv6 entries, read back whole,
# and reading back then loading is an identity.
test_bulk_large() {
	load_default
	local t0 t1 bytes n4=1000000 n6=100000
	awk -v n=$n4 'BEGIN { for (i = 0; i < n; i++)
		printf "11.%d.%d.%d/32\n", int(i / 65536), int(i / 256) % 256, i % 256 }' \
		> $TMP/v4
	awk -v n=$n6 'BEGIN { for (i = 0; i < n; i++)
		printf "2001:db8:%x:%x::/64\n", 16 + int(i / 65535), 1 + i % 65535 }' \
		> $TMP/v6
	cat $TMP/v4 $TMP/v6 > $TMP/big
	t0=$(ms)
	printf campus > $SYS/bulk/begin && cat $TMP/big > $SYS/bulk/data ||
		fail "bulk data of 1.1M entries"
	t1=$(ms)
	printf 1 > $SYS/bulk/commit || fail "bulk commit of 1.1M entries"
	echo "# $n4 IPv4 + $n6 IPv6 entries: data $((t1 - t0)) ms, commit $(($(ms) - t1)) ms (TCG)"
	cat $SYS/campus > $TMP/back
	cmp -s $TMP/big $TMP/back || fail "read back differs: $(wc -l < $TMP/back) lines"
	t0=$(ms)
	bulk campus $TMP/back || fail "reload of the read back list"
	t1=$(ms)
	echo "# reload of the read back list: $((t1 - t0)) ms (TCG)"
	# (Not cmp FILE $SYS/...: cmp trusts sysfs sizes, which are 0.)
	cat $SYS/campus | cmp -s $TMP/big - || fail "identity: second read back differs"
	bytes=$(counter memory_bytes)
	echo "# memory_bytes: $bytes for $n4 + $n6 entries"
	[ "$bytes" -le $((16 * n4 + 40 * n6 + 65536)) ] ||
		fail "memory_bytes $bytes above 16 B/IPv4 + 40 B/IPv6"
	# The 11/8 sources are not campus now: 10.0.1.2 passes.
	expect_probe connected cl $MX4 25
	unload
}

test_bulk_errors() {
	load_default
	printf '10.0.0.0/8\n# fine\n10.1.2.3/8\n192.0.2.0/24\n' > $TMP/bad
	dmesg -C
	printf campus > $SYS/bulk/begin
	cat $TMP/bad > $SYS/bulk/data 2>/dev/null && fail "bad data accepted"
	assert_eq "$(status)" "failed list=campus line=3 item=10.1.2.3/8" status
	assert_eq "$(klog | tail -n 1)" \
		"smtpblock: bulk: campus: line 3: invalid entry '10.1.2.3/8'" log
	expect_write EINVAL bulk/commit 1
	expect_write EBUSY bulk/begin relays
	expect_write OK bulk/abort 1
	assert_eq "$(status)" idle "status after abort"
	assert_eq "$(cat $SYS/campus | tr '\n' ' ')" "10.0.0.0/8 2001:db8:c::/48 " \
		"campus after a failed load"
	# A bad line at the very end, without a newline, fails the commit.
	printf campus > $SYS/bulk/begin
	printf '10.0.0.0/8\n::1::' > $SYS/bulk/data || fail "partial line refused early"
	expect_write EINVAL bulk/commit 1
	assert_eq "$(status)" "failed list=campus line=2 item=::1::" status
	expect_write OK bulk/abort 1
	expect_write EINVAL bulk/begin campuses
	expect_write EINVAL bulk/commit 1	# nothing to commit
	expect_write OK bulk/abort 1		# nothing to abort: fine
	unload
}

# One load at a time; data only in order, through one descriptor.
test_bulk_concurrent() {
	load_default
	expect_write OK bulk/begin campus
	expect_write EBUSY bulk/begin relays
	expect_write OK bulk/data $'10.0.0.0/8\n'
	# A second open starts at offset 0 again: refused, the load goes on.
	expect_write EINVAL bulk/data $'11.0.0.0/8\n'
	assert_eq "$(status)" "loading list=campus lines=1 entries=1" status
	expect_write OK bulk/abort 1
	expect_write EINVAL bulk/data $'10.0.0.0/8\n'	# no load open
	# A load held open: a second writer is refused with EBUSY, by exit
	# code and message, and the first one's commit goes through.
	local i final pa pb ea eb
	printf '10.0.0.0/8\n11.0.0.0/8\n' > $TMP/l1
	printf '10.0.0.0/8\n12.0.0.0/8\n' > $TMP/l2
	# (Opened both ways here: the signal below cannot block, whatever
	# became of the writer.)
	mkfifo $TMP/go
	exec {go}<> $TMP/go
	{ printf campus > $SYS/bulk/begin && cat $TMP/l1 > $SYS/bulk/data &&
		read -r _ < $TMP/go && printf 1 > $SYS/bulk/commit; } 2> $TMP/ea &
	pa=$!
	wait_until 10 status_is_loading || fail "the first load did not begin"
	bulk campus $TMP/l2 2> $TMP/eb && fail "a second load while one is open succeeded"
	grep -q 'busy' $TMP/eb || fail "second load: '$(cat $TMP/eb)', want EBUSY"
	echo go >&$go
	wait $pa || fail "the held load failed: $(cat $TMP/ea)"
	exec {go}>&-
	assert_eq "$(cat $SYS/campus)" "$(cat $TMP/l1)" "campus after the held load"
	# Loads from two shells at once: each is whole or told EBUSY, at
	# least one goes through, and the list is one that went through.
	for i in $(seq 20); do
		bulk campus $TMP/l1 2> $TMP/ea &
		pa=$!
		bulk campus $TMP/l2 2> $TMP/eb &
		pb=$!
		wait $pa; ea=$?
		wait $pb; eb=$?
		[ $ea = 0 ] || grep -q busy $TMP/ea || fail "round $i, writer 1: $(cat $TMP/ea)"
		[ $eb = 0 ] || grep -q busy $TMP/eb || fail "round $i, writer 2: $(cat $TMP/eb)"
		final=$(cat $SYS/campus)
		{ [ $ea = 0 ] && [ "$final" = "$(cat $TMP/l1)" ]; } ||
			{ [ $eb = 0 ] && [ "$final" = "$(cat $TMP/l2)" ]; } ||
			fail "round $i: campus is '$final' (exit codes $ea, $eb)"
		assert_eq "$(status)" idle "status after round $i"
	done
	unload
}

# An abandoned load (the writer died) is dropped after bulk_timeout.
test_bulk_abandoned() {
	load_default bulk_timeout=2
	dmesg -C
	printf relays > $SYS/bulk/begin
	printf '10.9.9.9\n' > $SYS/bulk/data
	local i
	for i in $(seq 50); do
		[ "$(status)" = idle ] && break
		nap 0.2
	done
	assert_eq "$(status)" idle "status after the timeout"
	klog | grep -q "bulk: relays: no write for 2 s, load aborted" ||
		fail "log: $(klog | tail -n 1)"
	assert_eq "$(grep -c 10.9.9.9 $SYS/relays)" 0 "abandoned entry"
	expect_write OK bulk/begin relays
	expect_write OK bulk/abort 1
	unload
}

# bulk_timeout through sysfs: a new value applies to the next load, and
# every data write restarts the idle timer (a slow writer is not cut off).
test_bulk_timeout_sysfs() {
	load_default
	local i
	expect_write OK bulk_timeout 5
	assert_eq "$(sysval bulk_timeout)" 5 bulk_timeout
	for i in 0 3601 x 01; do expect_write EINVAL bulk_timeout "$i"; done
	assert_eq "$(sysval bulk_timeout)" 5 "bulk_timeout after bad writes"
	printf relays > $SYS/bulk/begin
	exec {fd}> $SYS/bulk/data
	# 7.5 s in all, never 5 s without a write: the load stays open.
	for i in 1 2 3; do
		nap 2.5
		printf '10.9.9.%d\n' $i >&$fd || fail "data write $i"
		status_is_loading || fail "load gone after $i slow writes: $(status)"
	done
	exec {fd}>&-
	assert_eq "$(status)" "loading list=relays lines=3 entries=3" "status"
	wait_until 15 status_is_idle || fail "not aborted after 5 s without writes: $(status)"
	unload
}
status_is_idle() { [ "$(status)" = idle ]; }

# The list sizes, without reading the lists.
test_list_entries() {
	load_default
	assert_eq "$(counter campus_entries) $(counter relays_entries)" "2 4" "entries after load"
	expect_write OK campus "+192.0.2.0/24 +2001:db8:d::/48"
	expect_write OK relays flush
	assert_eq "$(counter campus_entries) $(counter relays_entries)" "4 0" "entries after writes"
	printf '%s\n' 10.0.0.0/8 11.0.0.0/8 12.0.0.0/8 > $TMP/three
	bulk relays $TMP/three || fail "bulk load"
	assert_eq "$(counter relays_entries)" 3 "relays_entries after a bulk load"
	unload
}

# README: at most 4,194,304 entries per address family. Exactly that many
# of each family load in one bulk commit, given in shuffled order, with no
# soft-lockup report though the detector fires after 2 s without a
# scheduling point (watchdog_thresh=1); one more, by a plain write or a
# bulk load, is ENOSPC with one log line, and the list stays as it was.
test_list_limit() {
	load_default
	local max=4194304 thresh t0 t1
	thresh=$(cat /proc/sys/kernel/watchdog_thresh)
	echo 1 > /proc/sys/kernel/watchdog_thresh
	dmesg -C
	expect_write OK bulk/begin relays
	# (i * 1234567) mod 2^22 visits each i once: a shuffle, from a pipe
	# (a file of them would take 150 MB of the guest's memory).
	{ shuffled 4 && shuffled 6; } > $SYS/bulk/data ||
		fail "bulk data of $max + $max entries"
	t0=$(ms)
	expect_write OK bulk/commit 1
	t1=$(ms)
	echo "# commit of $max IPv4 + $max IPv6 entries, shuffled: $((t1 - t0)) ms (TCG)"
	assert_eq "$(counter relays_entries)" $((2 * max)) "relays_entries at the limit"
	assert_eq "$(dmesg | grep -ciE 'soft lockup|rcu.*stall')" 0 \
		"soft lockups or RCU stalls during the load"
	echo "$thresh" > /proc/sys/kernel/watchdog_thresh
	dmesg -C
	expect_write ENOSPC relays "+12.0.0.1"
	expect_write ENOSPC relays "+2001:db8:e:2::25"
	assert_eq "$(dmesg | grep -c 'smtpblock: relays: more than 4194304 entries of one family')" 2 \
		"log lines of writes beyond the limit"
	expect_write OK bulk/begin relays
	{ shuffled 4 && echo 12.0.0.1; } > $SYS/bulk/data ||
		fail "bulk data of $((max + 1)) entries"
	expect_write ENOSPC bulk/commit 1
	printf 1 > $SYS/bulk/abort
	assert_eq "$(counter relays_entries)" $((2 * max)) "relays_entries after refusals"
	expect_write OK relays "$RELAYS"
	expect_probe connected rl $MX4 25
	unload
}
# shuffled 4|6: the limit's worth of distinct prefixes of one family.
shuffled() {
	awk -v n=4194304 -v f="$1" 'BEGIN { for (i = 0; i < n; i++) {
		j = (i * 1234567) % n
		if (f == 4)
			printf "11.%d.%d.%d\n", int(j / 65536), int(j / 256) % 256, j % 256
		else
			printf "2001:db8:%x:%x::/64\n", int(j / 65536), j % 65536 } }'
}

# Each begin opens a load with a new id; "id=N" to abort ends load N
# only. smtpblockctl aborts its own load only: stopped in the middle of
# its data, its load aborted and another one begun by hand, it comes back,
# fails, and leaves the other load open.
test_bulk_load_ids() {
	load_default
	local a b pid
	expect_write OK bulk/begin campus
	a=$(load_id)
	[ -n "$a" ] || fail "no id in bulk/status: $(sysval bulk/status)"
	dmesg -C
	expect_write ENOENT bulk/abort "id=$((a + 1))"
	assert_eq "$(klog | tail -n 1)" "smtpblock: bulk: abort: load $((a + 1)) is not open (load $a is)" log
	assert_eq "$(status)" "loading list=campus lines=0 entries=0" "the load after a wrong id"
	expect_write EINVAL bulk/abort "id=x"
	expect_write OK bulk/abort "id=$a"
	assert_eq "$(status)" idle "status after its own abort"
	expect_write ENOENT bulk/abort "id=$a"
	expect_write OK bulk/abort 1
	# A data write to a failed load says so.
	expect_write OK bulk/begin relays
	b=$(load_id)
	assert_eq "$b" $((a + 1)) "the next load's id"
	printf '10.1.2.3/8\n' > $SYS/bulk/data 2> /dev/null
	dmesg -C
	expect_write EINVAL bulk/data $'10.0.0.0/8\n'
	assert_eq "$(klog | tail -n 1)" "smtpblock: bulk: data: the load failed: abort it" log
	expect_write OK bulk/abort 1
	# smtpblockctl's load, stopped halfway.
	awk 'BEGIN { for (i = 0; i < 1000000; i++)
		printf "11.%d.%d.%d/32\n", int(i / 65536), int(i / 256) % 256, i % 256 }' > $TMP/big
	"$CTL" load campus $TMP/big 2> $TMP/ctl.err &
	pid=$!
	wait_until 30 loading_some_lines || fail "smtpblockctl's load did not start"
	kill -STOP $pid
	a=$(load_id)
	expect_write OK bulk/abort 1
	expect_write OK bulk/begin relays
	b=$(load_id)
	kill -CONT $pid
	wait $pid && fail "smtpblockctl's load succeeded"
	assert_eq "$(load_id) $(status)" "$b loading list=relays lines=0 entries=0" \
		"the other administrator's load (smtpblockctl's was $a)"
	expect_write OK bulk/abort "id=$b"
	unload
}
loading_some_lines() { [[ $(status) == "loading list=campus lines="[1-9]* ]]; }

# A relay sends SYNs at a high rate while both lists are replaced again and
# again, always with the relay in them: none of its SYNs is blocked, and
# a non-relay is blocked throughout. The senders run until the loads are
# done (each SYN sent is counted; the receive backlogs may drop a few),
# and SYNs arrive in both halves of the loads.
test_bulk_atomic_under_load() {
	load_default
	snap
	local i pids rounds mid=0 end drops blocked
	rounds=$(scaled 200)
	for i in $(seq 0 $((rounds - 1))); do
		{
			echo "$RL4"
			echo "$SH4"
			echo "2001:db8:c:2::25"
			awk -v n=$((i * 5)) 'BEGIN { for (j = 0; j < n; j++)
				printf "172.%d.%d.0/24\n", 20 + int(j / 256), j % 256 }'
		} > $TMP/relays$i
		{
			echo 10.0.0.0/8
			echo 2001:db8:c::/48
			[ $((i % 2)) -eq 0 ] && echo 192.0.2.0/24
		} > $TMP/campus$i
	done
	drops=$(backlog_drops)
	SEND_PAUSE=0.1 send_until_stopped rl rl --dst $MX4 --count 300 --vary-dst 200 &
	pids=$!
	SEND_PAUSE=0.1 send_until_stopped cl cl --dst $MX4 --count 300 --vary-dst 200 &
	pids+=" $!"
	wait_until 30 counter_above syn_seen 0 || fail "no SYN before the loads"
	for i in $(seq 0 $((rounds - 1))); do
		bulk relays $TMP/relays$i || fail "relays load $i"
		bulk campus $TMP/campus$i || fail "campus load $i"
		[ $i = $((rounds / 2)) ] && mid=$(counter syn_seen)
	done
	end=$(counter syn_seen)
	stop_background
	wait $pids
	settle
	drops=$(($(backlog_drops) - drops))
	echo "# $(sent rl) relay and $(sent cl) client SYNs sent; seen $mid halfway, $end at the end of $((2 * rounds)) loads; $drops dropped by the backlogs"
	[ "$mid" -gt 0 ] && [ "$end" -gt "$mid" ] ||
		fail "SYNs seen halfway through the loads $mid, at their end $end"
	[ -z "$(grep "^src=$RL4 " $SYS/offenders)" ] ||
		fail "relay blocked: $(grep "^src=$RL4 " $SYS/offenders)"
	assert_eq "$(counter blocked)" "$(grep "^src=$CL4 " $SYS/offenders |
		sed 's/.* syns=\([0-9]*\) .*/\1/')" "blocked: the client's SYNs only"
	blocked=$(counter blocked)
	[ "$(counter allowed_relay)" -le "$(sent rl)" ] &&
		[ "$(counter allowed_relay)" -ge $(($(sent rl) - drops)) ] ||
		fail "relay SYNs allowed $(counter allowed_relay), sent $(sent rl), $drops dropped"
	[ "$blocked" -le "$(sent cl)" ] && [ "$blocked" -ge $(($(sent cl) - drops)) ] ||
		fail "client SYNs blocked $blocked, sent $(sent cl), $drops dropped"
	expect_delta allowed_external 0
	expect_delta allowed_internal 0
	counters_add_up
	unload
}

# Reading a list of several pages while it is replaced again and again
# gives one whole list or the other, never pages of both.
test_read_consistent() {
	load_default
	local list i pid before overlapped
	awk 'BEGIN { for (i = 0; i < 600; i++) printf "172.16.%d.%d/32\n", i / 256, i % 256 }' > $TMP/A
	awk 'BEGIN { for (i = 0; i < 600; i++) printf "172.17.%d.%d/32\n", i / 256, i % 256 }' > $TMP/B
	for list in campus relays; do
		SWAP_LIST=$list
		bulk $list $TMP/A
		rm -f "$TMP/stop" "$TMP/runs-swaps"
		until_stopped swaps swap_lists &
		pid=$!
		overlapped=0
		# One descriptor, a pause after the first page: the list
		# changes under the reader, which must still get one whole list.
		for i in $(seq 10); do
			before=$(runs swaps)
			{ dd bs=4096 count=1 status=none; sleep 0.6; cat; } \
				< $SYS/$list > $TMP/read
			[ "$(runs swaps)" = "$before" ] || overlapped=$((overlapped + 1))
			cmp -s $TMP/read $TMP/A || cmp -s $TMP/read $TMP/B ||
				{ fail "$list read $i mixes lists: $(cut -d. -f1,2 $TMP/read | uniq -c | tr '\n' ' ')"; break; }
		done
		stop_background
		wait $pid
		echo "# $list: $overlapped of 10 reads overlapped a load; $(runs swaps) pairs of loads"
		# The race happened: the list was replaced during most reads.
		assert [ $((2 * overlapped)) -ge 10 ]
		[ $list = campus ] && printf '%s' "$CAMPUS" > $SYS/campus
	done
	unload
}
swap_lists() { bulk $SWAP_LIST $TMP/A && bulk $SWAP_LIST $TMP/B; }

# Each reader of a list holds the version it began with, however reads
# of several readers interleave and whatever changes meanwhile, and the
# writers do not wait for it; a hold ends 10 s after its last read (the
# reader goes on with the list as it is then). Reading costs the kernel
# the pages read: two readers in turn cost what two readers one after
# the other do, not a new text of the list per page.
test_read_readers() {
	load_default
	local one two sys1 sys2
	awk 'BEGIN { for (i = 0; i < 2000; i++) printf "172.16.%d.%d/32\n", i / 256, i % 256 }' > $TMP/A
	awk 'BEGIN { for (i = 0; i < 2000; i++) printf "172.17.%d.%d/32\n", i / 256, i % 256 }' > $TMP/B
	bulk relays $TMP/A
	exec 3< $SYS/relays 4< $SYS/relays
	page <&3 > $TMP/r3
	bulk relays $TMP/B || fail "a load while a reader holds the old list"
	page <&4 > $TMP/r4
	page <&3 >> $TMP/r3
	expect_write OK relays "+172.18.0.1"
	cat <&4 >> $TMP/r4
	cat <&3 >> $TMP/r3
	exec 3<&- 4<&-
	cmp -s $TMP/r3 $TMP/A || fail "first reader: not list A: $(cut -d. -f1,2 $TMP/r3 | uniq -c | tr '\n' ' ')"
	cmp -s $TMP/r4 $TMP/B || fail "second reader: not list B: $(cut -d. -f1,2 $TMP/r4 | uniq -c | tr '\n' ' ')"
	assert_eq "$(grep -c 172.18.0.1 $SYS/relays)" 1 "the write while both read"

	bulk relays $TMP/A
	exec 3< $SYS/relays
	page <&3 > $TMP/r3
	bulk relays $TMP/B
	sleep 11
	cat <&3 >> $TMP/r3
	exec 3<&-
	{ head -c 4096 $TMP/A; tail -c +4097 $TMP/B; } | cmp -s - $TMP/r3 ||
		fail "a reader idle for 11 s still reads the list it began with"

	awk 'BEGIN { for (i = 0; i < 20000; i++) printf "11.0.%d.%d/32\n", i / 256, i % 256 }' > $TMP/C
	bulk relays $TMP/C
	one=$("$TOOLS/readpages" 1 $SYS/relays $TMP/one) || fail "readpages 1"
	two=$("$TOOLS/readpages" 2 $SYS/relays $TMP/two) || fail "readpages 2"
	for f in $TMP/one.0 $TMP/two.0 $TMP/two.1; do
		cmp -s $f $TMP/C || fail "$f: not the list"
	done
	sys1=${one##*sys_us=}
	sys2=${two##*sys_us=}
	echo "# 20000 entries, kernel time: one reader $sys1 us ($one), two in turn $sys2 us"
	# (+100 ms: system time is counted in ticks)
	[ "$sys2" -le $((4 * sys1 + 100000)) ] ||
		fail "two readers in turn cost $sys2 us, one $sys1 us"
	expect_write OK relays "$RELAYS"
	unload
}
# page: one read() of a page from stdin, wherever its offset is.
page() { dd bs=4096 count=1 status=none; }

test_smtpblockctl() {
	ctl 4 status
	grep -q "not loaded" $TMP/ctl.err || fail "not loaded: $(cat $TMP/ctl.err)"
	load_default
	ctl 0 status
	grep -Eq "campus +2 prefixes" $TMP/ctl.out || fail "status: $(cat $TMP/ctl.out)"
	printf '# campus\n10.0.0.0/8\n\n2001:db8:c::/48 # v6\n198.18.0.0/15\n' > $TMP/good
	printf '10.0.0.0/8\n10.1.2.3/8\n' > $TMP/bad
	: > $TMP/empty-list
	ctl 0 check campus $TMP/good
	ctl 3 check campus $TMP/bad
	grep -q "$TMP/bad:2: invalid entry '10.1.2.3/8'" $TMP/ctl.err ||
		fail "check message: $(cat $TMP/ctl.err)"
	ctl 0 load campus $TMP/good
	assert_eq "$(cat $SYS/campus | tr '\n' ' ')" \
		"10.0.0.0/8 198.18.0.0/15 2001:db8:c::/48 " "campus after load"
	ctl 3 load campus $TMP/bad
	assert_eq "$(wc -l < $SYS/campus)" 3 "campus after a bad load"
	ctl 0 load relays - < $TMP/good
	ctl 0 show relays
	assert_eq "$(cat $TMP/ctl.out)" "$(cat $SYS/relays)" "show relays"
	# Someone else's load is open: busy, and theirs is left alone.
	printf campus > $SYS/bulk/begin
	ctl 6 load campus $TMP/good
	assert_eq "$(status)" "loading list=campus lines=0 entries=0" \
		"the other load"
	printf 1 > $SYS/bulk/abort
	ctl 0 add relays 192.0.2.25 2001:db8::25
	ctl 3 del relays 192.0.2.26
	grep -q "not in the list" $TMP/ctl.err || fail "del: $(cat $TMP/ctl.err)"
	assert_eq "$(grep -c 192.0.2.25 $SYS/relays)" 1 "relays after a failed del"
	ctl 0 del relays 192.0.2.25
	ctl 3 add relays 10.1.2.3/8
	ctl 0 set mode reject
	assert_eq "$(cat $SYS/mode)" reject mode
	ctl 3 set mode block
	ctl 0 set ports 25 2525
	assert_eq "$(cat $SYS/ports)" "25 2525" ports
	# report and offenders do what they say: a report in the kernel log,
	# the offender table on stdout.
	printf '%s' "$RELAYS" > $SYS/relays
	expect_probe refused cl $MX4 25
	dmesg -C
	ctl 0 report
	klog | grep -Eq '^smtpblock: report begin period=[0-9]+ offenders=1 syns=1 suppressed=0$' ||
		fail "report: $(klog | tr '\n' '|')"
	klog | grep -q "^smtpblock: offender src=$CL4 syns=1 " || fail "report: $(klog | tr '\n' '|')"
	ctl 0 offenders
	assert_eq "$(cat $TMP/ctl.out)" "$(cat $SYS/offenders)" "offenders output"
	grep -q "^src=$CL4 syns=1 " $TMP/ctl.out || fail "offenders: $(cat $TMP/ctl.out)"
	# Every documented exit code, 0 to 6, with the module loaded.
	ctl 1 load campus $TMP/missing
	ctl 3 load relays $TMP/empty-list
	ctl 2 frobnicate
	ctl 2 load campus
	"$CTL" --help > /dev/null || fail "--help"
	unshare -Ur "$CTL" set enabled 0 2> /dev/null
	assert_eq $? 5 "exit code without CAP_NET_ADMIN"
	assert_eq "$(cat $SYS/enabled)" 1 "enabled after a refused set"
	unload
}

# The boot-time script, as systemd would run it at boot and on reload.
test_apply_script() {
	mkdir -p $TMP/etc
	cat > $TMP/modprobe <<-EOF
	#!/bin/sh
	# modprobe smtpblock ARGS, for a module that is not installed
	shift
	modprobe nf_reject_ipv4 && modprobe nf_reject_ipv6 && exec insmod $KO "\$@"
	EOF
	chmod +x $TMP/modprobe
	printf '10.0.0.0/8\n2001:db8:c::/48\n' > $TMP/etc/campus.list
	printf '%s\n' $RL4 2001:db8:c:2::25 > $TMP/etc/relays.list
	cat > $TMP/etc/smtpblock.conf <<-EOF
	ENABLED=1
	MODE=drop
	PORTS=25,2525
	CAMPUS_LIST=$TMP/etc/campus.list
	RELAYS_LIST=$TMP/etc/relays.list
	REPORT_INTERVAL=600
	EOF
	export SMTPBLOCKCTL=$CTL MODPROBE=$TMP/modprobe SMTPBLOCK_LOCK=$TMP/lock
	"$APPLY" --conf $TMP/etc/smtpblock.conf > $TMP/apply.out 2>&1 ||
		fail "apply: $(cat $TMP/apply.out)"
	assert_eq "$(cat $SYS/campus | tr '\n' ' ')" "10.0.0.0/8 2001:db8:c::/48 " campus
	assert_eq "$(cat $SYS/relays | wc -l)" 2 relays
	assert_eq "$(cat $SYS/ports) $(cat $SYS/mode) $(cat $SYS/enabled)" \
		"25 2525 drop 1" settings
	assert_eq "$(cat $SYS/report_interval)" 600 report_interval
	expect_probe timeout cl $MX4 25
	expect_probe connected rl $MX4 25
	# A reload that fails validation changes nothing and says why.
	printf '%s\n' $RL4 10.1.2.3/8 > $TMP/etc/relays.list
	sed -i 's/MODE=drop/MODE=reject/' $TMP/etc/smtpblock.conf
	"$APPLY" --conf $TMP/etc/smtpblock.conf > $TMP/apply.out 2>&1
	assert_eq $? 3 "exit code of an invalid reload"
	grep -q "relays.list:2" $TMP/apply.out || fail "why: $(cat $TMP/apply.out)"
	assert_eq "$(cat $SYS/mode)" drop "mode after an invalid reload"
	assert_eq "$(cat $SYS/relays | wc -l)" 2 "relays after an invalid reload"
	echo "FLUSH_ALL=1" >> $TMP/etc/smtpblock.conf
	printf '%s\n' $RL4 > $TMP/etc/relays.list
	"$APPLY" --conf $TMP/etc/smtpblock.conf > $TMP/apply.out 2>&1
	assert_eq $? 3 "exit code with an unknown key"
	sed -i '/FLUSH_ALL/d' $TMP/etc/smtpblock.conf
	"$APPLY" --conf $TMP/etc/smtpblock.conf > $TMP/apply.out 2>&1 ||
		fail "good reload: $(cat $TMP/apply.out)"
	assert_eq "$(cat $SYS/mode) $(cat $SYS/relays)" "reject $RL4/32" "after reload"
	unset SMTPBLOCKCTL MODPROBE SMTPBLOCK_LOCK
	unload
}

# audit WHAT DETAIL COMM: the change just made left one audit line, this
# one, with the generation after $gen; stats/generation says the same.
# DETAIL: "entries=N", "value=V", ...
gen=0 naudit=0
audit_lines() { klog | grep '^smtpblock: config changed ' > $TMP/audit; }
audit() {
	local want="smtpblock: config changed what=$1 generation=$((gen + 1)) $2 uid=0 comm=$3"
	audit_lines
	assert_eq "$(wc -l < $TMP/audit)" $((naudit + 1)) "audit lines after a change of $1"
	assert_eq "$(tail -n 1 $TMP/audit)" "$want" "audit line of $1"
	gen=$((gen + 1)) naudit=$((naudit + 1))
	assert_eq "$(counter generation)" $gen "stats/generation after $1"
}
# no_audit WHAT: a refused write left no audit line, the same generation.
no_audit() {
	audit_lines
	assert_eq "$(wc -l < $TMP/audit)" $naudit "audit lines after a refused $1 write"
	assert_eq "$(counter generation)" $gen "stats/generation after a refused $1 write"
}
reached_expiry() { klog | grep -q 'what=exemptions .* via=expiry'; }

# Every kind of change leaves one audit line with the writer, and the
# generation grows by one; a refused write leaves none.
test_audit_trail() {
	local iso='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' t0 t1 me before
	# The writer's name when this shell writes (a script's own name).
	read -r me < /proc/$BASHPID/comm
	dmesg -C
	load_default
	naudit=0
	gen=$(counter generation)
	assert_eq "$gen" 1 "generation at load"
	t0=$(sysval stats/changed_at)
	[[ $t0 =~ $iso ]] || fail "changed_at at load: $t0"
	# (a second later: the first change must move changed_at)
	sleep 1.1
	printf 0 > $SYS/enabled
	audit enabled value=0 "$me"
	ctl 0 set enabled 1
	audit enabled value=1 smtpblockctl
	ctl 0 set mode reject
	audit mode value=reject smtpblockctl
	ctl 0 set ports 587 25 2525
	audit ports value=25,587,2525 smtpblockctl
	ctl 0 set ports 25
	audit ports value=25 smtpblockctl
	printf '%s\n' 10.0.0.0/8 2001:db8:c::/48 10.99.0.0/16 > $TMP/campus
	ctl 0 load campus $TMP/campus
	audit campus "entries=3 via=bulk" smtpblockctl
	ctl 0 add relays 192.0.2.25
	audit relays entries=5 smtpblockctl
	ctl 0 set offenders_max 1000
	audit offenders_max value=1000 smtpblockctl
	printf '%s\n' "+$CL4 for=3600 note=INC-1" > $TMP/write && cat $TMP/write > $SYS/exemptions
	audit exemptions entries=1 cat
	printf '%s\n' $RL4 $RL6 192.0.2.25 192.0.2.26 > $TMP/relays
	bulk relays $TMP/relays || fail "bulk relays"
	audit relays "entries=4 via=bulk" "$me"
	printf '%s\n' "$CL4 for=3600" "10.0.1.3 for=3600" > $TMP/ex
	bulk exemptions $TMP/ex || fail "bulk exemptions"
	audit exemptions "entries=2 via=bulk" "$me"
	# An expiry: its line follows the grant's (checked once both are
	# there: a slow kernel may expire it before a check in between).
	printf '%s\n' "+10.0.1.4 for=2" > $TMP/write && cat $TMP/write > $SYS/exemptions
	wait_until 10 reached_expiry || fail "no audit line for the expiry"
	audit_lines
	assert_eq "$(tail -n 2 $TMP/audit | head -n 1)" \
		"smtpblock: config changed what=exemptions generation=$((gen + 1)) entries=3 uid=0 comm=cat" \
		"audit line of the short grant"
	gen=$((gen + 1)) naudit=$((naudit + 1))
	audit exemptions "entries=2 via=expiry" "$(klog | sed -n 's/.*via=expiry uid=0 comm=//p')"
	# The writer's name is one word, whatever it calls itself.
	ln -s "$CTL" "$TMP/sb ctl=x"
	before=$(date -u +%s)
	"$TMP/sb ctl=x" set mode drop || fail "smtpblockctl by another name"
	audit mode value=drop "sb_ctl_x"
	t1=$(sysval stats/changed_at)
	[[ $t1 =~ $iso ]] || fail "changed_at: $t1"
	[ "$(date -u -d "$t1" +%s)" -gt "$(date -u -d "$t0" +%s)" ] ||
		fail "changed_at $t1 did not move from the load's $t0"
	[ "$(date -u -d "$t1" +%s)" -ge "$before" ] ||
		fail "changed_at $t1 is before the last change (at $before or later)"
	# Refused writes: no line, the same generation.
	nlines=$(klog | grep -c 'config changed')
	expect_write EINVAL mode bogus
	no_audit mode
	expect_write EINVAL campus 10.1.2.3/8
	no_audit campus
	expect_write EINVAL offenders_max 0
	no_audit offenders_max
	printf 1 > $SYS/report
	no_audit report
	unload
}

# smtpblockctl metrics on the real module: promtool's check, the values
# that known traffic made; nothing and exit 4 once the module is gone.
test_metrics() {
	local want
	load_default
	on cl "$TOOLS/pktcraft" send --dst $MX4 --count 3 || fail "send from cl"
	on cl "$TOOLS/pktcraft" send --dst $MX4 --dport 80 --frag-offset 1 || fail "send a fragment"
	on rl "$TOOLS/pktcraft" send --dst $MX4 --count 2 || fail "send from rl"
	settle
	ctl 0 metrics
	cp $TMP/ctl.out $TMP/metrics
	promtool check metrics < $TMP/metrics > $TMP/promtool 2>&1 ||
		fail "promtool check metrics: $(tr '\n' ' ' < $TMP/promtool)"
	for want in 'smtpblock_syns_total{class="blocked"} 4' \
		'smtpblock_syns_total{class="allowed_relay"} 2' \
		'smtpblock_syns_total{class="allowed_external"} 0' \
		'smtpblock_blocked_total{action="drop"} 4' \
		'smtpblock_blocked_total{action="monitor"} 0' \
		'smtpblock_hidden_total{reason="offset_8"} 1' \
		'smtpblock_hidden_total{reason="cut_before_flags"} 0' \
		'smtpblock_offenders 1' 'smtpblock_list_entries{list="campus"} 2' \
		'smtpblock_list_entries{list="relays"} 4' 'smtpblock_exemptions 0' \
		'smtpblock_enabled 1' 'smtpblock_mode{mode="drop"} 1' \
		'smtpblock_mode{mode="reject"} 0' 'smtpblock_watched_port{port="25"} 1' \
		'smtpblock_config_generation 1' \
		"smtpblock_build_info{version=\"$(cat $HERE/../VERSION)\",kernel=\"$(uname -r)\"} 1"; do
		grep -qxF "$want" $TMP/metrics || fail "no line '$want'"
	done
	grep -qE "^smtpblock_memory_bytes [1-9][0-9]*$" $TMP/metrics || fail "memory_bytes"
	grep -qE "^smtpblock_config_changed_timestamp_seconds $(date +%s | cut -c1-7)[0-9]{3}$" $TMP/metrics ||
		fail "changed timestamp: $(grep changed_timestamp $TMP/metrics)"
	unload
	ctl 4 metrics
	[ ! -s $TMP/ctl.out ] || fail "metrics printed without the module: $(head -n 1 $TMP/ctl.out)"
}

ALL_TESTS="bulk_basic bulk_large bulk_errors bulk_concurrent bulk_abandoned
bulk_timeout_sysfs bulk_load_ids list_entries list_limit bulk_atomic_under_load
read_consistent read_readers smtpblockctl apply_script audit_trail metrics"
run_suite ${*:-$ALL_TESTS}
