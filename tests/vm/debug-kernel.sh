#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/vm/debug-kernel.sh - build (once) and cache the debug kernel that
# `make check-debug` boots: Debian's linux-source-6.1 (the series of the
# default lane), configured by `make allnoconfig` with tests/vm/debug.config
# as its KCONFIG_ALLCONFIG: only what the rig and the tests use, plus the
# checks (KASAN, UBSAN, kmemleak, lockdep + PROVE_RCU, DEBUG_ATOMIC_SLEEP,
# DEBUG_LIST, debug objects, failslab; virtio and 9p built in).
#
# Usage: tests/vm/debug-kernel.sh      prints KVER= KDIR= KTREE= ... like
#                                      kernel.sh; the VM rig then boots it
#                                      with `run.sh --kver $KVER`
#        tests/vm/debug-kernel.sh --packages   only installs what the build
#                                      needs (.ci/run, before it builds the
#                                      kernel beside other apt users)
#
# Cache, keyed by the source package version, the fragment and RECIPE
# (bump it when a change to build() changes the kernel); a change to any
# of them builds a new kernel; the key is in the release string, e.g.
# 6.1.192-sbdebug-1a2b3c4d:
#   ${SMTPBLOCK_CACHE:-/var/cache/smtpblock}/
#       src/linux-source-6.1_*.deb      (shared with make lint)
#       build/$KVER/{src,obj}           kernel source and build tree; obj
#                                       is `make clean`ed after the build,
#                                       which keeps what external modules
#                                       need: it is KDIR
#       kernels/$KVER/                  boot/, lib/modules/ (the rig's tree,
#                                       marked .external: not a Debian
#                                       package, kernel.sh fetches nothing)
# Measured here: 11.5 minutes wall, 22 CPU-minutes, with make -j3 on 2
# cores (the defconfig-based kernel of recipe 1 took 56 CPU-minutes); a
# cached run costs well under a second.
# Build log: build/$KVER.log. Needs root for apt (flex, bison, bc,
# libssl-dev, libelf-dev... are installed when missing).

set -euo pipefail
shopt -s inherit_errexit

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
FRAGMENT=$VM_DIR/debug.config
SERIES=6.1
RECIPE=2
CACHE=${SMTPBLOCK_CACHE:-/var/cache/smtpblock}
BUILD_PKGS=(build-essential flex bison bc libssl-dev libelf-dev cpio kmod
	xz-utils rsync)

