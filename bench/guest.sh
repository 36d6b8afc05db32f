#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/guest.sh - the benchmark proper. Runs as root inside the test VM
# that bench/run.sh boots; it builds the topology below, loads every
# configuration, then measures them in turn. Never run it on a real router:
# it loads modules, rewrites firewall rules and floods namespaces.
#
#  campus sender ns            one router per configuration           outside ns
#  (trafgen)                                                          (tc ingress: drop all)
#                 +--------------------------------------------+
#  c-sb    -------| r-cl  the VM's own netns: smtpblock  r-out |------- o-sb
#                 +--------------------------------------------+
#  c-none  -------| r-cl  netns rt-none: no filter       r-out |------- o-none
#  c-nft   -------| r-cl  netns rt-nft: nftables         r-out |------- o-nft
#  c-ipset -------| r-cl  netns rt-ipset: iptables+ipset r-out |------- o-ipset
#  c-lin   -------| r-cl  netns rt-lin: iptables, a rule r-out |------- o-lin
#                 |       per relay                            |
#  c-hook  -------| r-cl  netns rt-hook: an empty nft    r-out |------- o-hook
#                 |       forward chain (calibration)          |
#                 +--------------------------------------------+
#  c-sink  ------------------------------------------------------------ s-sink
#                 (the floor: no router, dropped on arrival)
#
#  every r-cl: 10.0.1.1/24 2001:db8:c:1::1/64; every r-out: 198.51.100.1/24
#  2001:db8:e:1::1/64, next hop 198.51.100.25 / 2001:db8:e:1::25.
#
# Why one router per configuration: netfilter hooks belong to a network
# namespace, so every configuration stays loaded for the whole run and
# switching between them costs nothing and disturbs nothing (no rule is
# added or removed between two measurements). smtpblock hooks only the
# initial namespace, so its router is the VM itself; a calibration phase,
# before smtpblock is loaded, measures `none` in the initial namespace
# against `none` in rt-none to show that the namespace itself costs nothing.
#
# A measurement ("cell"): trafgen floods one router from the campus
# namespace with one workload; the sender's tx counter and the clock are
# read twice while it runs, after it has started; throughput is
# (n1 - n0) / (t1 - t0). This is "a large-N run minus a small-N run"
# taken inside one run: trafgen's start-up and exit fall outside the
# window and cancel. The VM has one CPU (see bench/run.sh: icount), so
# sender and router share it; bench/report.sh subtracts the floor.
#
# Environment (bench/run.sh sets it):
#   BENCH_KO       smtpblock.ko to insmod
#   BENCH_DATA     the lists from bench/lists.sh
#   BENCH_ROWS     rows, FAMILY:RELAYS:CAMPUS:WORKLOAD,WORKLOAD... in the
#                  order they are loaded (lists only grow, so every load is
#                  a fresh set); the other family keeps 10 relays, 10 campus
#   BENCH_REPS     repetitions of each cell (configurations alternate)
#   BENCH_WINDOW   measuring window, seconds of guest time
#   BENCH_SETTLE   seconds between trafgen's first packet and the window
#   BENCH_LINEAR_MAX  iptables-linear only where it needs at most this many rules
#   BENCH_PROFILE  instead of the rows: workloads (e.g. "pass4 block4") to
#                  profile through smtpblock with perf, with the first row's
#                  lists; profile-WORKLOAD.txt in SMTPBLOCK_VM_OUT
#   SMTPBLOCK_VM_OUT  where raw.csv, control.csv and env.txt go
#
# Output (in SMTPBLOCK_VM_OUT):
#   raw.csv      phase,family,relays,campus,workload,config,rep,sent,forwarded,usec
#   control.csv  config,list,entries,usec,mem_bytes,mem_how
#   env.txt      kernel, tool versions, modules, every router's rules

set -uo pipefail

KO=${BENCH_KO:?}
DATA_SRC=${BENCH_DATA:?}
ROWS=${BENCH_ROWS:?}
REPS=${BENCH_REPS:-5}
WINDOW=${BENCH_WINDOW:-0.1}
SETTLE=${BENCH_SETTLE:-0.02}
LINEAR_MAX=${BENCH_LINEAR_MAX:-10000}
OUT=${SMTPBLOCK_VM_OUT:?}
SYS=/sys/kernel/smtpblock

