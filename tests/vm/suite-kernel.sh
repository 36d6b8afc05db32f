#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/vm/suite-kernel.sh - the kernel of another Debian suite, for
# `make check-compat`: a build chroot with that suite's headers and
# compiler, and that suite's stock kernel unpacked for the VM rig.
#
# Usage: tests/vm/suite-kernel.sh SUITE                prints KVER= KDIR=
#                                                     KTREE= ... CHROOT=
#        tests/vm/suite-kernel.sh SUITE --module DIR   also builds the
#                                                     module there (W=1, any
#                                                     warning fails) and
#                                                     copies smtpblock.ko to
#                                                     DIR
# SUITE: trixie (Debian 13) or sid (unstable); bookworm is the default lane.
#
# Why a chroot: a module must be built with the compiler its kernel was
# built with (6.12's flags need gcc-14, 7.x's gcc-16), and the host is
# Debian 12. The chroot is made once by debootstrap and kept:
#   ${SMTPBLOCK_CACHE:-/var/cache/smtpblock}/chroots/SUITE/
#       (minbase + make, libc6-dev, libelf-dev, perl, kmod and the suite's
#       linux-headers-amd64, which pulls its compiler)
#   .../kernels/$KVER/      boot/vmlinuz-$KVER, lib/modules/$KVER: the
#                           suite's unsigned kernel, marked .external
# KVER is the ABI the suite's linux-headers-amd64 named when the chroot was
# made; a chroot is not upgraded behind our back (delete it to move on).
#
# Kernel packaging differs between suites and the rig absorbs it here:
# trixie ships linux-image-KVER-unsigned (/boot, /lib/modules, .ko.xz);
# sid splits it into linux-binary-unsigned-KVER (vmlinuz.unsigned under
# /usr/lib/modules/KVER), linux-modules-KVER and linux-base-KVER (config,
# modules.builtin). Both are laid out the way kernel.sh lays out a
# bookworm kernel, and depmod runs with the suite's own kmod (newer than
# the host's). Measured here: a new chroot with headers takes about 2
# minutes (network and dpkg), the kernel download about 10 s.

