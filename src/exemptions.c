// SPDX-License-Identifier: GPL-2.0
/*
 * Exemptions in the running module: changes, expiry, reading, the log.
 *
 * Every change (a write, a bulk load, an expiry) builds a new table under
 * sb_exempt_mutex and publishes it in a new configuration snapshot, so a
 * packet sees the exemptions before a change or after it, never a mix.
 * An empty table is published as none: the packet path then pays one
 * test of a pointer, and only for a SYN it is about to block.
 *
 * Expiry is wall-clock time, as the operator wrote it. The packet path
 * checks an exemption's until= itself, so it stops applying in the second
 * it expires on every CPU; a CLOCK_REALTIME hrtimer (which follows steps
 * of the clock) then removes it from the table and logs the expiry.
 */
#include <linux/hrtimer.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>
#include "smtpblock/audit.h"
#include "smtpblock/compat.h"
#include "smtpblock/config.h"
#include "smtpblock/exemptions.h"
#include "smtpblock/snapshot.h"
#include "smtpblock/tunables.h"

static DEFINE_MUTEX(sb_exempt_mutex);
static struct hrtimer expiry_timer;
static bool stopping;		/* at unload: nothing arms the timer again */
static void expire(struct work_struct *work);
static DECLARE_WORK(expire_work, expire);

/*
 * The live table. Only this file changes it, under sb_exempt_mutex, so
 * the pointer stays good while that is held; the snapshot that holds it
 * may be replaced (and freed) by any other change meanwhile, hence RCU
 * around reading it.
 */
static struct sb_exempt_table *live_locked(void)
{
	struct sb_exempt_table *t;

	lockdep_assert_held(&sb_exempt_mutex);
	rcu_read_lock();
	t = rcu_dereference(sb_live_config)->exempt;
	rcu_read_unlock();
	return t;
}

/*
 * A table's references: one from the live snapshots while it is live,
 * and one per reader rendering it; as for prefix sets (config.c).
 */
void sb_exemptions_put(struct sb_exempt_table *t)
{
	if (t && refcount_dec_and_test(&t->users.refs))
		sb_exempt_table_free(t);
}

static void rearm_locked(const struct sb_exempt_table *t)
{
	if (stopping)
		return;
	if (t)
		hrtimer_start(&expiry_timer,
			      ktime_set(sb_exempt_next_expiry(t), 0),
			      HRTIMER_MODE_ABS);
	else
		hrtimer_try_to_cancel(&expiry_timer);
}

static enum hrtimer_restart expiry_due(struct hrtimer *timer)
{
	schedule_work(&expire_work);
	return HRTIMER_NORESTART;
}

static void log_granted(const struct sb_exemption *e)
{
	char pfx[SB_PREFIX_STRLEN], until[SB_UTC_STRLEN];

	sb_prefix_format(&e->pfx, pfx);
	sb_format_utc(e->until, until);
	pr_info("exemption added prefix=%s until=%s%s%s\n", pfx, until,
		e->note[0] ? " note=" : "", e->note);
}

static void log_ended(const char *how, const struct sb_exemption *e)
{
	char pfx[SB_PREFIX_STRLEN];

	sb_prefix_format(&e->pfx, pfx);
	pr_info("exemption %s prefix=%s hits=%llu%s%s\n", how, pfx,
		sb_hits_read(e->hits), e->note[0] ? " note=" : "", e->note);
}

/*
 * Makes @next live (an empty table as none). @how: the log lines of the
 * change, "removed" or "expired" one per entry that went away and
 * "added" per new or changed grant; NULL for none (a bulk load logs its
 * own summary). The old table's hit counts are read after the grace
 * period, when no packet can add to them.
 */
