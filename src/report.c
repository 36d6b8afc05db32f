// SPDX-License-Identifier: GPL-2.0
/*
 * What the abuse desk reads in the kernel log. Two kinds of lines, both
 * "key=value" after "smtpblock: ", and both bounded whatever the traffic:
 *
 *   blocked src=... dst=... dport=... hook=... action=...
 *	the first block of a source (new, or quiet for a whole report
 *	period); at most log_burst of them per log_interval seconds, the
 *	rest counted as suppressed;
 *   report begin period=... offenders=... syns=... suppressed=...
 *   offender src=... syns=... dsts=... first=... last=... dport=... action=...
 *   report end
 *	every report_interval seconds and on demand, at most report_max
 *	offender lines.
 */
#include <linux/jiffies.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>
#include "smtpblock/offenders.h"
#include "smtpblock/parse.h"
#include "smtpblock/report.h"
#include "smtpblock/snapshot.h"
#include "smtpblock/stats.h"
#include "smtpblock/tunables.h"

/* Room for the longest line sb_offender_line() makes, with detail. */
#define SB_LINE_MAX 320

/* Serialises reports, and the period bookkeeping they advance. */
static DEFINE_MUTEX(sb_report_mutex);
static struct delayed_work sb_report_work;

/*
 * Report periods are numbered from 1; each report ends one. Entries carry
 * the number of their last block's period, which says exactly who was
 * active in a period, whatever the clock's resolution.
 */
static u32 period = 1;
static s64 period_start;
static u64 blocked_at_start;
static u64 suppressed_at_start;

/*
 * The event-line budget: a window of log_interval seconds, lock-free. On
 * the 64-bit jiffies: after a long quiet (25 days at HZ=1000 on a 32-bit
 * kernel) a 32-bit jiffies difference would read as negative and keep the
 * window shut; 64-bit jiffies never wrap, so the comparison stays right
 * however long the module runs.
 */
static atomic64_t window_start;
static atomic_t window_used;

static u64 blocked_total(void)
{
	return sb_stats_read(SB_STAT_DROPPED) +
	       sb_stats_read(SB_STAT_REJECTED) +
	       sb_stats_read(SB_STAT_MONITORED);
}

/*
 * Whether one more event line fits in this window. Racing CPUs may both
 * open a new window; the cost is a few lines more in that window, never
 * an unbounded number.
 */
static bool event_allowed(void)
{
	u64 now = get_jiffies_64(), start = atomic64_read(&window_start);
	u32 burst = sb_tunable(SB_LOG_BURST);

	/* (start may be ahead of now: another CPU opened the window since.) */
	if (time_after_eq64(now, start + (u64)sb_tunable(SB_LOG_INTERVAL) * HZ) &&
	    atomic64_cmpxchg(&window_start, start, now) == start)
		atomic_set(&window_used, 0);
	/* Read first: under a flood the budget is spent, and stays shared. */
	if (atomic_read(&window_used) >= burst)
		return false;
	return atomic_inc_return(&window_used) <= burst;
}

/* Called for every blocked SYN, from the packet path. */
void sb_report_blocked(const struct sb_pkt *pkt, u8 hook, u8 action)
{
	char src[SB_SRC_STRLEN], dst[SB_PREFIX_STRLEN];
	struct sb_okey key;

	if (!sb_offenders_record(pkt, hook, action, READ_ONCE(period)))
		return;
	if (!event_allowed()) {
		sb_stats_inc(SB_STAT_LOG_SUPPRESSED);
		return;
	}
	sb_okey_from_src(&pkt->src, &key);
	sb_okey_format(&key, src);
	sb_addr_format(&pkt->dst, dst);
	pr_info("blocked src=%s dst=%s dport=%u hook=%s action=%s%s%s\n", src,
		dst, pkt->dport, sb_hook_name(hook), sb_mode_name(action),
		pkt->hidden ? " hidden=" : "",
		pkt->hidden ? sb_hidden_name(pkt->hidden) : "");
}