set -euo pipefail
shopt -s inherit_errexit

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$VM_DIR/../.." && pwd -P)
CACHE=${SMTPBLOCK_CACHE:-/var/cache/smtpblock}
MIRROR=${SMTPBLOCK_MIRROR:-http://deb.debian.org/debian}
CHROOT_PKGS=make,libc6-dev,libelf-dev,perl,kmod,xz-utils,zstd,ca-certificates
# sid's Release file is often past its Valid-Until on the mirror.
APT_OPTS=(-q -o Acquire::Check-Valid-Until=false -o APT::Sandbox::User=root)

log() { echo "suite-kernel.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# in_chroot CMD...: CMD inside the chroot with /proc mounted (objtool
# reads it), in a private mount namespace, so nothing stays mounted.
in_chroot() {
	unshare --mount --fork -- sh -c 'mount -t proc proc "$0/proc" && exec chroot "$@"' \
		"$CHROOT" "$CHROOT" "$@"
}

make_chroot() {
	local tmp=$CHROOT.tmp
	command -v debootstrap >/dev/null ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2 ||
		die "cannot install debootstrap"
	rm -rf "$tmp"
	log "debootstrap $SUITE (about a minute)"
	debootstrap --variant=minbase --include="$CHROOT_PKGS" "$SUITE" "$tmp" "$MIRROR" \
		>"$CACHE/chroots/$SUITE.log" 2>&1 ||
		die "debootstrap $SUITE failed: $CACHE/chroots/$SUITE.log"
	log "installing $SUITE's linux-headers-amd64"
	{
		chroot "$tmp" apt-get "${APT_OPTS[@]}" update &&
			DEBIAN_FRONTEND=noninteractive chroot "$tmp" apt-get "${APT_OPTS[@]}" \
				install -y --no-install-recommends linux-headers-amd64 &&
			chroot "$tmp" apt-get clean
	} >>"$CACHE/chroots/$SUITE.log" 2>&1 ||
		die "cannot install linux-headers-amd64 in $SUITE: $CACHE/chroots/$SUITE.log"
	mv "$tmp" "$CHROOT"
}

# The -amd64 flavour of the headers installed in the chroot.
chroot_kver() {
	local d kver=""
	for d in "$CHROOT"/usr/src/linux-headers-*-amd64; do
		[ -d "$d" ] && kver=${d##*/linux-headers-}
	done
	[ -n "$kver" ] || die "no linux-headers-*-amd64 in $CHROOT"
	echo "$kver"
}

# Downloads the kernel packages into the chroot's /tmp/kernel-debs.
download_kernel() {
	local kver=$1 pkgs
	rm -rf "$CHROOT/tmp/kernel-debs"
	mkdir -p "$CHROOT/tmp/kernel-debs"
	if chroot "$CHROOT" apt-cache show "linux-image-$kver-unsigned" >/dev/null 2>&1; then
		pkgs="linux-image-$kver-unsigned"
	else
		pkgs="linux-binary-unsigned-$kver linux-modules-$kver linux-base-$kver"
	fi
	log "downloading $pkgs"
	# shellcheck disable=SC2086  # the package list
	chroot "$CHROOT" sh -c "cd /tmp/kernel-debs && apt-get $(printf '%q ' "${APT_OPTS[@]}") download $pkgs" \
		>&2 || die "apt-get download $pkgs failed in $SUITE"
}

# Unpacks the packages, lays them out as kernel.sh does, depmods.
unpack_kernel() {
	local kver=$1 ktree=$2 root=$CHROOT/tmp/kernel-root src deb
	rm -rf "$root" "$CHROOT/tmp/kernel-tree"
	mkdir -p "$root"
	for deb in "$CHROOT"/tmp/kernel-debs/*.deb; do dpkg-deb -x "$deb" "$root"; done
	local t=$CHROOT/tmp/kernel-tree
	mkdir -p "$t/boot" "$t/lib/modules"
	for src in "$root/lib/modules/$kver" "$root/usr/lib/modules/$kver"; do
		[ -d "$src" ] && mv "$src" "$t/lib/modules/$kver" && break
	done
	[ -d "$t/lib/modules/$kver" ] || die "no modules for $kver in the packages"
	for src in "$root/boot/vmlinuz-$kver" "$t/lib/modules/$kver/vmlinuz.unsigned" \
		"$t/lib/modules/$kver/vmlinuz"; do
		[ -f "$src" ] && mv "$src" "$t/boot/vmlinuz-$kver" && break
	done
	[ -f "$t/boot/vmlinuz-$kver" ] || die "no vmlinuz for $kver in the packages"
	for src in "$root/boot/config-$kver" "$t/lib/modules/$kver/config"; do
		[ -f "$src" ] && cp "$src" "$t/boot/config-$kver" && break
	done
	chroot "$CHROOT" depmod -b /tmp/kernel-tree "$kver" ||
		die "depmod failed for $kver"
	ln -sfn "$CHROOT/usr/src/linux-headers-$kver" "$t/lib/modules/$kver/build"
	# shellcheck source=kernel.sh
	. "$VM_DIR/kernel.sh"
	kernel_extract_vmlinux "$t/boot" "$kver"
	echo "suite-kernel.sh $SUITE" >"$t/.external"
	touch "$t/.complete"
	rm -rf "$root" "$CHROOT/tmp/kernel-debs" "$ktree"
	mkdir -p "$(dirname "$ktree")"
	mv "$t" "$ktree"
}

# build_module DIR: the tracked files, built in the chroot with W=1.
build_module() {
	local dest=$1 b=$CHROOT/build/smtpblock log
	rm -rf "$b"
	mkdir -p "$b" "$dest"
	(cd "$ROOT" && git ls-files -z | xargs -0 cp --parents -t "$b")
	log=$dest/build.log
	if ! in_chroot make -C "/usr/src/linux-headers-$KVER" M=/build/smtpblock W=1 \
		modules >"$log" 2>&1; then
		cat "$log" >&2
		die "module build failed for $KVER"
	fi
	if grep -q 'warning:' "$log"; then
		grep 'warning:' "$log" >&2
		die "module build for $KVER has warnings"
	fi
	cp "$b/smtpblock.ko" "$dest/smtpblock.ko"
}

main() {
	SUITE=${1:-}
	case $SUITE in
	trixie | sid) ;;
	*) die "usage: $0 trixie|sid [--module DIR]" ;;
	esac
	[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot)"
	CHROOT=$CACHE/chroots/$SUITE
	mkdir -p "$CACHE/chroots" "$CACHE/kernels"
	local lock
	exec {lock}>"$CACHE/chroots/.lock-$SUITE"
	flock "$lock"
	[ -f "$CHROOT/usr/bin/make" ] && compgen -G "$CHROOT/usr/src/linux-headers-*-amd64" >/dev/null ||
		make_chroot
	KVER=$(chroot_kver)
	if [ ! -f "$CACHE/kernels/$KVER/.complete" ]; then
		download_kernel "$KVER"
		unpack_kernel "$KVER" "$CACHE/kernels/$KVER"
	fi
	[ "${2:-}" != --module ] || build_module "${3:?--module needs a directory}"
	exec {lock}>&-
	# shellcheck source=kernel.sh
	. "$VM_DIR/kernel.sh"
	kernel_ensure "$KVER"
	kernel_print_vars
	printf 'CHROOT=%q\n' "$CHROOT"
}

main "$@"
