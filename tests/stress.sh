#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# smtpblock stress, fault and packet-fuzz tests (VM suite; the topology
# of tests/smtpblock.sh). On the stock kernel they prove the module stays
# correct under load; on the debug kernel (make check-debug: KASAN,
# lockdep, PROVE_RCU, kmemleak, panic_on_warn) the same runs are where a
# race or a leak would show. The rig fails the run on any kernel warning.
#
#   churn_under_flood   SYN floods (IPv4 and IPv6, many sources, watched
#                       and unwatched) while lists are replaced thousands
#                       of times, every readable sysfs file is read in a
#                       loop, mode and ports change and reports fire; the
#                       counters add up exactly once the traffic stops
#   load_unload_loop    insmod/rmmod 100 times under traffic, with a reader
#                       holding sysfs files open across the unloads
#   alloc_failures      (needs fault injection: the debug kernel) every
#                       allocation of a list write, a bulk load and a
#                       resize failed in turn: each write fails cleanly
#                       or succeeds whole; the old configuration stays
#   packet_fuzz         random mutations of SYNs (flags, ports, IPv4
#                       options, IPv6 extension chains, fragment offsets,
#                       truncations): no watched SYN from a non-relay
#                       campus host reaches the outside
#
# Usage: tests/stress.sh [-k smtpblock.ko] [TEST...]
# STRESS_ROUNDS (default 1000, scaled by SMTPBLOCK_TEST_SCALE, see lib.sh)
# sets the rounds of churn_under_flood, each replacing both lists;
# SMTPBLOCK_DEBUG_KERNEL=1 (set by make check-debug) makes a missing
# fault-injection facility a failure instead of a skip.

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
KO=$HERE/../smtpblock.ko

if [ "${1:-}" = "-k" ]; then
	KO=$2
	shift 2
fi

. "$HERE/lib.sh"

STRESS_ROUNDS=${STRESS_ROUNDS:-$(scaled 1000)}
DEBUGFS=/sys/kernel/debug

# flood [PAUSE]: SYNs from 1000 campus sources, IPv4 and IPv6, to port
# 25 and 443 (IPv4 from 10.5.0.0 up: plain campus hosts, none of them a
# relay, a router address or a subnet's broadcast, which the router would
# drop as martian before our hook), in rounds of 2000 packets, PAUSE seconds apart (default 0),
# until stopped. One sender at a time: under TCG the guest's two CPUs are
# the bottleneck, and the churn must run too. After each round the
# number of port-25 SYNs sent so far is in $TMP/sent-flood (sent flood).
flood() {
	local dst port src n=0 nscl
	nscl=$(ns cl)
	echo 0 > "$TMP/sent-flood"
	while ! stopped; do
		for dst in $MX4 $MX6; do
			src=""
			[ $dst = $MX4 ] && src="--src 10.5.0.0"
			for port in 25 443; do
				# shellcheck disable=SC2086  # $src: none or two words
				ip netns exec "$nscl" "$TOOLS/pktcraft" send --dst $dst $src \
					--dport $port --vary-src 1000 --count 2000 > /dev/null ||
					{ bg_error "flood: pktcraft send to $dst:$port failed"; return; }
				[ $port = 25 ] && n=$((n + 2000)) && echo $n > "$TMP/sent-flood"
				nap "${1:-0}"
			done
		done
	done
}

# Both versions keep the relay and the client's campus net, so the
# traffic's classes do not depend on which one is in force.
replace_lists() {
	local i=$1
	if [ $((i % 2)) = 0 ]; then
		printf '%s' "$RELAYS,192.0.2.$((i % 250 + 1))" > $SYS/relays || return 1
		printf '%s' "flush +10.0.0.0/8 +2001:db8:c::/48 +100.64.0.0/10" > $SYS/campus
	else
		printf '%s' "$RELAYS" > $SYS/relays || return 1
		printf '%s' "$CAMPUS" > $SYS/campus
	fi
}

# Every readable file, whole; a read that fails is an error.
read_all_files() {
	local f
	for f in $(find $SYS -type f -perm -0400); do
		cat "$f" > /dev/null || return 1
	done
}

switch_settings() {
	local m
	for m in reject monitor drop; do
		echo $m > $SYS/mode && echo "25 587" > $SYS/ports &&
			echo 25 > $SYS/ports || return 1
	done
	echo 1 > $SYS/report
}

