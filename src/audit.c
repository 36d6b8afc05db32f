// SPDX-License-Identifier: GPL-2.0
/* The generation, time and log line of each configuration change. */
#include <linux/cred.h>
#include <linux/ctype.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/uidgid.h>
#include "smtpblock/audit.h"

/* Writers of different things (a list, a tunable) may change at once. */
static DEFINE_SPINLOCK(sb_audit_lock);
static u64 generation;
static s64 changed_at;

/* Generation 1 is the configuration the module was loaded with. */
void sb_audit_init(void)
{
	generation = 1;
	changed_at = ktime_get_real_seconds();
}

/*
 * Makes the writer's name one word of printable characters: a task can
 * name itself anything (prctl), and the line must stay key=value pairs.
 */
static void one_word(char *s)
{
	for (; *s; s++) {
		if (!isascii(*s) || !isgraph(*s) || *s == '=')
			*s = '_';
	}
}

/* @detail: "entries=N[ via=V]" or "value=V". */
static void log_change(const char *what, const char *detail)
{
	char comm[TASK_COMM_LEN];
	uid_t uid = from_kuid_munged(&init_user_ns, current_uid());
	u64 g;

	get_task_comm(comm, current);
	one_word(comm);
	spin_lock(&sb_audit_lock);
	g = ++generation;
	WRITE_ONCE(changed_at, ktime_get_real_seconds());
	/* under the lock: the log's generations come in order */
	pr_info("config changed what=%s generation=%llu %s uid=%u comm=%s\n",
		what, g, detail, uid, comm);
	spin_unlock(&sb_audit_lock);
}

void sb_audit_entries(const char *what, u32 entries, const char *via)
{
	char detail[48];

	snprintf(detail, sizeof(detail), "entries=%u%s%s", entries,
		 via ? " via=" : "", via ?: "");
	log_change(what, detail);
}

void sb_audit_value(const char *what, const char *value)
{
	char detail[128];

	snprintf(detail, sizeof(detail), "value=%s", value);
	log_change(what, detail);
}

u64 sb_audit_generation(void)
{
	u64 g;

	spin_lock(&sb_audit_lock);
	g = generation;
	spin_unlock(&sb_audit_lock);
	return g;
}

s64 sb_audit_changed_at(void)
{
	return READ_ONCE(changed_at);
}