/* The offenders file: a text per reader (snapshot.h; root: CAP_NET_ADMIN). */
static void *take_offenders(void *arg)
{
	struct sb_offender *o;
	struct sb_text *t;
	u32 n, i;
	int err = sb_offenders_snapshot(&o, &n);

	if (err)
		return ERR_PTR(err);
	t = sb_text_alloc(n, SB_LINE_MAX);
	if (!t) {
		kvfree(o);
		return ERR_PTR(-ENOMEM);
	}
	for (i = 0; i < n; i++) {
		int w = sb_offender_line(&o[i], true, t->buf + t->len,
					 SB_LINE_MAX - 1);

		t->len += clamp(w, 0, SB_LINE_MAX - 2);
		t->buf[t->len++] = '\n';
	}
	kvfree(o);
	return t;
}

SB_TEXT_READERS(offenders_readers, take_offenders, SB_TEXT_HOLDS);

ssize_t sb_offenders_read(const struct file *file, char *buf, loff_t off,
			  size_t count)
{
	return sb_snapshot_read(&offenders_readers, file, buf, off, count);
}

/* Returns -ENOMEM (and says so in the log) when it could not report. */
static int report_locked(void)
{
	/* Boot time: period= is a length, which a clock step must not bend. */
	s64 now = ktime_get_boottime_seconds();
	u64 blocked = blocked_total();
	u64 suppressed = sb_stats_read(SB_STAT_LOG_SUPPRESSED);
	u32 n = 0, active = 0, max = sb_tunable(SB_REPORT_MAX), i;
	struct sb_offender *o = NULL;
	char line[SB_LINE_MAX];
	int err;

	err = sb_offenders_snapshot(&o, &n);
	if (err) {
		pr_warn("report: out of memory, report skipped\n");
		return err;
	}
	/* Sorted by blocked SYNs: the active ones are counted, then listed. */
	for (i = 0; i < n; i++)
		active += o[i].period == period;
	pr_info("report begin period=%lld offenders=%u syns=%llu suppressed=%llu\n",
		now - period_start, active, blocked - blocked_at_start,
		suppressed - suppressed_at_start);
	for (i = 0; i < n && max; i++) {
		if (o[i].period != period)
			continue;
		sb_offender_line(&o[i], false, line, sizeof(line));
		pr_info("offender %s\n", line);
		max--;
	}
	pr_info("report end\n");
	kvfree(o);

	WRITE_ONCE(period, period + 1);
	period_start = now;
	blocked_at_start = blocked;
	suppressed_at_start = suppressed;
	return 0;
}

/* A report now (the sysfs "report" file); the timer keeps its pace. */
int sb_report_now(void)
{
	int err;

	mutex_lock(&sb_report_mutex);
	err = report_locked();
	mutex_unlock(&sb_report_mutex);
	return err;
}

static void sb_report_timer(struct work_struct *work)
{
	u32 interval = sb_tunable(SB_REPORT_INTERVAL);

	mutex_lock(&sb_report_mutex);
	report_locked();
	mutex_unlock(&sb_report_mutex);
	if (interval)
		schedule_delayed_work(&sb_report_work, interval * HZ);
}

/* A new report_interval: the next timed report is that far from now. */
int sb_report_reschedule(u32 interval)
{
	if (interval)
		mod_delayed_work(system_wq, &sb_report_work, interval * HZ);
	else
		cancel_delayed_work_sync(&sb_report_work);
	return 0;
}

int sb_report_init(void)
{
	u32 interval = sb_tunable(SB_REPORT_INTERVAL);

	period_start = ktime_get_boottime_seconds();
	atomic64_set(&window_start, get_jiffies_64());
	INIT_DELAYED_WORK(&sb_report_work, sb_report_timer);
	if (interval)
		schedule_delayed_work(&sb_report_work, interval * HZ);
	return 0;
}

void sb_report_uninit(void)
{
	cancel_delayed_work_sync(&sb_report_work);
	sb_snapshot_free(&offenders_readers);
}
