/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Exemptions: temporary relays, granted as tickets. Each has an expiry
 * (UTC seconds), an optional note naming the ticket, and a count of the
 * SYNs it let through. This file holds the pure part: the lines an
 * operator writes, and an immutable table of exemptions with its lookup;
 * the module owns the clock, the locks and the log (exemptions.c).
 *
 * A table is a sorted array, as a prefix set is, where each entry also
 * knows its nearest enclosing entry: the exemption that applies to an
 * address is the most specific one holding it, found by one binary
 * search and a walk up at most one step per prefix length. Tables are
 * never changed: a change builds a new one. The hit counters live apart
 * and are shared by the tables that hold the same exemption, so packets
 * still counting on an old table count on the same counter.
 */
#ifndef SMTPBLOCK_EXEMPTION_H
#define SMTPBLOCK_EXEMPTION_H

#include "smtpblock/addr.h"
#include "smtpblock/utc.h"

#define SB_NOTE_MAX 64
/* for= at most, and until= at most that far ahead: 366 days. */
#define SB_EXEMPT_SECONDS_MAX 31622400
/* exemptions_max: default and limit. */
#define SB_EXEMPTIONS_DEFAULT 4096
#define SB_EXEMPTIONS_LIMIT 65536
#define SB_EXEMPT_NONE ((u32)-1)
/* The reason sb_exempt_parse_line gives for an until= in the past. */
#define SB_EXEMPT_WHY_PAST "until= is not in the future"
/* "PREFIX until=TIME hits=N note=TEXT" and a NUL. */
#define SB_EXEMPT_LINE_MAX (SB_PREFIX_STRLEN + 7 + SB_UTC_STRLEN + 26 + \
			    6 + SB_NOTE_MAX + 1)

enum sb_exempt_kind {
	SB_EXEMPT_ADD,
	SB_EXEMPT_DEL,
};

/* One line of a write or of a bulk load. */
struct sb_exempt_op {
	struct sb_prefix pfx;
	s64 until;
	char note[SB_NOTE_MAX + 1];	/* "" for none */
	u32 line;			/* 1-based */
	u8 kind;
};

/* Why a line was refused, for the one log line of a failed write. */
struct sb_exempt_err {
	u32 line;			/* 0: the write as a whole */
	const char *text;		/* the line (not NUL-terminated) */
	u32 text_len;
	const char *why;
};

struct sb_exempt_write {
	bool flush;
	struct sb_exempt_op *ops;	/* owned: sb_exempt_write_free() */
	u32 n;
};

int sb_exempt_parse_line(const char *line, size_t len, bool bulk, s64 now,
			 struct sb_exempt_op *op, const char **why);
int sb_exempt_parse_write(const char *buf, size_t len, s64 now,
			  struct sb_exempt_write *w, struct sb_exempt_err *err);
void sb_exempt_write_free(struct sb_exempt_write *w);

struct sb_exemption {
	struct sb_prefix pfx;
	s64 until;
	char note[SB_NOTE_MAX + 1];
	u32 parent;			/* nearest enclosing entry, or NONE */
	struct sb_hits *hits;
};

struct sb_exempt_table {
	u32 n;
	u32 n4;				/* IPv4 entries come first */
	struct sb_exemption *e;		/* by prefix, as sb_prefix_cmp() */
	u32 *by_expiry;			/* indexes into e: until, then prefix */
	struct sb_refs users;		/* kernel only: see exemptions.c */
};

int sb_exempt_build(const struct sb_exempt_table *base, bool flush,
		    struct sb_exempt_op **ops, u32 n, u32 max,
		    struct sb_exempt_table **out, u32 *bad_line);
void sb_exempt_table_free(struct sb_exempt_table *t);
const struct sb_exemption *sb_exempt_find(const struct sb_exempt_table *t,
					  const struct sb_addr *a, s64 now);
size_t sb_exempt_bytes(const struct sb_exempt_table *t);
const struct sb_exemption *sb_exempt_base_entry(const struct sb_exempt_table *t,
						const struct sb_prefix *p);
size_t sb_exempt_format(const struct sb_exemption *e, char *buf);

/* The earliest expiry of a table with entries. */
static inline s64 sb_exempt_next_expiry(const struct sb_exempt_table *t)
{
	return t->e[t->by_expiry[0]].until;
}

#endif /* SMTPBLOCK_EXEMPTION_H */
