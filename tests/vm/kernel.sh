#!/bin/bash
# tests/vm/kernel.sh - make sure a Debian kernel for the test VM is cached.
#
# Usage (executed):  tests/vm/kernel.sh [KVER]
# Usage (sourced):   . tests/vm/kernel.sh; kernel_ensure [KVER]
#                    (sets the shell variables listed below, prints nothing;
#                    the caller should run under `set -euo pipefail`)
#
# KVER defaults to the ABI that Debian's `linux-headers-amd64` meta package
# currently depends on (e.g. 6.1.0-56-amd64).  SMTPBLOCK_KVER overrides it.
#
# Why: the host kernel cannot load modules, so tests boot a stock Debian
# kernel in qemu.  We never install that kernel on the host: its .deb is
# unpacked into a private cache instead:
#
#   ${SMTPBLOCK_CACHE:-/var/cache/smtpblock}/kernels/$KVER/
#       boot/vmlinuz-$KVER
#       boot/vmlinux-$KVER          (extracted from vmlinuz: fast PVH boot)
#       lib/modules/$KVER/          (depmod'ed here, so modprobe works)
#       lib/modules/$KVER/build ->  /usr/src/linux-headers-$KVER
#
# The .deb comes from, in order: $SMTPBLOCK_KERNEL_DEB (offline use), apt's
# archive (/var/cache/apt/archives), `apt-get download` (apt-get update is
# run first when the lists are empty, and once more if the download fails).
#
# The headers (to build the module on the host) and the tools the VM rig
# uses are installed on the host with apt-get when missing (root only;
# otherwise the missing packages are named and we exit 1).
#
# Output when executed: one VAR=value line each on stdout (diagnostics go to
# stderr).  Values are shell-quoted with printf %q, which is a no-op for the
# usual paths, so the lines can be `eval`ed by sh or `include`d by make:
#
#   KVER=6.1.0-56-amd64
#   KDIR=/usr/src/linux-headers-6.1.0-56-amd64      (pass to make -C)
#   KTREE=/var/cache/smtpblock/kernels/6.1.0-56-amd64
#   VMLINUZ=$KTREE/boot/vmlinuz-6.1.0-56-amd64
#   VMLINUX=$KTREE/boot/vmlinux-6.1.0-56-amd64      (ELF for fast PVH boot;
#                                                  empty if unavailable)
#   KMODDIR=$KTREE/lib/modules/6.1.0-56-amd64
#
#   Makefile:  $(shell tests/vm/kernel.sh > .kernel.mk) + include .kernel.mk
#
# Fast path: when the tree and the packages are present, no apt command runs
# (only dpkg-query, plus one `apt-cache depends` per change of the apt lists
# to resolve the default KVER, memoised in the cache dir).

KERNEL_SH_PKGS=(qemu-system-x86 busybox-static kmod iproute2 nftables)

kernel_log() { echo "kernel.sh: $*" >&2; }
kernel_die() { kernel_log "error: $*"; exit 1; }

kernel_cache_root() { echo "${SMTPBLOCK_CACHE:-/var/cache/smtpblock}"; }

kernel_is_root() { [ "$(id -u)" -eq 0 ]; }

# apt-get refuses to drop privileges to _apt for a directory only root can
# write; we download into such temp dirs, so keep the download as root.
kernel_apt_get() {
	if kernel_is_root; then
		apt-get -q -o APT::Sandbox::User=root "$@"
	else
		apt-get -q "$@"
	fi
}

