/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Text files of any size, read consistently, at a cost the reader cannot
 * raise. sysfs serves a binary attribute a page per read(); a file whose
 * content changes between two reads would hand a reader pieces of two
 * moments. So each open file that reads gets a hold on one version of
 * the content, taken at its first read (or a read at offset 0) and kept
 * for its later offsets: for a list, a reference to the immutable set
 * (nothing is copied or rendered, see sb_set_read); for the offenders, a
 * text made for that reader. The hold ends at the end of the text, after
 * SB_SNAPSHOT_IDLE_SECONDS without a read (a reader that stops early,
 * like head, must not leave personal data behind), or at the latest
 * SB_SNAPSHOT_MAX_SECONDS after it began, so no reader keeps an old list
 * alive for long. At most SB_SNAPSHOT_READERS readers of a list hold one
 * (a reference costs nothing), SB_TEXT_HOLDS of a file whose text is made
 * per reader (so a user cannot make the kernel keep hundreds of copies);
 * a new one beyond that ends the hold of the least recently read. A read
 * without a hold (after one of these ends) takes a new one at once: the
 * reader goes on with the content as it is then.
 */
#ifndef SMTPBLOCK_SNAPSHOT_H
#define SMTPBLOCK_SNAPSHOT_H

#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>

#define SB_SNAPSHOT_IDLE_SECONDS 10
#define SB_SNAPSHOT_MAX_SECONDS 60
#define SB_SNAPSHOT_READERS 1024
#define SB_TEXT_HOLDS 16

struct sb_snapshot_ops {
	/* The content a reader starting now reads, held; or an ERR_PTR. */
	void *(*take)(void *arg);
	ssize_t (*read)(const void *held, char *buf, loff_t off, size_t count);
	void (*drop)(void *held);
};

struct sb_snapshot {
	struct mutex lock;		/* guards the fields below */
	DECLARE_HASHTABLE(by_file, 6);	/* struct sb_reader, by file */
	struct list_head lru;		/* least recently read first */
	u32 readers;
	u32 max_readers;
	const struct sb_snapshot_ops *ops;
	void *arg;
	struct delayed_work expire;	/* ends the holds readers left */
};

void sb_snapshot_expire(struct work_struct *work);

#define SB_SNAPSHOT_INIT(name, o, a, max) {				\
	.lock = __MUTEX_INITIALIZER(name.lock),				\
	.lru = LIST_HEAD_INIT(name.lru),				\
	.max_readers = (max),						\
	.ops = (o),							\
	.arg = (a),							\
	.expire = __DELAYED_WORK_INITIALIZER(name.expire,		\
					     sb_snapshot_expire, 0),	\
}

ssize_t sb_snapshot_read(struct sb_snapshot *snap, const struct file *file,
			 char *buf, loff_t off, size_t count);
void sb_snapshot_free(struct sb_snapshot *snap);

/*
 * A text made for one reader (the offenders, the exemptions), in memory
 * charged to the reader's memory cgroup: what take() returns, with
 * sb_text_read and sb_text_drop as read() and drop().
 */
struct sb_text {
	size_t len;
	char *buf;
};

/* @name: the readers of a file whose text @take_fn makes for each reader. */
#define SB_TEXT_READERS(name, take_fn, max)				\
	static const struct sb_snapshot_ops name##_ops = {		\
		.take = (take_fn),					\
		.read = sb_text_read,					\
		.drop = sb_text_drop,					\
	};								\
	static struct sb_snapshot name =				\
		SB_SNAPSHOT_INIT(name, &name##_ops, NULL, max)

struct sb_text *sb_text_alloc(size_t n, size_t size);
ssize_t sb_text_read(const void *held, char *buf, loff_t off, size_t count);
void sb_text_drop(void *held);

#endif /* SMTPBLOCK_SNAPSHOT_H */
