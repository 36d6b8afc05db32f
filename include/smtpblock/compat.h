/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels smtpblock supports, in one place.
 * Each entry says which kernel changed what; the rest of the module is
 * written against the newest API where it can be, through these names.
 *
 * Supported: Linux 6.1 up to 7.2 (tested on each Debian kernel named in
 * README.md). Outside that range the build stops here, with a message,
 * rather than at some later error: a kernel newer than the last one we
 * tested can be tried with `make SMTPBLOCK_UNTESTED_KERNEL=1`.
 */
#ifndef SMTPBLOCK_COMPAT_H
#define SMTPBLOCK_COMPAT_H

#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "smtpblock supports Linux 6.1 to 7.2; this kernel is older than 6.1"
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 3, 0) && \
	!defined(SMTPBLOCK_UNTESTED_KERNEL)
#error "smtpblock is tested up to Linux 7.2; make SMTPBLOCK_UNTESTED_KERNEL=1 to try"
#endif

/*
 * 6.16 made struct bin_attribute const for sysfs: the read/write
 * callbacks take a const attribute and attribute_group.bin_attrs is an
 * array of const pointers (6.13-6.15 offered both forms through
 * read_new/write_new and bin_attrs_new; the old form still works there).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 16, 0)
#define SB_BIN_ATTR_CONST const
#else
#define SB_BIN_ATTR_CONST
#endif

/*
 * 6.13 added hrtimer_setup(), which sets the callback with the clock;
 * 6.15 removed hrtimer_init().
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0)
#include <linux/hrtimer.h>

static inline void
hrtimer_setup(struct hrtimer *timer,
	      enum hrtimer_restart (*function)(struct hrtimer *),
	      clockid_t clock_id, enum hrtimer_mode mode)
{
	hrtimer_init(timer, clock_id, mode);
	timer->function = function;
}
#endif

#endif /* SMTPBLOCK_COMPAT_H */