# The flood is the only traffic: port 25 from campus sources to outside
# (blocked, whatever the mode, lists and ports of the moment: each
# version keeps 10/8 and port 25) and port 443 (not watched). So every SYN
# the router saw is blocked, as many as flood sent less what the receive
# backlogs dropped, and no other class grows.
test_churn_under_flood() {
	local pids i t0=$SECONDS writes=0 drops seen_before seen_during
	[ "$STRESS_ROUNDS" -gt 0 ] 2> /dev/null ||
		{ fail "STRESS_ROUNDS='$STRESS_ROUNDS' is not a count"; return; }
	load_default log_burst=2 report_interval=1
	snap
	drops=$(backlog_drops)
	flood &
	pids="$!"
	until_stopped reads read_all_files &
	pids+=" $!"
	until_stopped switch switch_settings &
	pids+=" $!"
	wait_until 30 counter_above syn_seen 0 || fail "no SYN seen before the churn"
	seen_before=$(counter syn_seen)
	for i in $(seq "$STRESS_ROUNDS"); do
		if replace_lists "$i"; then
			writes=$((writes + 2))
		else
			fail "list replacement $i"
		fi
	done
	seen_during=$(($(counter syn_seen) - seen_before))
	stop_background
	wait $pids
	settle
	drops=$(($(backlog_drops) - drops))
	assert_eq $writes $((2 * STRESS_ROUNDS)) "list writes"
	echo "# $writes list writes in $((SECONDS - t0)) s, with" \
		"$(runs reads) passes over every file and $(runs switch) rounds of" \
		"mode/ports/report; $(sent flood) SYNs to port 25 sent, $seen_during" \
		"seen during the writes, $drops dropped by the backlogs"
	# The race happened: traffic, reads and switches overlapped the writes.
	assert [ "$seen_during" -gt 0 ]
	assert [ "$(runs reads)" -gt 0 ]
	assert [ "$(runs switch)" -gt 0 ]
	expect_delta allowed_external 0
	expect_delta allowed_internal 0
	expect_delta allowed_relay 0
	local blocked=$(counter blocked)
	[ "$blocked" -le "$(sent flood)" ] && [ "$blocked" -ge $(($(sent flood) - drops)) ] ||
		fail "blocked $blocked, sent $(sent flood) less $drops dropped"
	counters_add_up
	echo drop > $SYS/mode
	expect_probe timeout cl $MX4 25
	expect_probe connected rl $MX4 25
	unload
}

# A reader that keeps sysfs files open while the module comes and goes:
# reads a piece, waits, reads on. Reads fail once the module is gone;
# what matters is that nothing breaks.
hold_files_open() {
	local held=0
	while ! stopped; do
		{
			exec 7< $SYS/campus 8< $SYS/offenders 9< $SYS/stats/syn_seen &&
				held=$((held + 1))
			read -r -N 16 _ <&7
			read -r -N 16 _ <&8
			nap 0.2
			while read -r _; do :; done <&7
			read -r _ <&9
			exec 7<&- 8<&- 9<&-
		} > /dev/null 2>&1
	done
	echo $held > "$TMP/runs-held"
}

# 100 cycles in the stock lane; the other lanes scale them down (their
# kernels' differences are in compat.h, the debug kernel's checks see each
# path on its first pass).
test_load_unload_loop() {
	local i pids loads=0 overlapped=0 cycles sent0 t0=$SECONDS
	cycles=$(scaled 100)
	hold_files_open &
	pids=$!
	# Traffic that flows, without starving the loads of CPU.
	flood 0.2 &
	pids+=" $!"
	wait_for_file "$TMP/sent-flood"
	for i in $(seq "$cycles"); do
		sent0=$(sent flood)
		load_default && loads=$((loads + 1))
		[ $((i % 10)) = 0 ] && echo 1 > $SYS/report
		unload
		[ "$(sent flood)" = "$sent0" ] || overlapped=$((overlapped + 1))
		[ $((i % 25)) = 0 ] && echo "# $i loads and unloads in $((SECONDS - t0)) s"
	done
	stop_background
	wait $pids
	echo "# $loads loads, $overlapped of them while the flood sent;" \
		"files held open $(runs held) times"
	assert_eq $loads "$cycles" "successful loads"
	# The race happened: packets were sent around at least a tenth of
	# the cycles (the flood pauses 0.2 s after each 2000 SYNs, so that
	# the loads get CPU; with 0.5 s, 16 to 23 of 100 cycles, measured).
	assert [ $((10 * overlapped)) -ge "$cycles" ]
	assert [ "$(runs held)" -gt 0 ]
	assert lsmod_without_smtpblock
	load_default || fail "load after the loop"
	expect_probe timeout cl $MX4 25
	unload
}

