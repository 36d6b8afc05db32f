// SPDX-License-Identifier: GPL-2.0
/* One set of the offender table, one entry, and their text. */
#include "smtpblock/offender.h"
#include "smtpblock/parse.h"

/*
 * Linear counting: with Z of the m = 256 bitmap bits still zero, about
 * m * ln(m / Z) distinct values were hashed in. Indexed by Z; Z = 0 means
 * saturated and reads as Z = 1. Checked against libm by the unit tests.
 */
static const u16 lc_estimate[SB_DST_BITS + 1] = {
	1420, 1420, 1242, 1138, 1065, 1008, 961, 921, 887, 857, 830, 806,
	783, 763, 744, 726, 710, 694, 680, 666, 653, 640, 628, 617,
	606, 596, 585, 576, 567, 558, 549, 540, 532, 524, 517, 509,
	502, 495, 488, 482, 475, 469, 463, 457, 451, 445, 439, 434,
	429, 423, 418, 413, 408, 403, 398, 394, 389, 385, 380, 376,
	371, 367, 363, 359, 355, 351, 347, 343, 339, 336, 332, 328,
	325, 321, 318, 314, 311, 308, 304, 301, 298, 295, 291, 288,
	285, 282, 279, 276, 273, 270, 268, 265, 262, 259, 256, 254,
	251, 248, 246, 243, 241, 238, 236, 233, 231, 228, 226, 223,
	221, 219, 216, 214, 212, 209, 207, 205, 203, 200, 198, 196,
	194, 192, 190, 188, 186, 184, 181, 179, 177, 175, 173, 172,
	170, 168, 166, 164, 162, 160, 158, 156, 155, 153, 151, 149,
	147, 146, 144, 142, 140, 139, 137, 135, 133, 132, 130, 128,
	127, 125, 124, 122, 120, 119, 117, 116, 114, 112, 111, 109,
	108, 106, 105, 103, 102, 100, 99, 97, 96, 94, 93, 92,
	90, 89, 87, 86, 85, 83, 82, 80, 79, 78, 76, 75,
	74, 72, 71, 70, 68, 67, 66, 64, 63, 62, 61, 59,
	58, 57, 56, 54, 53, 52, 51, 49, 48, 47, 46, 45,
	43, 42, 41, 40, 39, 38, 36, 35, 34, 33, 32, 31,
	30, 29, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18,
	17, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5,
	4, 3, 2, 1, 0,
};

static const char *const hook_names[] = {
	[SB_HOOK_FORWARD] = "forward",
	[SB_HOOK_OUTPUT] = "output",
};

void sb_okey_from_src(const struct sb_addr *src, struct sb_okey *key)
{
	key->family = src->family;
	key->bits = src->family == SB_AF_INET ? src->v4 : src->v6.hi;
}

/*
 * A keyed PRF (SipHash, base.h), not a mixer: without the table's random
 * key, which sources share a set cannot be computed, so spoofed sources
 * cannot be chosen to crowd the set of a real offender out of the table.
 */
u32 sb_okey_hash(const struct sb_okey *key, const struct sb_prf_key *k)
{
	return (u32)(sb_prf(k, key->bits, key->family) >> 32);
}

/* The destinations a source tried, likewise: no estimate to game. */
static u64 addr_hash(const struct sb_addr *a, const struct sb_prf_key *k)
{
	if (a->family == SB_AF_INET)
		return sb_prf(k, a->v4, 1ULL << 63);
	return sb_prf(k, a->v6.hi, a->v6.lo);
}

/*
 * The live entry of @key in this set, else a free or expired slot, else
 * the entry seen least recently, which then gives way. Never fails.
 */
struct sb_offender *sb_oset_claim(struct sb_offender *set, u32 ways,
				  const struct sb_okey *key,
				  const struct sb_clock *now, s64 ttl,
				  enum sb_claim *how)
{
	struct sb_offender *free = NULL, *oldest = &set[0];
	u32 i;

	for (i = 0; i < ways; i++) {
		struct sb_offender *o = &set[i];

		if (!sb_offender_live(o, now->boot, ttl)) {
			if (!free)
				free = o;
			continue;
		}
		if (o->key.family == key->family && o->key.bits == key->bits) {
			*how = SB_CLAIM_FOUND;
			return o;
		}
		if (o->seen < oldest->seen ||
		    !sb_offender_live(oldest, now->boot, ttl))
			oldest = o;
	}
	*how = free ? SB_CLAIM_NEW : SB_CLAIM_EVICTED;
	if (!free)
		free = oldest;
	memset(free, 0, sizeof(*free));
	free->key = *key;
	free->first = now->wall;
	free->last = now->wall;
	free->seen = now->boot;
	return free;
}

