# SPDX-License-Identifier: GPL-2.0
# smtpblock: build, install and test. The kernel build itself is in Kbuild.

KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build
PREFIX ?= /usr/local
PWD := $(shell pwd)

all: module

module:
	$(MAKE) -C $(KDIR) M=$(PWD) modules

# modules_install puts us in extra/, where depmod and modprobe find us.
install: module
	$(MAKE) -C $(KDIR) M=$(PWD) INSTALL_MOD_DIR=extra modules_install
	depmod -a $(KVER)
	install -D -m 0755 tools/smtpblock-csv $(DESTDIR)$(PREFIX)/bin/smtpblock-csv

clean:
	$(MAKE) -C $(KDIR) M=$(PWD) clean 2>/dev/null || \
		rm -rf src/*.o src/.*.cmd *.o *.ko *.mod *.mod.c .*.cmd \
			modules.order Module.symvers
	$(MAKE) -C tests/unit clean
	$(MAKE) -C tests/tools clean

# Userspace unit tests of the pure files (no VM, no root).
unit:
	$(MAKE) -C tests/unit run

# Everything: unit tests, a W=1 build against the Debian 12 kernel, and
# the VM suite on that kernel. Ends with "N passed, N failed".
check:
	tests/check.sh

# Boots the VM and tells the story: blocked on 25, allowed on 587 and
# through the relay, and the counters.
demo:
	tests/check.sh --demo

.PHONY: all module install clean unit check demo
