# SPDX-License-Identifier: GPL-2.0
# smtpblock: build, install and test. The kernel build itself is in Kbuild.

KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR ?= $(PREFIX)/share/doc/smtpblock
CONFIG_FILES := etc/smtpblock.conf etc/campus.list etc/relays.list
UNITS := smtpblock.service smtpblock-metrics.service smtpblock-metrics.timer
PWD := $(shell pwd)
# The one version of the module, the tools and the packages.
VERSION := $(shell cat VERSION)
# What the module is built from: what DKMS gets.
MODULE_SOURCES := Kbuild Makefile VERSION LICENSE dkms.conf src include
DEBDIR ?= dist

all: module tools

module:
	$(MAKE) -C $(KDIR) M=$(PWD) modules

# smtpblockctl, built from the module's own parsers.
tools:
	$(MAKE) -C tools

# modules_install puts us in extra/, where depmod and modprobe find us.
# DESTDIR stages the whole install (packaging tools do): nothing is
# written outside it, and depmod and systemctl run only for a real one.
MODDIR = $(DESTDIR)/lib/modules/$(KVER)/extra
install: install-module install-tools

install-module: module
	$(MAKE) -C $(KDIR) M=$(PWD) INSTALL_MOD_DIR=extra \
		$(if $(DESTDIR),INSTALL_MOD_PATH=$(DESTDIR) DEPMOD=true) \
		modules_install
	[ -n "$(DESTDIR)" ] || depmod -a $(KVER)

# Everything but the module: what the smtpblock package holds.
install-tools: tools
	install -D -m 0755 tools/smtpblock-csv $(DESTDIR)$(PREFIX)/bin/smtpblock-csv
	install -D -m 0644 tools/smtpblock-csv.1 $(DESTDIR)$(PREFIX)/share/man/man1/smtpblock-csv.1
	$(MAKE) -C tools install DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)
	install -D -m 0755 tools/smtpblock-apply $(DESTDIR)$(PREFIX)/sbin/smtpblock-apply
	install -D -m 0644 tools/smtpblock-apply.8 $(DESTDIR)$(PREFIX)/share/man/man8/smtpblock-apply.8
	install -d $(DESTDIR)$(UNITDIR)
	for u in $(UNITS); do \
		sed 's|/usr/local/|$(PREFIX)/|g' etc/$$u > $(DESTDIR)$(UNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -d $(DESTDIR)$(DOCDIR)/examples/modprobe.d
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -m 0644 $(CONFIG_FILES) $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 etc/modprobe.d/smtpblock.conf $(DESTDIR)$(DOCDIR)/examples/modprobe.d/
	# Never overwrite an operator's configuration.
	install -d $(DESTDIR)$(SYSCONFDIR)/smtpblock $(DESTDIR)$(SYSCONFDIR)/modprobe.d
	for f in $(CONFIG_FILES); do \
		t=$(DESTDIR)$(SYSCONFDIR)/smtpblock/$${f#etc/}; \
		[ -e $$t ] || install -m 0644 $$f $$t; \
	done
	[ -e $(DESTDIR)$(SYSCONFDIR)/modprobe.d/smtpblock.conf ] || \
		install -m 0644 etc/modprobe.d/smtpblock.conf $(DESTDIR)$(SYSCONFDIR)/modprobe.d/
	[ -n "$(DESTDIR)" ] || [ ! -d /run/systemd/system ] || systemctl daemon-reload

# The module's source where DKMS looks for it, /usr/src/smtpblock-VERSION,
# with dkms.conf's version filled in: "dkms install smtpblock/VERSION"
# then builds it for each kernel (what the smtpblock-dkms package holds).
dkms-source:
	install -d $(DESTDIR)/usr/src/smtpblock-$(VERSION)
	cp -R --no-preserve=ownership $(MODULE_SOURCES) $(DESTDIR)/usr/src/smtpblock-$(VERSION)/
	find $(DESTDIR)/usr/src/smtpblock-$(VERSION) \( -name '*.o' -o -name '.*.cmd' \
		-o -name '*.o.d' -o -name '*.ko' -o -name '*.mod*' \) -delete
	sed -i 's/#MODULE_VERSION#/$(VERSION)/' \
		$(DESTDIR)/usr/src/smtpblock-$(VERSION)/dkms.conf

# Debian packages (smtpblock-dkms, smtpblock) into $(DEBDIR)/, built with
# dpkg-buildpackage from a copy of the tracked files (the tree stays
# clean); lintian's verdict next to them (debian/README.source).
deb:
	tests/deb.sh build $(DEBDIR)

# What install put there, but the configuration under SYSCONFDIR: an
# operator's files stay (as a Debian "remove" keeps conffiles).
uninstall:
	rm -f $(MODDIR)/smtpblock.ko $(MODDIR)/smtpblock.ko.xz $(MODDIR)/smtpblock.ko.zst
	[ -n "$(DESTDIR)" ] || depmod -a $(KVER)
	rm -f $(DESTDIR)$(PREFIX)/bin/smtpblock-csv \
		$(DESTDIR)$(PREFIX)/share/man/man1/smtpblock-csv.1 \
		$(DESTDIR)$(PREFIX)/sbin/smtpblock-apply \
		$(DESTDIR)$(PREFIX)/share/man/man8/smtpblock-apply.8 \
		$(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS))
	$(MAKE) -C tools uninstall DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)
	rm -f $(DESTDIR)$(DOCDIR)/README.md $(DESTDIR)$(DOCDIR)/examples/modprobe.d/smtpblock.conf \
		$(addprefix $(DESTDIR)$(DOCDIR)/examples/,$(notdir $(CONFIG_FILES)))
	-rmdir $(DESTDIR)$(DOCDIR)/examples/modprobe.d $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR)
	[ -n "$(DESTDIR)" ] || [ ! -d /run/systemd/system ] || systemctl daemon-reload

