// SPDX-License-Identifier: GPL-2.0
/*
 * Bulk loads: replacing a whole list of any size as one atomic step.
 *
 * sysfs hands a write() over a page at a time, so a large list cannot
 * arrive in one store. Like the firmware loader, a load is staged:
 * "campus", "relays" or "exemptions" to bulk/begin, the text to bulk/data in order,
 * "1" to bulk/commit (or bulk/abort). Packets see the old list until the
 * commit publishes the new one whole. There is one staging area: a
 * second begin while a load is open gets -EBUSY, and a load left alone
 * for bulk_timeout seconds is aborted, so an operator's crashed script
 * cannot hold memory or the interface.
 *
 * Each begin opens a load with a new id, shown in bulk/status: a writer
 * that aborts with "id=N" ends its own load only, never one that another
 * administrator began after its own was aborted or timed out.
 */
#include <linux/mutex.h>
#include <linux/sysfs.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>
#include "smtpblock/bulk.h"
#include "smtpblock/config.h"
#include "smtpblock/exemptions.h"
#include "smtpblock/staged.h"
#include "smtpblock/tunables.h"

enum sb_bulk_state {
	SB_BULK_IDLE,
	SB_BULK_LOADING,
	SB_BULK_FAILED,
};

static DEFINE_MUTEX(sb_bulk_mutex);
static enum sb_bulk_state state;
/* What the load replaces: a list (enum sb_list), or the exemptions. */
#define SB_BULK_EXEMPTIONS 2
static unsigned int target;
static u32 load_id;		/* of the open load; counts every begin */
static loff_t received;
static unsigned long last_write;	/* jiffies of begin or the last data */
static struct sb_staged staged;
static struct delayed_work idle_work;

static void reset_locked(void)
{
	sb_staged_free(&staged);
	state = SB_BULK_IDLE;
	cancel_delayed_work(&idle_work);
}

static const char *target_name(void)
{
	return target == SB_BULK_EXEMPTIONS ? "exemptions" :
	       sb_list_name(target);
}

/* The one log line of a failed load; bulk/status says the same. */
static void log_failure(void)
{
	if (staged.bad_line)
		pr_warn("bulk: %s: line %u: invalid entry '%*pE'%s%s\n",
			target_name(), staged.bad_line,
			(int)strlen(staged.bad_item), staged.bad_item,
			staged.bad_why ? ": " : "", staged.bad_why ?: "");
	else
		pr_warn("bulk: %s: load failed (out of memory or too many entries)\n",
			target_name());
}

/*
 * The timer may fire for a load that has since ended, while a new one
 * began: only a load idle for the whole timeout is aborted.
 */
static void idle_timeout(struct work_struct *work)
{
	unsigned long idle = sb_tunable(SB_BULK_TIMEOUT) * HZ;

	mutex_lock(&sb_bulk_mutex);
	/*
	 * Wrap-safe: this work runs within about bulk_timeout (at most an
	 * hour) of the last write, far inside time_after_eq()'s half range
	 * of the jiffies (24 days at HZ=1000 on a 32-bit kernel).
	 */
	if (state != SB_BULK_IDLE && !time_after_eq(jiffies, last_write + idle)) {
		mod_delayed_work(system_wq, &idle_work,
				 last_write + idle - jiffies);
	} else if (state != SB_BULK_IDLE) {
		pr_warn("bulk: %s: no write for %u s, load aborted\n",
			target_name(), sb_tunable(SB_BULK_TIMEOUT));
		reset_locked();
	}
	mutex_unlock(&sb_bulk_mutex);
}

int sb_bulk_begin(const char *buf, size_t len)
{
	unsigned int which;
	int err = 0;

	if (sysfs_streq(buf, sb_list_name(SB_LIST_CAMPUS))) {
		which = SB_LIST_CAMPUS;
	} else if (sysfs_streq(buf, sb_list_name(SB_LIST_RELAYS))) {
		which = SB_LIST_RELAYS;
	} else if (sysfs_streq(buf, "exemptions")) {
		which = SB_BULK_EXEMPTIONS;
	} else {
		pr_warn("bulk: begin: write campus, relays or exemptions\n");
		return -EINVAL;
	}

	mutex_lock(&sb_bulk_mutex);
	if (state != SB_BULK_IDLE) {
		pr_warn("bulk: begin: a load of %s is open\n", target_name());
		err = -EBUSY;
	} else {
		/* until= and for= are checked against the time of begin */
		if (which == SB_BULK_EXEMPTIONS)
			sb_staged_init_exempt(&staged, ktime_get_real_seconds());
		else
			sb_staged_init(&staged);
		target = which;
		load_id++;
		received = 0;
		last_write = jiffies;
		state = SB_BULK_LOADING;
		schedule_delayed_work(&idle_work, sb_tunable(SB_BULK_TIMEOUT) * HZ);
	}
	mutex_unlock(&sb_bulk_mutex);
	return err;
}

