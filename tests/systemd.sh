#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/systemd.sh - the systemd lane: the Debian packages installed, run
# and removed as an operator does it, on a Debian 12 system booted with
# systemd as PID 1 (tests/vm/systemd-image.sh, run.sh --image), DKMS
# building the module inside the guest. KTAP, 15 tests over two boots:
#
#   boot 1: install (apt-get install of the two .deb files: DKMS builds
#           the module), modinfo, enable_now (blocks on 25, not on 587,
#           the relay passes), reload_valid, reload_invalid (the reload
#           fails, the journal names file and line, nothing changes)
#   boot 2: boot_order (smtpblock started before network-pre.target, a
#           unit ordered after that target saw the block in force),
#           boot_config, stop_keeps_block, journal_csv, analyze_security
#           (exposure at most SECURITY_MAX), analyze_verify,
#           metrics_scrape (smtpblock-metrics.timer's file, as the real
#           prometheus-node-exporter serves it), purge_clean (the timer
#           and its file go too), reinstall, metrics_without_module
#
# Usage: tests/systemd.sh [--debs DIR]   on the host: makes the packages
#                                        (or takes DIR's), the image, and
#                                        boots it; results in
#                                        tests/out/systemd/
#        tests/systemd.sh --guest DIR    in the guest (run.sh runs it)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/.." && pwd -P)
VERSION=$(cat "$ROOT/VERSION")
NTESTS=15
# systemd-analyze security's exposure of smtpblock.service (0 best, 10
# worst) must stay at most this; measured 1.8 (README, "Install on a
# Debian router").
SECURITY_MAX=2.0

# ------------------------------------------------------------ the host

host_main() {
	local out=${SMTPBLOCK_OUT:-$ROOT/tests/out}/systemd debs="" t0=$SECONDS img rc=0
	[ "${1:-}" != --debs ] || debs=${2:?--debs needs a directory}
	rm -rf "$out"
	mkdir -p "$out"
	echo "# systemd lane: Debian 12 with systemd as PID 1, smtpblock $VERSION from its packages"
	if [ -z "$debs" ]; then
		debs=$out/dist
		# (its logs in our directory: the deb lane may build beside us)
		SMTPBLOCK_OUT=$out "$ROOT/tests/deb.sh" build "$debs" > "$out/deb.log" 2>&1 || {
			cat "$out/deb.log"
			early_failure systemd.packages "make deb failed"
			return 1
		}
		echo "# packages built in $((SECONDS - t0)) s"
	fi
	t0=$SECONDS
	img=$("$ROOT/tests/vm/systemd-image.sh" 2> "$out/image.log") && eval "$img" || {
		cat "$out/image.log"
		early_failure systemd.image "see $out/image.log"
		return 1
	}
	echo "# image $(basename "$IMAGE") ready in $((SECONDS - t0)) s"
	make -s -C "$ROOT/tests/tools" || { early_failure systemd.tools "make -C tests/tools"; return 1; }
	t0=$SECONDS
	# 2 GB: gcc inside for DKMS; two boots of about 10 s each, and the two
	# module builds under TCG most of the rest.
	(cd "$ROOT" && tests/vm/run.sh --image "$IMAGE" --timeout 900 --out "$out/vm" \
		--qemu-arg -m --qemu-arg 2048 -- tests/systemd.sh --guest "$(cd "$debs" && pwd -P)") \
		> "$out/vm.log" 2>&1 || rc=$?
	echo "# VM: $((SECONDS - t0)) s, run.sh exit $rc"
	local ktap=$out/vm/systemd.ktap ran
	if [ ! -s "$ktap" ]; then
		tail -n 40 "$out/vm.log"
		early_failure systemd.vm "no results; run.sh exit $rc (see $out/vm.log)"
		return 1
	fi
	cat "$ktap"
	local passed failed
	passed=$(grep -c '^ok [0-9]' "$ktap")
	failed=$(grep -c '^not ok [0-9]' "$ktap")
	ran=$((passed + failed))
	# run.sh's verdict on the guest's kernel, and every test run.
	if [ "$rc" -ge 120 ] || [ "$ran" -ne "$NTESTS" ]; then
		tail -n 20 "$out/vm.log"
		echo "not ok $((ran + 1)) systemd.vm # ran $ran of $NTESTS tests; run.sh exit $rc (see $out/vm.log)"
		failed=$((failed + 1))
	fi
	echo "$passed passed, $failed failed, 0 skipped"
	[ "$failed" -eq 0 ]
}

