#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/run.sh - what `make bench` runs: smtpblock side by side with
# nftables, iptables+ipset and a linear iptables rule list, in one boot of
# the test VM, and the results as a Markdown table, CSVs and a PNG chart
# in bench/results/ (file names carry the guest kernel and the date).
#
#   bench/run.sh [--quick] [--reps N] [--timing icount|wall] [--ko FILE]
#                [--rows "ROW..."] [--window SECONDS]
#
#   --quick        development run: small lists, 2 repetitions (~3 min)
#   --reps N       repetitions of every measurement (default 5)
#   --timing icount  (default) the guest's clock counts instructions
#                  (qemu -icount shift=0: 1 ns per instruction), one vCPU;
#                  results do not depend on what else the host runs
#            wall  the test VM as tests/vm/run.sh boots it (2 vCPUs, real
#                  time): only to compare; noisy on a shared machine, and
#                  it needs a longer --window (2 s): at ~15,000 packets/s a
#                  0.1 s window holds too few packets, and with 2 vCPUs the
#                  router lags the sender by up to a backlog
#   --ko FILE      benchmark this module instead of building one
#   --rows, --window  see bench/guest.sh (BENCH_ROWS, BENCH_WINDOW)
#   --profile "WORKLOAD..."  instead of measuring: perf profiles of these
#                  workloads (pass4 block4 relay4 pass6...) crossing
#                  smtpblock, to bench/results/BASE-profile-WORKLOAD.txt
#
# Steps: install the packages it needs (Debian's: netsniff-ng for trafgen,
# nftables, iptables, ipset, gnuplot-nox) when missing; build smtpblock.ko
# against the Debian 12 kernel the tests use (tests/vm/kernel.sh); write
# the lists (bench/lists.sh); boot the VM once with bench/guest.sh; turn
# its raw numbers into the results (bench/report.sh). Work files go to
# bench/.work/ (not tracked). Takes about 15 minutes on 2 cores.

set -uo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$BENCH/.." && pwd -P)
cd "$ROOT" || exit 1

PKGS=(netsniff-ng nftables iptables ipset gnuplot-nox)
# Rows in load order (see guest.sh): FAMILY:RELAYS:CAMPUS:WORKLOADS.
# `pass` never looks at the lists in any configuration (the port is
# checked first everywhere), so it is measured at the ends of the range.
ROWS_FULL="4:10:10:pass,block,relay 4:10:10000:block,relay 6:1000:10:pass,block,relay
4:1000:10:block,relay 4:100000:10:block,relay 4:1000000:10:pass,block,relay"
ROWS_QUICK="4:10:10:pass,block,relay 6:1000:10:block 4:1000:10:block,relay 4:100000:10:block,relay"

OPT_REPS=5 OPT_TIMING=icount OPT_KO="" OPT_ROWS="" OPT_WINDOW=0.1 OPT_QUICK="" OPT_PROFILE=""

log() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }
usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit "${1:-0}"; }

ORIG_ARGS=$*
while [ $# -gt 0 ]; do
	case $1 in
	--quick) OPT_QUICK=1 OPT_REPS=2; shift ;;
	--reps) OPT_REPS=${2:?}; shift 2 ;;
	--timing) OPT_TIMING=${2:?}; shift 2 ;;
	--ko) OPT_KO=${2:?}; shift 2 ;;
	--rows) OPT_ROWS=${2:?}; shift 2 ;;
	--window) OPT_WINDOW=${2:?}; shift 2 ;;
	--profile) OPT_PROFILE=${2:?}; shift 2 ;;
	-h | --help) usage 0 ;;
	*) log "unknown argument: $1"; usage 2 >&2 ;;
	esac