static int publish_locked(struct sb_exempt_table *next, const char *how)
{
	struct sb_exempt_table *old;
	const struct sb_exemption *o, *n;
	u32 i;

	if (next && !next->n) {
		sb_exempt_table_free(next);
		next = NULL;
	}
	if (next)
		refcount_set(&next->users.refs, 1);
	old = sb_config_swap_exemptions(next);
	if (IS_ERR(old)) {
		sb_exempt_table_free(next);
		return PTR_ERR(old);
	}
	for (i = 0; how && next && i < next->n; i++) {
		n = &next->e[i];
		o = sb_exempt_base_entry(old, &n->pfx);
		if (!o || o->until != n->until || strcmp(o->note, n->note))
			log_granted(n);
	}
	for (i = 0; how && old && i < old->n; i++) {
		if (!sb_exempt_base_entry(next, &old->e[i].pfx))
			log_ended(how, &old->e[i]);
	}
	sb_exemptions_put(old);
	rearm_locked(next);
	return 0;
}

static void expire(struct work_struct *work)
{
	struct sb_exempt_table *t, *next;
	struct sb_exempt_op *ops;
	struct timespec64 ts;
	u32 i, k = 0, n = 0, bad;
	int err = -ENOMEM;
	s64 now;

	/*
	 * The clock itself, not ktime_get_real_seconds(): that one lags up
	 * to a tick behind the timer, which would then fire again at once.
	 */
	ktime_get_real_ts64(&ts);
	now = ts.tv_sec;
	mutex_lock(&sb_exempt_mutex);
	if (stopping)
		goto out;
	t = live_locked();
	while (t && k < t->n && t->e[t->by_expiry[k]].until <= now)
		k++;
	if (!k) {
		rearm_locked(t);	/* early, after a step back of the clock */
		goto out;
	}
	ops = kvmalloc_array(k, sizeof(*ops), GFP_KERNEL | __GFP_NOWARN);
	for (i = 0; ops && i < k; i++) {
		memset(&ops[i], 0, sizeof(ops[i]));
		ops[i].pfx = t->e[t->by_expiry[i]].pfx;
		ops[i].kind = SB_EXEMPT_DEL;
		ops[i].line = i + 1;
	}
	if (ops)
		err = sb_exempt_build(t, false, &ops, k, SB_EXEMPTIONS_LIMIT,
				      &next, &bad);
	if (!err) {
		n = next->n;
		err = publish_locked(next, "expired");
	}
	if (!err)
		sb_audit_entries("exemptions", n, "expiry");
	kvfree(ops);
	if (err) {
		/* (they already no longer apply: the packet path checks) */
		pr_warn("exemptions: out of memory removing %u expired, retrying in 1 s\n",
			k);
		if (!stopping)
			hrtimer_start(&expiry_timer, ktime_set(now + 1, 0),
				      HRTIMER_MODE_ABS);
	}
out:
	mutex_unlock(&sb_exempt_mutex);
}

/* Line @line of @buf, for the log line of a refused removal. */
static void find_line(const char *buf, size_t len, u32 line,
		      struct sb_exempt_err *err)
{
	const char *p = buf, *end = buf + len, *nl;

	for (; p < end && --line; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return;
	}
	nl = memchr(p, '\n', (size_t)(end - p));
	err->text = p;
	err->text_len = (u32)((nl ?: end) - p);
}

/* The one log line of a refused write; %*pE: it cannot forge lines. */
static void log_refused(int err, const struct sb_exempt_err *e)
{
	const char *why = err == -ENOENT ? "not in the table" :
			  e->why ?: "refused";

	if (err == -ENOMEM)
		pr_warn("exemptions: out of memory, nothing changed\n");
	else if (err == -ENOSPC)
		pr_warn("exemptions: more than exemptions_max (%u), nothing changed\n",
			sb_tunable(SB_EXEMPTIONS_MAX));
	else if (!e->line)
		pr_warn("exemptions: %s\n", why);
	else
		pr_warn("exemptions: line %u '%*pE': %s, nothing changed\n",
			e->line, (int)e->text_len, e->text, why);
}