# early_failure NAME WHY: the lane could not get to the VM.
early_failure() {
	echo "TAP version 13"
	echo "1..1"
	echo "not ok 1 $1 # $2"
	echo "0 passed, 1 failed, 0 skipped"
}

# ------------------------------------------------------------ the guest

SYS=/sys/kernel/smtpblock
ETC=/etc/smtpblock
# The probe unit's record of what the block was when it ran (boot 2).
PROBE_RECORD=/var/lib/sb-boot-probe/record

# t NUMBER NAME: runs test_NAME, prints its KTAP line into $KTAP.
t() {
	local n=$1 name=$2
	fail=0
	echo "# test $name"
	"test_$name"
	if [ "$fail" -eq 0 ]; then
		echo "ok $n systemd.$name"
	else
		echo "not ok $n systemd.$name"
	fi
}

# The topology of the other suites (tests/lib.sh): cl a campus host, rl
# the campus relay, mx a mail server outside, the guest the router.
topology() {
	sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 &&
	link cl 10.0.1 2001:db8:c:1 2 &&
	link rl 10.0.2 2001:db8:c:2 25 &&
	link mx 198.51.100 2001:db8:e:1 25 &&
	listen mx $MX4 25 587 && listen mx $MX6 25 587
}
# lib.sh's cleanup without its rmmod: the module stays as systemd left it.
teardown() {
	local h
	for h in cl rl mx; do
		ip netns pids "$(ns "$h")" 2> /dev/null | xargs -r kill 2> /dev/null
		ip netns del "$(ns "$h")" 2> /dev/null
		ip link del "r_$h" 2> /dev/null
	done
	wait 2> /dev/null
}

# The lists of the topology, as an operator writes them.
write_config() {
	printf '%s\n' "# campus (test topology)" 10.0.0.0/8 2001:db8:c::/48 > $ETC/campus.list
	printf '%s\n' "# relays (test topology)" $RL4 $RL6 > $ETC/relays.list
	sed -i 's/^MODE=.*/MODE=drop/' $ETC/smtpblock.conf
}

# blocked_as_expected: cl blocked on 25 (both families), not on 587; the
# relay gets through.
blocked_as_expected() {
	assert_eq "$(probe $BLOCKED_MS cl $MX4 25)" timeout "campus host to MX4:25"
	assert_eq "$(probe $BLOCKED_MS cl $MX6 25)" timeout "campus host to MX6:25"
	assert_eq "$(probe $OPEN_MS cl $MX4 587)" connected "campus host to MX4:587"
	assert_eq "$(probe $OPEN_MS rl $MX4 25)" connected "relay to MX4:25"
}

install_packages() {
	local t0=$SECONDS
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-o APT::Sandbox::User=root \
		"$DEBS/smtpblock-dkms_${VERSION}_all.deb" "$DEBS/smtpblock_${VERSION}_amd64.deb" \
		> "$TMP/apt.log" 2>&1 || { tail -n 30 "$TMP/apt.log"; fail "apt-get install failed"; }
	echo "# apt-get install (DKMS build included): $((SECONDS - t0)) s"
	dkms status smtpblock | grep -q "smtpblock/$VERSION, $(uname -r), x86_64: installed" ||
		fail "dkms status: $(dkms status smtpblock)"
}

test_install() {
	install_packages
	# Installed, but neither enabled nor started: the lists come first.
	assert_eq "$(systemctl is-enabled smtpblock)" disabled "is-enabled after install"
	assert_eq "$(systemctl is-active smtpblock)" inactive "is-active after install"
}

test_modinfo() {
	local path
	assert_eq "$(modinfo -F version smtpblock)" "$VERSION" "modinfo version"
	path=$(modinfo -n smtpblock)
	case $path in
	/lib/modules/$(uname -r)/updates/dkms/smtpblock.ko*) ;;
	*) fail "modinfo -n: $path (not DKMS's)" ;;
	esac
}

test_enable_now() {
	write_config
	systemctl enable --now smtpblock || fail "systemctl enable --now"
	assert_eq "$(systemctl is-active smtpblock)" active is-active
	assert_eq "$(systemctl is-enabled smtpblock)" enabled is-enabled
	topology || { fail "topology"; return; }
	blocked_as_expected
}

test_reload_valid() {
	echo $CL4 >> $ETC/relays.list
	systemctl reload smtpblock || fail "reload of a valid change"
	grep -qx $CL4/32 $SYS/relays || fail "relays after reload: $(tr '\n' ' ' < $SYS/relays)"
	assert_eq "$(probe $OPEN_MS cl $MX4 25)" connected "the new relay to MX4:25"
}