done
[[ $OPT_REPS =~ ^[1-9][0-9]*$ ]] || die "--reps wants a positive number"
[ -z "$OPT_PROFILE" ] || PKGS+=(linux-perf)
ROWS=${OPT_ROWS:-$([ -n "$OPT_QUICK" ] && echo "$ROWS_QUICK" || echo "$ROWS_FULL")}
ROWS=${ROWS//$'\n'/ } # one line

# qemu arguments per timing method, after run.sh's own (--qemu-arg: the
# last of a repeated option wins). icount needs one vCPU: with two, the 6.1 guest
# hangs bringing up the second CPU. 3 GB: nft needs ~1.8 GB to load a
# million-element set (its transaction in the kernel, ~1 GB, plus ~0.8 GB
# in nft itself); with run.sh's 1 GB the OOM killer ends it.
case $OPT_TIMING in
icount) QEMU_ARGS="-m 3072 -smp 1 -icount shift=0" ;;
wall) QEMU_ARGS="-m 3072" ;;
*) die "--timing is icount or wall" ;;
esac

ensure_packages() {
	local p missing=()
	for p in "${PKGS[@]}"; do
		[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages: ${missing[*]} (as root: apt-get install ${missing[*]})"
	log "installing ${missing[*]}"
	compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || apt-get -q update >&2
	DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends "${missing[@]}" >&2 ||
		{ apt-get -q update >&2 &&
		  DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends "${missing[@]}" >&2; } ||
		die "apt-get install ${missing[*]} failed"
}

# lists_of ROWS: every list the rows load (the other family stays at 10).
lists_of() {
	local spec fam r c
	for spec in $1; do
		IFS=: read -r fam r c _ <<<"$spec"
		if [ "$fam" = 4 ]; then
			echo "c4_$c r4_$r c6_10 r6_10"
		else
			echo "c4_10 r4_10 c6_$c r6_$r"
		fi
	done | tr ' ' '\n' | sort -u
}

main() {
	local t0=$SECONDS work vm ko stamp base f rc=0
	ensure_packages
	local env
	env=$(tests/vm/kernel.sh) || die "tests/vm/kernel.sh failed"
	eval "$env"
	work=$BENCH/.work
	vm=$work/vm
	mkdir -p "$work" "$BENCH/results" || die "cannot create $work"
	if [ -n "$OPT_KO" ]; then
		ko=$(readlink -f "$OPT_KO") || die "no $OPT_KO"
	else
		log "building smtpblock.ko for $KVER"
		make -C "$KDIR" M="$ROOT" modules >"$work/build.log" 2>&1 ||
			{ tail -n 20 "$work/build.log" >&2; die "module build failed (see $work/build.log)"; }
		ko=$ROOT/smtpblock.ko
	fi
	log "writing the lists"
	# shellcheck disable=SC2046  # one list name per word
	"$BENCH/lists.sh" "$work/data" $(lists_of "$ROWS") || die "lists.sh failed"
	rm -rf "$vm"
	log "booting the VM ($OPT_TIMING timing): rows $ROWS"
	local qemu_opts=() a
	for a in $QEMU_ARGS; do qemu_opts+=(--qemu-arg "$a"); done
	tests/vm/run.sh --kver "$KVER" --timeout 1800 --out "$vm" "${qemu_opts[@]}" \
		--env BENCH_KO="$ko" --env BENCH_DATA="$work/data" --env BENCH_ROWS="$ROWS" \
		--env BENCH_REPS="$OPT_REPS" --env BENCH_WINDOW="$OPT_WINDOW" \
		--env BENCH_PROFILE="$OPT_PROFILE" \
		-- bash "$BENCH/guest.sh" || rc=$?
	[ "$rc" -eq 0 ] || die "the VM run failed (status $rc; log: $vm/console.log)"
	stamp=$(date +%Y-%m-%d)
	base=smtpblock-bench-$KVER-$stamp${OPT_QUICK:+-quick}
	[ "$OPT_TIMING" = icount ] || base+=-wall
	if [ -n "$OPT_PROFILE" ]; then
		for f in "$vm"/profile-*.txt; do
			cp "$f" "$BENCH/results/$base-$(basename "$f")" || die "no profile in $vm"
		done
		log "done in $((SECONDS - t0)) s: bench/results/$base-profile-*.txt"
		return
	fi
	"$BENCH/report.sh" "$vm" "$BENCH/results" "$base" \
		"bench/run.sh${ORIG_ARGS:+ $ORIG_ARGS}" "$OPT_TIMING (qemu $QEMU_ARGS)" ||
		die "report.sh failed"
	log "done in $((SECONDS - t0)) s: bench/results/$base.md"
}

main