/* Counts a destination: exactly while few, then by linear counting. */
static void count_dst(struct sb_offender *o, const struct sb_addr *dst,
		      const struct sb_prf_key *k)
{
	u64 h = addr_hash(dst, k);
	u32 tag = (u32)(h >> 32), bit = (u32)h % SB_DST_BITS, i;

	o->dst_bits[bit / 64] |= 1ULL << (bit % 64);
	if (o->nexact > SB_EXACT_DSTS)
		return;
	for (i = 0; i < o->nexact; i++) {
		if (o->exact[i] == tag)
			return;
	}
	if (o->nexact < SB_EXACT_DSTS)
		o->exact[o->nexact] = tag;
	o->nexact++;
}

void sb_offender_record(struct sb_offender *o, const struct sb_addr *dst,
			u16 dport, u8 hook, u8 action,
			const struct sb_clock *now, u32 period,
			const struct sb_prf_key *k)
{
	o->syns++;
	o->last = now->wall;
	o->seen = now->boot;
	o->period = period;
	o->last_dst = *dst;
	o->dport = dport;
	o->hook = hook;
	o->action = action;
	count_dst(o, dst, k);
}

static u32 popcount64(u64 x)
{
	u32 n = 0;

	for (; x; x &= x - 1)
		n++;
	return n;
}

/* Distinct destinations: exact up to SB_EXACT_DSTS, estimated beyond. */
u32 sb_offender_dsts(const struct sb_offender *o)
{
	u32 zeros = SB_DST_BITS, i, est;

	if (o->nexact <= SB_EXACT_DSTS)
		return o->nexact;
	for (i = 0; i < SB_DST_BITS / 64; i++)
		zeros -= popcount64(o->dst_bits[i]);
	est = lc_estimate[zeros];
	return est > SB_EXACT_DSTS ? est : SB_EXACT_DSTS + 1;
}

/* The source as the abuse desk sees it: an IPv4 address or an IPv6 /64. */
size_t sb_okey_format(const struct sb_okey *key, char *buf)
{
	struct sb_prefix p = { .addr.family = key->family };

	if (key->family == SB_AF_INET) {
		p.addr.v4 = (u32)key->bits;
		return sb_addr_format(&p.addr, buf);
	}
	p.addr.v6.hi = key->bits;
	p.len = 64;
	return sb_prefix_format(&p, buf);
}

/*
 * "src=... syns=... dsts=... first=... last=... dport=... action=...",
 * the keys of a report's offender line; with @detail also "hook=" and
 * "dst=" (the last destination), which the offenders file adds. Returns
 * what snprintf returns.
 */
int sb_offender_line(const struct sb_offender *o, bool detail, char *buf,
		     size_t size)
{
	char src[SB_SRC_STRLEN], dst[SB_PREFIX_STRLEN];
	char first[SB_UTC_STRLEN], last[SB_UTC_STRLEN];
	int n;

	sb_okey_format(&o->key, src);
	sb_format_utc(o->first, first);
	sb_format_utc(o->last, last);
	n = snprintf(buf, size,
		     "src=%s syns=%llu dsts=%u first=%s last=%s dport=%u action=%s",
		     src, (unsigned long long)o->syns, sb_offender_dsts(o),
		     first, last, o->dport, sb_mode_name(o->action));
	/* Only for a source that sent them: other lines stay as they were. */
	if (o->hidden && n >= 0 && (size_t)n < size)
		n += snprintf(buf + n, size - n, " hidden=%u", o->hidden);
	if (!detail || n < 0 || (size_t)n >= size)
		return n;
	sb_addr_format(&o->last_dst, dst);
	return n + snprintf(buf + n, size - n, " hook=%s dst=%s",
			    sb_hook_name(o->hook), dst);
}

const char *sb_hook_name(u8 hook)
{
	return hook_names[hook];
}

/* Most blocked SYNs first; then most recently seen; then by source, for a stable order. */
static int offender_cmp(const void *a, const void *b)
{
	const struct sb_offender *x = a, *y = b;

	if (x->syns != y->syns)
		return x->syns > y->syns ? -1 : 1;
	if (x->seen != y->seen)
		return x->seen > y->seen ? -1 : 1;
	if (x->key.family != y->key.family)
		return x->key.family < y->key.family ? -1 : 1;
	if (x->key.bits != y->key.bits)
		return x->key.bits < y->key.bits ? -1 : 1;
	return 0;
}

void sb_offenders_sort(struct sb_offender *o, u32 n)
{
	sb_sort(o, n, sizeof(*o), offender_cmp);
}
