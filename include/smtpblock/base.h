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
#include <linux/siphash.h>
#include <linux/skbuff.h>
#include <linux/refcount.h>
#include <linux/atomic.h>

/* References to a prefix set held by its readers (config.c). */
struct sb_refs {
	refcount_t refs;
};

/*
 * An exemption's hit counter: exact across CPUs (an atomic add, only on
 * a SYN that an exemption lets through), shared by the tables that hold
 * the exemption, freed with the last of them.
 */
struct sb_hits {
	atomic64_t n;
	refcount_t refs;
};

static inline struct sb_hits *sb_hits_new(void)
{
	struct sb_hits *h = kzalloc(sizeof(*h), GFP_KERNEL);

	if (h)
		refcount_set(&h->refs, 1);
	return h;
}

static inline void sb_hits_get(struct sb_hits *h)
{
	refcount_inc(&h->refs);
}

static inline void sb_hits_put(struct sb_hits *h)
{
	if (refcount_dec_and_test(&h->refs))
		kfree(h);
}

static inline void sb_hits_inc(struct sb_hits *h)
{
	atomic64_inc(&h->n);
}

static inline u64 sb_hits_read(const struct sb_hits *h)
{
	return atomic64_read(&h->n);
}

/*
 * The keyed PRF of the offender table (sb_prf, below): with a random key,
 * a campus host cannot pick spoofed sources that crowd one set.
 */
struct sb_prf_key {
	u64 key[2];
};

static inline u64 sb_prf(const struct sb_prf_key *k, u64 a, u64 b)
{
	const siphash_key_t key = { .key = { k->key[0], k->key[1] } };

	return siphash_2u64(a, b, &key);
}

/*
 * Sizes here follow what the operator asked for (list lengths, the
 * offender table, a report), so failing is an answer, not a kernel fault:
 * the write returns -ENOMEM and we log one line. __GFP_NOWARN keeps the
 * allocator from adding a stack trace to the log as well.
 */
#define SB_GFP_SIZED		(GFP_KERNEL | __GFP_NOWARN)
#define sb_alloc_array(n, size)	kvmalloc_array(n, size, SB_GFP_SIZED)
/*
 * Long loops over millions of entries yield every 1024 steps (never in
 * atomic context): well under a millisecond of work between scheduling
 * points even on a slow CPU, and cond_resched() costs a flag test when
 * nothing else wants to run.
 */
#define sb_yield()		cond_resched()
#define sb_cond_resched(i)	do { if (!((i) & 0x3ff)) sb_yield(); } while (0)
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

/* (Userspace has no readers of a set; the field is only carried.) */
struct sb_refs {
	unsigned int refs;
};

struct sb_hits {
	u64 n;
	unsigned int refs;
};

static inline struct sb_hits *sb_hits_new(void)
{
	struct sb_hits *h = calloc(1, sizeof(*h));

	if (h)
		h->refs = 1;
	return h;
}

static inline void sb_hits_get(struct sb_hits *h)
{
	h->refs++;
}

static inline void sb_hits_put(struct sb_hits *h)
{
	if (!--h->refs)
		free(h);
}

static inline void sb_hits_inc(struct sb_hits *h)
{
	h->n++;
}

static inline u64 sb_hits_read(const struct sb_hits *h)
{
	return h->n;
}

#define sb_zalloc(size)		calloc(1, size)
#define sb_free(p)		free(p)
#define sb_yield()		((void)0)
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

struct sb_prf_key {
	u64 key[2];
};

static inline u64 sb_rotl64(u64 x, int b)
{
	return x << b | x >> (64 - b);
}

static inline void sb_sipround(u64 v[4])
{
	v[0] += v[1]; v[1] = sb_rotl64(v[1], 13); v[1] ^= v[0];
	v[0] = sb_rotl64(v[0], 32);
	v[2] += v[3]; v[3] = sb_rotl64(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = sb_rotl64(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = sb_rotl64(v[1], 17); v[1] ^= v[2];
	v[2] = sb_rotl64(v[2], 32);
}

/*
 * SipHash-2-4 of the 16 bytes @a, @b (little-endian), what the kernel's
 * siphash_2u64() computes; written from the SipHash paper (Aumasson and
 * Bernstein, 2012), checked against its test vector in tests/unit.
 */
static inline u64 sb_prf(const struct sb_prf_key *k, u64 a, u64 b)
{
	u64 v[4] = {
		k->key[0] ^ 0x736f6d6570736575ULL,
		k->key[1] ^ 0x646f72616e646f6dULL,
		k->key[0] ^ 0x6c7967656e657261ULL,
		k->key[1] ^ 0x7465646279746573ULL,
	};
	const u64 m[3] = { a, b, (u64)16 << 56 };
	int i;

	for (i = 0; i < 3; i++) {
		v[3] ^= m[i];
		sb_sipround(v);
		sb_sipround(v);
		v[0] ^= m[i];
	}
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		sb_sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

#endif /* __KERNEL__ */

#endif /* SMTPBLOCK_BASE_H */
