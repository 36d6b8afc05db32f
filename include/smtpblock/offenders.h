/* SPDX-License-Identifier: GPL-2.0 */
/* The offender table of the module: see offender.h for its logic. */
#ifndef SMTPBLOCK_OFFENDERS_H
#define SMTPBLOCK_OFFENDERS_H

#include "smtpblock/offender.h"
#include "smtpblock/packet.h"

int sb_offenders_init(void);
void sb_offenders_uninit(void);
bool sb_offenders_record(const struct sb_pkt *pkt, u8 hook, u8 action,
			 u32 period);
int sb_offenders_snapshot(struct sb_offender **out, u32 *n);
u32 sb_offenders_count(void);
int sb_offenders_resize(u32 capacity);
int sb_offenders_reset(void);

#endif /* SMTPBLOCK_OFFENDERS_H */