# hook: a router with an empty nftables forward chain, for the calibration:
# what any netfilter hook costs before its first instruction of filtering.
CONFIGS="none sb nft ipset lin hook"
# Per-source tables hold every bot of the `block` workload (65,536 per
# family) in every configuration, so none of them evicts: smtpblock has one
# table for both families, the others one per family.
BOTS=65536
SB_OFFENDERS=$((2 * BOTS))

RND=$(mktemp -u XXXXXX)
NS_CL=bcl-$RND
NS_OUT=bout-$RND
TMP=$(mktemp -d)
DATA=$TMP/data
# trafgen writes a temporary file into its working directory, and the
# host's tree we start in is read-only in the VM.
cd "$TMP" || exit 1

T_START=${EPOCHREALTIME/./}
log() { printf 'bench: [%6.1f s] %s\n' "$(((${EPOCHREALTIME/./} - T_START) / 1000))e-3" "$*"; }
die() { log "error: $*"; exit 1; }

# rt CONFIG CMD...: runs CMD in CONFIG's router (sb: this namespace).
rt() {
	local c=$1
	shift
	if [ "$c" = sb ]; then "$@"; else ip netns exec "rt-$c-$RND" "$@"; fi
}

# Microseconds are read as ${EPOCHREALTIME/./}: a builtin, where a
# function called as $(us) would fork inside the measuring window.

# nap SECONDS: sleeps without starting a process (a read that times out on
# a fifo nobody writes), so naps cost no exec inside a measuring window.
mkfifo "$TMP/nap"
exec {NAP_FD}<>"$TMP/nap"
nap() { read -r -t "$1" -u "$NAP_FD"; true; }

# One idle process per namespace, so that /proc/PID/net/dev shows that
# namespace's counters to a shell builtin (no exec while measuring).
declare -A NETDEV
# tx_of FILE IFACE: sets TX to IFACE's transmitted packets in FILE.
tx_of() {
	local f
	TX=""
	while IFS=' :' read -r -a f; do
		[ "${f[0]}" = "$2" ] && { TX=${f[10]}; return 0; }
	done <"$1"
	return 1
}

# ---------------------------------------------------------------- topology

# link CONFIG: sender c-CONFIG -> router CONFIG -> outside o-CONFIG.
# The same MAC addresses on every link: one packet template fits all.
link() {
	local c=$1 peer_ns=()
	if [ "$c" != sb ]; then
		ip netns add "rt-$c-$RND" || return 1
		peer_ns=(netns "rt-$c-$RND")
	fi
	ip link add name "c-$c" address 02:00:00:00:01:01 netns "$NS_CL" type veth \
		peer name r-cl address 02:00:00:00:00:01 "${peer_ns[@]}" &&
	ip link add name "o-$c" address 02:00:00:00:02:01 netns "$NS_OUT" type veth \
		peer name r-out address 02:00:00:00:00:02 "${peer_ns[@]}" || return 1
	rt "$c" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 &&
	rt "$c" ip link set lo up &&
	rt "$c" ip addr add 10.0.1.1/24 dev r-cl &&
	rt "$c" ip addr add 2001:db8:c:1::1/64 dev r-cl nodad &&
	rt "$c" ip addr add 198.51.100.1/24 dev r-out &&
	rt "$c" ip addr add 2001:db8:e:1::1/64 dev r-out nodad &&
	# Sources are spoofed campus hosts behind r-cl.
	rt "$c" sysctl -qw net.ipv4.conf.r-cl.rp_filter=0 &&
	rt "$c" ip link set r-cl up &&
	rt "$c" ip link set r-out up &&
	# Static next hop: no ARP/ND to the outside, which never answers.
	rt "$c" ip neigh replace 198.51.100.25 lladdr 02:00:00:00:02:01 dev r-out nud permanent &&
	rt "$c" ip neigh replace 2001:db8:e:1::25 lladdr 02:00:00:00:02:01 dev r-out nud permanent &&
	ip -n "$NS_CL" link set "c-$c" up &&
	ip -n "$NS_OUT" link set "o-$c" up &&
	# The far end costs next to nothing: dropped as it arrives.
	ip netns exec "$NS_OUT" tc qdisc add dev "o-$c" ingress &&
	ip netns exec "$NS_OUT" tc filter add dev "o-$c" ingress matchall action drop || return 1
	if [ "$c" = sb ]; then
		NETDEV[$c]=/proc/$$/net/dev
	else
		# A simple command, not through rt(): $! must be the process
		# in the namespace, not a subshell of ours.
		ip netns exec "rt-$c-$RND" sleep 1000000 &
		NETDEV[$c]=/proc/$!/net/dev
	fi
}

