// SPDX-License-Identifier: GPL-2.0
/*
 * The offender table: preallocated entries in sets of SB_OFFENDER_WAYS,
 * one spinlock per set, behind an RCU pointer. The packet path takes only
 * its set's lock and never allocates; a resize or reset builds a new
 * table and swaps it in. Expired entries are wiped by a periodic sweep,
 * since they are personal data that must not outlive offender_ttl.
 */
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>
#include "smtpblock/offenders.h"
#include "smtpblock/stats.h"
#include "smtpblock/tunables.h"

#define SB_SWEEP_SECONDS 60

struct sb_otable {
	u32 capacity;
	u32 nsets;
	struct sb_prf_key prf_key;	/* random: sb_okey_hash() */
	spinlock_t *locks;		/* one per set */
	struct sb_offender *entries;	/* set i starts at i * WAYS */
};

static struct sb_otable __rcu *sb_otable;
/* Serialises replacing the table and reading it whole. */
static DEFINE_MUTEX(sb_otable_mutex);
static struct delayed_work sb_sweep_work;

/* The last set holds what is left over, so capacity is exact. */
static u32 set_ways(const struct sb_otable *t, u32 set)
{
	return min_t(u32, SB_OFFENDER_WAYS,
		     t->capacity - set * SB_OFFENDER_WAYS);
}

static void otable_free(struct sb_otable *t)
{
	if (!t)
		return;
	kvfree(t->locks);
	kvfree(t->entries);
	kfree(t);
}

static struct sb_otable *otable_alloc(u32 capacity)
{
	struct sb_otable *t = kzalloc(sizeof(*t), GFP_KERNEL);
	u32 i;

	if (!t)
		return NULL;
	t->capacity = capacity;
	t->nsets = DIV_ROUND_UP(capacity, SB_OFFENDER_WAYS);
	get_random_bytes(&t->prf_key, sizeof(t->prf_key));
	t->locks = kvmalloc_array(t->nsets, sizeof(*t->locks), SB_GFP_SIZED);
	t->entries = kvcalloc(capacity, sizeof(*t->entries), SB_GFP_SIZED);
	if (!t->locks || !t->entries) {
		otable_free(t);
		return NULL;
	}
	for (i = 0; i < t->nsets; i++)
		spin_lock_init(&t->locks[i]);
	return t;
}

static struct sb_otable *live_table(void)
{
	return rcu_dereference_protected(sb_otable,
					 lockdep_is_held(&sb_otable_mutex));
}

static struct sb_clock sb_clock_now(void)
{
	return (struct sb_clock){
		.wall = ktime_get_real_seconds(),
		.boot = ktime_get_boottime_seconds(),
	};
}

/*
 * Counts a blocked SYN against its source, in report period @period.
 * Returns true when the source is new, or blocked nothing in the whole
 * period before this one: then it deserves a log line.
 * Runs under RCU, in softirq or process context.
 */
bool sb_offenders_record(const struct sb_pkt *pkt, u8 hook, u8 action,
			 u32 period)
{
	struct sb_otable *t = rcu_dereference(sb_otable);
	struct sb_clock now = sb_clock_now();
	s64 ttl = sb_tunable(SB_OFFENDER_TTL);
	struct sb_offender *o;
	enum sb_claim how;
	struct sb_okey key;
	bool fresh;
	u32 set;

	sb_okey_from_src(&pkt->src, &key);
	set = sb_oset_index(sb_okey_hash(&key, &t->prf_key), t->nsets);
	spin_lock_bh(&t->locks[set]);
	o = sb_oset_claim(t->entries + set * SB_OFFENDER_WAYS,
			  set_ways(t, set), &key, &now, ttl, &how);
	fresh = how != SB_CLAIM_FOUND || o->period + 1 < period;
	sb_offender_record(o, &pkt->dst, pkt->dport, hook, action, &now, period,
			   &t->prf_key);
	if (pkt->hidden && o->hidden < U32_MAX)
		o->hidden++;
	spin_unlock_bh(&t->locks[set]);
	if (how == SB_CLAIM_EVICTED)
		sb_stats_inc(SB_STAT_OFFENDERS_EVICTED);
	return fresh;
}

/* Copies the live entries of @t into @out (room for t->capacity). */
static u32 otable_copy(struct sb_otable *t, struct sb_offender *out, s64 boot)
{
	s64 ttl = sb_tunable(SB_OFFENDER_TTL);
	u32 set, i, n = 0;

	for (set = 0; set < t->nsets; set++) {
		struct sb_offender *s = t->entries + set * SB_OFFENDER_WAYS;

		spin_lock_bh(&t->locks[set]);
		for (i = 0; i < set_ways(t, set); i++) {
			if (sb_offender_live(&s[i], boot, ttl))
				out[n++] = s[i];
		}
		spin_unlock_bh(&t->locks[set]);
		if (set % 256 == 255)
			cond_resched();
	}
	return n;
}

/* Every live offender, most blocked SYNs first; kvfree() *@out. */
int sb_offenders_snapshot(struct sb_offender **out, u32 *n)
{
	struct sb_otable *t;

	mutex_lock(&sb_otable_mutex);
	t = live_table();
	*out = kvmalloc_array(t->capacity, sizeof(**out), SB_GFP_SIZED);
	if (*out)
		*n = otable_copy(t, *out, ktime_get_boottime_seconds());
	mutex_unlock(&sb_otable_mutex);
	if (!*out)
		return -ENOMEM;
	sb_offenders_sort(*out, *n);
	return 0;
}

