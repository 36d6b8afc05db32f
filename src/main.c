// SPDX-License-Identifier: GPL-2.0
/*
 * smtpblock: drop new TCP connections to port 25 that leave a campus,
 * except from and to its sanctioned mail relays.
 *
 * Init runs in a fixed order and unwinds in reverse; the hooks come last
 * so that no packet arrives before everything it needs exists.
 */
#include <linux/module.h>
#include "smtpblock/audit.h"
#include "smtpblock/bulk.h"
#include "smtpblock/config.h"
#include "smtpblock/exemptions.h"
#include "smtpblock/hooks.h"
#include "smtpblock/offenders.h"
#include "smtpblock/report.h"
#include "smtpblock/stats.h"
#include "smtpblock/sysfs.h"
#include "smtpblock/tunables.h"

static int __init smtpblock_init(void)
{
	int err;

	sb_audit_init();
	err = sb_tunables_init();
	if (err)
		return err;
	err = sb_config_init();
	if (err)
		return err;
	err = sb_stats_init();
	if (err)
		goto err_stats;
	err = sb_offenders_init();
	if (err)
		goto err_offenders;
	err = sb_report_init();
	if (err)
		goto err_report;
	err = sb_bulk_init();
	if (err)
		goto err_bulk;
	err = sb_exemptions_init();
	if (err)
		goto err_exemptions;
	err = sb_sysfs_init();
	if (err)
		goto err_sysfs;
	err = sb_hooks_init();
	if (err)
		goto err_hooks;
	pr_info("loaded\n");
	return 0;

err_hooks:
	sb_sysfs_uninit();
err_sysfs:
	sb_exemptions_uninit();
err_exemptions:
	sb_bulk_uninit();
err_bulk:
	sb_report_uninit();
err_report:
	sb_offenders_uninit();
err_offenders:
	sb_stats_uninit();
err_stats:
	sb_config_uninit();
	return err;
}

static void __exit smtpblock_exit(void)
{
	sb_hooks_uninit();
	sb_sysfs_uninit();
	sb_exemptions_uninit();
	sb_bulk_uninit();
	sb_report_uninit();
	sb_offenders_uninit();
	sb_stats_uninit();
	sb_config_uninit();
	pr_info("unloaded\n");
}

module_init(smtpblock_init);
module_exit(smtpblock_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Block outbound SMTP (TCP port 25) from campus networks, except sanctioned relays");
MODULE_AUTHOR("smtpblock developers");
MODULE_VERSION(SMTPBLOCK_VERSION);
