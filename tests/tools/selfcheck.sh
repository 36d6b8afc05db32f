#!/bin/bash
#
# Self-check for tcpprobe and pktcraft: needs root, network namespaces and
# veth, but not the smtpblock module.  Two namespaces joined by a veth pair;
# all traffic stays inside them (10.251.0.0/24, 2001:db8:5b::/64).
#
#   tests/tools/selfcheck.sh     (builds the tools first if needed)
#
# Exit status follows kselftest: 0 pass, 1 fail, 4 skip.

set -u

KSFT_SKIP=4
DIR=$(cd "$(dirname "$0")" && pwd)
TCPPROBE=$DIR/tcpprobe
PKTCRAFT=$DIR/pktcraft

SUFFIX=$(printf '%04x%04x' $RANDOM $RANDOM)
NS_A=pkc-a-$SUFFIX
NS_B=pkc-b-$SUFFIX
A4=10.251.0.1
B4=10.251.0.2
A6=2001:db8:5b::1
B6=2001:db8:5b::2

TMP=
LISTENERS=()
FAILED=0

# shellcheck disable=SC2317 # invoked by trap
cleanup()
{
	if [ ${#LISTENERS[@]} -gt 0 ]; then
		kill "${LISTENERS[@]}" 2>/dev/null
		wait "${LISTENERS[@]}" 2>/dev/null
	fi
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	[ -n "$TMP" ] && rm -rf "$TMP"
}

skip()
{
	echo "SKIP: $*"
	exit $KSFT_SKIP
}

pass()
{
	printf 'ok      %s\n' "$*"
}

fail()
{
	printf 'FAIL    %s\n' "$*"
	FAILED=1
}

# Wait up to 5 s for a file created by a tool's -r option.
wait_file()
{
	local _

	for _ in $(seq 50); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

setup()
{
	ip netns add "$NS_A" || skip "cannot create network namespaces"
	ip netns add "$NS_B" || skip "cannot create network namespaces"
	ip -n "$NS_A" link add veth0 type veth peer name veth0 netns "$NS_B" ||
		skip "cannot create veth"
	for ns in "$NS_A" "$NS_B"; do
		ip -n "$ns" link set lo up
		ip -n "$ns" link set veth0 up
	done
	ip -n "$NS_A" addr add $A4/24 dev veth0
	ip -n "$NS_B" addr add $B4/24 dev veth0
	ip -n "$NS_A" addr add $A6/64 dev veth0 nodad
	ip -n "$NS_B" addr add $B6/64 dev veth0 nodad
}

# check_connect EXPECTED ADDR PORT [tcpprobe options]: EXPECTED is the
# first word(s) of the output line; the exit code must match it as well.
check_connect()
{
	local want=$1 addr=$2 port=$3 out rc want_rc

	shift 3
	out=$(ip netns exec "$NS_A" "$TCPPROBE" connect -t 1000 "$@" "$addr" "$port")
	rc=$?
	case "$want" in
	connected) want_rc=0 ;;
	refused) want_rc=1 ;;
	timeout) want_rc=2 ;;
	*) want_rc=3 ;;
	esac
	if [[ "$out" =~ ^"$want "[0-9]+ms$ ]] && [ $rc -eq $want_rc ]; then
		pass "connect ${*:+$* }$addr $port: $out (exit $rc)"
	else
		fail "connect ${*:+$* }$addr $port: got '$out' exit $rc, want '$want' exit $want_rc"
	fi
}

test_tcpprobe()
{
	local ready=$TMP/listen.ready

	ip netns exec "$NS_B" "$TCPPROBE" listen -r "$ready" 0.0.0.0 25 2525 &
	LISTENERS+=($!)
	ip netns exec "$NS_B" "$TCPPROBE" listen -r "$ready.6" :: 25 2626 &
	LISTENERS+=($!)
	if ! wait_file "$ready" || ! wait_file "$ready.6"; then
		fail "tcpprobe listen did not become ready"
		return
	fi

	check_connect connected $B4 25
	check_connect connected $B4 2525 -b $A4
	check_connect connected $B6 25
	check_connect refused $B4 26
	# Both families listen on 25 only thanks to IPV6_V6ONLY, which also
	# keeps v4 out of the v6-only port 2626.
	check_connect refused $B6 2525
	check_connect connected $B6 2626
	check_connect refused $B4 2626
	check_connect unreachable 10.252.0.1 25
	# Nobody answers ARP for .99, so the SYN is never sent.
	check_connect timeout 10.251.0.99 25
	ip -n "$NS_A" route add prohibit 10.253.0.0/16
	check_connect "error EACCES" 10.253.0.1 25

	kill "${LISTENERS[@]}"
	wait "${LISTENERS[@]}" 2>/dev/null
	LISTENERS=()
}