/*
 * How many sources the table holds (stats/offenders): a scan of up to
 * 32768 sets, so done at most once a second whoever reads (the file is
 * world-readable; monitoring reads it every 15 s or so).
 */
u32 sb_offenders_count(void)
{
	static unsigned long counted_at;
	static u32 count;
	s64 boot = ktime_get_boottime_seconds();
	s64 ttl = sb_tunable(SB_OFFENDER_TTL);
	struct sb_otable *t;
	u32 set, i, n = 0;

	mutex_lock(&sb_otable_mutex);
	if (counted_at && time_before(jiffies, counted_at + HZ)) {
		n = count;
		goto out;
	}
	t = live_table();
	for (set = 0; set < t->nsets; set++) {
		struct sb_offender *s = t->entries + set * SB_OFFENDER_WAYS;

		spin_lock_bh(&t->locks[set]);
		for (i = 0; i < set_ways(t, set); i++)
			n += sb_offender_live(&s[i], boot, ttl);
		spin_unlock_bh(&t->locks[set]);
		if (set % 256 == 255)
			cond_resched();
	}
	count = n;
	counted_at = jiffies ?: 1;
out:
	mutex_unlock(&sb_otable_mutex);
	return n;
}

/* Oldest first, so that where the new table is short, recent ones win. */
static int seen_cmp(const void *a, const void *b)
{
	const struct sb_offender *x = a, *y = b;

	return x->seen < y->seen ? -1 : x->seen > y->seen;
}

static void otable_insert(struct sb_otable *t, const struct sb_offender *o,
			  const struct sb_clock *now)
{
	u32 set = sb_oset_index(sb_okey_hash(&o->key, &t->prf_key), t->nsets);
	struct sb_offender *slot;
	enum sb_claim how;

	slot = sb_oset_claim(t->entries + set * SB_OFFENDER_WAYS,
			     set_ways(t, set), &o->key, now,
			     sb_tunable(SB_OFFENDER_TTL), &how);
	*slot = *o;
	if (how == SB_CLAIM_EVICTED)
		sb_stats_inc(SB_STAT_OFFENDERS_EVICTED);
}

/*
 * Swaps in a table of @capacity (0: the same) holding, if @keep, the live
 * entries of the old one. SYNs counted in the old table after it was
 * copied and before the swap are lost: a window of one copy.
 */
static int otable_replace(u32 capacity, bool keep)
{
	struct sb_otable *next, *prev;
	struct sb_offender *copy = NULL;
	struct sb_clock now = sb_clock_now();
	int err = -ENOMEM;
	u32 n, i;

	mutex_lock(&sb_otable_mutex);
	prev = live_table();
	next = otable_alloc(capacity ?: prev->capacity);
	if (!next)
		goto out;
	if (keep) {
		copy = kvmalloc_array(prev->capacity, sizeof(*copy), SB_GFP_SIZED);
		if (!copy) {
			otable_free(next);
			goto out;
		}
		/* The same key keeps the destination bitmaps meaningful. */
		next->prf_key = prev->prf_key;
		n = otable_copy(prev, copy, now.boot);
		sort(copy, n, sizeof(*copy), seen_cmp, NULL);
		for (i = 0; i < n; i++)
			otable_insert(next, &copy[i], &now);
	}
	rcu_assign_pointer(sb_otable, next);
	synchronize_rcu();
	otable_free(prev);
	err = 0;
out:
	mutex_unlock(&sb_otable_mutex);
	kvfree(copy);
	return err;
}

int sb_offenders_resize(u32 capacity)
{
	return otable_replace(capacity, true);
}

/* Forgets every offender (offenders_reset). */
int sb_offenders_reset(void)
{
	return otable_replace(0, false);
}

/* Wipes expired entries: forgotten means gone, not merely hidden. */
static void sb_sweep(struct work_struct *work)
{
	s64 now = ktime_get_boottime_seconds();
	s64 ttl = sb_tunable(SB_OFFENDER_TTL);
	struct sb_otable *t;
	u32 set, i;

	mutex_lock(&sb_otable_mutex);
	t = live_table();
	for (set = 0; set < t->nsets; set++) {
		struct sb_offender *s = t->entries + set * SB_OFFENDER_WAYS;

		spin_lock_bh(&t->locks[set]);
		for (i = 0; i < set_ways(t, set); i++) {
			if (s[i].key.family && !sb_offender_live(&s[i], now, ttl))
				memset(&s[i], 0, sizeof(s[i]));
		}
		spin_unlock_bh(&t->locks[set]);
		/* 32768 sets at most: let a slow CPU do other work. */
		if (set % 256 == 255)
			cond_resched();
	}
	mutex_unlock(&sb_otable_mutex);
	schedule_delayed_work(&sb_sweep_work, SB_SWEEP_SECONDS * HZ);
}

int sb_offenders_init(void)
{
	struct sb_otable *t = otable_alloc(sb_tunable(SB_OFFENDERS_MAX));

	if (!t)
		return -ENOMEM;
	RCU_INIT_POINTER(sb_otable, t);
	INIT_DELAYED_WORK(&sb_sweep_work, sb_sweep);
	schedule_delayed_work(&sb_sweep_work, SB_SWEEP_SECONDS * HZ);
	return 0;
}

/* After the hooks are gone. */
void sb_offenders_uninit(void)
{
	cancel_delayed_work_sync(&sb_sweep_work);
	otable_free(rcu_dereference_protected(sb_otable, 1));
	RCU_INIT_POINTER(sb_otable, NULL);
}
