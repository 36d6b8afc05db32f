#!/bin/bash
# tests/vm/run.sh - run a command as root inside a throw-away qemu VM that
# boots a stock Debian kernel, with the host's / as its (read-only) root.
#
#   tests/vm/run.sh [--kver KVER] [--timeout SECONDS] [--append "KERNEL ARGS"]
#                   [--out DIR] [--env NAME=VALUE]... [--qemu-arg ARG]...
#                   [--image DISK] -- COMMAND [ARGS...]
#   tests/vm/run.sh --check-log FILE     # only the kernel-log scanner:
#                                        # prints the first bad line, exit 1
#
#   --kver KVER      guest kernel (default: see kernel.sh; cached on first use)
#   --timeout SECS   kill the VM after SECS (default 600; 0: never) -> exit 120
#   --append ARGS    extra kernel command line (e.g. "preempt=full")
#   --out DIR        results dir (default: a fresh mktemp -d); old results
#                    in it are removed first
#   --env NAME=VAL   extra environment for COMMAND (repeatable)
#   --qemu-arg ARG   one more qemu argument, after ours (repeatable); qemu
#                    takes the last of a repeated option, so
#                    `--qemu-arg -smp --qemu-arg 1` replaces our -smp 2
#   --image DISK     boot a copy of DISK (an ext4 image made by
#                    systemd-image.sh) read-write, with its own systemd as
#                    PID 1, instead of the host's / with guest-init.sh; the
#                    host's / is at /host (read-only), the --out dir at
#                    /mnt/out (SMTPBLOCK_VM_OUT), COMMAND runs from a unit
#                    once the system is up, in /host + the host's cwd. If
#                    COMMAND creates $SMTPBLOCK_VM_OUT/.vm/reboot, the guest
#                    reboots and the same disk boots again (at most
#                    $MAX_BOOTS boots; SMTPBLOCK_VM_BOOT counts them).
#                    --timeout then applies to each boot.
#
# Why a VM: the host kernel cannot load modules.  Why TCG: /dev/kvm exists
# but stock kernels hang under it on these hosts (see RIG-NOTES.md).
# A trivial run (`-- true`) takes ~5.5-7 s here, ~0.25 s of it on the host.
#
# In the guest, COMMAND runs as root in the host's cwd (same absolute
# paths, read-only), with writable tmpfs on /tmp /var/tmp /run /root,
# `modprobe` working for the guest kernel, lo up, user namespaces usable
# (switch_root, not chroot), SMTPBLOCK_VM=1 and SMTPBLOCK_VM_OUT=DIR (the
# --out dir, shared read-write at the same path).  COMMAND is started by
# /bin/sh with a clean environment and stdin /dev/null; its output goes to
# the serial console, i.e. our stdout, and DIR/console.log.
#
# Exit status: COMMAND's, unless the run is bad, which is reported on stderr
# in one line starting with "run.sh: FAIL:" and exits with
#   120  the guest did not finish (timeout, panic, hang: no DIR/rc) or
#        its setup (mounts) failed
#   121  the kernel log shows a WARNING/BUG/Oops/... (see KLOG_PATTERNS)
#   122  the kernel is tainted by more than O (4096) and E (8192)
#   130  interrupted (SIGINT/SIGTERM);  2  usage error
# (none of them is 125, which `git bisect run` would read as "skip").
#
# Files in DIR: console.log (serial console: kernel at loglevel<5 + COMMAND
# output), dmesg.log (whole kernel log at the end), rc, tainted,
# .vm/job and .vm/cwd (what the guest ran).
#
# Surprising facts found while building this (see also RIG-NOTES.md):
# - `quiet` would hide WARN(): it sets console loglevel 4, which only shows
#   levels < 4 (KERN_ERR and worse), and WARNING:/Call Trace: are printed at
#   KERN_WARNING (4) / default level (4).  We boot with loglevel=5, and also
#   scan the guest's full `dmesg` saved at the end, which does not depend on
#   the console loglevel at all (checked: WARN with --append quiet is caught).
# - Booting the bzImage costs ~4.5 s of SeaBIOS + xz decompression under
#   TCG.  kernel.sh extracts the ELF vmlinux (CONFIG_PVH=y), which qemu
#   boots directly: ~11 s -> ~7 s per run.  No KASLR then.
# - SeaBIOS mirrors its screen on the serial port when there is no VGA
#   (escape codes, ~0.5 s): disabled with -fw_cfg etc/sercon-port=0.
# - Over 9p with the default cache=none, every exec re-reads the binary:
#   cache=loose on the read-only root makes exec ~5-10x faster.  Each exec
#   of a dynamically linked program still costs ~0.1-0.2 s under TCG, so
#   guest-init.sh is a busybox script (applets, no ld.so).
# - Debian's busybox prefers its own applets over PATH lookups
#   (`env sh` runs busybox sh; `ip` in a busybox sh script is busybox
#   ip): COMMAND is therefore started by /bin/sh (dash), not busybox.
# - Mounting bpffs makes the kernel exec modprobe (bpf_preload): +0.3 s.
# - dpkg-deb -x gives no modules.dep: kernel.sh runs depmod on the tree.
# - In the guest, /dev/console must not be opened before devtmpfs is
#   mounted: /dev then is the HOST's /dev seen through 9p (qemu would open
#   the host's device node).
# - A tmpfs on the guest's /tmp hides host paths under /tmp (mktemp's
#   default --out!); guest-init recreates the out dir / cwd and binds them.
# - Returning from PID 1 panics the kernel ("Attempted to kill init"), which
#   would look like a crash: guest-init always ends with poweroff -f.
# - On Ctrl-C qemu exits with status 0, so run.sh traps INT/TERM itself.
# - `apt-cache depends` takes ~1 s here; kernel.sh memoises the default KVER
#   keyed on the apt lists so a cached run makes no apt call at all.
# - `ip link add a type veth ...` fails ("type" is invalid lladdr): `a`
#   abbreviates `address`.  Write `ip link add name a type veth peer name b`.
# - Kernel-side timing is noisy under TCG (TSC marked unstable, hpet
#   clocksource); RCU stall / hung-task reports would fail a run.