clean:
	$(MAKE) -C $(KDIR) M=$(PWD) clean 2>/dev/null || \
		rm -rf src/*.o src/.*.cmd *.o *.ko *.mod *.mod.c .*.cmd \
			modules.order Module.symvers
	# (the DKMS copy of the source has neither tests/ nor tools/)
	[ ! -d tests ] || $(MAKE) -C tests/unit clean
	[ ! -d tests ] || $(MAKE) -C tests/tools clean
	[ ! -d tools ] || $(MAKE) -C tools clean

# Userspace unit tests of the pure files (no VM, no root).
unit:
	$(MAKE) -C tests/unit run

# Everything: unit tests, a W=1 build against the Debian 12 kernel, and
# the VM suite on that kernel. Ends with "N passed, N failed".
check:
	tests/check.sh

# Every VM suite on a debug kernel (KASAN, UBSAN, kmemleak, lockdep,
# PROVE_RCU...) built from Debian's linux-source-6.1 once and cached.
check-debug:
	tests/check.sh --debug

# The module built with each newer Debian suite's compiler (chroots,
# cached) and every VM suite on that suite's kernel: 6.12 and 7.2.
check-compat:
	tests/check.sh --compat

# The Debian packages installed, run under systemd (PID 1, a Debian 12
# image booted in the VM), rebooted, purged: tests/systemd.sh.
check-systemd:
	tests/systemd.sh

# smtpblock against nft, ipset and iptables in the VM; results in
# bench/results/ (see README, "Benchmark").
bench:
	bench/run.sh

# Static checks of the module: W=1, sparse, checkpatch --strict.
lint:
	tests/lint.sh

# libFuzzer on every parser, from the module's own pure files.
FUZZ_SECONDS ?= 60
fuzz:
	tests/fuzz/run.sh $(FUZZ_SECONDS)

# Can the tests fail? Each patch in tests/mutants/ breaks the module in one
# way; the tests it names must catch it. Prints a table. Not in CI.
mutants:
	tests/mutants.sh

# Boots the VM and tells the story: blocked on 25, allowed on 587 and
# through the relay, and the counters.
demo:
	tests/check.sh --demo

.PHONY: all module tools install install-module install-tools uninstall dkms-source deb clean unit check check-debug check-compat check-systemd lint fuzz bench demo mutants
