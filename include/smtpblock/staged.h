/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A list arriving in pieces: the text of a bulk load, fed chunk by chunk
 * (sysfs hands it over a page at a time, and lines straddle pages), parsed
 * line by line into the entries of a future set. Errors name the line.
 *
 * Format: one address or prefix per line; "#" starts a comment; blank
 * lines and surrounding white space are ignored.
 */
#ifndef SMTPBLOCK_STAGED_H
#define SMTPBLOCK_STAGED_H

#include "smtpblock/exemption.h"
#include "smtpblock/prefix_set.h"

/* Longest line, comment included; longer is an error, not a truncation. */
#define SB_STAGED_LINE_MAX 1024
/* How much of a bad line an error message quotes. */
#define SB_STAGED_ITEM_MAX 64

/*
 * The entries are kept as sort keys per family (prefix_set.h), compact
 * (8 bytes an IPv4 entry) and sorted at the end by radix, not compared.
 * Repeats are kept until then: at most 2 x SB_SET_MAX_ENTRIES a family.
 */
struct sb_staged {
	/*
	 * A load of exemptions instead (sb_staged_init_exempt): each line
	 * "PREFIX until=TIME|for=SECONDS [note=TEXT]", checked against
	 * @now, staged in @ops (a line whose until= has passed is left
	 * out and counted in @expired); a "#" starts a comment only at the
	 * start of a word there, since a note may hold one.
	 */
	bool exempt;
	s64 now;
	struct sb_exempt_op *ops;
	u32 nops, capops;
	u32 expired;			/* lines left out: until= passed */
	u64 *k4;
	struct sb_key6 *k6;
	u32 n4, cap4;
	u32 n6, cap6;
	u32 n;				/* n4 + n6 */
	u32 lines;			/* complete lines seen */
	u32 partial_len;		/* bytes of the unfinished line */
	char partial[SB_STAGED_LINE_MAX];
	u32 bad_line;			/* 0: none */
	char bad_item[SB_STAGED_ITEM_MAX + 1];
	const char *bad_why;		/* what is wrong, or NULL */
};

void sb_staged_init(struct sb_staged *s);
void sb_staged_init_exempt(struct sb_staged *s, s64 now);
int sb_staged_feed(struct sb_staged *s, const char *buf, size_t len);
int sb_staged_finish(struct sb_staged *s);
int sb_staged_build(struct sb_staged *s, struct sb_prefix_set **out);
void sb_staged_free(struct sb_staged *s);

#endif /* SMTPBLOCK_STAGED_H */