setup_topology() {
	local c
	ip netns add "$NS_CL" && ip netns add "$NS_OUT" || return 1
	# No IPv6 on the sender and the far end: no router solicitations or
	# MLD reports in the counters. The routers need it to forward IPv6.
	ip netns exec "$NS_CL" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 \
		net.ipv6.conf.all.disable_ipv6=1 &&
	ip netns exec "$NS_OUT" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 \
		net.ipv6.conf.all.disable_ipv6=1 || return 1
	ip netns exec "$NS_CL" sleep 1000000 &
	NETDEV[cl]=/proc/$!/net/dev
	# LOG and nft's log do nothing outside the initial namespace unless
	# this is set; every configuration must pay for its logging.
	sysctl -qw net.netfilter.nf_log_all_netns=1 2>/dev/null ||
		{ modprobe nf_log_syslog && sysctl -qw net.netfilter.nf_log_all_netns=1; } || return 1
	for c in $CONFIGS; do
		link "$c" || { log "link $c failed"; return 1; }
	done
	rt hook nft -f - <<-EOF || return 1
	table inet nothing {
		chain forward { type filter hook forward priority filter; policy accept; }
	}
	EOF
	# The floor: what sending costs by itself (trafgen, the veth, the
	# receive path up to the ingress qdisc), into a link whose far end
	# drops every packet on arrival. bench/report.sh subtracts it from each
	# configuration's time per packet to get the router's own.
	ip link add name c-sink address 02:00:00:00:01:01 netns "$NS_CL" type veth \
		peer name s-sink address 02:00:00:00:00:01 netns "$NS_OUT" &&
	ip -n "$NS_CL" link set c-sink up &&
	ip -n "$NS_OUT" link set s-sink up &&
	ip netns exec "$NS_OUT" tc qdisc add dev s-sink ingress &&
	ip netns exec "$NS_OUT" tc filter add dev s-sink ingress matchall action drop
}

cleanup() {
	local c pg
	# Paused senders ignore everything but SIGKILL.
	for pg in "${SENDERS[@]}"; do kill -KILL -- "-$pg" 2>/dev/null; done
	# shellcheck disable=SC2046  # one pid per word
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	for c in $CONFIGS; do
		[ "$c" = sb ] || ip netns del "rt-$c-$RND" 2>/dev/null
	done
	ip link del r-cl 2>/dev/null
	ip link del r-out 2>/dev/null
	ip netns del "$NS_CL" 2>/dev/null
	ip netns del "$NS_OUT" 2>/dev/null
	rmmod smtpblock 2>/dev/null
	rm -rf "$TMP"
}

# ---------------------------------------------------------------- traffic

# The workloads, as trafgen packets. 54-byte IPv4 / 74-byte IPv6 TCP SYNs
# from the campus to the outside MX. `pass` and `block` come from 65,536
# campus sources (two bytes of the address count up; for IPv6 the fourth
# group, i.e. 65,536 /64s, since /64 is what smtpblock counts per source);
# `relay` comes from the relay the lists hold. TTL 64: trafgen's default
# of 0 would make the router drop everything as expired.
write_workloads() {
	local e='eth(da=02:00:00:00:00:01)'
	local t4='ipv4(ttl=64, sa=10.1.0.0, da=198.51.100.25, sa[2:2]=dinc())'
	local t6='ipv6(hl=64, sa=2001:db8:c::2, da=2001:db8:e:1::25, sa[6:2]=dinc())'
	echo "{ $e, $t4, tcp(sp=40000, dp=443, syn) }" >"$TMP/pass4.cfg"
	echo "{ $e, $t4, tcp(sp=40000, dp=25, syn) }" >"$TMP/block4.cfg"
	echo "{ $e, ipv4(ttl=64, sa=10.0.2.25, da=198.51.100.25), tcp(sp=40000, dp=25, syn) }" \
		>"$TMP/relay4.cfg"
	echo "{ $e, $t6, tcp(sp=40000, dp=443, syn) }" >"$TMP/pass6.cfg"
	echo "{ $e, $t6, tcp(sp=40000, dp=25, syn) }" >"$TMP/block6.cfg"
	echo "{ $e, ipv6(hl=64, sa=2001:db8:c:2::25, da=2001:db8:e:1::25), tcp(sp=40000, dp=25, syn) }" \
		>"$TMP/relay6.cfg"
}

