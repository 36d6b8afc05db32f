#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/deb.sh - the Debian packages, built with Debian's own tooling
# (dpkg-buildpackage, debhelper, dh-dkms) from a copy of the tracked files,
# so the tree stays clean:
#
#   tests/deb.sh build DIR   make deb: the .deb files and lintian.txt in DIR
#   tests/deb.sh check       the CI lane, KTAP: the version is VERSION's
#                            everywhere, the packages build, lintian is
#                            clean (at --pedantic, but for the tags
#                            justified in debian/*.lintian-overrides), and
#                            they hold and depend on what they should
#
# Installs debhelper, dh-dkms and lintian when missing (as root).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT" || exit 1
VERSION=$(cat VERSION)
OUT=${SMTPBLOCK_OUT:-$ROOT/tests/out}/deb
mkdir -p "$OUT"

need_tools() {
	command -v dpkg-buildpackage > /dev/null && command -v dh > /dev/null &&
		command -v dh_dkms > /dev/null && command -v lintian > /dev/null &&
		return 0
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		debhelper dh-dkms lintian build-essential > "$OUT/apt.log" 2>&1
}

# build DIR: the packages into DIR, lintian's words into DIR/lintian.txt.
build() {
	local dir=$1 tmp src
	tmp=$(mktemp -d)
	src=$tmp/smtpblock-$VERSION
	mkdir -p "$src" "$dir"
	if git -C "$ROOT" rev-parse --git-dir > /dev/null 2>&1; then
		git -C "$ROOT" ls-files -z | xargs -0 cp --parents -t "$src"
	else
		cp -a "$ROOT"/. "$src"/ && rm -rf "$src/tests/out"
	fi
	(cd "$src" && dpkg-buildpackage -us -uc -b) > "$OUT/build.log" 2>&1 || {
		tail -n 30 "$OUT/build.log"
		rm -rf "$tmp"
		return 1
	}
	cp "$tmp"/*.deb "$dir"/
	lintian --pedantic --info "$tmp"/smtpblock_"$VERSION"_*.changes \
		> "$dir/lintian.txt" 2>&1
	rm -rf "$tmp"
}

n=0 passed=0 failed=0
result() {
	n=$((n + 1))
	if [ "$1" = OK ]; then
		passed=$((passed + 1))
		echo "ok $n $2"
	else
		failed=$((failed + 1))
		echo "not ok $n $2${3:+ # $3}"
	fi
}

check() {
	local dir=$OUT/dist ch mv tags f main dkms conf
	rm -rf "$dir"
	echo "TAP version 13"
	need_tools || { result FAIL deb.tools "cannot install debhelper, dh-dkms, lintian"; return; }
	ch=$(dpkg-parsechangelog -l debian/changelog -S Version)
	mv=$(sed -n 's/^MODULE_VERSION(\(.*\));/\1/p' src/main.c)
	if [ "$ch" = "$VERSION" ] && [ "$mv" = SMTPBLOCK_VERSION ] &&
	   grep -q '^PACKAGE_VERSION="#MODULE_VERSION#"$' dkms.conf; then
		result OK deb.version
	else
		result FAIL deb.version "VERSION $VERSION, debian/changelog $ch, module $mv, dkms.conf $(grep ^PACKAGE_VERSION dkms.conf)"
	fi
	if build "$dir"; then
		result OK deb.build
	else
		result FAIL deb.build "see $OUT/build.log"
		return
	fi
	# Every tag lintian still prints (overridden ones are not) is a finding.
	tags=$(grep -E '^[EWIPX]: ' "$dir/lintian.txt")
	if [ -z "$tags" ]; then
		result OK deb.lintian
	else
		result FAIL deb.lintian "$(echo "$tags" | tr '\n' ' ')"
	fi
	# (listed once: grep -q would end dpkg-deb's pipe early)
	main=$(dpkg-deb -c "$dir/smtpblock_${VERSION}_amd64.deb")
	dkms=$(dpkg-deb -c "$dir/smtpblock-dkms_${VERSION}_all.deb")
	for f in ./usr/sbin/smtpblockctl ./usr/sbin/smtpblock-apply ./usr/bin/smtpblock-csv \
		 ./lib/systemd/system/smtpblock.service ./etc/smtpblock/smtpblock.conf \
		 ./lib/systemd/system/smtpblock-metrics.service \
		 ./lib/systemd/system/smtpblock-metrics.timer \
		 ./etc/modprobe.d/smtpblock.conf ./usr/share/man/man8/smtpblockctl.8.gz \
		 ./usr/share/man/man8/smtpblock-apply.8.gz ./usr/share/man/man1/smtpblock-csv.1.gz; do
		grep -q " $f\$" <<< "$main" ||
			{ result FAIL deb.contents "smtpblock has no $f"; return; }
	done
	grep -q " ./usr/src/smtpblock-$VERSION/dkms.conf\$" <<< "$dkms" ||
		{ result FAIL deb.contents "smtpblock-dkms has no dkms.conf"; return; }
	conf=$(dpkg-deb --fsys-tarfile "$dir/smtpblock-dkms_${VERSION}_all.deb" |
		tar -xOf - "./usr/src/smtpblock-$VERSION/dkms.conf")
	grep -q "^PACKAGE_VERSION=\"$VERSION\"\$" <<< "$conf" ||
		{ result FAIL deb.contents "dkms.conf's version is not $VERSION"; return; }
	grep -q '\.ko' <<< "$main$dkms" &&
		{ result FAIL deb.contents "a built module in a package"; return; }
	result OK deb.contents
	if dpkg-deb -f "$dir/smtpblock_${VERSION}_amd64.deb" Depends |
	   grep -q "smtpblock-dkms (= $VERSION)" &&
	   dpkg-deb -f "$dir/smtpblock-dkms_${VERSION}_all.deb" Depends | grep -q dkms &&
	   [ "$(dpkg-deb -f "$dir/smtpblock-dkms_${VERSION}_all.deb" Architecture)" = all ]; then
		result OK deb.depends
	else
		result FAIL deb.depends "$(dpkg-deb -f "$dir/smtpblock_${VERSION}_amd64.deb" Depends)"
	fi
}

case ${1:-} in
build)
	[ $# -eq 2 ] || { echo "usage: $0 build DIR" >&2; exit 2; }
	need_tools || { echo "deb.sh: cannot install debhelper, dh-dkms, lintian" >&2; exit 1; }
	build "$2" || exit 1
	ls "$2"
	cat "$2/lintian.txt"
	;;
check)
	check
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	;;
*)
	echo "usage: $0 build DIR | check" >&2
	exit 2
	;;
esac
