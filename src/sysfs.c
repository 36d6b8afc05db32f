// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/smtpblock: the run-time interface. Every store checks
 * CAP_NET_ADMIN in the initial user namespace itself: file modes alone
 * would let root of a container (uid 0 mapped to uid 0) change the
 * campus edge's policy.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/kobject.h>
#include <linux/ratelimit.h>
#include <linux/sysfs.h>
#include "smtpblock/audit.h"
#include "smtpblock/bulk.h"
#include "smtpblock/compat.h"
#include "smtpblock/config.h"
#include "smtpblock/exemptions.h"
#include "smtpblock/offenders.h"
#include "smtpblock/parse.h"
#include "smtpblock/report.h"
#include "smtpblock/stats.h"
#include "smtpblock/sysfs.h"
#include "smtpblock/tunables.h"
#include "smtpblock/utc.h"

static struct kobject *sb_kobj;

/*
 * A refused write is logged like every failed write, but at most 10 lines
 * per 5 s: whoever can open the files (root of a container) must not be
 * able to flood the log.
 */
static DEFINE_RATELIMIT_STATE(refusal_log, 5 * HZ, 10);

static bool may_configure(const char *file)
{
	if (capable(CAP_NET_ADMIN))
		return true;
	if (__ratelimit(&refusal_log))
		pr_warn("%s: write refused: needs CAP_NET_ADMIN in the initial user namespace (uid %u)\n",
			file, from_kuid(&init_user_ns, current_uid()));
	return false;
}

static ssize_t enabled_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	bool on;

	rcu_read_lock();
	on = rcu_dereference(sb_live_config)->enabled;
	rcu_read_unlock();
	return sysfs_emit(buf, "%d\n", on);
}

static ssize_t mode_show(struct kobject *kobj, struct kobj_attribute *attr,
			 char *buf)
{
	enum sb_mode m;

	rcu_read_lock();
	m = rcu_dereference(sb_live_config)->mode;
	rcu_read_unlock();
	return sysfs_emit(buf, "%s\n", sb_mode_name(m));
}

static ssize_t ports_show(struct kobject *kobj, struct kobj_attribute *attr,
			  char *buf)
{
	struct sb_ports p;
	int len = 0;
	u16 i;

	rcu_read_lock();
	p = rcu_dereference(sb_live_config)->ports;
	rcu_read_unlock();
	for (i = 0; i < p.n; i++)
		len += sysfs_emit_at(buf, len, "%s%u", i ? " " : "", p.port[i]);
	return len + sysfs_emit_at(buf, len, "\n");
}

#define SB_STORE(name, id)						\
static ssize_t name##_store(struct kobject *kobj,			\
			    struct kobj_attribute *attr,		\
			    const char *buf, size_t count)		\
{									\
	int err;							\
									\
	if (!may_configure(#name))					\
		return -EPERM;						\
	err = sb_config_set(id, buf, count);				\
	return err ? err : count;					\
}

SB_STORE(enabled, SB_SETTING_ENABLED)
SB_STORE(mode, SB_SETTING_MODE)
SB_STORE(ports, SB_SETTING_PORTS)

static struct kobj_attribute enabled_attr = __ATTR_RW_MODE(enabled, 0644);
static struct kobj_attribute mode_attr = __ATTR_RW_MODE(mode, 0644);
static struct kobj_attribute ports_attr = __ATTR_RW_MODE(ports, 0644);

/* The numeric settings of the offender table and the reports. */
struct sb_tunable_attr {
	struct kobj_attribute attr;
	enum sb_tunable id;
};

static ssize_t tunable_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	const struct sb_tunable_attr *ta =
		container_of(attr, struct sb_tunable_attr, attr);

	return sysfs_emit(buf, "%u\n", sb_tunable(ta->id));
}

static ssize_t tunable_store(struct kobject *kobj, struct kobj_attribute *attr,
			     const char *buf, size_t count)
{
	const struct sb_tunable_attr *ta =
		container_of(attr, struct sb_tunable_attr, attr);
	int err;

	if (!may_configure(attr->attr.name))
		return -EPERM;
	err = sb_tunable_set(ta->id, buf, count);
	return err ? err : count;
}

#define SB_TUNABLE_ATTR(name, tid)					\
	static struct sb_tunable_attr name##_attr = {			\
		.attr = __ATTR(name, 0644, tunable_show, tunable_store), \
		.id = tid,						\
	}