# trafgen_start CONFIG WORKLOAD [COUNT]: one sender process (the VM has one
# CPU), in a session of its own: trafgen's parent does not pass signals on
# to the child that sends, so the whole group is signalled. A small ring
# (the default is sized for the link speed, tens of MB), because a sender
# per configuration and workload stays alive (paused) all run.
trafgen_start() {
	setsid ip netns exec "$NS_CL" trafgen -o "c-$1" -i "$TMP/$2.cfg" -P 1 -S 512KiB \
		-n "${3:-0}" -C --no-sock-mem >>"$TMP/trafgen.log" 2>&1 &
	TG_PID=$!
}

# sender CONFIG WORKLOAD: sets PG to the process group of a paused trafgen
# sending WORKLOAD through CONFIG. Started on first use, then paused
# (SIGSTOP) between measurements: starting trafgen costs more guest time
# than a measuring window, and a resumed sender is at full speed at once.
# A new one runs a while first: its first tens of milliseconds after the
# first packet are up to 30% slower (its ring and pages still warming).
declare -A SENDERS
sender() {
	local key="$1 $2" s0 i
	if [ -z "${SENDERS[$key]:-}" ]; then
		tx_of "${NETDEV[cl]}" "c-$1"
		s0=$TX
		trafgen_start "$1" "$2"
		for ((i = 0; i < 2000; i++)); do
			tx_of "${NETDEV[cl]}" "c-$1"
			[ "$TX" != "$s0" ] && break
			nap 0.005
		done
		nap 0.05
		kill -STOP -- "-$TG_PID"
		SENDERS[$key]=$TG_PID
	fi
	PG=${SENDERS[$key]}
}

# fwd_of CONFIG: sets TX to what CONFIG's router sent out (0 for the sink).
fwd_of() {
	TX=0
	[ "$1" = sink ] || tx_of "${NETDEV[$1]}" r-out
}

# measure PHASE CONFIG WORKLOAD REP: one cell, appended to raw.csv.
measure() {
	local phase=$1 c=$2 w=$3 rep=$4 s0 s1 f0 f1 t0 t1
	sender "$c" "$w"
	kill -CONT -- "-$PG"
	nap "$SETTLE"
	fwd_of "$c"
	f0=$TX
	tx_of "${NETDEV[cl]}" "c-$c"
	s0=$TX t0=${EPOCHREALTIME/./}
	nap "$WINDOW"
	tx_of "${NETDEV[cl]}" "c-$c"
	s1=$TX t1=${EPOCHREALTIME/./}
	fwd_of "$c"
	f1=$TX
	kill -STOP -- "-$PG"
	# To tmpfs: a write to the 9p share waits for the host in real time.
	echo "$phase,${w: -1},$ROW_R,$ROW_C,${w%[46]},$c,$rep,$((s1 - s0)),$((f1 - f0)),$((t1 - t0))" \
		>>"$TMP/raw.csv"
	if [ $((s1 - s0)) -le 0 ]; then
		log "no packets sent: $c $w (trafgen log follows)"
		tail -n 5 "$TMP/trafgen.log"
	fi
}

# warm: every bot of both families sends once through every filter, so
# that the `block` cells measure a bot flood in its steady state (each
# source known, its counter updated) rather than 65,536 first sightings.
# Done in the first row, while iptables-linear is short and fast: all
# per-source tables outlive the later rows' list changes.
WARMED=""
warm() {
	local c f
	[ -n "$WARMED" ] && return
	for f in 4 6; do
		for c in sb nft ipset lin; do
			trafgen_start "$c" "block$f" "$BOTS"
			wait "$TG_PID"
		done
	done
	WARMED=1
}

# ---------------------------------------------------------------- configs

mem_available() { awk '/^MemAvailable:/ { printf "%.0f\n", $2 * 1024 }' /proc/meminfo; }

