// SPDX-License-Identifier: GPL-2.0
/* Consistent reads of text files of any size: see snapshot.h. */
#include <linux/jiffies.h>
#include <linux/slab.h>
#include "smtpblock/snapshot.h"

/*
 * One open file's hold. The file pointer is only a key, never followed:
 * a file closed and another opened at the same address may find the old
 * hold, which is at most SB_SNAPSHOT_MAX_SECONDS old and of the same
 * file, and a read at offset 0 replaces it anyway.
 */
struct sb_reader {
	struct hlist_node node;
	struct list_head lru;
	const struct file *file;
	void *held;
	unsigned long started;		/* jiffies of the take */
	unsigned long last;		/* jiffies of the last read */
};

static struct sb_reader *find_locked(struct sb_snapshot *snap,
				     const struct file *file)
{
	struct sb_reader *r;

	hash_for_each_possible(snap->by_file, r, node, (unsigned long)file)
		if (r->file == file)
			return r;
	return NULL;
}

static void drop_locked(struct sb_snapshot *snap, struct sb_reader *r)
{
	hash_del(&r->node);
	list_del(&r->lru);
	snap->readers--;
	snap->ops->drop(r->held);
	kfree(r);
}

/* Charged to the reader's memory cgroup, like what take() allocates. */
static struct sb_reader *take_locked(struct sb_snapshot *snap,
				     const struct file *file)
{
	struct sb_reader *r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	void *held;

	if (!r)
		return ERR_PTR(-ENOMEM);
	held = snap->ops->take(snap->arg);
	if (IS_ERR(held)) {
		kfree(r);
		return held;
	}
	if (snap->readers >= snap->max_readers)
		drop_locked(snap, list_first_entry(&snap->lru,
						   struct sb_reader, lru));
	r->file = file;
	r->held = held;
	r->started = jiffies;
	r->last = r->started;
	hash_add(snap->by_file, &r->node, (unsigned long)file);
	list_add_tail(&r->lru, &snap->lru);
	snap->readers++;
	if (!delayed_work_pending(&snap->expire))
		schedule_delayed_work(&snap->expire,
				      SB_SNAPSHOT_IDLE_SECONDS * HZ);
	return r;
}

/*
 * A read at offset 0, or by a reader without a hold, takes the content
 * as it is now; other reads continue the reader's own. Reads of
 * different files hold the lock only for a page of work (or, for the
 * offenders, one render); writers never take it.
 */
ssize_t sb_snapshot_read(struct sb_snapshot *snap, const struct file *file,
			 char *buf, loff_t off, size_t count)
{
	struct sb_reader *r;
	ssize_t ret;

	mutex_lock(&snap->lock);
	r = find_locked(snap, file);
	if (r && off == 0) {
		drop_locked(snap, r);
		r = NULL;
	}
	if (!r)
		r = take_locked(snap, file);
	if (IS_ERR(r)) {
		ret = PTR_ERR(r);
		goto out;
	}
	ret = snap->ops->read(r->held, buf, off, count);
	if (ret <= 0) {
		drop_locked(snap, r);	/* the end: nothing is kept */
	} else {
		r->last = jiffies;
		list_move_tail(&r->lru, &snap->lru);
	}
out:
	mutex_unlock(&snap->lock);
	return ret;
}

/*
 * Ends the holds idle for SB_SNAPSHOT_IDLE_SECONDS or older than
 * SB_SNAPSHOT_MAX_SECONDS, and comes back for the others. Wrap-safe: a
 * hold lives a minute at most, far inside time_after_eq()'s half range.
 */
void sb_snapshot_expire(struct work_struct *work)
{
	struct sb_snapshot *snap =
		container_of(to_delayed_work(work), struct sb_snapshot, expire);
	unsigned long now = jiffies, next = now + SB_SNAPSHOT_IDLE_SECONDS * HZ;
	struct sb_reader *r, *tmp;

	mutex_lock(&snap->lock);
	list_for_each_entry_safe(r, tmp, &snap->lru, lru) {
		unsigned long idle = r->last + SB_SNAPSHOT_IDLE_SECONDS * HZ;
		unsigned long end = r->started + SB_SNAPSHOT_MAX_SECONDS * HZ;

		if (time_before(idle, end))
			end = idle;
		if (time_after_eq(now, end))
			drop_locked(snap, r);
		else if (time_before(end, next))
			next = end;
	}
	if (snap->readers)
		mod_delayed_work(system_wq, &snap->expire, next - now);
	mutex_unlock(&snap->lock);
}

/* Room for @n lines of at most @size bytes, or NULL. */
struct sb_text *sb_text_alloc(size_t n, size_t size)
{
	struct sb_text *t = kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);

	if (t)
		t->buf = kvmalloc_array(n ?: 1, size,
					GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (t && !t->buf) {
		kfree(t);
		t = NULL;
	}
	return t;
}

ssize_t sb_text_read(const void *held, char *buf, loff_t off, size_t count)
{
	const struct sb_text *t = held;

	if (off >= t->len)
		return 0;
	count = min_t(size_t, count, t->len - off);
	memcpy(buf, t->buf + off, count);
	return count;
}

void sb_text_drop(void *held)
{
	struct sb_text *t = held;

	kvfree(t->buf);
	kfree(t);
}

/* At unload, once no reader can come. */
void sb_snapshot_free(struct sb_snapshot *snap)
{
	struct sb_reader *r, *tmp;

	cancel_delayed_work_sync(&snap->expire);
	mutex_lock(&snap->lock);
	list_for_each_entry_safe(r, tmp, &snap->lru, lru)
		drop_locked(snap, r);
	mutex_unlock(&snap->lock);
}