SB_TUNABLE_ATTR(offenders_max, SB_OFFENDERS_MAX);
SB_TUNABLE_ATTR(offender_ttl, SB_OFFENDER_TTL);
SB_TUNABLE_ATTR(report_interval, SB_REPORT_INTERVAL);
SB_TUNABLE_ATTR(report_max, SB_REPORT_MAX);
SB_TUNABLE_ATTR(log_burst, SB_LOG_BURST);
SB_TUNABLE_ATTR(log_interval, SB_LOG_INTERVAL);
SB_TUNABLE_ATTR(bulk_timeout, SB_BULK_TIMEOUT);
SB_TUNABLE_ATTR(exemptions_max, SB_EXEMPTIONS_MAX);

/* Actions: write "1" to do it; anything else is an error. */
static int parse_trigger(const char *name, const char *buf, size_t count)
{
	struct sb_parse_err perr;
	bool on;

	if (sb_bool_parse(buf, count, &on, &perr) || !on) {
		pr_warn("%s: write 1 to trigger it\n", name);
		return -EINVAL;
	}
	return 0;
}

static ssize_t report_store(struct kobject *kobj, struct kobj_attribute *attr,
			    const char *buf, size_t count)
{
	int err;

	if (!may_configure(attr->attr.name))
		return -EPERM;
	err = parse_trigger("report", buf, count) ?: sb_report_now();
	return err ? err : count;
}

static ssize_t offenders_reset_store(struct kobject *kobj,
				     struct kobj_attribute *attr,
				     const char *buf, size_t count)
{
	int err;

	if (!may_configure(attr->attr.name))
		return -EPERM;
	err = parse_trigger("offenders_reset", buf, count);
	if (err)
		return err;
	err = sb_offenders_reset();
	if (err)
		pr_warn("offenders_reset: out of memory, nothing changed\n");
	return err ? err : count;
}

static struct kobj_attribute report_attr = __ATTR_WO(report);
static struct kobj_attribute offenders_reset_attr = __ATTR_WO(offenders_reset);

static struct attribute *sb_attrs[] = {
	&enabled_attr.attr,
	&mode_attr.attr,
	&ports_attr.attr,
	&offenders_max_attr.attr.attr,
	&offender_ttl_attr.attr.attr,
	&report_interval_attr.attr.attr,
	&report_max_attr.attr.attr,
	&log_burst_attr.attr.attr,
	&log_interval_attr.attr.attr,
	&bulk_timeout_attr.attr.attr,
	&exemptions_max_attr.attr.attr,
	&report_attr.attr,
	&offenders_reset_attr.attr,
	NULL
};

/*
 * Lists are binary attributes because reading one must give all of it,
 * beyond one page. Writes, though, must arrive whole: sysfs hands a long
 * write() to us one page at a time, and a list must never be replaced in
 * pieces, so a chunk that may have a successor is refused.
 */
static ssize_t list_read(struct file *file, struct kobject *kobj,
			 SB_BIN_ATTR_CONST struct bin_attribute *attr,
			 char *buf, loff_t off, size_t count)
{
	return sb_config_read_list((uintptr_t)attr->private, file, buf, off,
				   count);
}

static ssize_t list_write(struct file *file, struct kobject *kobj,
			  SB_BIN_ATTR_CONST struct bin_attribute *attr,
			  char *buf, loff_t off, size_t count)
{
	int err;

	if (!may_configure(attr->attr.name))
		return -EPERM;
	/*
	 * Each write() is applied alone, at whatever offset the file has
	 * reached ("{ echo flush; echo LIST; } > campus" is two writes).
	 * sysfs hands us at most a page at a time, so a write of a page or
	 * more arrives in pieces: its first piece is refused, and with it
	 * the whole write().
	 */
	if (count >= PAGE_SIZE) {
		pr_warn("%s: a write must be one write() under %lu bytes; use bulk/ for whole lists\n",
			attr->attr.name, PAGE_SIZE);
		return -E2BIG;
	}
	err = sb_config_write_list((uintptr_t)attr->private, buf, count,
				   off != 0);
	return err ? err : count;
}

