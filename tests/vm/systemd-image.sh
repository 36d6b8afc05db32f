#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/vm/systemd-image.sh - a Debian 12 disk image that boots with
# systemd as PID 1 in the VM rig (run.sh --image), for the systemd lane
# (tests/systemd.sh): what an operator's router runs, minus the network.
#
# Usage: tests/vm/systemd-image.sh [KVER]     prints IMAGE=PATH
#
# The image is made once and kept, keyed by what goes into it (the package
# list, the kernel, the text of configure_image below):
#   ${SMTPBLOCK_CACHE:-/var/cache/smtpblock}/images/bookworm-systemd-KEY.img
# an ext4 file system (no partition table) made from a debootstrap tree by
# mkfs.ext4 -d, so no loop device or mount is needed. A run boots a copy
# (cp --sparse: a second or two), so runs never see each other's changes.
#
# In the image: systemd, udev, dbus, procps, prometheus-node-exporter, dkms with the compiler and the headers of
# KVER (the rig's Debian 12 kernel), iproute2, kmod; the kernel's modules
# in its own /lib/modules/KVER, copied from the rig's unpacked kernel (the
# same files linux-image-KVER holds, without the initramfs machinery
# that kernel boots without); and a unit, smtpblock-vm-job.service, that
# runs the command run.sh gives once the system is up. Units that would
# only cost time under TCG (timers, gettys) are masked. Measured here:
# about 3 minutes to make (network and dpkg), 1.1 GB (sparse).

set -euo pipefail
shopt -s inherit_errexit

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
CACHE=${SMTPBLOCK_CACHE:-/var/cache/smtpblock}
MIRROR=${SMTPBLOCK_MIRROR:-http://deb.debian.org/debian}

log() { echo "systemd-image.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# debootstrap's (bookworm alone), then apt's: the headers of the current
# Debian 12 kernel are in bookworm-security or bookworm-updates as often
# as in bookworm.
BASE_PACKAGES=systemd,systemd-sysv,udev,dbus,iproute2,procps,kmod,mawk
# (prometheus-node-exporter: the textfile collector's reader)
apt_packages() { echo "dkms linux-headers-$KVER prometheus-node-exporter"; }
packages() { echo "$BASE_PACKAGES $(apt_packages)"; }
APT_OPTS=(-q -o APT::Sandbox::User=root)

# configure_image ROOT: everything but the packages. Its text is part of
# the cache key: a change here makes a new image.
configure_image() {
	local r=$1
	echo smtpblock-vm >"$r/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\tsmtpblock-vm\n' >"$r/etc/hosts"
	# The root is mounted read-write by run.sh's initramfs.
	echo '# / is mounted by the initramfs (tests/vm/run.sh --image)' >"$r/etc/fstab"
	# No password, no login: the job unit is the only way in.
	local unit
	for unit in getty@.service serial-getty@.service getty-static.service apt-daily.timer \
		apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
		fstrim.timer dpkg-db-backup.timer systemd-timesyncd.service; do
		ln -sfn /dev/null "$r/etc/systemd/system/$unit"
	done
	mkdir -p "$r/mnt/out" "$r/host" "$r/usr/local/lib/smtpblock-vm"
	cat >"$r/usr/local/lib/smtpblock-vm/job" <<'EOF'
#!/bin/sh
# Runs run.sh's job once the system is up, then powers off, or reboots
# when the job asked for it (touch $SMTPBLOCK_VM_OUT/.vm/reboot): run.sh
# then boots the same disk again and the job runs again.
out=/mnt/out
rc=0
sh "$out/.vm/job" || rc=$?
dmesg >"$out/dmesg.log" 2>&1
cat /proc/sys/kernel/tainted >"$out/tainted"
if [ -e "$out/.vm/reboot" ]; then
	sync
	systemctl start --no-block --job-mode=replace-irreversibly reboot.target
	exit 0
fi
echo "$rc" >"$out/rc.tmp" && mv "$out/rc.tmp" "$out/rc"
sync
systemctl start --no-block --job-mode=replace-irreversibly poweroff.target
EOF
	chmod 755 "$r/usr/local/lib/smtpblock-vm/job"
	cat >"$r/etc/systemd/system/smtpblock-vm-job.service" <<'EOF'
[Unit]
Description=The test rig's job (tests/vm/run.sh --image)
After=multi-user.target

[Service]
# simple, not oneshot: the boot is over (is-system-running) while it runs.
Type=simple
ExecStart=/usr/local/lib/smtpblock-vm/job
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/ttyS0
TTYVTDisallocate=no

[Install]
WantedBy=multi-user.target
EOF
	ln -sfn /etc/systemd/system/smtpblock-vm-job.service \
		"$r/etc/systemd/system/multi-user.target.wants/smtpblock-vm-job.service"
}

image_key() {
	{
		packages
		echo "$KVER"
		declare -f configure_image
	} | sha256sum | cut -c1-16
}

make_image() {
	local img=$1 tmp=$1.tmp
	command -v debootstrap >/dev/null ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2 ||
		die "cannot install debootstrap"
	# One image at a time: an older key's is of no more use.
	rm -rf "$CACHE"/images/bookworm-systemd-*
	mkdir -p "$tmp"
	log "debootstrap bookworm with systemd, dkms and the headers of $KVER (about 3 minutes)"
	debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$tmp" "$MIRROR" \
		>"$img.log" 2>&1 || die "debootstrap failed: $img.log"
	cat >"$tmp/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
EOF
	{
		chroot "$tmp" apt-get "${APT_OPTS[@]}" update &&
			DEBIAN_FRONTEND=noninteractive chroot "$tmp" apt-get "${APT_OPTS[@]}" \
				install -y --no-install-recommends $(apt_packages) &&
			chroot "$tmp" apt-get clean
	} >>"$img.log" 2>&1 || die "cannot install $(apt_packages): $img.log"
	rm -rf "$tmp"/var/lib/apt/lists/*
	# The kernel's modules, but its build link (the headers' package has
	# its own).
	tar -C "$KMODDIR" --exclude=./build -cf - . | tar -C "$tmp/lib/modules/$KVER" -xf -
	configure_image "$tmp"
	local mb
	mb=$(du -sm "$tmp" | cut -f1)
	# Room for two module builds and the journal.
	mkfs.ext4 -q -F -L smtpblock-vm -d "$tmp" "$tmp.img" "$((mb + 768))M" >>"$img.log" 2>&1 ||
		die "mkfs.ext4 -d failed: $img.log"
	rm -rf "$tmp"
	mv "$tmp.img" "$img"
}

main() {
	[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap)"
	# shellcheck source=kernel.sh
	. "$VM_DIR/kernel.sh"
	kernel_ensure "${1:-}"
	mkdir -p "$CACHE/images"
	local lock img
	img=$CACHE/images/bookworm-systemd-$(image_key).img
	exec {lock}>"$CACHE/images/.lock"
	flock "$lock"
	[ -f "$img" ] || make_image "$img"
	exec {lock}>&-
	printf 'IMAGE=%q\n' "$img"
}

main "$@"
