/* SPDX-License-Identifier: GPL-2.0 */
#ifndef SMTPBLOCK_HOOKS_H
#define SMTPBLOCK_HOOKS_H

int sb_hooks_init(void);
void sb_hooks_uninit(void);

#endif /* SMTPBLOCK_HOOKS_H */