set -euo pipefail
shopt -s inherit_errexit

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=kernel.sh
. "$VM_DIR/kernel.sh"

# Taint bits that are expected when loading our own module: O and E.
ALLOWED_TAINT=$((4096 | 8192))
TAINT_LETTERS=PFSRMBUDAWCIOELKXT # bit 0 .. 17, as in Documentation/admin-guide/tainted-kernels.rst

# Extended regexes, matched only on kernel lines (after a printk timestamp)
# so COMMAND's own output cannot trigger them.  kmemleak is matched on its
# reports, not on the word: a kmemleak kernel prints "kmemleak: ...
# initialized" at every boot.
KLOG_PATTERNS=(
	'WARNING:'
	'BUG:'
	'kernel BUG at'
	'Oops'
	'invalid opcode:'
	'general protection fault'
	'Kernel panic'
	'rcu: INFO:'
	'rcu_(sched|preempt) (self-)?detected stall'
	'self-detected stall'
	'RCU stall'
	'UBSAN:'
	'KASAN:'
	'kmemleak: [0-9]+ new suspected memory leak'
	'unreferenced object 0x'
	'Call Trace:'
	'blocked for more than [0-9]+ seconds'
)

# Modules the initramfs needs for the 9p root; the order (dependencies
# first) comes from modprobe --show-depends on the cached tree.
INITRAMFS_MODULES=(virtio_pci 9pnet_virtio 9p)
NINEP_MSIZE=262144 # 9p default (8 KiB in older kernels) is slow under TCG

