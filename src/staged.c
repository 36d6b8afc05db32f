// SPDX-License-Identifier: GPL-2.0
/* Parsing a bulk load's text, chunk by chunk, line by line. */
#include "smtpblock/radix_sort.h"
#include "smtpblock/staged.h"

void sb_staged_init(struct sb_staged *s)
{
	memset(s, 0, sizeof(*s));
}

void sb_staged_init_exempt(struct sb_staged *s, s64 now)
{
	memset(s, 0, sizeof(*s));
	s->exempt = true;
	s->now = now;
}

void sb_staged_free(struct sb_staged *s)
{
	sb_free(s->ops);
	s->ops = NULL;
	s->nops = 0;
	s->capops = 0;
	sb_free(s->k4);
	sb_free(s->k6);
	s->k4 = NULL;
	s->k6 = NULL;
	s->n4 = 0;
	s->cap4 = 0;
	s->n6 = 0;
	s->cap6 = 0;
	s->n = 0;
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

/* A megabyte at a time: copying 100 MB at once is a long stretch too. */
static void copy_yielding(void *dst, const void *src, size_t bytes)
{
	const size_t step = 1 << 20;
	size_t off, c;

	for (off = 0; off < bytes; off += c) {
		c = bytes - off < step ? bytes - off : step;
		memcpy((char *)dst + off, (const char *)src + off, c);
		sb_yield();
	}
}

/* Doubling growth: a million entries cost about twenty copies in all. */
static int grow(void **keys, u32 *cap, u32 n, size_t size)
{
	u32 want = *cap ? *cap * 2 : 1024;
	void *k;

	if (*cap >= 2 * SB_SET_MAX_ENTRIES)
		return -ENOSPC;
	k = sb_alloc_array(want, size);
	if (!k)
		return -ENOMEM;
	if (n)
		copy_yielding(k, *keys, (size_t)n * size);
	sb_free(*keys);
	*keys = k;
	*cap = want;
	return 0;
}

static int add_key(struct sb_staged *s, const struct sb_prefix *p)
{
	int err;

	if (p->addr.family == SB_AF_INET) {
		if (s->n4 == s->cap4) {
			err = grow((void **)&s->k4, &s->cap4, s->n4,
				   sizeof(*s->k4));
			if (err)
				return err;
		}
		s->k4[s->n4++] = sb_key4(p->addr.v4, p->len);
	} else {
		if (s->n6 == s->cap6) {
			err = grow((void **)&s->k6, &s->cap6, s->n6,
				   sizeof(*s->k6));
			if (err)
				return err;
		}
		s->k6[s->n6].first = p->addr.v6;
		s->k6[s->n6].len = p->len;
		s->n6++;
	}
	s->n++;
	return 0;
}

/* Where a comment starts, or @len: for exemptions, only at a word's start. */
static size_t comment_start(const struct sb_staged *s, const char *line,
			    size_t len)
{
	const char *hash = memchr(line, '#', len);
	size_t i;

	if (!s->exempt)
		return hash ? (size_t)(hash - line) : len;
	for (i = 0; i < len; i++) {
		if (line[i] == '#' && (i == 0 || is_blank(line[i - 1])))
			return i;
	}
	return len;
}

static int take_exemption(struct sb_staged *s, const char *line, size_t len)
{
	int err;

	if (s->nops == s->capops) {
		if (s->capops >= 2 * SB_EXEMPTIONS_LIMIT)
			return -ENOSPC;
		err = grow((void **)&s->ops, &s->capops, s->nops,
			   sizeof(*s->ops));
		if (err)
			return err;
	}
	err = sb_exempt_parse_line(line, len, true, s->now, &s->ops[s->nops],
				   &s->bad_why);
	/* An expired line is left out, not an error: counted, logged once. */
	if (err && !strcmp(s->bad_why, SB_EXEMPT_WHY_PAST)) {
		s->expired++;
		s->bad_why = NULL;
		return 0;
	}
	if (err)
		return fail_line(s, line, len);
	s->ops[s->nops++].line = s->lines;
	s->n++;
	return 0;
}

/* One complete line (without its newline). */
static int take_line(struct sb_staged *s, const char *line, size_t len)
{
	size_t start = 0, end = comment_start(s, line, len), i;
	struct sb_prefix p;

	s->lines++;
	while (start < end && is_blank(line[start]))
		start++;
	while (end > start && is_blank(line[end - 1]))
		end--;
	if (start == end)
		return 0;
	if (s->exempt)
		return take_exemption(s, line + start, end - start);
	for (i = start; i < end; i++) {
		if (is_blank(line[i]))
			return fail_line(s, line + start, end - start);
	}
	if (sb_prefix_parse(line + start, end - start, &p))
		return fail_line(s, line + start, end - start);
	return add_key(s, &p);
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

/* Key bytes, least significant first: the length, then the address. */
static u8 digit4(const void *rec, u32 d)
{
	return (u8)(*(const u64 *)rec >> (8 * d));
}

static u8 digit6(const void *rec, u32 d)
{
	const struct sb_key6 *k = rec;

	if (d == 0)
		return k->len;
	if (d <= 8)
		return (u8)(k->first.lo >> (8 * (d - 1)));
	return (u8)(k->first.hi >> (8 * (d - 9)));
}

/*
 * sb_staged_build - the set of what was staged: -ENOSPC beyond the limit
 * of a family, or -ENOMEM. Sorts the keys; free @s after as always.
 */
int sb_staged_build(struct sb_staged *s, struct sb_prefix_set **out)
{
	int err;

	/* (40 key bits of IPv4, 136 of IPv6) */
	err = sb_radix_sort((void **)&s->k4, s->n4, sizeof(*s->k4), 5, digit4);
	if (!err)
		err = sb_radix_sort((void **)&s->k6, s->n6, sizeof(*s->k6), 17,
				    digit6);
	if (!err)
		err = sb_set_from_keys(s->k4, s->n4, s->k6, s->n6, out);
	return err;
}
