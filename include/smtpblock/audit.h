/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The audit trail of the configuration: every successful change bumps a
 * generation, stamps the time and leaves one kernel log line naming what
 * changed and who changed it:
 *
 *   smtpblock: config changed what=relays generation=57 entries=1234 uid=0 comm=smtpblockctl
 *
 * what: enabled, mode, ports, campus, relays, exemptions or a tunable's
 * name; entries= for the lists and exemptions, value= for the settings;
 * via=bulk for a bulk commit, via=expiry when exemptions expire. The
 * writer calls it after publishing, under the lock that orders its own
 * changes, so the generations of one object (a list, a setting, the
 * exemptions) follow the order of its publications; two objects changed
 * at the same moment may get theirs in either order.
 */
#ifndef SMTPBLOCK_AUDIT_H
#define SMTPBLOCK_AUDIT_H

#include <linux/types.h>

void sb_audit_init(void);
void sb_audit_entries(const char *what, u32 entries, const char *via);
void sb_audit_value(const char *what, const char *value);
u64 sb_audit_generation(void);
s64 sb_audit_changed_at(void);

#endif /* SMTPBLOCK_AUDIT_H */
