#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: inside the VM, the router of tests/smtpblock.sh's picture with
# a small campus. A campus client is blocked on port 25, allowed on 587;
# the campus relay gets through; then the counters.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
KO=$HERE/../smtpblock.ko
. "$HERE/lib.sh"
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }
# show HOST ADDR PORT: one connection attempt, and what happened to it.
show() {
	printf '%-8s -> %-16s port %-4s: %s\n' "$1" "$2" "$3" \
		"$(probe 2000 "$@")"
}

setup || { echo "topology setup failed"; exit 1; }

say "Loading smtpblock on the router (the VM), campus $CAMPUS"
pp load campus="$CAMPUS" relays="$RELAYS" || exit 1
pp grep . $SYS/enabled $SYS/mode $SYS/ports
pp cat $SYS/campus
pp cat $SYS/relays

say "A campus client ($CL4) tries to send mail straight to an outside MX"
show cl $MX4 25
show cl $MX6 25
say "... and submits it on port 587 instead"
show cl $MX4 587
say "The campus mail relay ($RL4) may send to the internet"
show rl $MX4 25
show rl $MX6 25
say "Mail inside the campus is not touched"
show cl $RL4 25

say "Counters (syn_seen = allowed_* + blocked; blocked = dropped + rejected + monitored)"
for s in $STATS; do printf '%-17s %s\n' "$s" "$(counter "$s")"; done

say "Switching to reject: the client now fails at once"
pp sh -c "echo reject > $SYS/mode"
show cl $MX4 25
say "Kernel log"
dmesg | grep 'smtpblock:'