/* A write: every line applied, or none (exemption.h has the format). */
int sb_exemptions_write(const char *buf, size_t len)
{
	struct sb_exempt_table *next, *base;
	struct sb_exempt_write w;
	struct sb_exempt_err perr;
	u32 bad = 0, before, after = 0;
	int err;

	err = sb_exempt_parse_write(buf, len, ktime_get_real_seconds(), &w,
				    &perr);
	if (err) {
		log_refused(err, &perr);
		return err;
	}
	mutex_lock(&sb_exempt_mutex);
	base = live_locked();
	before = base ? base->n : 0;
	err = sb_exempt_build(base, w.flush, &w.ops, w.n,
			      sb_tunable(SB_EXEMPTIONS_MAX), &next, &bad);
	if (!err) {
		after = next->n;
		/* a flush replaces the table: one line, as for a bulk load */
		err = publish_locked(next, w.flush ? NULL : "removed");
	}
	if (!err)
		sb_audit_entries("exemptions", after, NULL);
	mutex_unlock(&sb_exempt_mutex);
	if (!err && w.flush)
		pr_info("exemptions flushed removed=%u entries=%u\n", before,
			after);
	if (err) {
		memset(&perr, 0, sizeof(perr));
		perr.line = bad;
		if (bad)
			find_line(buf, len, bad, &perr);
		log_refused(err, &perr);
	}
	sb_exempt_write_free(&w);
	return err;
}

/*
 * A bulk load's commit: the whole table replaced by *@ops (*@entries: how
 * many it holds then; *@expired: how many lines were left out because
 * they expired since they were written: a load never grants a past
 * time). *@ops may be replaced, as by sb_exempt_build().
 */
int sb_exemptions_replace(struct sb_exempt_op **ops, u32 n, u32 *entries,
			  u32 *expired)
{
	struct sb_exempt_table *next;
	s64 now = ktime_get_real_seconds();
	struct sb_exempt_op *o = *ops;
	u32 i, w = 0, bad;
	int err;

	for (i = 0; i < n; i++) {
		sb_cond_resched(i);
		if (o[i].until > now)
			o[w++] = o[i];
	}
	*expired += n - w;
	mutex_lock(&sb_exempt_mutex);
	err = sb_exempt_build(live_locked(), true, ops, w,
			      sb_tunable(SB_EXEMPTIONS_MAX), &next, &bad);
	if (!err) {
		*entries = next->n;
		err = publish_locked(next, NULL);
	}
	if (!err)
		sb_audit_entries("exemptions", *entries, "bulk");
	mutex_unlock(&sb_exempt_mutex);
	return err;
}

/* Readers: a text per reader (snapshot.h), lines by expiry, then prefix. */
static void *take_exemptions(void *arg)
{
	struct sb_exempt_table *t;
	struct sb_text *text;
	u32 i;

	rcu_read_lock();
	t = rcu_dereference(sb_live_config)->exempt;
	if (t)
		refcount_inc(&t->users.refs);	/* as in config.c */
	rcu_read_unlock();
	text = sb_text_alloc(t ? t->n : 0, SB_EXEMPT_LINE_MAX);
	for (i = 0; text && t && i < t->n; i++) {
		text->len += sb_exempt_format(&t->e[t->by_expiry[i]],
					      text->buf + text->len);
		text->buf[text->len++] = '\n';
	}
	sb_exemptions_put(t);
	return text ?: ERR_PTR(-ENOMEM);
}

SB_TEXT_READERS(exemptions_readers, take_exemptions, SB_TEXT_HOLDS);

ssize_t sb_exemptions_read(const struct file *file, char *buf, loff_t off,
			   size_t count)
{
	return sb_snapshot_read(&exemptions_readers, file, buf, off, count);
}

int sb_exemptions_init(void)
{
	hrtimer_setup(&expiry_timer, expiry_due, CLOCK_REALTIME,
		      HRTIMER_MODE_ABS);
	return 0;
}

/*
 * After the sysfs files are gone; config.c frees the live table. Once
 * stopping is set nothing arms the timer, so after the timer and then the
 * work are cancelled, neither comes back.
 */
void sb_exemptions_uninit(void)
{
	mutex_lock(&sb_exempt_mutex);
	stopping = true;
	mutex_unlock(&sb_exempt_mutex);
	hrtimer_cancel(&expiry_timer);
	cancel_work_sync(&expire_work);
	sb_snapshot_free(&exemptions_readers);
}