# timed CONFIG LIST ENTRIES HOW CMD...: runs CMD, records its time and
# the memory it took in control.csv. Memory: smtpblock's own gauge,
# ipset's, or (nft, iptables) what the kernel charged to a memory cgroup
# of the load's own (nf_tables, ipset and x_tables allocate with
# GFP_KERNEL_ACCOUNT, and the charge stays after nft exits); the fall of
# MemAvailable where there is no cgroup v2 memory controller (it is off by
# several MB either way: slab pages, deferred frees).
timed() {
	local c=$1 list=$2 n=$3 how=$4 m0 m1 t0 t1 bytes how2 cg=""
	shift 4
	if [ -n "$MEMCG" ]; then
		LOADS=$((LOADS + 1))
		cg=$MEMCG/load-$LOADS
		mkdir "$cg" || cg=""
	fi
	m0=$(mem_available)
	t0=${EPOCHREALTIME/./}
	# The subshell joins the cgroup, then becomes CMD.
	( [ -z "$cg" ] || echo "$BASHPID" >"$cg/cgroup.procs"; "$@" ) ||
		{ log "load failed: $c $list: $*"; return 1; }
	t1=${EPOCHREALTIME/./}
	# nf_tables frees its transaction after an RCU grace period, from a
	# work queue: wait for that before counting what the load kept.
	[ "$n" -lt 1000 ] || quiet
	m1=$(mem_available)
	bytes=$((m0 - m1)) how2=MemAvailable
	[ -z "$cg" ] || { bytes=$(cat "$cg/memory.current") how2="memory cgroup"; }
	case $how in
	sb) bytes=$(cat $SYS/stats/memory_bytes) how=stats/memory_bytes ;;
	ipset) bytes=$(rt ipset ipset list -t "$list" | awk '/^Size in memory:/ { print $4 }')
		how="ipset list -t" ;;
	*) how=$how2 ;;
	esac
	echo "$c,$list,$n,$((t1 - t0)),$bytes,$how" >>"$TMP/control.csv"
	log "loaded $c $list ($n entries): $(((t1 - t0) / 1000)) ms, $bytes bytes ($how)"
}

# A cgroup v2 parent for timed(), with the memory controller, if possible.
MEMCG="" LOADS=0
setup_memcg() {
	local root=/sys/fs/cgroup
	grep -qw memory $root/cgroup.controllers 2>/dev/null || return 0
	echo +memory >$root/cgroup.subtree_control 2>/dev/null || return 0
	mkdir -p $root/bench && echo +memory >$root/bench/cgroup.subtree_control &&
		MEMCG=$root/bench
}

ipset_load() { rt ipset ipset restore <"$1"; }

sb_bulk() { # sb_bulk LIST FILE: smtpblock's staged load, as the README shows it
	printf '%s' "$1" >$SYS/bulk/begin &&
	cat "$2" >$SYS/bulk/data &&
	printf 1 >$SYS/bulk/commit
}

setup_sb() {
	modprobe -a nf_reject_ipv4 nf_reject_ipv6 &&
	insmod "$KO" offenders_max="$SB_OFFENDERS"
}

# The nft ruleset: the same policy as smtpblock, the way nftables users
# write it. The smtp chain names the row's sets; each row rewrites it.
# gc-interval 60s, like smtpblock's sweep of its offender table (and
# hashlimit's below): with the default of 1 s the collector, walking 65,536
# entries, would run inside other configurations' measuring windows on the
# VM's single CPU, where a real router runs it on another core.
setup_nft() {
	rt nft nft -f - <<-EOF
	table inet sbb {
		set blocked4 {
			type ipv4_addr; size $BOTS; flags dynamic,timeout; timeout 7d; gc-interval 60s;
		}
		set blocked6 {
			type ipv6_addr; size $BOTS; flags dynamic,timeout; timeout 7d; gc-interval 60s;
		}
		chain blocked4 {
			update @blocked4 { ip saddr counter }
			limit rate 2/second burst 10 packets log prefix "smtp-blocked: " level info
			drop
		}
		chain blocked6 {
			update @blocked6 { ip6 saddr & ffff:ffff:ffff:ffff:: counter }
			limit rate 2/second burst 10 packets log prefix "smtp-blocked: " level info
			drop
		}
		chain smtp {
		}
		chain forward {
			type filter hook forward priority filter; policy accept;
			tcp dport 25 tcp flags & (syn | ack) == syn jump smtp
		}
		chain output {
			type filter hook output priority filter; policy accept;
			tcp dport 25 tcp flags & (syn | ack) == syn jump smtp
		}
	}
	EOF
}

nft_rules() { # nft_rules C4 R4 C6 R6
	rt nft nft -f - <<-EOF
	flush chain inet sbb smtp
	add rule inet sbb smtp ip saddr @$1 ip daddr != @$1 ip saddr != @$2 ip daddr != @$2 goto blocked4
	add rule inet sbb smtp ip6 saddr @$3 ip6 daddr != @$3 ip6 saddr != @$4 ip6 daddr != @$4 goto blocked6
	EOF
}

