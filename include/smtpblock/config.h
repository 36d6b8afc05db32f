/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The live configuration: one immutable snapshot behind an RCU pointer.
 * The packet path dereferences it once per packet and so always sees one
 * consistent policy. Every change copies the snapshot, changes the copy,
 * publishes it and frees the old one after a grace period, all under one
 * mutex; parsing and allocation happen before anything is published.
 */
#ifndef SMTPBLOCK_CONFIG_H
#define SMTPBLOCK_CONFIG_H

#include <linux/fs.h>
#include <linux/rcupdate.h>
#include "smtpblock/classify.h"
#include "smtpblock/exemption.h"

enum sb_list {
	SB_LIST_CAMPUS,
	SB_LIST_RELAYS,
};

enum sb_setting_id {
	SB_SETTING_ENABLED,
	SB_SETTING_MODE,
	SB_SETTING_PORTS,
};

struct sb_config {
	bool enabled;
	enum sb_mode mode;
	struct sb_ports ports;
	struct sb_port_map port_map;
	struct sb_prefix_set *campus;
	struct sb_prefix_set *relays;
	struct sb_exempt_table *exempt;	/* NULL when there is none */
};

extern struct sb_config __rcu *sb_live_config;

int sb_config_init(void);
void sb_config_uninit(void);

int sb_config_set(enum sb_setting_id id, const char *buf, size_t len);
int sb_config_write_list(enum sb_list which, const char *buf, size_t len,
			 bool later);
int sb_config_replace_list(enum sb_list which, struct sb_prefix_set *set);
struct sb_exempt_table *sb_config_swap_exemptions(struct sb_exempt_table *t);
size_t sb_config_memory(void);
u32 sb_config_list_count(enum sb_list which);
const char *sb_list_name(enum sb_list which);
ssize_t sb_config_read_list(enum sb_list which, const struct file *file,
			    char *buf, loff_t off, size_t count);

#endif /* SMTPBLOCK_CONFIG_H */