# sniff_count WANT DESCRIPTION -- SNIFF_ARGS -- SEND_ARGS
# Counts, on B's veth0, what pktcraft send transmits from A.
sniff_count()
{
	local want=$1 desc=$2 ready=$TMP/sniff.ready out sniff_args=()

	shift 3
	while [ "$1" != "--" ]; do
		sniff_args+=("$1")
		shift
	done
	shift
	rm -f "$ready" "$TMP/count"
	ip netns exec "$NS_B" "$PKTCRAFT" sniff -i veth0 -t 1000 -r "$ready" \
		"${sniff_args[@]}" >"$TMP/count" &
	local pid=$!
	if ! wait_file "$ready"; then
		fail "$desc: sniffer not ready"
		kill $pid
		return
	fi
	if ! ip netns exec "$NS_A" "$PKTCRAFT" send "$@"; then
		fail "$desc: send failed"
	fi
	wait $pid
	out=$(cat "$TMP/count")
	if [ "$out" = "$want" ]; then
		pass "$desc: $out packets"
	else
		fail "$desc: sniffer counted '$out', want $want"
	fi
}

# tcp_counter FIELD: a Tcp counter from B's /proc/net/snmp (shared by v4/v6)
# shellcheck disable=SC2016 # awk script
tcp_counter()
{
	ip netns exec "$NS_B" awk -v f="$1" '
		$1 != "Tcp:" { next }
		!col { for (i = 2; i <= NF; i++) if ($i == f) col = i; next }
		{ print $col; exit }
	' /proc/net/snmp
}

