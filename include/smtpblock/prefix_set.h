/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An immutable set of IPv4 and IPv6 prefixes with O(log n) membership.
 *
 * Entries are sorted by first address (shorter prefix first on a tie).
 * Each entry also carries "cover": the highest last address of itself and
 * every entry before it. An address is in the set exactly when the last
 * entry starting at or below it has a cover at or above it, so one binary
 * search answers membership even for nested prefixes, and the same array
 * gives the canonical list back for reading.
 *
 * A set never changes once built: a change builds a new set, which is
 * what lets the packet path read it under RCU without a lock.
 */
#ifndef SMTPBLOCK_PREFIX_SET_H
#define SMTPBLOCK_PREFIX_SET_H

#include "smtpblock/addr.h"

/* Per family; keeps one allocation of a set well inside what kvmalloc gives. */
#define SB_SET_MAX_ENTRIES (4U << 20)

struct sb_entry4 {
	u32 first;
	u32 cover;
	u8 len;
};

struct sb_entry6 {
	struct sb_u128 first;
	struct sb_u128 cover;
	u8 len;
};

/*
 * A first-level index over a large IPv4 array, so that a lookup searches
 * a few entries instead of all of them: bucket b holds the addresses from
 * base + (b << shift) up to the next bucket, and start[b] is the number
 * of entries that begin below bucket b (start[nbuckets] is n4). The
 * buckets span the entries' first addresses only, about four entries a
 * bucket on average, so the index costs about one byte per entry; a list
 * that crowds one bucket is still correct, only searched like before.
 */
struct sb_index4 {
	u32 *start;
	u32 base;
	u32 nbuckets;
	u32 shift;
};

/* Smaller IPv4 arrays are searched whole: 8 steps or fewer. */
#define SB_INDEX4_MIN_ENTRIES 256

/*
 * Where the canonical text's lines start, every SB_TEXT_BLOCK entries: a
 * read at any offset formats at most one block before its first byte, so
 * the text is never made whole (sb_set_read). About 1/16 byte an entry.
 */
#define SB_TEXT_BLOCK 64

struct sb_prefix_set {
	u32 n4;
	u32 n6;
	struct sb_entry4 *e4;
	struct sb_entry6 *e6;
	struct sb_index4 idx4;	/* start is NULL below SB_INDEX4_MIN_ENTRIES */
	u32 *text_off;		/* [DIV_ROUND_UP(n4 + n6, SB_TEXT_BLOCK)] */
	u32 text_len;		/* bytes of the canonical text */
	struct sb_refs users;	/* kernel only: see config.c */
};

/*
 * A prefix as a bulk load stages it, a key that sorts as the entries do:
 * IPv4 as first address << 8 | length in a u64, IPv6 as below.
 */
static inline u64 sb_key4(u32 first, u8 len)
{
	return (u64)first << 8 | len;
}

struct sb_key6 {
	struct sb_u128 first;
	u8 len;
};

enum sb_edit_op {
	SB_EDIT_ADD,
	SB_EDIT_DEL,
};

/* One token of a write; @pos (1-based) is its place for error messages. */
struct sb_edit {
	struct sb_prefix pfx;
	u32 pos;
	u8 op;
};

int sb_set_build(const struct sb_prefix_set *base, struct sb_edit *edits,
		 u32 n, struct sb_prefix_set **out, u32 *bad_pos);
int sb_set_from_keys(u64 *k4, u32 n4, struct sb_key6 *k6, u32 n6,
		     struct sb_prefix_set **out);
struct sb_prefix_set *sb_set_empty(void);
void sb_set_free(struct sb_prefix_set *set);
bool sb_set_contains(const struct sb_prefix_set *set, const struct sb_addr *a);
size_t sb_set_read(const struct sb_prefix_set *set, size_t off, char *buf,
		   size_t count);
int sb_set_render(const struct sb_prefix_set *set, char **text, size_t *len);
size_t sb_set_bytes(const struct sb_prefix_set *set);

static inline u32 sb_set_count(const struct sb_prefix_set *set)
{
	return set->n4 + set->n6;
}

#endif /* SMTPBLOCK_PREFIX_SET_H */