/* The next piece of text; it must start where the last one ended. */
ssize_t sb_bulk_data(const char *buf, loff_t off, size_t count)
{
	ssize_t ret = count;
	int err;

	mutex_lock(&sb_bulk_mutex);
	if (state != SB_BULK_LOADING || off != received) {
		pr_warn("bulk: data: %s\n", state == SB_BULK_IDLE ?
			"no load is open" : state == SB_BULK_FAILED ?
			"the load failed: abort it" :
			"not where the last write ended (one writer, in order)");
		ret = -EINVAL;
		goto out;
	}
	err = sb_staged_feed(&staged, buf, count);
	if (err) {
		state = SB_BULK_FAILED;
		log_failure();
		ret = err;
		goto out;
	}
	received += count;
	last_write = jiffies;
	mod_delayed_work(system_wq, &idle_work, sb_tunable(SB_BULK_TIMEOUT) * HZ);
out:
	mutex_unlock(&sb_bulk_mutex);
	return ret;
}

/* @id: 0 for whatever load is open, else load @id only (-ENOENT). */
int sb_bulk_commit(u32 id)
{
	struct sb_prefix_set *set;
	u32 entries = 0;
	int err;

	mutex_lock(&sb_bulk_mutex);
	if (id && (state == SB_BULK_IDLE || load_id != id)) {
		pr_warn("bulk: commit: load %u is not open\n", id);
		err = -ENOENT;
		goto out;
	}
	if (state != SB_BULK_LOADING) {
		pr_warn("bulk: commit: %s\n", state == SB_BULK_IDLE ?
			"no load is open" : "the load failed: abort it");
		err = -EINVAL;
		goto out;
	}
	err = sb_staged_finish(&staged);
	if (!err && target == SB_BULK_EXEMPTIONS) {
		err = sb_exemptions_replace(&staged.ops, staged.nops, &entries,
					    &staged.expired);
		if (!err && staged.expired)
			pr_warn("bulk: exemptions: %u lines expired before the commit, left out\n",
				staged.expired);
		goto done;
	}
	/* The whole build, before sb_config_replace_list takes its mutex. */
	if (!err)
		err = sb_staged_build(&staged, &set);
	if (!err) {
		entries = sb_set_count(set);
		err = sb_config_replace_list(target, set);
		if (err)
			sb_set_free(set);
	}
done:
	if (err) {
		state = SB_BULK_FAILED;
		log_failure();
		goto out;
	}
	pr_info("bulk: %s: %u entries from %u lines\n", target_name(),
		entries, staged.lines);
	reset_locked();
out:
	mutex_unlock(&sb_bulk_mutex);
	return err;
}

void sb_bulk_abort(void)
{
	mutex_lock(&sb_bulk_mutex);
	reset_locked();
	mutex_unlock(&sb_bulk_mutex);
}

/* Aborts load @id only: -ENOENT, and one log line, if it is not open. */
int sb_bulk_abort_id(u32 id)
{
	int err = 0;

	mutex_lock(&sb_bulk_mutex);
	if (state != SB_BULK_IDLE && load_id == id) {
		reset_locked();
	} else {
		if (state == SB_BULK_IDLE)
			pr_warn("bulk: abort: load %u is not open (no load is)\n", id);
		else
			pr_warn("bulk: abort: load %u is not open (load %u is)\n",
				id, load_id);
		err = -ENOENT;
	}
	mutex_unlock(&sb_bulk_mutex);
	return err;
}

ssize_t sb_bulk_status(char *buf)
{
	ssize_t n;

	mutex_lock(&sb_bulk_mutex);
	if (state == SB_BULK_IDLE)
		n = sysfs_emit(buf, "idle\n");
	else if (state == SB_BULK_LOADING)
		n = sysfs_emit(buf, "loading list=%s lines=%u entries=%u id=%u\n",
			       target_name(), staged.lines, staged.n,
			       load_id);
	else
		n = sysfs_emit(buf, "failed list=%s line=%u item=%*pE id=%u\n",
			       target_name(), staged.bad_line,
			       (int)strlen(staged.bad_item), staged.bad_item,
			       load_id);
	mutex_unlock(&sb_bulk_mutex);
	return n;
}

int sb_bulk_init(void)
{
	INIT_DELAYED_WORK(&idle_work, idle_timeout);
	return 0;
}

void sb_bulk_uninit(void)
{
	cancel_delayed_work_sync(&idle_work);
	sb_staged_free(&staged);
}
