/* SPDX-License-Identifier: GPL-2.0 */
/* Staged bulk loads of a whole list, of any size: see src/bulk.c. */
#ifndef SMTPBLOCK_BULK_H
#define SMTPBLOCK_BULK_H

#include <linux/types.h>

int sb_bulk_init(void);
void sb_bulk_uninit(void);
int sb_bulk_begin(const char *buf, size_t len);
ssize_t sb_bulk_data(const char *buf, loff_t off, size_t count);
int sb_bulk_commit(u32 id);
void sb_bulk_abort(void);
int sb_bulk_abort_id(u32 id);
ssize_t sb_bulk_status(char *buf);

#endif /* SMTPBLOCK_BULK_H */
