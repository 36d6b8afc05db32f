#!/bin/busybox sh
# shellcheck shell=dash
# tests/vm/guest-init.sh - PID 1 of the test VM (see run.sh), NOT for the host.
#
# The initramfs built by run.sh mounts the host's / read-only over virtio-9p
# and switch_root's into it, exec'ing this script from the same absolute
# path as on the host.  It exports:
#   SMTPBLOCK_VM_OUT    host --out dir; shared read-write as 9p tag "smtpout"
#   SMTPBLOCK_VM_KTREE  cached kernel tree (holds lib/modules/$(uname -r))
#   SMTPBLOCK_VM_MSIZE  9p msize to use for the out share
#
# Contract with run.sh (all in $SMTPBLOCK_VM_OUT):
#   .vm/job     bash script written by run.sh: cd + env + exec COMMAND
#   .vm/cwd     the host's cwd (to make it reachable if it is under /tmp)
#   rc          COMMAND's exit code (or "setup-failed"), written LAST: its
#               absence means the guest crashed or hung
#   tainted     /proc/sys/kernel/tainted after COMMAND
#   dmesg.log   the whole kernel log after COMMAND (independent of loglevel)
#
# Why busybox sh and not bash: under TCG every exec of a dynamically linked
# program costs ~0.1-0.2 s (ld.so + libraries over 9p); Debian's static
# busybox runs its applets (mount, mkdir, ip, ...) without PATH lookups or
# dynamic linking, which makes this setup ~2 s faster.  COMMAND is started
# by /bin/sh (see run_job) with a clean environment.
#
# No `set -e`: whatever fails, we must reach the power-off (returning from
# PID 1 panics the kernel).  Setup failures are printed to the console;
# COMMAND is then not run and rc says "setup-failed".

set -u

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
OUT=${SMTPBLOCK_VM_OUT:?}
KTREE=${SMTPBLOCK_VM_KTREE:?}
MSIZE=${SMTPBLOCK_VM_MSIZE:-262144}
SETUP_ERRORS=0

# fds 0-2 are the console already (inherited from the initramfs); never
# open /dev/console by name before devtmpfs is mounted: that path would be
# the HOST's device node, reached through 9p.
say() { echo "smtpblock-vm: $*" >&2; }

# mnt ARGS... : mount, counting (not aborting on) failures.
mnt() {
	mount "$@" && return 0
	say "setup: mount $* failed"
	SETUP_ERRORS=$((SETUP_ERRORS + 1))
}

mount_kernel_fs() {
	# Explicit path: before /proc exists busybox cannot re-exec itself
	# (/proc/self/exe) and the shell would fall back to util-linux mount.
	/bin/busybox mount -t proc -o nosuid,nodev,noexec proc /proc ||
		SETUP_ERRORS=$((SETUP_ERRORS + 1))
	mnt -t sysfs -o nosuid,nodev,noexec sysfs /sys
	mnt -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
	# devtmpfs lacks these links; bash's <(...) needs /dev/fd.
	ln -sfn /proc/self/fd /dev/fd
	ln -sfn /proc/self/fd/0 /dev/stdin
	ln -sfn /proc/self/fd/1 /dev/stdout
	ln -sfn /proc/self/fd/2 /dev/stderr
	mkdir -p /dev/pts /dev/shm /dev/mqueue
	mnt -t devpts -o nosuid,noexec,gid=5,mode=620,ptmxmode=666 devpts /dev/pts
	mnt -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /dev/shm
	# Nice to have, not worth a failure if this kernel lacks one of them.
	mount -t mqueue mqueue /dev/mqueue 2>/dev/null
	mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup 2>/dev/null
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
	mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
	# Not bpffs: mounting it makes the kernel run modprobe (bpf_preload),
	# +0.3 s.
}

