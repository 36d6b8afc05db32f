# SPDX-License-Identifier: GPL-2.0
#
# The test topology, helpers and the KTAP runner, shared by the VM suites
# (tests/smtpblock.sh, tests/reports.sh) and tests/demo.sh. See the picture
# at the top of smtpblock.sh. Callers set KO (the module to load).

TOOLS=$HERE/tools
KSFT_SKIP=4
SYS=/sys/kernel/smtpblock
RND=$(mktemp -u XXXXXX)
TMP=$(mktemp -d)
CAMPUS="10.0.0.0/8,2001:db8:c::/48"
RELAYS="10.0.2.25,2001:db8:c:2::25,203.0.113.25,2001:db8:e:2::25"
CL4=10.0.1.2 CL6=2001:db8:c:1::2
RL4=10.0.2.25 RL6=2001:db8:c:2::25
MX4=198.51.100.25 MX6=2001:db8:e:1::25
SH4=203.0.113.25 SH6=2001:db8:e:2::25
# Under 1 s, the first SYN retransmission: a blocked probe sends one SYN.
BLOCKED_MS=700
OPEN_MS=5000
# The mark of fences: packets sent after those under test (pktcraft sniff).
FENCE=0x4f4f
STATS="syn_seen allowed_external allowed_internal allowed_relay blocked dropped rejected monitored"

ns() { echo "$1-$RND"; }
# on HOST CMD...: runs CMD in HOST's namespace ("router": here).
on() {
	local h=$1
	shift
	if [ "$h" = router ]; then
		"$@"
	else
		ip netns exec "$(ns "$h")" "$@"
	fi
}
# Prints, then runs: the log shows what was done.
pp() { echo "# $*"; "$@"; }

# sysval FILE: the first line of $SYS/FILE. A builtin, not cat: under TCG
# every fork+exec costs about 0.15 s on the stock kernel and 0.7 s on the
# debug one, and the tests read counters and states often.
sysval() {
	local v
	read -r v < "$SYS/$1"
	echo "$v"
}
counter() { sysval "stats/$1"; }
counter_above() { [ "$(counter "$1")" -gt "$2" ]; }

# probe TIMEOUT_MS HOST [-b SRC] ADDR PORT: connected, refused, timeout...
probe() {
	local t=$1 h=$2
	shift 2
	on "$h" "$TOOLS/tcpprobe" connect -t "$t" "$@" | cut -d' ' -f1
}

# insmod does not resolve dependencies: setup() loads nf_reject_ipv4/6.
load() { insmod "$KO" "$@"; }
load_default() { load campus="$CAMPUS" relays="$RELAYS" "$@"; }
unload() { rmmod smtpblock 2>/dev/null; true; }

# scaled N: N repetitions, times SMTPBLOCK_TEST_SCALE percent (default
# 100; at least 1). The debug lane runs the same tests on a kernel about
# four times slower and sets it lower: the sanitizers see each path on its
# first pass, the many repetitions are for races, which the stock lanes
# hunt at full count.
scaled() {
	local n=$(($1 * ${SMTPBLOCK_TEST_SCALE:-100} / 100))
	echo $((n > 0 ? n : 1))
}

# nap SECONDS: sleep without a new process (see counter): read's timeout
# on a FIFO that nobody writes.
mkfifo "$TMP/nap" && exec {NAP_FD}<> "$TMP/nap"
nap() { read -r -t "$1" -u "$NAP_FD" _; true; }

# wait_until SECONDS CMD...: polls CMD every 0.2 s.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		nap 0.2
	done
}

# Background loops (senders, writers, readers) run until $TMP/stop exists
# and report their failures with bg_error: run_suite fails the test that
# started them, with the messages. A loop's own fail() would be lost in
# its subshell.
bg_error() { echo "$*" >> "$TMP/bg-errors"; }
stop_background() { touch "$TMP/stop"; }
stopped() { [ -e "$TMP/stop" ]; }