OPT_KVER=""
OPT_TIMEOUT=600
OPT_APPEND=""
OPT_OUT=""
OPT_ENV=()
OPT_QEMU=()
OPT_IMAGE=""
MAX_BOOTS=4
BOOT=1
CMD=()

log() { echo "run.sh: $*" >&2; }
die() { echo "run.sh: error: $*" >&2; exit 2; }
fail() { # fail CODE REASON: the one-line verdict for a bad run
	echo "run.sh: FAIL: $2 (log: $OUT/console.log)" >&2
	exit "$1"
}

usage() {
	sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit "${1:-0}"
}

# Single-quote a string for any POSIX shell (busybox ash included).
sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		--kver) OPT_KVER=${2:?--kver needs a value}; shift 2 ;;
		--timeout) OPT_TIMEOUT=${2:?--timeout needs a value}; shift 2 ;;
		--append) OPT_APPEND=${2?--append needs a value}; shift 2 ;;
		--out) OPT_OUT=${2:?--out needs a value}; shift 2 ;;
		--env)
			[[ ${2:-} =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env wants NAME=VALUE"
			OPT_ENV+=("$2"); shift 2 ;;
		--qemu-arg) OPT_QEMU+=("${2:?--qemu-arg needs a value}"); shift 2 ;;
		--image)
			[ -r "${2:-}" ] || die "--image needs a readable disk image"
			OPT_IMAGE=$2; shift 2 ;;
		--check-log)
			[ -r "${2:-}" ] || die "--check-log needs a readable file"
			scan_kernel_log "$2"; exit $? ;;
		-h | --help) usage 0 ;;
		--) shift; CMD=("$@"); break ;;
		*) log "unknown argument: $1"; usage 2 >&2 ;;
		esac
	done
	[ ${#CMD[@]} -gt 0 ] || { log "no COMMAND given (put it after --)"; usage 2 >&2; }
	[[ $OPT_TIMEOUT =~ ^[0-9]+$ ]] || die "--timeout wants whole seconds"
}

# scan_kernel_log FILE: prints the first bad kernel line, status 1 if any.
# A kernel line carries a printk timestamp "[    1.234567] " (Debian sets
# PRINTK_TIME; we also pass printk.time=1).  Not anchored at the line
# start: on the serial console a kernel message can follow COMMAND output
# that did not end with a newline.
scan_kernel_log() {
	local file=$1 re hit
	[ -r "$file" ] || return 0
	re="\[ *[0-9]+\.[0-9]{6}\] .*($(IFS='|'; echo "${KLOG_PATTERNS[*]}"))"
	hit=$(tr -d '\r' <"$file" | grep -aE -m1 -- "$re") || return 0
	echo "$hit"
	return 1
}

# Letters of the set taint bits, e.g. 12800 -> "W O E".
taint_letters() {
	local t=$1 i out=""
	for ((i = 0; i < ${#TAINT_LETTERS}; i++)); do
		((t >> i & 1)) && out+="${TAINT_LETTERS:i:1} "
	done
	echo "${out% }"
}

# Resolves --out to an absolute, empty-of-old-results directory.
prepare_out_dir() {
	if [ -n "$OPT_OUT" ]; then
		mkdir -p "$OPT_OUT"
		OUT=$(cd "$OPT_OUT" && pwd -P)
	else
		OUT=$(mktemp -d "${TMPDIR:-/tmp}/smtpblock-vm.XXXXXX")
		OUT=$(cd "$OUT" && pwd -P)
	fi
	rm -rf "$OUT/rc" "$OUT/rc.tmp" "$OUT"/tainted* "$OUT/console.log" "$OUT"/dmesg*.log "$OUT/.vm"
	mkdir -p "$OUT/.vm"
}

# The job guest-init runs with /bin/sh: cd to our cwd, extra env, exec
# COMMAND.  POSIX quoting only (dash has no $'...').  Not busybox sh: its
# "standalone" mode would run its own applets (ip, sh, ...) for COMMAND.
write_job() {
	local cwd a
	cwd=$(pwd -P)
	printf '%s\n' "$cwd" >"$OUT/.vm/cwd"
	{
		echo "# written by tests/vm/run.sh"
		if [ -n "$OPT_IMAGE" ]; then
			echo "cd -- $(sq "/host$cwd") || exit 126"
			echo "export HOME=/root LANG=C.UTF-8 SMTPBLOCK_VM=1 SMTPBLOCK_VM_OUT=/mnt/out"
			# shellcheck disable=SC2016 # expanded in the guest
			echo 'SMTPBLOCK_VM_BOOT=$(cat /mnt/out/.vm/boot); export SMTPBLOCK_VM_BOOT'
		else
			echo "cd -- $(sq "$cwd") || exit 126"
		fi
		for a in "${OPT_ENV[@]}"; do echo "export $(sq "$a")"; done
		printf 'exec'
		for a in "${CMD[@]}"; do printf ' %s' "$(sq "$a")"; done
		printf '\n'
	} >"$OUT/.vm/job"
}

# Module files for the initramfs, dependencies first, deduplicated.
initramfs_module_paths() {
	local m verb path _
	local -A seen=()
	local mods=("${INITRAMFS_MODULES[@]}")
	[ -z "$OPT_IMAGE" ] || mods+=(virtio_blk ext4)
	for m in "${mods[@]}"; do
		modprobe -d "$KTREE" -S "$KVER" --show-depends --ignore-install "$m" ||
			die "modprobe --show-depends $m failed for $KTREE"
	done | while read -r verb path _; do
		# "insmod PATH [ARGS]", or "builtin NAME" (e.g. virtio in Debian 13)
		[ "$verb" = insmod ] || continue
		[ -z "${seen[$path]:-}" ] || continue
		seen[$path]=1
		echo "$path"
	done
}

# Copies a module, decompressed (busybox insmod cannot read .ko.xz/.zst).
copy_module() {
	local src=$1 dst_dir=$2 name
	name=$(basename "$src")
	case $src in
	*.ko) cp "$src" "$dst_dir/$name" ;;
	*.ko.xz) xz -dc "$src" >"$dst_dir/${name%.xz}" ;;
	*.ko.zst) zstd -qdc "$src" >"$dst_dir/${name%.zst}" ;;
	*.ko.gz) gzip -dc "$src" >"$dst_dir/${name%.gz}" ;;
	*) die "unknown module format: $src" ;;
	esac
	basename "${name%.ko*}.ko"
}