log() { echo "debug-kernel.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

ensure_packages() {
	local missing=() p
	for p in "${BUILD_PKGS[@]}"; do
		[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >&2 ||
		{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; } ||
		die "cannot install ${missing[*]}"
}

# newest_deb DIR: the newest linux-source-$SERIES .deb in DIR, or nothing.
newest_deb() {
	local debs=("$1"/linux-source-"$SERIES"_*_all.deb)
	[ -e "${debs[0]}" ] || return 0
	printf '%s\n' "${debs[@]}" | sort -V | tail -n 1
}

# Prints the path of Debian's linux-source-$SERIES .deb, downloading it.
# Under the lock that make lint's download takes too: CI builds this
# kernel beside make check.
source_deb() {
	local dir=$CACHE/src deb lock
	mkdir -p "$dir"
	exec {lock}>"$dir/.lock"
	flock "$lock"
	# Not ls: on an empty cache its failure ends the script (pipefail).
	deb=$(newest_deb "$dir")
	if [ -z "$deb" ]; then
		log "downloading linux-source-$SERIES (~140 MB)"
		(cd "$dir" && apt-get -q -o APT::Sandbox::User=root download \
			"linux-source-$SERIES" >&2) ||
			{ apt-get update -q >&2 && (cd "$dir" && apt-get -q \
				-o APT::Sandbox::User=root download "linux-source-$SERIES" >&2); } ||
			die "cannot download linux-source-$SERIES"
		deb=$(newest_deb "$dir")
		[ -n "$deb" ] || die "linux-source-$SERIES downloaded, but not found in $dir"
	fi
	exec {lock}>&-
	echo "$deb"
}

# The release string: upstream version from the package + our cache key.
release_of() {
	local deb=$1 upstream key
	upstream=$(dpkg-deb -f "$deb" Version)
	upstream=${upstream%%-*}
	key=$( { basename "$deb"; echo "recipe $RECIPE"; cat "$FRAGMENT"; } |
		sha256sum | cut -c1-8)
	echo "$upstream-sbdebug-$key"
}

# Every CONFIG_ line of the fragment must be in the final .config, or the
# kernel would silently lack a check we rely on.
verify_config() {
	local config=$1 line name want bad=0
	while read -r line; do
		case $line in CONFIG_*) ;; *) continue ;; esac
		name=${line%%=*} want=${line#*=}
		if [ "$want" = n ]; then
			grep -qx "$name=[ym]" "$config" || continue
		else
			grep -qxF "$line" "$config" && continue
		fi
		log "fragment line '$line' did not survive olddefconfig"
		bad=1
	done <"$FRAGMENT"
	return $bad
}

build() {
	local deb=$1 kver=$2 b=$CACHE/build/$2 ktree=$CACHE/kernels/$2 tmp j
	j=$(($(nproc) + 1))
	rm -rf "$b" "$ktree".tmp.*
	mkdir -p "$b/obj"
	log "unpacking $(basename "$deb")"
	dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards './usr/src/linux-source-*.tar.xz' |
		tar -xJ -C "$b"
	mv "$b/linux-source-$SERIES" "$b/src"
	log "configuring $kver"
	make -s -C "$b/src" O="$b/obj" KCONFIG_ALLCONFIG="$FRAGMENT" allnoconfig >&2
	# The release string lives in LOCALVERSION (no "+": not a git tree).
	"$b/src/scripts/config" --file "$b/obj/.config" \
		--set-str LOCALVERSION "-${kver#*-}" --disable LOCALVERSION_AUTO
	make -s -C "$b/src" O="$b/obj" olddefconfig >&2
	verify_config "$b/obj/.config" || die "config fragment does not apply"
	log "building $kver with make -j$j (about 12 minutes on 2 cores)"
	make -s -C "$b/src" O="$b/obj" -j"$j" bzImage modules >&2
	[ "$(cat "$b/obj/include/config/kernel.release")" = "$kver" ] ||
		die "the kernel built is not $kver"
	tmp=$(mktemp -d "$ktree.tmp.XXXXXX")
	mkdir -p "$tmp/boot"
	cp "$b/obj/arch/x86/boot/bzImage" "$tmp/boot/vmlinuz-$kver"
	# No boot/vmlinux: booted directly (PVH) this kernel dies before its
	# first message under TCG; the bzImage boots.
	touch "$tmp/boot/.vmlinux-tried"
	cp "$b/obj/.config" "$tmp/boot/config-$kver"
	cp "$b/obj/System.map" "$tmp/boot/System.map-$kver"
	make -s -C "$b/src" O="$b/obj" INSTALL_MOD_PATH="$tmp" INSTALL_MOD_STRIP=1 \
		modules_install >&2
	rm -f "$tmp/lib/modules/$kver/build" "$tmp/lib/modules/$kver/source"
	ln -s "$b/obj" "$tmp/lib/modules/$kver/build"
	# What is left is enough to build external modules against (KDIR).
	make -s -C "$b/src" O="$b/obj" clean >&2
	echo debug-kernel.sh >"$tmp/.external"
	touch "$tmp/.complete"
	rm -rf "$ktree"
	mv "$tmp" "$ktree"
}

main() {
	local deb kver lock
	if [ "${1:-}" = --packages ]; then
		ensure_packages
		return
	fi
	[ "$(id -u)" -eq 0 ] || [ -w "$CACHE" ] || die "needs root or a writable SMTPBLOCK_CACHE"
	mkdir -p "$CACHE/build" "$CACHE/kernels"
	exec {lock}>"$CACHE/build/.lock"
	flock "$lock"
	deb=$(source_deb)
	kver=$(release_of "$deb")
	if [ ! -f "$CACHE/kernels/$kver/.complete" ]; then
		ensure_packages
		build "$deb" "$kver" 2>"$CACHE/build/$kver.log" ||
			{ tail -n 30 "$CACHE/build/$kver.log" >&2; die "build failed: $CACHE/build/$kver.log"; }
	fi
	exec {lock}>&-
	# shellcheck source=kernel.sh
	. "$VM_DIR/kernel.sh"
	kernel_ensure "$kver"
	kernel_print_vars
}

main "$@"