test_reload_invalid() {
	local before line since
	before=$(cat $SYS/relays $SYS/campus $SYS/mode)
	echo 10.0.1.999 >> $ETC/relays.list
	line=$(wc -l < $ETC/relays.list)
	since=$(date '+%Y-%m-%d %H:%M:%S')
	sleep 1
	if systemctl reload smtpblock 2> "$TMP/reload.err"; then
		fail "reload of an invalid file succeeded"
	fi
	journalctl -u smtpblock --since "$since" --no-pager -o cat > "$TMP/journal"
	grep -q "$ETC/relays.list:$line: invalid entry '10.0.1.999'" "$TMP/journal" ||
		fail "journal does not name relays.list:$line: $(cat "$TMP/journal")"
	assert_eq "$(cat $SYS/relays $SYS/campus $SYS/mode)" "$before" "configuration after a failed reload"
	assert_eq "$(systemctl is-active smtpblock)" active "is-active after a failed reload"
	assert_eq "$(probe $OPEN_MS cl $MX4 25)" connected "the relay of before, still"
	# Back to the topology's lists, for boot 2.
	write_config
	systemctl reload smtpblock || fail "reload back"
}

# A unit ordered as network software is (After=network-pre.target, as
# ifupdown's networking.service, systemd-networkd and NetworkManager are),
# recording what the block was when it ran.
install_boot_probe() {
	mkdir -p "$(dirname $PROBE_RECORD)"
	rm -f $PROBE_RECORD
	cat > /usr/local/lib/sb-boot-probe <<-EOF
	#!/bin/sh
	read -r up _ < /proc/uptime
	{
		echo "uptime=\$up"
		echo "enabled=\$(cat $SYS/enabled)"
		echo "mode=\$(cat $SYS/mode)"
		echo "campus=\$(tr '\n' ' ' < $SYS/campus)"
	} > $PROBE_RECORD 2>&1
	EOF
	chmod 755 /usr/local/lib/sb-boot-probe
	cat > /etc/systemd/system/sb-boot-probe.service <<-EOF
	[Unit]
	Description=Records whether the SMTP block is in force (tests/systemd.sh)
	DefaultDependencies=no
	After=network-pre.target
	Before=network.target

	[Service]
	Type=oneshot
	ExecStart=/usr/local/lib/sb-boot-probe

	[Install]
	WantedBy=multi-user.target
	EOF
	systemctl enable sb-boot-probe.service 2> /dev/null || fail "enable the probe unit"
}

boot1() {
	echo "TAP version 13"
	echo "1..$NTESTS"
	t 1 install
	t 2 modinfo
	t 3 enable_now
	t 4 reload_valid
	t 5 reload_invalid
	fail=0
	install_boot_probe
	[ "$fail" -eq 0 ] || echo "# the boot probe could not be installed: boot_order will fail"
	teardown
}

# mono UNIT PROPERTY: a monotonic timestamp (us) of UNIT.
mono() { systemctl show -P "$2" "$1"; }

test_boot_order() {
	local s p n
	[ -s $PROBE_RECORD ] || { fail "the probe unit left no record"; return; }
	sed 's/^/# probe: /' $PROBE_RECORD
	grep -qx 'enabled=1' $PROBE_RECORD || fail "not enabled when the probe ran"
	grep -qx 'mode=drop' $PROBE_RECORD || fail "mode not drop when the probe ran"
	grep -q '^campus=10.0.0.0/8 ' $PROBE_RECORD || fail "campus list not loaded when the probe ran"
	s=$(mono smtpblock.service ActiveEnterTimestampMonotonic)
	n=$(mono network-pre.target ActiveEnterTimestampMonotonic)
	p=$(mono sb-boot-probe.service ExecMainStartTimestampMonotonic)
	echo "# monotonic us: smtpblock active $s, network-pre.target $n, probe started $p"
	[ "$s" -gt 0 ] && [ "$s" -le "$n" ] || fail "smtpblock.service active at $s, after network-pre.target ($n)"
	[ "$n" -le "$p" ] || fail "the probe ran before network-pre.target"
}

test_boot_config() {
	assert_eq "$(systemctl is-active smtpblock)" active is-active
	assert_eq "$(tr '\n' ' ' < $SYS/relays)" "$RL4/32 $RL6/128 " "relays from the file"
	assert_eq "$(tr '\n' ' ' < $SYS/campus)" "10.0.0.0/8 2001:db8:c::/48 " "campus from the file"
	topology || { fail "topology"; return; }
	blocked_as_expected
}