# The apt lists are empty on a fresh machine (e.g. a slim container).
kernel_apt_lists_empty() {
	! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

kernel_apt_update() {
	kernel_is_root || kernel_die "apt lists are empty/stale and we are not root: run 'apt-get update' as root"
	kernel_log "running apt-get update"
	kernel_apt_get update >&2
}

# Cheap fingerprint of the apt lists, to memoise the default KVER: the
# `apt-cache depends` call costs ~1 s, most of a cached run.
kernel_apt_lists_stamp() {
	stat -c '%n %Y %s' /var/lib/apt/lists/*_Packages* 2>/dev/null | md5sum | cut -d' ' -f1
}

# The headers ABI Debian's linux-headers-amd64 depends on, e.g. 6.1.0-56-amd64.
kernel_default_kver() {
	if [ -n "${SMTPBLOCK_KVER:-}" ]; then echo "$SMTPBLOCK_KVER"; return; fi
	kernel_apt_lists_empty && kernel_apt_update
	local memo stamp kver=""
	memo="$(kernel_cache_root)/default-kver"
	stamp=$(kernel_apt_lists_stamp)
	if [ -r "$memo" ] && [ "$(sed -n 1p "$memo")" = "$stamp" ]; then
		sed -n 2p "$memo"
		return
	fi
	kver=$(apt-cache depends linux-headers-amd64 2>/dev/null |
		sed -n 's/^ *Depends: linux-headers-\(.*-amd64\)$/\1/p' | head -n1)
	[ -n "$kver" ] || kernel_die "cannot resolve the default kernel: 'apt-cache depends linux-headers-amd64' names no linux-headers-*-amd64"
	# Memoising is an optimisation only: ignore an unwritable cache dir.
	{ mkdir -p "$(dirname "$memo")" && printf '%s\n%s\n' "$stamp" "$kver" >"$memo.$$" &&
		mv -f "$memo.$$" "$memo"; } 2>/dev/null || rm -f "$memo.$$" 2>/dev/null || true
	echo "$kver"
}

# Prints the host packages (from KERNEL_SH_PKGS + headers) not installed.
kernel_missing_packages() {
	local kver=$1 pkg
	for pkg in "${KERNEL_SH_PKGS[@]}" ${kver:+"linux-headers-$kver"}; do
		if [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" != installed ]; then
			echo "$pkg"
		fi
	done
}

kernel_ensure_packages() {
	local kver=$1 missing
	missing=$(kernel_missing_packages "$kver" | tr '\n' ' ')
	[ -z "$missing" ] && return 0
	if ! kernel_is_root; then
		kernel_die "missing host packages: ${missing% } (run as root: apt-get install -y ${missing% })"
	fi
	kernel_log "installing host packages: $missing"
	kernel_apt_lists_empty && kernel_apt_update
	# shellcheck disable=SC2086  # word splitting of the package list wanted
	if ! DEBIAN_FRONTEND=noninteractive kernel_apt_get install -y --no-install-recommends $missing >&2; then
		# Stale lists often point at versions the mirror dropped.
		kernel_apt_update
		# shellcheck disable=SC2086
		DEBIAN_FRONTEND=noninteractive kernel_apt_get install -y --no-install-recommends $missing >&2 ||
			kernel_die "apt-get install failed for: $missing"
	fi
}

# Finds or downloads linux-image-$KVER-unsigned; prints the .deb path.
# Order: $SMTPBLOCK_KERNEL_DEB (offline use), apt's own archive, apt-get download.
kernel_get_deb() {
	local kver=$1 dldir=$2 pkg="linux-image-$1-unsigned" deb
	if [ -n "${SMTPBLOCK_KERNEL_DEB:-}" ]; then
		[ -r "$SMTPBLOCK_KERNEL_DEB" ] || kernel_die "SMTPBLOCK_KERNEL_DEB=$SMTPBLOCK_KERNEL_DEB is not readable"
		echo "$SMTPBLOCK_KERNEL_DEB"
		return
	fi
	for deb in /var/cache/apt/archives/"${pkg}"_*_amd64.deb; do
		[ -r "$deb" ] && { echo "$deb"; return; }
	done
	kernel_log "downloading $pkg (~70 MB)"
	kernel_apt_lists_empty && kernel_apt_update
	if ! (cd "$dldir" && kernel_apt_get download "$pkg" >&2); then
		kernel_apt_update
		(cd "$dldir" && kernel_apt_get download "$pkg" >&2) || kernel_die "apt-get download $pkg failed"
	fi
	for deb in "$dldir"/"${pkg}"_*.deb; do
		[ -r "$deb" ] && { echo "$deb"; return; }
	done
	kernel_die "apt-get download $pkg left no .deb in $dldir"
}

# Writes boot/vmlinux-$KVER, the ELF kernel inside the bzImage, when the
# kernel can boot it via PVH.  Why: qemu then jumps straight into the kernel
# (-kernel vmlinux), skipping SeaBIOS' real-mode loader and the xz
# decompressor, which take ~4.5 s under TCG.  Best effort: run.sh falls back
# to the bzImage.  (Side effect: no KASLR, which is done by the decompressor.)
kernel_extract_vmlinux() {
	local boot=$1 kver=$2 magic off tool tmp
	tmp=$boot/vmlinux.tmp.$$
	touch "$boot/.vmlinux-tried" # do not retry at every run if this fails
	grep -qx 'CONFIG_PVH=y' "$boot/config-$kver" 2>/dev/null || return 0
	# "magic (for grep -P):decompressor"; the first payload that
	# decompresses to an ELF file wins.
	for magic in '\xfd7zXZ\x00:xz -dc --single-stream' '\x28\xb5\x2f\xfd:zstd -dcq' '\x1f\x8b\x08:gzip -dc'; do
		tool=${magic#*:}
		command -v "${tool%% *}" >/dev/null || continue
		while read -r off; do
			# shellcheck disable=SC2086  # $tool is a command line
			tail -c +$((off + 1)) "$boot/vmlinuz-$kver" | $tool >"$tmp" 2>/dev/null || true
			if [ "$(head -c4 "$tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
				mv "$tmp" "$boot/vmlinux-$kver"
				return 0
			fi
		done < <(LC_ALL=C grep -obUaP "${magic%%:*}" "$boot/vmlinuz-$kver" | cut -d: -f1)
	done
	rm -f "$tmp"
	kernel_log "note: no ELF vmlinux found in vmlinuz-$kver; the VM will boot the slower bzImage"
}

# Unpacks the image into $KTREE (atomically: into a temp dir, then rename),
# runs depmod (the package's postinst would, dpkg-deb -x does not) and adds
# the `build` link so in-guest tools find the headers like on a real system.
# A subshell, so that its cleanup trap does not replace the caller's.
kernel_fetch_tree() (
	set -e
	local kver=$1 ktree=$2 tmp deb
	rm -rf "$ktree".tmp.* # left over by an interrupted run (we hold the lock)
	tmp=$(mktemp -d "$ktree.tmp.XXXXXX")
	# shellcheck disable=SC2064  # expand $tmp now
	trap "rm -rf '$tmp'" EXIT
	deb=$(kernel_get_deb "$kver" "$tmp")
	kernel_log "unpacking $(basename "$deb") into $ktree"
	mkdir "$tmp/root"
	dpkg-deb -x "$deb" "$tmp/root"
	rm -f "$tmp"/*.deb
	[ -f "$tmp/root/boot/vmlinuz-$kver" ] || kernel_die "$deb has no boot/vmlinuz-$kver"
	[ -d "$tmp/root/lib/modules/$kver" ] || kernel_die "$deb has no lib/modules/$kver"
	depmod -b "$tmp/root" "$kver"
	kernel_extract_vmlinux "$tmp/root/boot" "$kver"
	ln -sfn "/usr/src/linux-headers-$kver" "$tmp/root/lib/modules/$kver/build"
	touch "$tmp/root/.complete"
	rm -rf "$ktree"
	mv "$tmp/root" "$ktree"
	rm -rf "$tmp"
	trap - EXIT
)

kernel_tree_ok() {
	local kver=$1 ktree=$2
	[ -f "$ktree/.complete" ] && [ -f "$ktree/boot/vmlinuz-$kver" ] &&
		[ -f "$ktree/lib/modules/$kver/modules.dep" ]
}

# Ensures everything for KVER; sets KVER KDIR KTREE VMLINUZ VMLINUX KMODDIR.
kernel_ensure() {
	KVER=${1:-}
	[ -n "$KVER" ] || KVER=$(kernel_default_kver)
	case $KVER in
	*/* | '' | .*) kernel_die "bad kernel version '$KVER'" ;;
	esac
	KTREE=$(kernel_cache_root)/kernels/$KVER
	# shellcheck disable=SC2034
	VMLINUZ=$KTREE/boot/vmlinuz-$KVER
	# shellcheck disable=SC2034
	KMODDIR=$KTREE/lib/modules/$KVER
	# A tree another script prepared (the debug kernel, a kernel from a
	# newer suite): nothing to fetch; its headers are where `build` points.
	if [ -f "$KTREE/.external" ]; then
		kernel_tree_ok "$KVER" "$KTREE" || kernel_die "$KTREE is incomplete: rerun $(cat "$KTREE/.external")"
		kernel_ensure_packages "" # the rig's packages only
		KDIR=$(readlink -f "$KMODDIR/build")
		kernel_set_vmlinux
		return 0
	fi
	kernel_ensure_packages "$KVER"
	# shellcheck disable=SC2034  # used by callers / kernel_print_vars
	KDIR=/usr/src/linux-headers-$KVER
	kernel_tree_ok "$KVER" "$KTREE" && { kernel_set_vmlinux; return 0; }

	local kdir lock
	kdir=$(dirname "$KTREE")
	mkdir -p "$kdir" 2>/dev/null || kernel_die "cannot create $kdir (set SMTPBLOCK_CACHE to a writable dir, or run as root)"
	[ -w "$kdir" ] || kernel_die "$kdir is not writable (set SMTPBLOCK_CACHE, or run as root)"
	# Serialise concurrent runs fetching the same kernel.
	lock=$kdir/.lock
	exec {kernel_lock_fd}>"$lock"
	flock "$kernel_lock_fd"
	kernel_tree_ok "$KVER" "$KTREE" || kernel_fetch_tree "$KVER" "$KTREE"
	exec {kernel_lock_fd}>&-
	kernel_tree_ok "$KVER" "$KTREE" || kernel_die "kernel tree $KTREE is incomplete after unpacking"
	kernel_set_vmlinux
}

# VMLINUX: the PVH-bootable ELF kernel if we have one, else empty.
# (Trees unpacked by an older kernel.sh get it on first use.)
kernel_set_vmlinux() {
	VMLINUX=$KTREE/boot/vmlinux-$KVER
	if [ ! -f "$VMLINUX" ] && [ ! -e "$KTREE/boot/.vmlinux-tried" ] && [ -w "$KTREE/boot" ]; then
		kernel_extract_vmlinux "$KTREE/boot" "$KVER"
	fi
	[ -f "$VMLINUX" ] || VMLINUX=""
}

kernel_print_vars() {
	local v
	for v in KVER KDIR KTREE VMLINUZ VMLINUX KMODDIR; do
		printf '%s=%q\n' "$v" "${!v}"
	done
}

kernel_main() {
	case ${1:-} in
	-h | --help)
		sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
		return 0
		;;
	esac
	[ $# -le 1 ] || kernel_die "usage: $0 [KVER]"
	kernel_ensure "${1:-}"
	kernel_print_vars
}

# Run main only when executed, not when sourced by run.sh.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	shopt -s inherit_errexit
	kernel_main "$@"
fi
