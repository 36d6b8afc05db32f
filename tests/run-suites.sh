#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/run-suites.sh - in the VM: run the VM suites one after another
# with one module file; what the VM lanes of tests/check.sh boot into.
#
#   tests/run-suites.sh [--kmemleak] -k MODULE.ko SUITE...
#
# --kmemleak (the debug lane): forget what kmemleak suspects before the
# suites (boot-time objects are not ours), and after the last suite has
# unloaded the module, scan twice (an object must survive a scan to be
# reported) and report the result as one more KTAP suite: any suspected
# leak fails it. Without kmemleak in the kernel that is a failure too,
# not a skip: the lane exists to run this check.
#
# Exit status: 0 when every suite (and the leak check) passed, else 1.

set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
KMEMLEAK=/sys/kernel/debug/kmemleak
leak_check=0 ko=""

while [ $# -gt 0 ]; do
	case $1 in
	--kmemleak) leak_check=1; shift ;;
	-k) ko=$2; shift 2 ;;
	*) break ;;
	esac
done
[ -n "$ko" ] && [ $# -gt 0 ] || { echo "usage: $0 [--kmemleak] -k KO SUITE..." >&2; exit 2; }

if [ $leak_check = 1 ] && [ -w $KMEMLEAK ]; then
	echo clear > $KMEMLEAK
fi

rc=0
for suite in "$@"; do
	"$suite" -k "$ko" || rc=1
done
[ $leak_check = 1 ] || exit $rc

echo "TAP version 13"
echo "1..1"
if [ ! -w $KMEMLEAK ]; then
	echo "not ok 1 kmemleak_after_unload # no $KMEMLEAK in this kernel"
	exit 1
fi
# The scan only means something once the module is gone.
if grep -q '^smtpblock ' /proc/modules && ! rmmod smtpblock; then
	echo "not ok 1 kmemleak_after_unload # rmmod smtpblock failed"
	exit 1
fi
# kmemleak reports an object only after it was seen unreferenced in a
# scan at least 5 s (its minimum age) after allocation.
echo scan > $KMEMLEAK
sleep 6
echo scan > $KMEMLEAK
report=$(cat $KMEMLEAK)
if [ -z "$report" ]; then
	echo "ok 1 kmemleak_after_unload"
else
	echo "$report" | sed 's/^/# /'
	echo "not ok 1 kmemleak_after_unload # $(echo "$report" |
		grep -c '^unreferenced object') suspected leaks"
	rc=1
fi
exit $rc