test_stop_keeps_block() {
	systemctl stop smtpblock || fail "systemctl stop"
	assert_eq "$(systemctl is-active smtpblock)" inactive "is-active after stop"
	grep -q '^smtpblock ' /proc/modules || fail "module unloaded by stop"
	assert_eq "$(cat $SYS/enabled)" 1 "enabled after stop"
	blocked_as_expected
}

test_journal_csv() {
	local i
	printf 1 > $SYS/report
	# journald reads the kernel log on its own time.
	for i in $(seq 50); do
		journalctl -k -o short-iso --no-pager | grep -q 'smtpblock: report end' && break
		sleep 0.2
	done
	journalctl -k -o short-iso --no-pager | smtpblock-csv > "$TMP/csv"
	sed 's/^/# csv: /' "$TMP/csv"
	assert_eq "$(head -n 1 "$TMP/csv")" "report,logged,src,syns,dsts,first,last,dport,action,hidden,router" "CSV header"
	grep -Eq "^[0-9]+,[0-9]{4}-[0-9]{2}-[0-9]{2}T[^,]+,$CL4,[0-9]+,1,[^,]+,[^,]+,25,drop,0,$" "$TMP/csv" ||
		fail "no CSV row for $CL4 with journald's time"
	# IPv6 sources are reported by /64 (privacy addresses rotate in it).
	grep -Eq ",2001:db8:c:1::/64,[0-9]+,1,[^,]+,[^,]+,25,drop,0,$" "$TMP/csv" ||
		fail "no CSV row for $CL6's /64"
	# journald's own export (what its remote collection carries): the
	# router's name from _HOSTNAME, the time from __REALTIME_TIMESTAMP.
	journalctl -k -o json --no-pager | smtpblock-csv > "$TMP/csv-json"
	sed 's/^/# csv (json): /' "$TMP/csv-json"
	grep -Eq "^[0-9]+,[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{6}Z,$CL4,[0-9]+,1,[^,]+,[^,]+,25,drop,0,smtpblock-vm$" \
		"$TMP/csv-json" || fail "no CSV row for $CL4 from journalctl -o json"
}

test_analyze_security() {
	local score
	systemd-analyze security --no-pager smtpblock.service > "$TMP/security" 2>&1
	score=$(sed -n 's/.*Overall exposure level for smtpblock.service: \([0-9.]*\).*/\1/p' "$TMP/security")
	echo "# systemd-analyze security: exposure $score (at most $SECURITY_MAX)"
	grep '✗' "$TMP/security" | sed 's/^/# exposed: /'
	[ -n "$score" ] || { fail "no exposure level: $(tail -n 3 "$TMP/security")"; return; }
	awk -v s="$score" -v m=$SECURITY_MAX 'BEGIN { exit !(s <= m) }' ||
		fail "exposure $score above $SECURITY_MAX"
}

test_analyze_verify() {
	systemd-analyze verify /lib/systemd/system/smtpblock.service \
		/lib/systemd/system/smtpblock-metrics.service \
		/lib/systemd/system/smtpblock-metrics.timer > "$TMP/verify" 2>&1 ||
		fail "systemd-analyze verify failed"
	if grep -q 'smtpblock' "$TMP/verify"; then
		fail "verify: $(grep smtpblock "$TMP/verify")"
	fi
}

# scrape: node_exporter's /metrics (bash's /dev/tcp: no HTTP client in
# the image), smtpblock's lines only.
scrape() {
	local i
	for i in $(seq 50); do
		if exec 3<> /dev/tcp/127.0.0.1/9100; then
			printf 'GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
			grep -a '^smtpblock_' <&3
			exec 3>&-
			return 0
		fi 2> /dev/null
		sleep 0.2
	done
	return 1
}