# The shared root is read-only: give the usual writable places a tmpfs.
mount_writable_dirs() {
	mnt -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run
	mkdir -p /run/netns /run/lock /run/host/tmp
	# Keep the host's /tmp reachable (/run/host/tmp) before hiding it, so a
	# host cwd or --out under /tmp still works (see bind_host_tmp_path).
	mount -o bind /tmp /run/host/tmp 2>/dev/null
	mnt -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp
	mnt -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /var/tmp
	mnt -t tmpfs -o nosuid,nodev,mode=0700 tmpfs /root
	# On Debian /var/run and /var/lock are symlinks into /run already.
	[ -L /var/run ] || mnt -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /var/run
	[ -L /var/lock ] || mnt -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /var/lock
}

# Show the guest kernel's modules (from the cache) at the standard place,
# hiding the host's /lib/modules, so plain `modprobe` works.
mount_modules() {
	local kver
	kver=$(uname -r)
	mnt -t tmpfs -o mode=0755 tmpfs /lib/modules
	mkdir -p "/lib/modules/$kver"
	mnt -o bind "$KTREE/lib/modules/$kver" "/lib/modules/$kver"
}

# A host path under /tmp is hidden by our tmpfs: bind the host's directory
# at its first level under /tmp (e.g. /tmp/clone for /tmp/clone/tests/out),
# so that the --out dir and the cwd, often both inside one clone, work.
bind_host_tmp_path() {
	local p="$1" rest top
	case $p in /tmp/?*) ;; *) return 0 ;; esac
	rest=${p#/tmp/}
	top=/tmp/${rest%%/*}
	grep -q " $top " /proc/mounts && return 0
	[ -d "/run/host$top" ] || return 0
	mkdir -p "$top" && mnt -o bind "/run/host$top" "$top"
}

mount_out_share() {
	bind_host_tmp_path "$OUT"
	mkdir -p "$OUT" 2>/dev/null # only possible (and needed) under a tmpfs
	mnt -t 9p -o "trans=virtio,version=9p2000.L,msize=$MSIZE,cache=none,rw" smtpout "$OUT"
	local cwd
	cwd=$(cat "$OUT/.vm/cwd" 2>/dev/null) && bind_host_tmp_path "$cwd"
}

setup_network() {
	ip link set lo up || SETUP_ERRORS=$((SETUP_ERRORS + 1))
	hostname smtpblock-vm
}

# Runs the job with a clean environment; stdout/stderr stay on the console.
# /bin/sh by absolute path: Debian's busybox prefers its applets, so its env
# would run busybox's sh for "sh", and the job's `exec` would run busybox's
# ip/mount/... if the job ran under busybox sh.
run_job() {
	env -i PATH="$PATH" HOME=/root USER=root LOGNAME=root SHELL=/bin/bash \
		TERM=dumb LANG=C.UTF-8 SMTPBLOCK_VM=1 SMTPBLOCK_VM_OUT="$OUT" \
		/bin/sh "$OUT/.vm/job" </dev/null
}

# rc goes last: the host treats its presence as "the guest finished".
save_results() {
	cat /proc/sys/kernel/tainted >"$OUT/tainted"
	dmesg >"$OUT/dmesg.log" 2>&1
	echo "$1" >"$OUT/rc.tmp" && mv -f "$OUT/rc.tmp" "$OUT/rc"
	sync
}

power_off() {
	poweroff -f # synchronous reboot(2) with RB_POWER_OFF
	echo o >/proc/sysrq-trigger
	sleep 10
	echo b >/proc/sysrq-trigger # qemu -no-reboot exits on reset too
	sleep inf
}

main() {
	mount_kernel_fs
	mount_writable_dirs
	mount_modules
	mount_out_share
	setup_network
	rc=setup-failed
	if [ "$SETUP_ERRORS" -ne 0 ]; then
		say "setup failed ($SETUP_ERRORS errors), not running the command"
	else
		run_job
		rc=$?
	fi
	save_results "$rc"
	power_off
}

main "$@"