# With --image: the disk is the root (read-write), the host's / and the
# --out dir are shared below it, and the image's systemd is PID 1.
# Mounts under /newroot survive switch_root; /dev moves there, where
# systemd expects a devtmpfs already.
image_mode_init() {
	[ -n "$OPT_IMAGE" ] || return 0
	cat <<EOF
umount /newroot
mount -t devtmpfs devtmpfs /dev || die "cannot mount devtmpfs"
mount -t ext4 -o rw /dev/vda /newroot || die "cannot mount the disk image"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=$NINEP_MSIZE,ro,cache=loose hostroot /newroot/host ||
	die "cannot mount the host root at /host"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=$NINEP_MSIZE,cache=none,rw smtpout /newroot/mnt/out ||
	die "cannot mount the out share"
mount -o move /dev /newroot/dev
exec switch_root /newroot /sbin/init
EOF
}

# The initramfs /init: load 9p, mount the host's / read-only, switch_root
# into guest-init.sh.  switch_root, not chroot: inside a chroot
# unshare(CLONE_NEWUSER) fails with EPERM.
write_initramfs_init() {
	local dir=$1
	shift
	cat >"$dir/init" <<EOF
#!/bin/busybox sh
# generated by tests/vm/run.sh
export PATH=/bin
die() { echo "smtpblock-vm: initramfs: \$*"; poweroff -f; sleep 10; }
mount -t proc proc /proc
for m in $*; do insmod /modules/\$m || die "insmod \$m failed"; done
# cache=loose: ~10x faster exec under TCG; fine for a read-only mount
# (no coherence with host changes made while the VM runs).
mount -t 9p -o trans=virtio,version=9p2000.L,msize=$NINEP_MSIZE,ro,cache=loose hostroot /newroot ||
	die "cannot mount the host root over 9p"
[ -x $(sq "/newroot$VM_DIR/guest-init.sh") ] || die "no $(sq "$VM_DIR/guest-init.sh") in the host root"
umount /proc
$(image_mode_init)
export SMTPBLOCK_VM_OUT=$(sq "$OUT") SMTPBLOCK_VM_KTREE=$(sq "$KTREE") SMTPBLOCK_VM_MSIZE=$NINEP_MSIZE
exec switch_root /newroot $(sq "$VM_DIR/guest-init.sh")
EOF
	chmod 755 "$dir/init"
}