static ssize_t exemptions_read(struct file *file, struct kobject *kobj,
			       SB_BIN_ATTR_CONST struct bin_attribute *attr,
			       char *buf, loff_t off, size_t count)
{
	return sb_exemptions_read(file, buf, off, count);
}

/* As for lists: each write() alone, and under a page. */
static ssize_t exemptions_write(struct file *file, struct kobject *kobj,
				SB_BIN_ATTR_CONST struct bin_attribute *attr,
				char *buf, loff_t off, size_t count)
{
	int err;

	if (!may_configure("exemptions"))
		return -EPERM;
	if (count >= PAGE_SIZE) {
		pr_warn("exemptions: a write must be one write() under %lu bytes; use bulk/ for the whole table\n",
			PAGE_SIZE);
		return -E2BIG;
	}
	err = sb_exemptions_write(buf, count);
	return err ? err : count;
}

static struct bin_attribute exemptions_attr = {
	.attr = { .name = "exemptions", .mode = 0644 },
	.read = exemptions_read,
	.write = exemptions_write,
};

static struct bin_attribute campus_attr = {
	.attr = { .name = "campus", .mode = 0644 },
	.private = (void *)SB_LIST_CAMPUS,
	.read = list_read,
	.write = list_write,
};

static struct bin_attribute relays_attr = {
	.attr = { .name = "relays", .mode = 0644 },
	.private = (void *)SB_LIST_RELAYS,
	.read = list_read,
	.write = list_write,
};

/*
 * Personal data of users: mode 0400, and CAP_NET_ADMIN in the initial
 * user namespace, as for writes (uid 0 without capabilities, or root of a
 * container, passes the mode). Checked against the opener's credentials,
 * as /proc/kallsyms does: a descriptor handed on keeps its opener's right.
 */
static ssize_t offenders_read(struct file *file, struct kobject *kobj,
			      SB_BIN_ATTR_CONST struct bin_attribute *attr,
			      char *buf, loff_t off, size_t count)
{
	if (!file_ns_capable(file, &init_user_ns, CAP_NET_ADMIN))
		return -EPERM;
	return sb_offenders_read(file, buf, off, count);
}

static struct bin_attribute offenders_attr = {
	.attr = { .name = "offenders", .mode = 0400 },
	.read = offenders_read,
};

static SB_BIN_ATTR_CONST struct bin_attribute *SB_BIN_ATTR_CONST
sb_bin_attrs[] = {
	&campus_attr,
	&relays_attr,
	&exemptions_attr,
	&offenders_attr,
	NULL
};

static const struct attribute_group sb_group = {
	.attrs = sb_attrs,
	.bin_attrs = sb_bin_attrs,
};

/*
 * stats/: one counter per file. Each file shows the sum of a range of
 * stored counters: one for a leaf, several for syn_seen and blocked
 * (the order of enum sb_stat makes each sum a range).
 */
struct sb_stat_attr {
	struct kobj_attribute attr;
	enum sb_stat first;
	enum sb_stat last;
};

static ssize_t stat_show(struct kobject *kobj, struct kobj_attribute *attr,
			 char *buf)
{
	const struct sb_stat_attr *sa =
		container_of(attr, struct sb_stat_attr, attr);
	u64 sum = 0;
	int s;

	for (s = sa->first; s <= sa->last; s++)
		sum += sb_stats_read(s);
	return sysfs_emit(buf, "%llu\n", sum);
}

#define SB_STAT_ATTR(name, from, to)					\
	static struct sb_stat_attr stat_##name##_attr = {		\
		.attr = __ATTR(name, 0444, stat_show, NULL),		\
		.first = from,						\
		.last = to,						\
	}
#define SB_LEAF_ATTR(name, stat) SB_STAT_ATTR(name, stat, stat)