# The iptables tail shared by ipset and iptables-linear: per-source state
# in hashlimit (one entry per bot, like smtpblock's offender table),
# rate-limited LOG, DROP. hashlimit keeps its table across restores (it is
# found by name), so a row change does not forget the bots.
ipt_blocked() { # ipt_blocked 4|6
	local mask=""
	[ "$1" = 6 ] && mask="--hashlimit-srcmask 64"
	echo "-A BLOCKED -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 1" \
		"--hashlimit-mode srcip $mask --hashlimit-name sb$1" \
		"--hashlimit-htable-size $BOTS --hashlimit-htable-max $BOTS" \
		"--hashlimit-htable-expire 604800000 --hashlimit-htable-gcinterval 60000" \
		"-m limit --limit 2/s --limit-burst 10 -j LOG --log-prefix smtp-blocked: --log-level info"
	echo "-A BLOCKED -j DROP"
}

ipt_head() {
	printf '%s\n' '*filter' ':INPUT ACCEPT [0:0]' ':FORWARD ACCEPT [0:0]' \
		':OUTPUT ACCEPT [0:0]' ':SMTP - [0:0]' ':BLOCKED - [0:0]' \
		'-A FORWARD -p tcp --dport 25 --tcp-flags SYN,ACK SYN -j SMTP' \
		'-A OUTPUT -p tcp --dport 25 --tcp-flags SYN,ACK SYN -j SMTP'
}

# ipset_rules FAMILY CAMPUS RELAYS: iptables-restore input.
ipset_rules() {
	ipt_head
	echo "-A SMTP -m set --match-set $2 src -m set ! --match-set $2 dst" \
		"-m set ! --match-set $3 src -m set ! --match-set $3 dst -j BLOCKED"
	ipt_blocked "$1"
	echo COMMIT
}

# linear_rules FAMILY CAMPUS RELAYS: the same policy without sets, in
# the order smtpblock decides: to campus -> accept (RETURN to the
# ACCEPT policy), from or to a relay -> accept, from campus -> blocked.
linear_rules() {
	ipt_head
	awk '{ print "-A SMTP -d " $1 " -j RETURN" }' "$DATA/$2.txt"
	awk '{ print "-A SMTP -s " $1 " -j RETURN"; print "-A SMTP -d " $1 " -j RETURN" }' "$DATA/$3.txt"
	awk '{ print "-A SMTP -s " $1 " -j BLOCKED" }' "$DATA/$2.txt"
	ipt_blocked "$1"
	echo COMMIT
}

ipt_restore() { # ipt_restore CONFIG FAMILY FILE
	if [ "$2" = 4 ]; then
		rt "$1" iptables-legacy-restore <"$3"
	else
		rt "$1" ip6tables-legacy-restore <"$3"
	fi
}

# ---------------------------------------------------------------- rows

declare -A LOADED  # "config list" -> 1
SB_CAMPUS="" SB_RELAYS=""

