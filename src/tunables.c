// SPDX-License-Identifier: GPL-2.0
/* The numeric settings of the offender table and the reports. */
#include <linux/module.h>
#include <linux/mutex.h>
#include "smtpblock/audit.h"
#include "smtpblock/exemption.h"
#include "smtpblock/offenders.h"
#include "smtpblock/parse.h"
#include "smtpblock/report.h"
#include "smtpblock/tunables.h"

static unsigned int offenders_max = 4096;
module_param(offenders_max, uint, 0);
MODULE_PARM_DESC(offenders_max, "Offender table size, 1..262144 sources (default: 4096)");

static unsigned int offender_ttl = 604800;
module_param(offender_ttl, uint, 0);
MODULE_PARM_DESC(offender_ttl, "Seconds after which a quiet offender is forgotten, 1..31536000 (default: 604800, 7 days)");

static unsigned int report_interval = 3600;
module_param(report_interval, uint, 0);
MODULE_PARM_DESC(report_interval, "Seconds between reports in the kernel log, 0 = off, at most 604800 (default: 3600)");

static unsigned int report_max = 50;
module_param(report_max, uint, 0);
MODULE_PARM_DESC(report_max, "Offender lines per report, 0..1000 (default: 50)");

static unsigned int log_burst = 10;
module_param(log_burst, uint, 0);
MODULE_PARM_DESC(log_burst, "'blocked' lines allowed per log_interval, 0..100 (default: 10)");

static unsigned int log_interval = 5;
module_param(log_interval, uint, 0);
MODULE_PARM_DESC(log_interval, "Seconds of the 'blocked' line rate limit, 1..3600 (default: 5)");

static unsigned int bulk_timeout = 60;
module_param(bulk_timeout, uint, 0);
MODULE_PARM_DESC(bulk_timeout, "Seconds without a write after which a bulk load is aborted, 1..3600 (default: 60)");

static unsigned int exemptions_max = SB_EXEMPTIONS_DEFAULT;
module_param(exemptions_max, uint, 0);
MODULE_PARM_DESC(exemptions_max, "Exemptions at most, 1..65536 (default: 4096)");

/* Applies a new value that needs more than storing it; may fail. */
typedef int (*sb_tunable_apply)(u32 val);

static const struct {
	const char *name;
	unsigned int *val;
	u32 min;
	u32 max;
	sb_tunable_apply apply;
} tunables[SB_TUNABLE_COUNT] = {
	[SB_OFFENDERS_MAX] = { "offenders_max", &offenders_max, 1, 262144,
			       sb_offenders_resize },
	[SB_OFFENDER_TTL] = { "offender_ttl", &offender_ttl, 1, 31536000 },
	[SB_REPORT_INTERVAL] = { "report_interval", &report_interval, 0, 604800,
				 sb_report_reschedule },
	[SB_REPORT_MAX] = { "report_max", &report_max, 0, 1000 },
	[SB_LOG_BURST] = { "log_burst", &log_burst, 0, 100 },
	[SB_LOG_INTERVAL] = { "log_interval", &log_interval, 1, 3600 },
	[SB_BULK_TIMEOUT] = { "bulk_timeout", &bulk_timeout, 1, 3600 },
	[SB_EXEMPTIONS_MAX] = { "exemptions_max", &exemptions_max, 1,
				SB_EXEMPTIONS_LIMIT },
};

/* Serialises writers, so that a value and what it set up agree. */
static DEFINE_MUTEX(sb_tunables_mutex);

/* Checks the module parameters before anything uses them. */
int sb_tunables_init(void)
{
	int t;

	for (t = 0; t < SB_TUNABLE_COUNT; t++) {
		if (*tunables[t].val < tunables[t].min ||
		    *tunables[t].val > tunables[t].max) {
			pr_err("invalid parameter %s=%u: not in %u..%u\n",
			       tunables[t].name, *tunables[t].val,
			       tunables[t].min, tunables[t].max);
			return -EINVAL;
		}
	}
	return 0;
}

u32 sb_tunable(enum sb_tunable t)
{
	return READ_ONCE(*tunables[t].val);
}

const char *sb_tunable_name(enum sb_tunable t)
{
	return tunables[t].name;
}

int sb_tunable_set(enum sb_tunable t, const char *buf, size_t len)
{
	struct sb_parse_err perr;
	char value[12];
	u32 v;
	int err = sb_u32_parse(buf, len, tunables[t].min, tunables[t].max, &v,
			       &perr);

	if (err) {
		pr_warn("%s: invalid value '%*pE', want %u..%u\n",
			tunables[t].name, (int)perr.tok_len, perr.tok,
			tunables[t].min, tunables[t].max);
		return err;
	}
	mutex_lock(&sb_tunables_mutex);
	if (tunables[t].apply)
		err = tunables[t].apply(v);
	if (!err) {
		WRITE_ONCE(*tunables[t].val, v);
		snprintf(value, sizeof(value), "%u", v);
		sb_audit_value(tunables[t].name, value);
	}
	mutex_unlock(&sb_tunables_mutex);
	if (err)
		pr_warn("%s: out of memory, nothing changed\n", tunables[t].name);
	return err;
}
