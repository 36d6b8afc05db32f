/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Offenders: one entry per source of blocked SYNs (an IPv4 address, or an
 * IPv6 /64, since privacy addresses rotate inside a /64).
 *
 * The table is set-associative: a source hashes to one set of at most
 * SB_OFFENDER_WAYS entries, and a full set gives up the entry seen least
 * recently. Sets are locked one at a time by the module, so a flood of
 * sources never serialises on one lock. This file holds the logic of one
 * set and of one entry; locking and memory are the module's.
 */
#ifndef SMTPBLOCK_OFFENDER_H
#define SMTPBLOCK_OFFENDER_H

#include "smtpblock/addr.h"
#include "smtpblock/utc.h"

#define SB_OFFENDER_WAYS 8
/* Distinct destinations counted exactly before the estimate takes over. */
#define SB_EXACT_DSTS 8
/* Bits of the linear-counting bitmap behind the estimate. */
#define SB_DST_BITS 256
/* "2001:db8:1:2::/64" or "255.255.255.255", and a NUL. */
#define SB_SRC_STRLEN SB_PREFIX_STRLEN

/*
 * A moment, on two clocks: UTC seconds, only to print (first=, last=, as
 * the abuse desk matches them against DHCP logs), and seconds since boot,
 * for every age (TTL, eviction, the sweep): a clock that never jumps when
 * the wall clock is stepped.
 */
struct sb_clock {
	s64 wall;
	s64 boot;
};

enum sb_hook_id {
	SB_HOOK_FORWARD,
	SB_HOOK_OUTPUT,
};

/* What identifies an offender: family and 64 bits (address or /64). */
struct sb_okey {
	u64 bits;
	u8 family;
};

struct sb_offender {
	struct sb_okey key;	/* family 0: a free slot */
	u8 hook;		/* enum sb_hook_id of the last block */
	u8 action;		/* enum sb_mode of the last block */
	u8 nexact;		/* SB_EXACT_DSTS + 1: overflowed to the estimate */
	u16 dport;		/* of the last block */
	u32 period;		/* the report period of the last block */
	u32 hidden;		/* of syns, packets that hid port or flags */
	u64 syns;
	s64 first;		/* UTC seconds, printed */
	s64 last;
	s64 seen;		/* boot-time seconds of the last block: its age */
	struct sb_addr last_dst;
	u32 exact[SB_EXACT_DSTS];
	u64 dst_bits[SB_DST_BITS / 64];
};

enum sb_claim {
	SB_CLAIM_FOUND,		/* the source's live entry */
	SB_CLAIM_NEW,		/* a free or expired slot, now the source's */
	SB_CLAIM_EVICTED,	/* the least recently seen entry, replaced */
};

void sb_okey_from_src(const struct sb_addr *src, struct sb_okey *key);
u32 sb_okey_hash(const struct sb_okey *key, const struct sb_prf_key *k);

/* The set of @nsets that a key's hash falls into. */
static inline u32 sb_oset_index(u32 hash, u32 nsets)
{
	return (u32)(((u64)hash * nsets) >> 32);
}

/* @boot: seconds since boot (struct sb_clock). */
static inline bool sb_offender_live(const struct sb_offender *o, s64 boot,
				    s64 ttl)
{
	return o->key.family && boot - o->seen < ttl;
}

struct sb_offender *sb_oset_claim(struct sb_offender *set, u32 ways,
				  const struct sb_okey *key,
				  const struct sb_clock *now, s64 ttl,
				  enum sb_claim *how);
void sb_offender_record(struct sb_offender *o, const struct sb_addr *dst,
			u16 dport, u8 hook, u8 action,
			const struct sb_clock *now, u32 period,
			const struct sb_prf_key *k);
u32 sb_offender_dsts(const struct sb_offender *o);

size_t sb_okey_format(const struct sb_okey *key, char *buf);
int sb_offender_line(const struct sb_offender *o, bool detail, char *buf,
		     size_t size);
const char *sb_hook_name(u8 hook);
void sb_offenders_sort(struct sb_offender *o, u32 n);

#endif /* SMTPBLOCK_OFFENDER_H */
