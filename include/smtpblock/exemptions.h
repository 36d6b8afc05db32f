/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The exemptions of the running module: /sys/kernel/smtpblock/exemptions,
 * their bulk loads, their expiry and their kernel-log lines. The table
 * itself and its lookup are pure (exemption.h).
 */
#ifndef SMTPBLOCK_EXEMPTIONS_H
#define SMTPBLOCK_EXEMPTIONS_H

#include <linux/fs.h>
#include "smtpblock/exemption.h"

int sb_exemptions_init(void);
void sb_exemptions_uninit(void);
int sb_exemptions_write(const char *buf, size_t len);
int sb_exemptions_replace(struct sb_exempt_op **ops, u32 n, u32 *entries,
			  u32 *expired);
ssize_t sb_exemptions_read(const struct file *file, char *buf, loff_t off,
			   size_t count);
void sb_exemptions_put(struct sb_exempt_table *t);

#endif /* SMTPBLOCK_EXEMPTIONS_H */