# load_row: every configuration gets this row's lists. Sets are loaded
# once each, under their own names, and the rules switch to them.
load_row() {
	local c4=c4_$ROW_C4 r4=r4_$ROW_R4 c6=c6_$ROW_C6 r6=r6_$ROW_R6 l n f
	for l in "$c4" "$r4" "$c6" "$r6"; do
		n=${l#*_}
		[ -n "${LOADED[nft $l]:-}" ] ||
			timed nft "$l" "$n" nft rt nft nft -f "$DATA/$l.nft" || return 1
		LOADED[nft $l]=1
		[ -n "${LOADED[ipset $l]:-}" ] ||
			timed ipset "$l" "$n" ipset ipset_load "$DATA/$l.ipset" || return 1
		LOADED[ipset $l]=1
	done
	nft_rules "$c4" "$r4" "$c6" "$r6" || return 1
	ipset_rules 4 "$c4" "$r4" >"$TMP/ipset4.rules" &&
	ipset_rules 6 "$c6" "$r6" >"$TMP/ipset6.rules" &&
	ipt_restore ipset 4 "$TMP/ipset4.rules" &&
	ipt_restore ipset 6 "$TMP/ipset6.rules" || return 1
	# smtpblock: one list of each kind holds both families.
	if [ "$SB_CAMPUS" != "$c4 $c6" ]; then
		cat "$DATA/$c4.txt" "$DATA/$c6.txt" >"$TMP/campus.list"
		timed sb "$c4+$c6" $((ROW_C4 + ROW_C6)) sb sb_bulk campus "$TMP/campus.list" || return 1
		SB_CAMPUS="$c4 $c6"
	fi
	if [ "$SB_RELAYS" != "$r4 $r6" ]; then
		cat "$DATA/$r4.txt" "$DATA/$r6.txt" >"$TMP/relays.list"
		timed sb "$r4+$r6" $((ROW_R4 + ROW_R6)) sb sb_bulk relays "$TMP/relays.list" || return 1
		SB_RELAYS="$r4 $r6"
	fi
	LINEAR=""
	for f in 4 6; do
		[ "$f" = 4 ] && n=$((2 * ROW_C4 + 2 * ROW_R4)) || n=$((2 * ROW_C6 + 2 * ROW_R6))
		[ "$n" -le "$LINEAR_MAX" ] || { log "iptables-linear skipped: $n rules"; return 0; }
	done
	linear_rules 4 "$c4" "$r4" >"$TMP/lin4.rules" &&
	linear_rules 6 "$c6" "$r6" >"$TMP/lin6.rules" &&
	timed lin "$c4+$r4" $((2 * ROW_C4 + 2 * ROW_R4)) rules ipt_restore lin 4 "$TMP/lin4.rules" &&
	timed lin "$c6+$r6" $((2 * ROW_C6 + 2 * ROW_R6)) rules ipt_restore lin 6 "$TMP/lin6.rules" ||
		return 1
	LINEAR=1
}

# quiet: waits (up to 30 s) until the CPU was idle for 90% of 0.2 s, so
# that work a load leaves behind (nf_tables frees the transaction of a
# million-element load from a work queue) does not land in a measurement.
quiet() {
	local a b i j total idle
	for ((i = 0; i < 150; i++)); do
		read -r -a a </proc/stat
		nap 0.2
		read -r -a b </proc/stat
		total=0
		for ((j = 1; j <= 8; j++)); do total=$((total + b[j] - a[j])); done
		idle=$((b[4] - a[4] + b[5] - a[5]))
		[ $((10 * idle)) -ge $((9 * total)) ] && return 0
	done
	log "the CPU did not quieten down"
}

# rotated LIST REP: the configurations in a different order each time.
rotated() {
	local -a a
	read -r -a a <<<"$1"
	local n=${#a[@]} k=$(($2 % ${#a[@]})) i
	for ((i = 0; i < n; i++)); do echo -n "${a[(i + k) % n]} "; done
}

# row_vars SPEC: sets ROW_* (and WLS) from FAMILY:RELAYS:CAMPUS:WORKLOADS.
row_vars() {
	IFS=: read -r ROW_FAM ROW_R ROW_C WLS <<<"$1"
	ROW_R4=10 ROW_C4=10 ROW_R6=10 ROW_C6=10
	if [ "$ROW_FAM" = 4 ]; then ROW_R4=$ROW_R ROW_C4=$ROW_C; else ROW_R6=$ROW_R ROW_C6=$ROW_C; fi
}

run_row() {
	local wls rep c w configs
	row_vars "$1"
	wls=$WLS
	log "row: IPv$ROW_FAM, $ROW_R relays, $ROW_C campus prefixes ($wls)"
	load_row || return 1
	warm
	quiet
	configs="none sb nft ipset${LINEAR:+ lin}"
	for ((rep = 1; rep <= REPS; rep++)); do
		for c in $(rotated "$configs" "$rep"); do
			for w in ${wls//,/ }; do
				measure matrix "$c" "$w$ROW_FAM" "$rep"
			done
		done
	done
}

# Before smtpblock is loaded: the sender's floor for every workload; is the
# initial namespace (smtpblock's router) as fast as a child one (everyone
# else's) when nothing filters; and what does a hook that does nothing cost?
calibrate() {
	local rep c w
	ROW_R=0 ROW_C=0
	log "calibration: the floor; none in the initial namespace vs in rt-none; an empty hook"
	for ((rep = 1; rep <= REPS; rep++)); do
		for c in $(rotated "sink sb none hook" "$rep"); do
			for w in pass4 block4 relay4 pass6 block6 relay6; do
				[ "$c" = sink ] || [ "$w" = pass4 ] || continue
				measure calib "$c" "$w" "$rep"
			done
		done
	done
}

# describe_env: what ran, and every router's rules (as in the first row:
# later rows only name other sets), so a reader can check the policies.
# Before the big lists: nft would fetch a million elements to list rules.
describe_env() {
	local c
	{
		echo "kernel: $(uname -r) ($(uname -v))"
		echo "cpus: $(nproc); memory: $(awk '/^MemTotal:/ { print $2 " kB" }' /proc/meminfo)"
		echo "clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
		echo "trafgen: $(trafgen -v 2>&1 | head -n 1)"
		echo "nft: $(nft -v)"
		echo "ipset: $(ipset -v | head -n 1)"
		echo "iptables: $(iptables-legacy -V)"
		echo "smtpblock: $(modinfo -F version "$KO" 2>/dev/null) $(modinfo -F srcversion "$KO")"
		echo "window: $WINDOW s, settle: $SETTLE s, reps: $REPS"
		echo "netfilter modules: $(awk '$1 ~ /^(nf|nft|xt|ip|ip6|iptable|ip6table|x)_|^smtpblock$/ { print $1 }' \
			/proc/modules | sort | tr '\n' ' ')"
		echo "smtpblock: $(grep . $SYS/ports $SYS/mode $SYS/offenders_max $SYS/log_burst $SYS/log_interval |
			sed 's|.*/||' | tr '\n' ' ')"
		echo
		echo "# nft (router nft), nft -t list ruleset"
		rt nft nft -t list ruleset
		for c in ipset lin; do
			echo
			echo "# iptables-legacy -S, ip6tables-legacy -S (router $c; first 40 lines each)"
			rt "$c" iptables-legacy -S | head -n 40
			rt "$c" ip6tables-legacy -S | head -n 40
		done
		for c in none hook; do
			echo
			echo "# router $c: nft -t list ruleset"
			rt "$c" nft -t list ruleset
		done
	} >"$OUT/env.txt" 2>&1
}

# profile WORKLOAD...: where the VM's CPU goes while WORKLOAD crosses
# smtpblock (first row's lists), by perf's cpu-clock sampling, system-wide
# (the sender shares the CPU). Under icount a sample is every N
# instructions, so the shares are shares of instructions.
profile() {
	local w
	for w in "$@"; do
		log "profile: $w through smtpblock"
		sender sb "$w"
		kill -CONT -- "-$PG"
		nap "$SETTLE"
		perf record -q -e cpu-clock -F 4000 -a -o "$TMP/perf-$w.data" -- sleep 3 \
			>>"$TMP/perf.log" 2>&1
		kill -STOP -- "-$PG"
		{
			echo "# $w through smtpblock: perf report --sort dso,sym"
			perf report -i "$TMP/perf-$w.data" --stdio --sort dso,sym \
				--percent-limit 0.05 2>>"$TMP/perf.log"
		} >"$OUT/profile-$w.txt"
	done
	tail -n 5 "$TMP/perf.log"
}

DESCRIBED=""
main() {
	local spec tool
	for tool in trafgen nft ipset iptables-legacy-restore ip6tables-legacy-restore tc \
		${BENCH_PROFILE:+perf}; do
		command -v "$tool" >/dev/null || die "$tool not found (bench/run.sh installs it)"
	done
	[ -r "$KO" ] || die "no module at $KO"
	trap cleanup EXIT
	echo "phase,family,relays,campus,workload,config,rep,sent,forwarded,usec" >"$TMP/raw.csv"
	echo "config,list,entries,usec,mem_bytes,mem_how" >"$TMP/control.csv"
	cp -r "$DATA_SRC" "$DATA" || die "cannot copy the lists"
	write_workloads
	setup_memcg
	setup_topology || die "topology setup failed"
	[ -n "${BENCH_PROFILE:-}" ] || calibrate
	cp "$TMP/raw.csv" "$TMP/control.csv" "$OUT/"
	setup_sb || die "insmod $KO failed"
	setup_nft || die "nft base ruleset failed"
	if [ -n "${BENCH_PROFILE:-}" ]; then
		row_vars "${ROWS%% *}"
		if ! { load_row && warm; }; then die "setup for the profile failed"; fi
		# shellcheck disable=SC2086  # a list of workloads
		profile $BENCH_PROFILE
		return
	fi
	for spec in $ROWS; do
		run_row "$spec" || die "row $spec failed"
		[ -n "$DESCRIBED" ] || describe_env
		DESCRIBED=1
		# After each row: a run that dies later still leaves results.
		cp "$TMP/raw.csv" "$TMP/control.csv" "$OUT/"
	done
	log "done"
}

main "$@"
