/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Numeric settings (abuse reports, bulk loads): module parameters at load time,
 * files under /sys/kernel/smtpblock at run time, validated the same way.
 */
#ifndef SMTPBLOCK_TUNABLES_H
#define SMTPBLOCK_TUNABLES_H

#include <linux/types.h>

enum sb_tunable {
	SB_OFFENDERS_MAX,
	SB_OFFENDER_TTL,
	SB_REPORT_INTERVAL,
	SB_REPORT_MAX,
	SB_LOG_BURST,
	SB_LOG_INTERVAL,
	SB_BULK_TIMEOUT,
	SB_EXEMPTIONS_MAX,
	SB_TUNABLE_COUNT
};

int sb_tunables_init(void);
u32 sb_tunable(enum sb_tunable t);
const char *sb_tunable_name(enum sb_tunable t);
int sb_tunable_set(enum sb_tunable t, const char *buf, size_t len);

#endif /* SMTPBLOCK_TUNABLES_H */