# fault_setup: fail-nth makes exactly the Nth faultable call fail; the
# slab and page allocators must count GFP_KERNEL calls too, and stay
# silent (their reports look like warnings to the rig).
fault_setup() {
	local f
	for f in failslab fail_page_alloc; do
		echo N > $DEBUGFS/$f/ignore-gfp-wait || return 1
		echo 0 > $DEBUGFS/$f/verbose || return 1
	done
	echo N > $DEBUGFS/fail_page_alloc/ignore-gfp-highmem
	echo 0 > $DEBUGFS/fail_page_alloc/min-order
}

# fail_each FILE TEXT PREPARE CHECK_OLD CHECK_NEW: writes TEXT to FILE
# with the 1st, 2nd, ... faultable call of the write failing, until the
# write runs out of calls to fail; PREPARE sets the old state up before
# each try. A write that failed must leave the old state (CHECK_OLD), one
# that succeeded the new one (CHECK_NEW). Sets FAULTS to the number of
# faults. Not called in $(...): its fail() must reach the test.
fail_each() {
	local file=$1 text=$2 prepare=$3 check_old=$4 check_new=$5 n out
	FAULTS=0
	for n in $(seq 1 400); do
		$prepare || { fail "$file: $prepare failed before fault $n"; return; }
		out=$("$TOOLS/failnth" $n "$file" "$text") ||
			{ fail "failnth $n $file"; return; }
		case $out in
		"injected=1 result=OK")
			$check_new || fail "$file: fault $n injected, write OK, new state wrong"
			;;
		injected=1*)
			$check_old || fail "$file: fault $n made the write fail ($out), old state gone"
			;;
		"injected=0 result=OK")
			$check_new || fail "$file: write without fault, new state wrong"
			FAULTS=$((n - 1))
			return
			;;
		*)
			fail "$file: no fault injected and write $n failed: $out"
			return
			;;
		esac
	done
	fail "$file: still injecting after 400 faults"
}

NEW_RELAYS="10.0.2.25/32,10.9.0.0/16,2001:db8:c:2::25/128,"
relays_now() { cat $SYS/relays | tr '\n' ,; }
relays_old() { [ "$(relays_now)" = "$RL4/32,$RL6/128," ]; }
relays_new() { [ "$(relays_now)" = "$NEW_RELAYS" ]; }
relays_restore() { printf '%s' "$RL4,$RL6" > $SYS/relays; }
max_old() { [ "$(cat $SYS/offenders_max)" = 4096 ]; }
max_new() { [ "$(cat $SYS/offenders_max)" = 65536 ]; }
max_restore() { echo 4096 > $SYS/offenders_max; }
bulk_begin() {
	echo 1 > $SYS/bulk/abort && relays_restore && echo relays > $SYS/bulk/begin
}
# After a failed data write the load may be marked failed or go on: the
# list in force is what matters.
staged_old() { relays_old; }
staged_new() { relays_old && grep -q '^loading list=relays lines=3 entries=3 id=' $SYS/bulk/status; }
bulk_staged() { bulk_begin && printf '%s\n' $RL4 10.9.0.0/16 $RL6 > $SYS/bulk/data; }
committed_old() { relays_old; }
committed_new() { relays_new && grep -qx idle $SYS/bulk/status; }

