/* SPDX-License-Identifier: GPL-2.0 */
/* IPv4/IPv6 addresses and prefixes: parsing, canonical text, ordering. */
#ifndef SMTPBLOCK_ADDR_H
#define SMTPBLOCK_ADDR_H

#include "smtpblock/base.h"

enum sb_family {
	SB_AF_INET = 4,
	SB_AF_INET6 = 6,
};

/* 128-bit address in host byte order, so that comparisons are plain. */
struct sb_u128 {
	u64 hi;
	u64 lo;
};

struct sb_addr {
	u8 family;
	union {
		u32 v4;			/* host byte order */
		struct sb_u128 v6;
	};
};

struct sb_prefix {
	struct sb_addr addr;
	u8 len;
};

/* Longest text: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128" plus NUL. */
#define SB_PREFIX_STRLEN 44

int sb_prefix_parse(const char *s, size_t len, struct sb_prefix *p);
size_t sb_prefix_format(const struct sb_prefix *p, char *buf);
size_t sb_addr_format(const struct sb_addr *a, char *buf);
int sb_prefix_cmp(const struct sb_prefix *a, const struct sb_prefix *b);

static inline int sb_u128_cmp(const struct sb_u128 *a, const struct sb_u128 *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return 0;
}

/* The host part of a prefix of @len bits; shifts by the full width are UB. */
static inline u32 sb_hostmask4(u8 len)
{
	return len >= 32 ? 0 : ~0U >> len;
}

static inline struct sb_u128 sb_hostmask6(u8 len)
{
	struct sb_u128 m;

	m.hi = len >= 64 ? 0 : ~0ULL >> len;
	m.lo = len >= 128 ? 0 : len <= 64 ? ~0ULL : ~0ULL >> (len - 64);
	return m;
}

/* Last address covered by a prefix. */
static inline u32 sb_prefix_last4(u32 first, u8 len)
{
	return first | sb_hostmask4(len);
}

static inline struct sb_u128 sb_prefix_last6(const struct sb_u128 *first,
					     u8 len)
{
	struct sb_u128 m = sb_hostmask6(len);

	m.hi |= first->hi;
	m.lo |= first->lo;
	return m;
}

#endif /* SMTPBLOCK_ADDR_H */