SB_STAT_ATTR(syn_seen, SB_STAT_ALLOWED_EXTERNAL, SB_STAT_MONITORED);
SB_LEAF_ATTR(allowed_external, SB_STAT_ALLOWED_EXTERNAL);
SB_LEAF_ATTR(allowed_internal, SB_STAT_ALLOWED_INTERNAL);
SB_LEAF_ATTR(allowed_relay, SB_STAT_ALLOWED_RELAY);
SB_STAT_ATTR(blocked, SB_STAT_DROPPED, SB_STAT_MONITORED);
SB_LEAF_ATTR(dropped, SB_STAT_DROPPED);
SB_LEAF_ATTR(rejected, SB_STAT_REJECTED);
SB_LEAF_ATTR(monitored, SB_STAT_MONITORED);
SB_LEAF_ATTR(offenders_evicted, SB_STAT_OFFENDERS_EVICTED);
#define SB_HIDDEN_ATTR(name, why) \
	SB_LEAF_ATTR(hidden_##name, SB_STAT_HIDDEN + SB_HIDDEN_##why)
SB_HIDDEN_ATTR(cut_before_flags, CUT_BEFORE_FLAGS);
SB_HIDDEN_ATTR(offset_8, OFFSET_8);
SB_HIDDEN_ATTR(v6_fragment_exthdr, V6_FRAGMENT_EXTHDR);
SB_HIDDEN_ATTR(v6_chain_truncated, V6_CHAIN_TRUNCATED);
SB_HIDDEN_ATTR(v6_chain_too_long, V6_CHAIN_TOO_LONG);
SB_HIDDEN_ATTR(ipv4_header_short, IPV4_HEADER_SHORT);
SB_LEAF_ATTR(log_suppressed, SB_STAT_LOG_SUPPRESSED);

/* Not a counter but a gauge: the bytes of the live lookup structures. */
static ssize_t memory_bytes_show(struct kobject *kobj,
				 struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%zu\n", sb_config_memory());
}

static struct kobj_attribute memory_bytes_attr = __ATTR_RO(memory_bytes);

/* The audit trail's generation and time of the last change (audit.h). */
static ssize_t generation_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", sb_audit_generation());
}

static ssize_t changed_at_show(struct kobject *kobj,
			       struct kobj_attribute *attr, char *buf)
{
	char when[SB_UTC_STRLEN];

	sb_format_utc(sb_audit_changed_at(), when);
	return sysfs_emit(buf, "%s\n", when);
}

static struct kobj_attribute generation_attr = __ATTR_RO(generation);
static struct kobj_attribute changed_at_attr = __ATTR_RO(changed_at);

/* Gauges: list sizes, without rendering the lists. */
struct sb_entries_attr {
	struct kobj_attribute attr;
	enum sb_list list;
};

static ssize_t entries_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	const struct sb_entries_attr *ea =
		container_of(attr, struct sb_entries_attr, attr);

	return sysfs_emit(buf, "%u\n", sb_config_list_count(ea->list));
}

#define SB_ENTRIES_ATTR(name, which)					\
	static struct sb_entries_attr name##_entries_attr = {		\
		.attr = __ATTR(name##_entries, 0444, entries_show, NULL), \
		.list = which,						\
	}

SB_ENTRIES_ATTR(campus, SB_LIST_CAMPUS);
SB_ENTRIES_ATTR(relays, SB_LIST_RELAYS);

static ssize_t exemptions_entries_show(struct kobject *kobj,
				       struct kobj_attribute *attr, char *buf)
{
	const struct sb_exempt_table *t;
	u32 n;

	rcu_read_lock();
	t = rcu_dereference(sb_live_config)->exempt;
	n = t ? t->n : 0;
	rcu_read_unlock();
	return sysfs_emit(buf, "%u\n", n);
}

static ssize_t offenders_show(struct kobject *kobj,
			      struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", sb_offenders_count());
}

static struct kobj_attribute exemptions_entries_attr =
	__ATTR_RO(exemptions_entries);
static struct kobj_attribute offenders_gauge_attr =
	__ATTR(offenders, 0444, offenders_show, NULL);

static struct attribute *sb_stat_attrs[] = {
	&stat_syn_seen_attr.attr.attr,
	&stat_allowed_external_attr.attr.attr,
	&stat_allowed_internal_attr.attr.attr,
	&stat_allowed_relay_attr.attr.attr,
	&stat_blocked_attr.attr.attr,
	&stat_dropped_attr.attr.attr,
	&stat_rejected_attr.attr.attr,
	&stat_monitored_attr.attr.attr,
	&stat_offenders_evicted_attr.attr.attr,
	&stat_log_suppressed_attr.attr.attr,
	&stat_hidden_cut_before_flags_attr.attr.attr,
	&stat_hidden_offset_8_attr.attr.attr,
	&stat_hidden_v6_fragment_exthdr_attr.attr.attr,
	&stat_hidden_v6_chain_truncated_attr.attr.attr,
	&stat_hidden_v6_chain_too_long_attr.attr.attr,
	&stat_hidden_ipv4_header_short_attr.attr.attr,
	&memory_bytes_attr.attr,
	&generation_attr.attr,
	&changed_at_attr.attr,
	&campus_entries_attr.attr.attr,
	&relays_entries_attr.attr.attr,
	&exemptions_entries_attr.attr,
	&offenders_gauge_attr.attr,
	NULL
};