# send_until_stopped NAME HOST ARGS...: pktcraft send ARGS (which must
# hold --count N) from HOST again and again until stopped; the packets
# sent so far are in $TMP/sent-NAME when the loop ends (sent NAME).
send_until_stopped() {
	local name=$1 netns n=0 args count
	netns=$(ns "$2")
	shift 2
	args=" $* " count=${args##* --count } count=${count%% *}
	echo 0 > "$TMP/sent-$name"
	while ! stopped; do
		if ip netns exec "$netns" "$TOOLS/pktcraft" send "$@" > /dev/null; then
			n=$((n + count))
			echo $n > "$TMP/sent-$name"
		else
			bg_error "pktcraft send $* from $netns failed"
			break
		fi
		[ -z "${SEND_PAUSE:-}" ] || nap "$SEND_PAUSE"
	done
	echo $n > "$TMP/sent-$name"
}
# (A writer's `echo N > FILE` truncates first: an empty read is retried,
# for a while: a loop that never wrote its count reads as empty.)
count_file() {
	local n="" i
	for ((i = 0; i < 100; i++)); do
		read -r n < "$1" 2> /dev/null
		[ -n "$n" ] && break
	done
	echo "$n"
}
sent() { count_file "$TMP/sent-$1"; }

# until_stopped NAME CMD...: runs CMD again and again until stopped; the
# number of runs so far is in $TMP/runs-NAME (runs NAME). A run that
# fails is an error of the test.
until_stopped() {
	local name=$1 n=0
	shift
	echo 0 > "$TMP/runs-$name"
	while ! stopped; do
		"$@" > /dev/null 2> "$TMP/err-$name" ||
			{ bg_error "$name: $* failed: $(head -c 300 "$TMP/err-$name")"; break; }
		n=$((n + 1))
		echo $n > "$TMP/runs-$name"
	done
}
runs() { count_file "$TMP/runs-$1"; }

# The packets that the kernel's receive backlogs dropped (all CPUs; the
# second column of softnet_stat, hex): the only place where a flood of
# SYNs through veth can lose packets before our hook sees them.
backlog_drops() {
	local line f n=0
	while read -r line; do
		f=${line#* } f=${f%% *}
		n=$((n + 16#$f))
	done < /proc/net/softnet_stat
	echo $n
}

wait_for_file() {
	local i
	for i in $(seq 200); do
		[ -e "$1" ] && return 0
		nap 0.05
	done
	return 1
}

# link HOST V4NET V6NET ID: a veth from the router to namespace HOST.
link() {
	local h=$1 n4=$2 n6=$3 id=$4
	ip netns add "$(ns "$h")" &&
	on "$h" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 &&
	ip link add "r_$h" type veth peer name eth0 netns "$(ns "$h")" &&
	ip addr add "$n4.1/24" dev "r_$h" &&
	ip addr add "$n6::1/64" dev "r_$h" nodad &&
	ip link set "r_$h" up &&
	on "$h" ip link set lo up &&
	on "$h" ip link set eth0 up &&
	on "$h" ip addr add "$n4.$id/24" dev eth0 &&
	on "$h" ip addr add "$n6::$id/64" dev eth0 nodad &&
	on "$h" ip route add default via "$n4.1" &&
	on "$h" ip -6 route add default via "$n6::1"
}

# listen HOST ADDR PORT...: a listener that accepts and closes, until cleanup.
listen() {
	local h=$1 addr=$2
	shift 2
	# Not through on(): a backgrounded function is a subshell, whose
	# death would leave the listener holding our stdout open.
	ip netns exec "$(ns "$h")" "$TOOLS/tcpprobe" listen \
		-r "$TMP/$h-$addr.ready" "$addr" "$@" &
	wait_for_file "$TMP/$h-$addr.ready"
}

# The kernel's netfilter hook static keys (nf_hooks_needed) flip when the
# first hook of a family and point is registered and the last one goes.
# Under QEMU TCG with two vCPUs that patching of the kernel's own code
# kills the guest now and then with "Oops: int3" at a 2-byte NOP in the IP
# output or forward path, when the other vCPU is sending: seen on 7.2
# with nft base chains alone (no smtpblock), and on 6.12 during an rmmod
# of smtpblock under traffic (unload_while_traffic). So every suite holds
# one nftables base chain (no rules: accepts all) on each of our hook
# points from setup to cleanup, as any router with a firewall does: the
# keys stay on, and each insmod/rmmod still adds and removes our hooks.
keys_on() {
	nft -f - <<-EOF
	table inet $KEYS_TABLE {
		chain f { type filter hook forward priority 0; }
		chain o { type filter hook output priority 0; }
	}
	EOF
}
KEYS_TABLE=sb_keys_on_$RND
keys_off() { nft delete table inet "$KEYS_TABLE" 2>/dev/null; true; }

setup() {
	keys_on &&
	modprobe -q nf_reject_ipv4 && modprobe -q nf_reject_ipv6 &&
	sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 &&
	sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 &&
	# Tests send from many (spoofed) campus sources through r_cl.
	sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 &&
	link cl 10.0.1 2001:db8:c:1 2 &&
	link rl 10.0.2 2001:db8:c:2 25 &&
	link mx 198.51.100 2001:db8:e:1 25 &&
	link sh 203.0.113 2001:db8:e:2 25 &&
	listen mx $MX4 25 587 2525 && listen mx $MX6 25 587 2525 &&
	listen sh $SH4 25 && listen sh $SH6 25 &&
	listen rl $RL4 25 && listen rl $RL6 25
}

cleanup() {
	local h
	unload
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	for h in cl rl mx sh; do
		ip netns pids "$(ns "$h")" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$(ns "$h")" 2>/dev/null
		ip link del "r_$h" 2>/dev/null
	done
	keys_off
	rm -rf "$TMP"
}

# ---------------------------------------------------------------- harness

fail=0
# A test that cannot run here sets skip=REASON and returns (KTAP SKIP).
skip=""
# Our kernel log lines, without timestamps.
klog() { dmesg | sed -n 's/^\[[^]]*\] //p' | grep '^smtpblock: '; }

# ctl EXPECTED_RC ARGS...: smtpblockctl ($CTL, set by the suite)'s exit
# code, and its stdout and stderr kept in $TMP/ctl.out, $TMP/ctl.err.
ctl() {
	local want=$1 rc
	shift
	"$CTL" "$@" > $TMP/ctl.out 2> $TMP/ctl.err
	rc=$?
	[ $rc -eq "$want" ] || fail "smtpblockctl $* -> $rc, want $want: $(cat $TMP/ctl.err)"
}

# Records a failed expectation; the test goes on so that all show.
fail() { echo "# FAIL: $*"; fail=1; }
assert() { "$@" || fail "$*"; }
assert_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }

# expect_probe RESULT HOST [-b SRC] ADDR PORT
expect_probe() {
	local want=$1 got t=$OPEN_MS
	shift
	[ "$want" = timeout ] && t=$BLOCKED_MS
	got=$(probe "$t" "$@")
	[ "$got" = "$want" ] || fail "$* -> $got, want $want"
}

# Snapshot of all counters, to compare deltas.
declare -A before
snap() { local s; for s in $STATS; do before[$s]=$(counter "$s"); done; }
# expect_delta NAME N: counter NAME grew by exactly N since snap.
expect_delta() {
	local d=$(($(counter "$1") - before[$1]))
	[ "$d" -eq "$2" ] || fail "stats/$1 grew by $d, want $2"
}
# settle: waits until syn_seen has stopped changing (0.4 s without a
# change). A sender's exit does not mean the router has seen its last
# packet: veth hands each one to a backlog that the receiving CPU drains
# later, and on the debug kernel that takes a while. Counts that must be
# exact are read at rest.
settle() {
	local last now quiet=0 i
	last=$(counter syn_seen)
	for i in $(seq 75); do
		nap 0.2
		now=$(counter syn_seen)
		if [ "$now" = "$last" ]; then
			quiet=$((quiet + 1))
			[ $quiet -ge 2 ] && return 0
		else
			quiet=0 last=$now
		fi
	done
	fail "syn_seen still changing after 15 s: is traffic still flowing?"
}

# The documented identities between the counters, once the traffic is
# over.
counters_add_up() {
	settle
	local seen=$(counter syn_seen) blocked=$(counter blocked)
	assert_eq "$seen" "$(($(counter allowed_external) + $(counter allowed_internal) + \
		$(counter allowed_relay) + blocked))" "syn_seen = sum of classes"
	assert_eq "$blocked" "$(($(counter dropped) + $(counter rejected) + \
		$(counter monitored)))" "blocked = dropped + rejected + monitored"
}

# write_errno FILE VALUE: one write(); prints OK or the errno's name.
write_errno() {
	local out
	out=$(printf '%s' "$2" 2>&1 > "$SYS/$1")
	case "$out" in
	"") echo OK ;;
	*"Invalid argument"*) echo EINVAL ;;
	*"No such file"*) echo ENOENT ;;
	*"Argument list too long"*) echo E2BIG ;;
	*"Operation not permitted"*) echo EPERM ;;
	*"busy"*) echo EBUSY ;;
	*"No space left"*) echo ENOSPC ;;
	*) echo "$out" ;;
	esac
}
expect_write() {
	local got
	got=$(write_errno "$2" "$3")
	[ "$got" = "$1" ] || fail "write '$3' to $2 -> $got, want $1"
}

