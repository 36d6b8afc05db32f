/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SMTPBLOCK_SYSFS_H
#define SMTPBLOCK_SYSFS_H

int sb_sysfs_init(void);
void sb_sysfs_uninit(void);

#endif /* SMTPBLOCK_SYSFS_H */
