// SPDX-License-Identifier: GPL-2.0
/* Parsing a bulk load's text, chunk by chunk, line by line. */
#include "smtpblock/staged.h"

void sb_staged_init(struct sb_staged *s)
{
	memset(s, 0, sizeof(*s));
}

void sb_staged_free(struct sb_staged *s)
{
	sb_free(s->edits);
	s->edits = NULL;
	s->n = 0;
	s->cap = 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int fail_line(struct sb_staged *s, const char *text, size_t len)
{
	s->bad_line = s->lines;
	if (len > SB_STAGED_ITEM_MAX)
		len = SB_STAGED_ITEM_MAX;
	memcpy(s->bad_item, text, len);
	s->bad_item[len] = '\0';
	return -EINVAL;
}

/* Doubling growth: a million entries cost about twenty copies in all. */
static int grow(struct sb_staged *s)
{
	u32 cap = s->cap ? s->cap * 2 : 1024;
	struct sb_edit *e;

	if (s->cap >= 2 * SB_SET_MAX_ENTRIES)
		return -ENOSPC;
	e = sb_alloc_array(cap, sizeof(*e));
	if (!e)
		return -ENOMEM;
	if (s->n)
		memcpy(e, s->edits, (size_t)s->n * sizeof(*e));
	sb_free(s->edits);
	s->edits = e;
	s->cap = cap;
	return 0;
}

/* One complete line (without its newline). */
static int take_line(struct sb_staged *s, const char *line, size_t len)
{
	const char *hash = memchr(line, '#', len);
	size_t start = 0, end = hash ? (size_t)(hash - line) : len, i;
	struct sb_edit *e;
	int err;

	s->lines++;
	while (start < end && is_blank(line[start]))
		start++;
	while (end > start && is_blank(line[end - 1]))
		end--;
	if (start == end)
		return 0;
	for (i = start; i < end; i++) {
		if (is_blank(line[i]))
			return fail_line(s, line + start, end - start);
	}
	if (s->n == s->cap) {
		err = grow(s);
		if (err)
			return err;
	}
	e = &s->edits[s->n];
	if (sb_prefix_parse(line + start, end - start, &e->pfx))
		return fail_line(s, line + start, end - start);
	e->op = SB_EDIT_ADD;
	e->pos = s->lines;
	s->n++;
	return 0;
}

/*
 * Parses what @buf completes. Returns 0, -EINVAL (bad_line and bad_item
 * say which), -ENOSPC or -ENOMEM; after an error the load is unusable.
 */
int sb_staged_feed(struct sb_staged *s, const char *buf, size_t len)
{
	const char *end = buf + len, *nl;
	size_t n;
	int err;

	while (buf < end) {
		nl = memchr(buf, '\n', (size_t)(end - buf));
		n = nl ? (size_t)(nl - buf) : (size_t)(end - buf);
		if (s->partial_len + n > SB_STAGED_LINE_MAX) {
			s->lines++;
			return fail_line(s, s->partial_len ? s->partial : buf,
					 s->partial_len ?: n);
		}
		if (!nl) {
			memcpy(s->partial + s->partial_len, buf, n);
			s->partial_len += n;
			return 0;
		}
		if (s->partial_len) {
			memcpy(s->partial + s->partial_len, buf, n);
			err = take_line(s, s->partial, s->partial_len + n);
			s->partial_len = 0;
		} else {
			err = take_line(s, buf, n);
		}
		if (err)
			return err;
		buf = nl + 1;
	}
	return 0;
}

/* The end of the text: a last line without a newline counts too. */
int sb_staged_finish(struct sb_staged *s)
{
	int err = 0;

	if (s->partial_len)
		err = take_line(s, s->partial, s->partial_len);
	s->partial_len = 0;
	return err;
}