test_metrics_scrape() {
	local f=/var/lib/prometheus/node-exporter/smtpblock.prom want s
	systemctl is-active -q prometheus-node-exporter || fail "node_exporter is not running"
	systemctl enable --now smtpblock-metrics.timer || fail "enable --now smtpblock-metrics.timer"
	systemctl start smtpblock-metrics.service || fail "smtpblock-metrics.service failed"
	[ -s $f ] || { fail "no $f"; return; }
	scrape > "$TMP/scrape" || fail "no answer from node_exporter on :9100"
	sed 's/^/# scraped: /' "$TMP/scrape" | grep -E 'syns_total|blocked_total|offenders |mode\{'
	# Boot 2's traffic: boot_config and stop_keeps_block each sent one
	# blocked SYN per family and one from the relay.
	for want in 'smtpblock_syns_total{class="blocked"} 4' \
		'smtpblock_syns_total{class="allowed_relay"} 2' \
		'smtpblock_blocked_total{action="drop"} 4' 'smtpblock_offenders 2' \
		'smtpblock_enabled 1' 'smtpblock_mode{mode="drop"} 1' \
		"smtpblock_build_info{kernel=\"$(uname -r)\",version=\"$VERSION\"} 1"; do
		grep -qxF "$want" "$TMP/scrape" || fail "node_exporter does not serve '$want'"
	done
	s=$(systemctl show -P ActiveState smtpblock-metrics.timer)
	assert_eq "$s" active "the timer"
}

# The module gone (no traffic meanwhile): the next run takes the file
# away, quietly, and the service does not fail.
test_metrics_without_module() {
	local f=/var/lib/prometheus/node-exporter/smtpblock.prom
	systemctl start smtpblock-metrics.service || fail "smtpblock-metrics.service failed"
	[ -s $f ] || fail "no $f after the reinstall"
	modprobe -r smtpblock || fail "modprobe -r"
	systemctl start smtpblock-metrics.service || fail "smtpblock-metrics.service failed without the module"
	[ ! -e $f ] || fail "$f stays without the module"
	scrape > "$TMP/scrape"
	[ ! -s "$TMP/scrape" ] || fail "node_exporter still serves: $(head -n 1 "$TMP/scrape")"
}

# Our files, wherever they are, but the rig's and this test's.
our_files() {
	find / -xdev \( -path /host -o -path /mnt/out -o -path /usr/local/lib/smtpblock-vm \
		-o -path "$TMP" \) -prune -o -name '*smtpblock*' -print |
		grep -v '^/etc/systemd/system/\(multi-user.target.wants/\)\{0,1\}smtpblock-vm-job.service$'
}

test_purge_clean() {
	local left
	DEBIAN_FRONTEND=noninteractive apt-get purge -y -q smtpblock smtpblock-dkms \
		> "$TMP/purge.log" 2>&1 || { tail -n 20 "$TMP/purge.log"; fail "apt-get purge"; }
	left=$(our_files)
	[ -z "$left" ] || fail "left after purge: $(echo $left)"
	[ -z "$(find /lib/modules -name 'smtpblock.ko*')" ] || fail "a module file left"
	[ -z "$(dpkg-query -W -f '${Package} ${db:Status-Abbrev}\n' 'smtpblock*' 2>/dev/null)" ] ||
		fail "dpkg still knows: $(dpkg-query -W 'smtpblock*' 2>&1)"
	systemctl cat smtpblock.service > /dev/null 2>&1 && fail "the unit is still known"
	assert_eq "$(systemctl is-active smtpblock-metrics.timer)" inactive "the metrics timer after purge"
	# Purging the files does not unload a running firewall (as with nftables).
	grep -q '^smtpblock ' /proc/modules || fail "purge unloaded the module"
}

test_reinstall() {
	install_packages
	assert_eq "$(modinfo -F version smtpblock)" "$VERSION" "modinfo version"
	[ -f $ETC/smtpblock.conf ] || fail "no $ETC/smtpblock.conf after reinstall"
	assert_eq "$(systemctl is-enabled smtpblock)" disabled "is-enabled after reinstall"
}

boot2() {
	t 6 boot_order
	t 7 boot_config
	t 8 stop_keeps_block
	t 9 journal_csv
	t 10 analyze_security
	t 11 analyze_verify
	t 12 metrics_scrape
	t 13 purge_clean
	t 14 reinstall
	t 15 metrics_without_module
	teardown
}

guest_main() {
	DEBS=/host${1:?--guest needs the packages\' directory}
	KTAP=$SMTPBLOCK_VM_OUT/systemd.ktap
	# shellcheck source=lib.sh
	. "$HERE/lib.sh"
	case ${SMTPBLOCK_VM_BOOT:-} in
	1)
		boot1 | tee "$KTAP"
		touch "$SMTPBLOCK_VM_OUT/.vm/reboot"
		;;
	2) boot2 | tee -a "$KTAP" ;;
	*) echo "# unexpected boot ${SMTPBLOCK_VM_BOOT:-}"; return 1 ;;
	esac
	rm -rf "$TMP"
	! grep -q '^not ok' "$KTAP"
}

if [ "${1:-}" = --guest ]; then
	guest_main "${2:-}"
else
	host_main "$@"
fi
