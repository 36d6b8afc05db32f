/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Text files of any size, read consistently. sysfs serves a binary
 * attribute a page per read(); a file whose content changes between two
 * reads would hand a reader pieces of two moments. A snapshot renders the
 * whole text when a reader starts at offset 0 and serves that reader's
 * later offsets from it, freeing it at the end, or SB_SNAPSHOT_SECONDS
 * after the last read: a reader that stops early (head) must not leave
 * a copy of personal data behind.
 */
#ifndef SMTPBLOCK_SNAPSHOT_H
#define SMTPBLOCK_SNAPSHOT_H

#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>

struct sb_snapshot {
	struct mutex lock;		/* guards the fields below */
	const struct file *owner;	/* the reader the text was made for */
	char *text;
	size_t len;
	struct delayed_work expire;	/* frees a text its reader left */
};

void sb_snapshot_expire(struct work_struct *work);

#define SB_SNAPSHOT_INIT(name) {					\
	.lock = __MUTEX_INITIALIZER(name.lock),				\
	.expire = __DELAYED_WORK_INITIALIZER(name.expire,		\
					     sb_snapshot_expire, 0),	\
}

/* Makes the whole text: a kvmalloc'ed *@text of *@len bytes. */
typedef int (*sb_render_fn)(void *arg, char **text, size_t *len);

ssize_t sb_snapshot_read(struct sb_snapshot *snap, const struct file *file,
			 char *buf, loff_t off, size_t count,
			 sb_render_fn render, void *arg);
void sb_snapshot_free(struct sb_snapshot *snap);

#endif /* SMTPBLOCK_SNAPSHOT_H */