test_alloc_failures() {
	if [ ! -e /proc/thread-self/fail-nth ] || [ ! -d $DEBUGFS/failslab ]; then
		if [ "${SMTPBLOCK_DEBUG_KERNEL:-}" = 1 ]; then
			fail "no fault injection in the debug kernel"
		else
			skip="no fault injection in this kernel (make check-debug has it)"
		fi
		return
	fi
	fault_setup || { fail "cannot configure failslab/fail_page_alloc"; return; }
	load campus="$CAMPUS" relays="$RL4,$RL6" || { fail "load"; return; }
	fail_each $SYS/relays "+10.9.0.0/16" relays_restore relays_old relays_new
	echo "# relays write: $FAULTS allocations failed in turn"
	assert [ $FAULTS -ge 1 ]
	fail_each $SYS/offenders_max 65536 max_restore max_old max_new
	echo "# offenders_max resize: $FAULTS allocations failed in turn"
	assert [ $FAULTS -ge 1 ]
	fail_each $SYS/bulk/data "$RL4
10.9.0.0/16
$RL6
" bulk_begin staged_old staged_new
	echo "# bulk data: $FAULTS allocations failed in turn"
	assert [ $FAULTS -ge 1 ]
	fail_each $SYS/bulk/commit 1 bulk_staged committed_old committed_new
	echo "# bulk commit: $FAULTS allocations failed in turn"
	assert [ $FAULTS -ge 1 ]
	# The module still does its job.
	relays_restore
	expect_probe timeout cl $MX4 25
	expect_probe connected rl $MX4 25
	counters_add_up
	unload
}