# Builds $OUT/.vm/initramfs.cpio (uncompressed: unpacking is faster than
# decompressing under TCG, and it is only ~3 MB).
build_initramfs() {
	local dir mods=() path applet
	dir=$(mktemp -d "$OUT/.vm/initramfs.XXXXXX")
	mkdir -p "$dir/bin" "$dir/dev" "$dir/proc" "$dir/sys" "$dir/newroot" "$dir/modules"
	cp /bin/busybox "$dir/bin/busybox"
	for applet in sh mount umount insmod switch_root poweroff sleep; do
		ln -s busybox "$dir/bin/$applet"
	done
	while read -r path; do
		mods+=("$(copy_module "$path" "$dir/modules")")
	done < <(initramfs_module_paths)
	# None at all is fine: the debug kernel has virtio and 9p built in.
	write_initramfs_init "$dir" ${mods[@]+"${mods[@]}"}
	# The kernel's built-in initramfs already provides /dev/console.
	(cd "$dir" && find . | /bin/busybox cpio -o -H newc 2>/dev/null) >"$OUT/.vm/initramfs.cpio"
	rm -rf "$dir"
}

# Boots; returns qemu's (or timeout's: 124) status.
# etc/sercon-port=0 stops SeaBIOS from mirroring its screen on the serial
# port (escape sequences in the log, ~0.5 s); qemu warns that the name lacks
# the "opt/" prefix (it is SeaBIOS' documented name), so drop that warning.
run_qemu() {
	local append="console=ttyS0 panic=-1 loglevel=5 printk.time=1"
	# systemd's boot and shutdown status only when a unit fails or waits.
	[ -z "$OPT_IMAGE" ] || append+=" systemd.show_status=auto"
	[ -z "$OPT_APPEND" ] || append+=" $OPT_APPEND"
	local rc=0 kernel=${VMLINUX:-$VMLINUZ} out=${OUT//,/,,} # qemu doubles commas
	local log=$out/console.log disk=()
	[ "$BOOT" -eq 1 ] || log+=,logappend=on
	# cache=unsafe: the copy is thrown away; qemu still writes it out at exit.
	[ -z "$OPT_IMAGE" ] ||
		disk=(-drive "file=$out/.vm/disk.img,format=raw,if=virtio,cache=unsafe")
	timeout --foreground -k 10 "$OPT_TIMEOUT" \
		qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 2 \
		-nodefaults -nographic -no-reboot \
		-chardev "stdio,id=con,signal=off,logfile=$log" \
		-serial chardev:con -fw_cfg name=etc/sercon-port,string=0 \
		-kernel "$kernel" -initrd "$OUT/.vm/initramfs.cpio" -append "$append" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$out,mount_tag=smtpout,security_model=none,multidevs=remap" \
		${disk[@]+"${disk[@]}"} ${OPT_QEMU[@]+"${OPT_QEMU[@]}"} </dev/null 2> >(grep -v 'should be prefixed with "opt/"' >&2) || rc=$?
	return "$rc"
}

# check_kernel WHAT: the kernel logs and taint of every boot so far.
check_kernel() {
	local what=$1 f hit tainted
	for f in "$OUT/console.log" "$OUT"/dmesg*.log; do
		[ -r "$f" ] || continue
		hit=$(scan_kernel_log "$f") || fail 121 "kernel problem ($what) in $(basename "$f"): $hit"
	done
	for f in "$OUT"/tainted*; do
		tainted=$(cat "$f" 2>/dev/null || echo missing)
		[[ $tainted =~ ^[0-9]+$ ]] || fail 122 "bad taint value '$tainted' ($what)"
		if ((tainted & ~ALLOWED_TAINT)); then
			fail 122 "kernel tainted $tainted ($(taint_letters "$tainted")), only O and E allowed ($what)"
		fi
	done
	[ -e "$OUT/tainted" ] || fail 122 "no taint value ($what)"
}

# Verdict from the files the guest left in $OUT.
check_results() {
	local qemu_rc=$1 rc tainted hit f
	if [ ! -s "$OUT/rc" ]; then
		hit=$(scan_kernel_log "$OUT/console.log") || fail 120 "guest did not finish; kernel: $hit"
		[ "$qemu_rc" -ne 124 ] || fail 120 "guest timed out after ${OPT_TIMEOUT}s"
		fail 120 "guest did not finish (no rc; qemu status $qemu_rc)"
	fi
	rc=$(<"$OUT/rc")
	[ "$rc" != setup-failed ] || fail 120 "guest setup failed (smtpblock-vm: lines in the log)"
	[[ $rc =~ ^[0-9]+$ ]] || fail 120 "guest wrote a bad rc '$rc'"
	check_kernel "COMMAND rc=$rc"
	return "$rc"
}

main() {
	parse_args "$@"
	kernel_ensure "$OPT_KVER"
	prepare_out_dir
	write_job
	build_initramfs
	local qemu_rc=0 rc=0
	# On Ctrl-C qemu exits 0 (status "guest did not finish" would mislead).
	[ -z "$OPT_IMAGE" ] || cp --sparse=always "$OPT_IMAGE" "$OUT/.vm/disk.img"
	while :; do
		echo "$BOOT" >"$OUT/.vm/boot"
		qemu_rc=0
		trap 'INTERRUPTED=1' INT TERM
		run_qemu || qemu_rc=$?
		trap - INT TERM
		[ -z "${INTERRUPTED:-}" ] || { log "interrupted; partial results in $OUT"; exit 130; }
		# A reboot the job asked for: this boot's logs checked and kept.
		# (a reboot, not a timeout or a crash: qemu exits 0 at a reset)
		if [ -z "$OPT_IMAGE" ] || [ -s "$OUT/rc" ] || [ ! -e "$OUT/.vm/reboot" ] ||
		   [ "$qemu_rc" -ne 0 ]; then
			break
		fi
		[ "$BOOT" -lt "$MAX_BOOTS" ] || fail 120 "the job asked for more than $MAX_BOOTS boots"
		rm -f "$OUT/.vm/reboot"
		[ -e "$OUT/tainted" ] || fail 120 "boot $BOOT ended without its logs"
		check_kernel "boot $BOOT"
		mv "$OUT/dmesg.log" "$OUT/dmesg-boot$BOOT.log"
		mv "$OUT/tainted" "$OUT/tainted-boot$BOOT"
		log "boot $BOOT asked for a reboot"
		BOOT=$((BOOT + 1))
	done
	rm -f "$OUT/.vm/initramfs.cpio" "$OUT/.vm/disk.img"
	check_results "$qemu_rc" || rc=$?
	log "COMMAND exited $rc; results in $OUT"
	exit "$rc"
}

main "$@"
