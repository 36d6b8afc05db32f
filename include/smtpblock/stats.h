/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-CPU 64-bit counters of watched SYNs. Only the six leaf counters are
 * stored; syn_seen and blocked are their sums, so the documented
 * identities hold at every moment, not only at quiet ones.
 */
#ifndef SMTPBLOCK_STATS_H
#define SMTPBLOCK_STATS_H

#include <linux/types.h>
#include "smtpblock/packet.h"

/* Order matters: sysfs shows syn_seen and blocked as sums of ranges. */
enum sb_stat {
	SB_STAT_ALLOWED_EXTERNAL,
	SB_STAT_ALLOWED_INTERNAL,
	SB_STAT_ALLOWED_RELAY,
	SB_STAT_DROPPED,
	SB_STAT_REJECTED,
	SB_STAT_MONITORED,
	/* Not watched SYNs: the offender table and the kernel log. */
	SB_STAT_OFFENDERS_EVICTED,
	SB_STAT_LOG_SUPPRESSED,
	/*
	 * Watched SYNs (a subset of syn_seen, whatever their class) that
	 * hid their port or flags: one per enum sb_hidden reason, from
	 * SB_STAT_HIDDEN + SB_HIDDEN_CUT_BEFORE_FLAGS (NONE's slot unused).
	 */
	SB_STAT_HIDDEN,
	SB_STAT_COUNT = SB_STAT_HIDDEN + SB_HIDDEN_COUNT
};

int sb_stats_init(void);
void sb_stats_uninit(void);
void sb_stats_inc(enum sb_stat stat);
u64 sb_stats_read(enum sb_stat stat);

#endif /* SMTPBLOCK_STATS_H */