# One random mutation of a SYN; sets FAM (4 or 6), ARGS (pktcraft
# options, without addresses) and MUST (1: a receiver could read this
# packet as a SYN to port 25, so from the campus client to the MX it must
# not arrive). The oracle is computed from what was asked for, not by
# parsing the packet.
mutate() {
	local flags dport off k ext="" optlen reps shape fraglen
	FAM=$((RANDOM % 2 * 2 + 4))
	pick flags syn syn syn,fin syn,psh,urg,ece,cwr syn,ack ack none syn,ece
	pick dport 25 25 25 587 80
	ARGS="--flags $flags --dport $dport"
	if [ $FAM = 4 ]; then
		[ $((RANDOM % 3)) = 0 ] && pick optlen 4 8 20 40 &&
			ARGS+=" --ip-options $optlen"
	else
		for k in hbh dst rt ah; do
			[ $((RANDOM % 3)) = 0 ] && ext+="${ext:+,}$k"
		done
		[ $((RANDOM % 4)) = 0 ] && ext+="${ext:+,}dst" &&
			pick reps 2 8 31 32 33 40 && ARGS+=" --ext-repeat $reps"
		[ -n "$ext" ] && ARGS+=" --ext $ext"
	fi
	k=20 off=0
	pick shape none none first later truncated
	case $shape in
	first)
		ARGS+=" --more-fragments"
		pick k 20 14 13 8 2 0
		[ $k = 20 ] || ARGS+=" --tcp-bytes $k"
		;;
	later)
		pick off 1 1 2 3
		pick fraglen 8 16
		ARGS+=" --frag-offset $off --frag-len $fraglen"
		[ $((RANDOM % 2)) = 0 ] && ARGS+=" --more-fragments"
		;;
	truncated)
		pick k 14 13 8 2 0
		ARGS+=" --tcp-bytes $k"
		;;
	esac
	MUST=0
	case ,$flags, in *,ack,*) return ;; *,syn,*) ;; *) return ;; esac
	# Port (bytes 2-3) and flags (byte 13) both in this packet; or a
	# fragment at offset 8 whose bytes rewrite the flags of the first.
	if { [ $off = 0 ] && [ $k -ge 14 ] && [ $dport = 25 ]; } || [ $off = 1 ]; then
		MUST=1
	fi
}
# pick VAR CHOICE...: VAR gets one of the choices. In this shell, not in a
# $(...) subshell: a subshell reseeds RANDOM (FUZZ_SEED would not replay
# the run) and costs a fork.
pick() {
	local -n pick_var=$1
	shift
	shift $((RANDOM % $#))
	pick_var=$1
}

# Each of 150 mutations is sent three times, 3 packets each, in one batch
# per sending host: from the campus client to the MX (mark i: none may
# arrive when MUST), from the relay to the MX (mark 1000 + i) and from the
# client to the campus relay's address (internal, mark 2000 + i): those
# two must all arrive. A sniffer at the MX and one at the relay count
# every mark apart and stop at the fences that end the batches.
FUZZ_CASES=150
test_packet_fuzz() {
	local i must=0 others=0 mark seed=${FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}
	local pmx prl dst count
	local -A at_mx=() at_rl=() must_not=() line=()
	RANDOM=$seed
	echo "# FUZZ_SEED=$seed (FUZZ_SEED=$seed tests/stress.sh packet_fuzz replays it)"
	load_default
	snap
	: > "$TMP/fuzz-cl" && : > "$TMP/fuzz-rl"
	for i in $(seq $FUZZ_CASES); do
		mutate
		[ $FAM = 4 ] && dst=$MX4 || dst=$MX6
		line[$i]="$ARGS --dst $dst"
		echo "$ARGS --dst $dst --vary-src 50 --count 3 --mark $i" >> "$TMP/fuzz-cl"
		echo "$ARGS --dst $dst --count 3 --mark $((1000 + i))" >> "$TMP/fuzz-rl"
		[ $FAM = 4 ] && dst=$RL4 || dst=$RL6
		echo "$ARGS --dst $dst --vary-src 50 --count 3 --mark $((2000 + i))" >> "$TMP/fuzz-cl"
		if [ $MUST = 1 ]; then
			must_not[$i]=1 must=$((must + 3))
		else
			others=$((others + 3))
		fi
	done
	echo "--dst $MX4 --flags syn,ack --dport 80 --mark $FENCE" >> "$TMP/fuzz-cl"
	echo "--dst $RL4 --flags syn,ack --dport 80 --mark $FENCE" >> "$TMP/fuzz-cl"
	echo "--dst $MX4 --flags syn,ack --dport 80 --mark $FENCE" >> "$TMP/fuzz-rl"
	rm -f "$TMP"/fuzz-*.ready
	on mx "$TOOLS/pktcraft" sniff -i eth0 -t 120000 --marks 1-$((1000 + FUZZ_CASES)) \
		--fence $FENCE --fences 2 -r "$TMP/fuzz-mx.ready" > "$TMP/fuzz-mx.out" &
	pmx=$!
	on rl "$TOOLS/pktcraft" sniff -i eth0 -t 120000 --marks 2001-$((2000 + FUZZ_CASES)) \
		--fence $FENCE -r "$TMP/fuzz-rl.ready" > "$TMP/fuzz-rl.out" &
	prl=$!
	wait_for_file "$TMP/fuzz-mx.ready" && wait_for_file "$TMP/fuzz-rl.ready" ||
		fail "sniffers not ready"
	on cl "$TOOLS/pktcraft" batch "$TMP/fuzz-cl" > /dev/null || fail "pktcraft batch from cl"
	on rl "$TOOLS/pktcraft" batch "$TMP/fuzz-rl" > /dev/null || fail "pktcraft batch from rl"
	wait $pmx || fail "sniffer at the MX: exit $?"
	wait $prl || fail "sniffer at the relay: exit $?"
	while read -r mark count; do at_mx[$mark]=$count; done < "$TMP/fuzz-mx.out"
	while read -r mark count; do at_rl[$mark]=$count; done < "$TMP/fuzz-rl.out"
	for i in $(seq $FUZZ_CASES); do
		count=${at_mx[$i]:-0}
		if [ -n "${must_not[$i]:-}" ] && [ "$count" != 0 ]; then
			fail "case $i leaked $count of 3 to the MX: ${line[$i]}"
		fi
		[ "${at_mx[$((1000 + i))]:-0}" = 3 ] ||
			fail "case $i from the relay: ${at_mx[$((1000 + i))]:-0} of 3 arrived: ${line[$i]}"
		[ "${at_rl[$((2000 + i))]:-0}" = 3 ] ||
			fail "case $i to an internal address: ${at_rl[$((2000 + i))]:-0} of 3 arrived: ${line[$i]}"
	done
	local blocked=$(($(counter blocked) - before[blocked]))
	echo "# $must must-not-arrive packets, $others others from the client; blocked +$blocked"
	[ $blocked -ge $must ] && [ $blocked -le $((must + others)) ] ||
		fail "blocked grew by $blocked: at least $must, at most $((must + others))"
	counters_add_up
	unload
}

ALL_TESTS="churn_under_flood load_unload_loop alloc_failures packet_fuzz"
run_suite ${*:-$ALL_TESTS}
