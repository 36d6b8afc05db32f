// SPDX-License-Identifier: GPL-2.0
/* Consistent reads of text files of any size: see snapshot.h. */
#include <linux/minmax.h>
#include <linux/slab.h>
#include <linux/string.h>
#include "smtpblock/snapshot.h"

#define SB_SNAPSHOT_SECONDS 10

static void drop_locked(struct sb_snapshot *snap)
{
	kvfree(snap->text);
	snap->text = NULL;
	snap->len = 0;
	snap->owner = NULL;
}

/*
 * A read from offset 0, or by another reader than the text was made for,
 * renders anew; the end of the text frees it. A reader alone gets one
 * whole text; two readers whose reads interleave may each get pages of
 * two texts (root-only files, read by one tool at a time in practice).
 */
ssize_t sb_snapshot_read(struct sb_snapshot *snap, const struct file *file,
			 char *buf, loff_t off, size_t count,
			 sb_render_fn render, void *arg)
{
	ssize_t ret = 0;
	int err;

	mutex_lock(&snap->lock);
	if (off == 0 || snap->owner != file) {
		drop_locked(snap);
		err = render(arg, &snap->text, &snap->len);
		if (err) {
			ret = err;
			goto out;
		}
		snap->owner = file;
	}
	if (off < snap->len) {
		ret = min_t(size_t, count, snap->len - off);
		memcpy(buf, snap->text + off, ret);
		mod_delayed_work(system_wq, &snap->expire,
				 SB_SNAPSHOT_SECONDS * HZ);
	} else {
		drop_locked(snap);
	}
out:
	mutex_unlock(&snap->lock);
	return ret;
}

void sb_snapshot_expire(struct work_struct *work)
{
	struct sb_snapshot *snap =
		container_of(to_delayed_work(work), struct sb_snapshot, expire);

	mutex_lock(&snap->lock);
	drop_locked(snap);
	mutex_unlock(&snap->lock);
}

/* At unload, once no reader can come. */
void sb_snapshot_free(struct sb_snapshot *snap)
{
	cancel_delayed_work_sync(&snap->expire);
	mutex_lock(&snap->lock);
	drop_locked(snap);
	mutex_unlock(&snap->lock);
}
