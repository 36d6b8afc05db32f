/* SPDX-License-Identifier: GPL-2.0 */
/* Abuse reports and "blocked" event lines in the kernel log. */
#ifndef SMTPBLOCK_REPORT_H
#define SMTPBLOCK_REPORT_H

#include <linux/fs.h>
#include "smtpblock/packet.h"

int sb_report_init(void);
void sb_report_uninit(void);
void sb_report_blocked(const struct sb_pkt *pkt, u8 hook, u8 action);
int sb_report_now(void);
int sb_report_reschedule(u32 interval);
ssize_t sb_offenders_read(const struct file *file, char *buf, loff_t off,
			  size_t count);

#endif /* SMTPBLOCK_REPORT_H */