# The last kernel log line of ours.
last_log() { dmesg | grep 'smtpblock: ' | tail -n 1 | sed 's/^\[[^]]*\] //'; }

lsmod_without_smtpblock() { ! grep -q '^smtpblock ' /proc/modules; }

# run_suite TEST...: KTAP for test_TEST functions; exit 0, 1 or 4 (SKIP).
run_suite() {
	local t n=0 failed=0 tool f t0
	echo "TAP version 13"
	if [ "$(id -u)" -ne 0 ]; then
		echo "1..0 # SKIP needs root"
		exit $KSFT_SKIP
	fi
	for tool in ip modprobe insmod rmmod modinfo unshare setpriv dmesg nft; do
		if ! command -v $tool >/dev/null; then
			echo "1..0 # SKIP $tool not found"
			exit $KSFT_SKIP
		fi
	done
	for f in "$KO" "$TOOLS/tcpprobe" "$TOOLS/pktcraft"; do
		if [ ! -e "$f" ]; then
			echo "1..0 # SKIP $f not built"
			exit $KSFT_SKIP
		fi
	done
	trap cleanup EXIT
	echo "1..$#"
	unload
	if ! setup; then
		echo "Bail out! topology setup failed"
		exit 1
	fi
	for t in "$@"; do
		n=$((n + 1))
		fail=0 skip="" t0=$SECONDS
		rm -f "$TMP/stop" "$TMP/bg-errors" "$TMP"/sent-* "$TMP"/runs-*
		if declare -F "test_$t" > /dev/null; then
			"test_$t"
		else
			fail "no test named $t"
		fi
		if [ -s "$TMP/bg-errors" ]; then
			fail "in a background loop: $(head -n 5 "$TMP/bg-errors" | tr '\n' ';')"
		fi
		lsmod_without_smtpblock || unload
		# How long each test took: what a slow lane spends its time on.
		echo "# $t: $((SECONDS - t0)) s"
		if [ $fail -eq 0 ] && [ -n "$skip" ]; then
			echo "ok $n $t # SKIP $skip"
		elif [ $fail -eq 0 ]; then
			echo "ok $n $t"
		else
			echo "not ok $n $t"
			failed=$((failed + 1))
		fi
	done
	[ $failed -eq 0 ]
}
