/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the pure files (address parsing, prefix sets, packet parsing,
 * classification) may use. They are compiled twice: into the module and
 * into userspace unit tests. This header is the only place that knows
 * which of the two builds it is in, so the pure files never do.
 */
#ifndef SMTPBLOCK_BASE_H
#define SMTPBLOCK_BASE_H

#ifdef __KERNEL__

#include <linux/types.h>
#include <linux/kernel.h>
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/sort.h>
#include <linux/sched.h>
#include <linux/skbuff.h>

/*
 * Sizes here follow what the operator asked for (list lengths, the
 * offender table, a report), so failing is an answer, not a kernel fault:
 * the write returns -ENOMEM and we log one line. __GFP_NOWARN keeps the
 * allocator from adding a stack trace to the log as well.
 */
#define SB_GFP_SIZED		(GFP_KERNEL | __GFP_NOWARN)
#define sb_alloc_array(n, size)	kvmalloc_array(n, size, SB_GFP_SIZED)
/* Long loops over millions of entries yield now and then (never atomic). */
#define sb_cond_resched(i)	do { if (!((i) & 0xffff)) cond_resched(); } while (0)
#define sb_zalloc(size)		kzalloc(size, GFP_KERNEL)
#define sb_free(p)		kvfree(p)

static inline void sb_sort(void *base, size_t num, size_t size,
			   int (*cmp)(const void *, const void *))
{
	sort(base, num, size, cmp, NULL);
}

/* Where the packet parser reads headers from: an skb, at its network header. */
struct sb_pkt_src {
	const struct sk_buff *skb;
};

static inline u32 sb_pkt_len(const struct sb_pkt_src *src)
{
	return src->skb->len - skb_network_offset(src->skb);
}

static inline const void *sb_pkt_read(const struct sb_pkt_src *src, u32 off,
				      u32 len, void *buf)
{
	return skb_header_pointer(src->skb, skb_network_offset(src->skb) + off,
				  len, buf);
}

#else /* userspace unit tests and fuzzers */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int8_t s8;
typedef int32_t s32;
typedef int64_t s64;

#define sb_zalloc(size)		calloc(1, size)
#define sb_free(p)		free(p)
#define sb_cond_resched(i)	((void)(i))
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

static inline void *sb_alloc_array(size_t n, size_t size)
{
	if (n && size > SIZE_MAX / n)
		return NULL;
	return malloc(n && size ? n * size : 1);
}

static inline void sb_sort(void *base, size_t num, size_t size,
			   int (*cmp)(const void *, const void *))
{
	/* qsort()'s base must not be NULL even for 0 elements (C11 7.22.5). */
	if (num)
		qsort(base, num, size, cmp);
}

struct sb_pkt_src {
	const u8 *data;
	u32 len;
};

static inline u32 sb_pkt_len(const struct sb_pkt_src *src)
{
	return src->len;
}

static inline const void *sb_pkt_read(const struct sb_pkt_src *src, u32 off,
				      u32 len, void *buf)
{
	(void)buf;
	if (off > src->len || len > src->len - off)
		return NULL;
	return src->data + off;
}

#endif /* __KERNEL__ */

#endif /* SMTPBLOCK_BASE_H */