static const struct attribute_group sb_stats_group = {
	.name = "stats",
	.attrs = sb_stat_attrs,
};

/* bulk/: staged loads of a whole list (src/bulk.c). */
static ssize_t begin_store(struct kobject *kobj, struct kobj_attribute *attr,
			   const char *buf, size_t count)
{
	int err;

	if (!may_configure("bulk/begin"))
		return -EPERM;
	err = sb_bulk_begin(buf, count);
	return err ? err : count;
}

/*
 * commit and abort take "1" (whatever load is open: *@id = 0) or "id=N"
 * (load N only, as bulk/status shows it).
 */
static int parse_load_id(const char *name, const char *buf, size_t count,
			 u32 *id)
{
	struct sb_parse_err perr;

	*id = 0;
	if (count <= 3 || memcmp(buf, "id=", 3))
		return parse_trigger(name, buf, count);
	if (!sb_u32_parse(buf + 3, count - 3, 1, U32_MAX, id, &perr))
		return 0;
	pr_warn("%s: write 1, or id=N with the id of a load\n", name);
	return -EINVAL;
}

static ssize_t commit_store(struct kobject *kobj, struct kobj_attribute *attr,
			    const char *buf, size_t count)
{
	int err;

	u32 id;

	if (!may_configure("bulk/commit"))
		return -EPERM;
	err = parse_load_id("bulk/commit", buf, count, &id) ?:
	      sb_bulk_commit(id);
	return err ? err : count;
}

static ssize_t abort_store(struct kobject *kobj, struct kobj_attribute *attr,
			   const char *buf, size_t count)
{
	int err;

	u32 id;

	if (!may_configure("bulk/abort"))
		return -EPERM;
	err = parse_load_id("bulk/abort", buf, count, &id);
	if (!err && id)
		err = sb_bulk_abort_id(id);
	else if (!err)
		sb_bulk_abort();
	return err ? err : count;
}

static ssize_t status_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	return sb_bulk_status(buf);
}

static ssize_t data_write(struct file *file, struct kobject *kobj,
			  SB_BIN_ATTR_CONST struct bin_attribute *attr,
			  char *buf, loff_t off, size_t count)
{
	if (!may_configure("bulk/data"))
		return -EPERM;
	return sb_bulk_data(buf, off, count);
}

static struct kobj_attribute begin_attr = __ATTR_WO(begin);
static struct kobj_attribute commit_attr = __ATTR_WO(commit);
static struct kobj_attribute abort_attr = __ATTR_WO(abort);
static struct kobj_attribute status_attr = __ATTR_RO(status);

static struct bin_attribute data_attr = {
	.attr = { .name = "data", .mode = 0200 },
	.write = data_write,
};

static struct attribute *sb_bulk_attrs[] = {
	&begin_attr.attr,
	&commit_attr.attr,
	&abort_attr.attr,
	&status_attr.attr,
	NULL
};

static SB_BIN_ATTR_CONST struct bin_attribute *SB_BIN_ATTR_CONST
sb_bulk_bin_attrs[] = {
	&data_attr,
	NULL
};

static const struct attribute_group sb_bulk_group = {
	.name = "bulk",
	.attrs = sb_bulk_attrs,
	.bin_attrs = sb_bulk_bin_attrs,
};

static const struct attribute_group *sb_groups[] = {
	&sb_group,
	&sb_stats_group,
	&sb_bulk_group,
	NULL
};

int sb_sysfs_init(void)
{
	int err;

	sb_kobj = kobject_create_and_add("smtpblock", kernel_kobj);
	if (!sb_kobj)
		return -ENOMEM;
	err = sysfs_create_groups(sb_kobj, sb_groups);
	if (err)
		kobject_put(sb_kobj);
	return err;
}

void sb_sysfs_uninit(void)
{
	sysfs_remove_groups(sb_kobj, sb_groups);
	kobject_put(sb_kobj);
}