# The receiver answers a SYN to a closed port with a RST only if the TCP
# checksum (and, for fragments, reassembly) was right, so count the RSTs.
# check_rst DESC N -- SEND_ARGS [-- SEND_ARGS...]: one send per arg group
check_rst()
{
	local desc=$1 n=$2 rst0 rst1 csum0 csum1 args=()

	shift 3
	rst0=$(tcp_counter OutRsts)
	csum0=$(tcp_counter InCsumErrors)
	while [ $# -gt 0 ]; do
		args=()
		while [ $# -gt 0 ] && [ "$1" != "--" ]; do
			args+=("$1")
			shift
		done
		[ $# -gt 0 ] && shift
		ip netns exec "$NS_A" "$PKTCRAFT" send --dport 26 "${args[@]}" ||
			fail "$desc: send failed"
	done
	sleep 0.2
	rst1=$(tcp_counter OutRsts)
	csum1=$(tcp_counter InCsumErrors)
	if [ $((rst1 - rst0)) -eq "$n" ] && [ "$csum1" = "$csum0" ]; then
		pass "$desc: $n RST from receiver, no checksum errors"
	else
		fail "$desc: RSTs $((rst1 - rst0)) (want $n), csum errors $((csum1 - csum0))"
	fi
}

test_pktcraft()
{
	sniff_count 3 "v4 SYN" -- -- --dst $B4 --count 3
	sniff_count 3 "v6 SYN" -- -- --dst $B6 --count 3
	sniff_count 0 "v4 other mark" -- -- --dst $B4 --mark 0x1234
	sniff_count 1 "v4 sniff --mark" -- --mark 0x1234 -- --dst $B4 --mark 0x1234
	sniff_count 2 "v6 sniff --mark 20 bit" -- --mark 0xabcde -- \
		--dst $B6 --mark 0xabcde --count 2
	sniff_count 2 "sniff --expect" -- --expect 2 -- --dst $B4 --count 2
	sniff_count 2 "v4 IP options 40" -- -- --dst $B4 --ip-options 40 --count 2
	sniff_count 2 "v6 hbh,dst,ah" -- -- --dst $B6 --ext hbh,dst,ah --count 2
	sniff_count 1 "v6 dst x100" -- -- --dst $B6 --ext dst --ext-repeat 100
	sniff_count 1 "v4 first frag, 8 TCP bytes" -- -- \
		--dst $B4 --tcp-bytes 8 --more-fragments
	sniff_count 1 "v6 first frag, 8 TCP bytes" -- -- \
		--dst $B6 --tcp-bytes 8 --more-fragments
	sniff_count 1 "v4 non-first frag" -- -- --dst $B4 --frag-offset 1
	sniff_count 1 "v6 non-first frag" -- -- --dst $B6 --frag-offset 1 --frag-id 7
	sniff_count 1 "v4 flags none, 3 TCP bytes" -- -- \
		--dst $B4 --flags none --tcp-bytes 3

	check_rst "v4 SYN" 2 -- --dst $B4 --count 2
	check_rst "v6 SYN" 2 -- --dst $B6 --count 2
	check_rst "v4 SYN+payload" 1 -- --dst $B4 --payload 13
	check_rst "v6 SYN+payload" 1 -- --dst $B6 --payload 13
	check_rst "v4 IP options" 1 -- --dst $B4 --ip-options 12
	check_rst "v6 hbh,dst,rt,dst" 1 -- --dst $B6 --ext hbh,dst,rt,dst
	check_rst "v4 ack,psh,fin" 1 -- --dst $B4 --flags ack,psh,fin
	# Lone fragments must not reach TCP; matching pairs reassemble into
	# one valid SYN.
	check_rst "v4 lone first frag" 0 -- --dst $B4 --mark 0x4241 \
		--tcp-bytes 8 --more-fragments
	check_rst "v6 lone non-first frag" 0 -- --dst $B6 --frag-offset 1
	check_rst "v4 frags 0+1" 1 -- --dst $B4 --mark 0x4242 \
		--tcp-bytes 8 --more-fragments -- --dst $B4 --mark 0x4242 \
		--frag-offset 1
	# Linux drops IPv6 first fragments without the whole TCP header
	# (RFC 8200 sec. 4.5), so the v6 pair carries 24 bytes first.
	check_rst "v6 frags 0+3" 1 -- --dst $B6 --frag-id 99 --payload 30 \
		--frag-len 24 --more-fragments -- --dst $B6 --frag-id 99 \
		--payload 30 --frag-offset 3
	# Here the fragmentable part is the dst header (8) plus the segment.
	check_rst "v6 hbh,frag,dst frags 0+4" 1 -- --dst $B6 --frag-id 98 \
		--ext hbh,frag,dst --payload 30 --frag-len 32 --more-fragments \
		-- --dst $B6 --frag-id 98 --ext hbh,frag,dst --payload 30 \
		--frag-offset 4
}

# batch: per-mark counts, fences, and a sniffer whose fences never came.
test_batch()
{
	local ready=$TMP/batch.ready pid rc got

	rm -f "$ready"
	ip netns exec "$NS_B" "$PKTCRAFT" sniff -i veth0 -t 5000 --marks 1-9 \
		--fence 0x4f4f --fences 2 -r "$ready" >"$TMP/marks" &
	pid=$!
	wait_file "$ready" || fail "batch: sniffer not ready"
	printf '%s\n' "--dst $B4 --mark 3 --count 2  # a comment" "" \
		"--dst $B6 --mark 7" "--dst $B4 --mark 0x4f4f" \
		"--dst $B6 --mark 0x4f4f" "--dst $B4 --mark 5" >"$TMP/batch"
	ip netns exec "$NS_A" "$PKTCRAFT" batch "$TMP/batch" ||
		fail "batch: send failed"
	wait $pid
	rc=$?
	got=$(tr '\n' ' ' <"$TMP/marks")
	if [ $rc -eq 0 ] && [ "$got" = "3 2 7 1 " ]; then
		pass "batch: per-mark counts up to the second fence"
	else
		fail "batch: sniffer exit $rc, counted '$got', want '3 2 7 1 '"
	fi
	ip netns exec "$NS_B" "$PKTCRAFT" sniff -i veth0 -t 300 --fence 0x4f4f \
		>/dev/null 2>&1
	rc=$?
	if [ $rc -eq 3 ]; then
		pass "sniff: exit 3 when the fence never came"
	else
		fail "sniff: exit $rc without its fence, want 3"
	fi
	# --rst: B resets two SYNs to a closed port; B's fence, sent from
	# the same CPU, comes after the resets.
	rm -f "$ready"
	ip netns exec "$NS_A" "$PKTCRAFT" sniff -i veth0 -t 5000 --rst \
		--fence 0x4f4f -r "$ready" >"$TMP/rsts" &
	pid=$!
	wait_file "$ready" || fail "rst: sniffer not ready"
	printf '%s\n' "--dst $B4 --dport 26 --sport 41000" \
		"--dst $B6 --dport 26 --sport 41001" "--dst $B4 --dport 26 --flags ack" |
		ip netns exec "$NS_A" taskset -c 0 "$PKTCRAFT" batch ||
		fail "rst: send failed"
	ip netns exec "$NS_B" taskset -c 0 "$PKTCRAFT" send --dst $A4 \
		--flags syn,ack --mark 0x4f4f || fail "rst: fence failed"
	wait $pid
	rc=$?
	got=$(cat "$TMP/rsts")
	# An ACK to a closed port is answered with a RST too: 3.
	if [ $rc -eq 0 ] && [ "$got" = 3 ]; then
		pass "sniff --rst: the 3 resets before the fence"
	else
		fail "sniff --rst: exit $rc, counted '$got', want 3"
	fi
	if echo "--dst $B4 --mark 0" | ip netns exec "$NS_A" "$PKTCRAFT" batch \
		2>/dev/null; then
		fail "batch: a bad line did not fail the batch"
	else
		pass "batch: a bad line fails the batch"
	fi
}

if [ "$(id -u)" -ne 0 ]; then
	skip "must run as root"
fi
make -C "$DIR" >/dev/null || exit 1
trap cleanup EXIT
TMP=$(mktemp -d)
setup
test_tcpprobe
test_pktcraft
test_batch
exit $FAILED
