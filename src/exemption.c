// SPDX-License-Identifier: GPL-2.0
/* Exemptions: the lines that grant them, and their tables (exemption.h). */
#include "smtpblock/exemption.h"
#include "smtpblock/radix_sort.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* What a note may hold: a ticket id or an address, never a log's "=". */
static bool note_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || (c && strchr("._:/@#+-", c));
}

#define NOTE_CHARS "note= holds a character other than A-Z a-z 0-9 . _ : / @ # + -"

static int refuse(const char **why, const char *reason)
{
	*why = reason;
	return -EINVAL;
}

/* A decimal number without sign or leading zero, at most @max. */
static bool parse_seconds(const char *s, size_t len, u32 max, u32 *v)
{
	u64 n = 0;
	size_t i;

	if (!len || len > 10 || (len > 1 && s[0] == '0'))
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		n = n * 10 + (u64)(s[i] - '0');
	}
	if (n > max)
		return false;
	*v = (u32)n;
	return true;
}

static bool key_is(const char *w, size_t len, const char *key)
{
	size_t k = strlen(key);

	return len > k && !memcmp(w, key, k);
}

/* One "key=value" word after the prefix of an add. */
static int take_key(const char *w, size_t len, s64 now, struct sb_exempt_op *op,
		    u8 *seen, const char **why)
{
	u32 secs, i;
	s64 t;

	if (key_is(w, len, "until=")) {
		if (*seen & 3)
			return refuse(why, "more than one until= or for=");
		*seen |= 1;
		if (sb_parse_utc(w + 6, len - 6, &t))
			return refuse(why, "until= is not a UTC time like 2026-12-31T17:00:00Z");
		if (t <= now)
			return refuse(why, SB_EXEMPT_WHY_PAST);
		if (t - now > SB_EXEMPT_SECONDS_MAX)
			return refuse(why, "until= is more than 366 days ahead");
		op->until = t;
	} else if (key_is(w, len, "for=")) {
		if (*seen & 3)
			return refuse(why, "more than one until= or for=");
		*seen |= 2;
		if (!parse_seconds(w + 4, len - 4, SB_EXEMPT_SECONDS_MAX, &secs) ||
		    !secs)
			return refuse(why, "for= is not 1 to 31622400 seconds");
		op->until = now + secs;
	} else if (key_is(w, len, "note=")) {
		if (*seen & 4)
			return refuse(why, "more than one note=");
		*seen |= 4;
		if (len - 5 > SB_NOTE_MAX)
			return refuse(why, "note= is longer than 64 characters");
		for (i = 5; i < len; i++) {
			if (!note_char(w[i]))
				return refuse(why, NOTE_CHARS);
		}
		memcpy(op->note, w + 5, len - 5);
		op->note[len - 5] = '\0';
	} else {
		return refuse(why, "unknown key (until=, for= or note=)");
	}
	return 0;
}

/*
 * sb_exempt_parse_line - one line, trimmed, without its newline
 *
 * A write's line is "+PREFIX until=TIME|for=SECONDS [note=TEXT]" or
 * "-PREFIX"; a bulk load's (@bulk) is the same add without the "+".
 * @now: UTC seconds, what until= is checked and for= counted against.
 * On error, *@why says what is wrong.
 */
int sb_exempt_parse_line(const char *line, size_t len, bool bulk, s64 now,
			 struct sb_exempt_op *op, const char **why)
{
	const char *end = line + len, *w;
	u8 seen = 0;
	int err;

	memset(op, 0, sizeof(*op));
	op->kind = SB_EXEMPT_ADD;
	if (!bulk) {
		if (!len || (line[0] != '+' && line[0] != '-'))
			return refuse(why, "a line is +PREFIX KEYS, -PREFIX, or flush first");
		op->kind = line[0] == '+' ? SB_EXEMPT_ADD : SB_EXEMPT_DEL;
		line++;
	}
	for (w = line; w < end && !is_blank(*w); w++)
		;
	if (sb_prefix_parse(line, (size_t)(w - line), &op->pfx))
		return refuse(why, "not a prefix (no host bits, as in relays)");
	while (w < end) {
		const char *k;

		while (w < end && is_blank(*w))
			w++;
		if (w == end)
			break;
		for (k = w; w < end && !is_blank(*w); w++)
			;
		if (op->kind == SB_EXEMPT_DEL)
			return refuse(why, "a removal takes no keys");
		err = take_key(k, (size_t)(w - k), now, op, &seen, why);
		if (err)
			return err;
	}
	if (op->kind == SB_EXEMPT_ADD && !(seen & 3))
		return refuse(why, "until= or for= is missing");
	return 0;
}

static void trim(const char **s, size_t *len)
{
	while (*len && is_blank(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && is_blank((*s)[*len - 1]))
		(*len)--;
}

/*
 * sb_exempt_parse_write - the lines of one write: 0, or -EINVAL (and
 * -ENOMEM) with *@err naming the line. Blank lines are skipped; a write
 * without any line is an error, like an empty list write.
 */
int sb_exempt_parse_write(const char *buf, size_t len, s64 now,
			  struct sb_exempt_write *w, struct sb_exempt_err *err)
{
	const char *p = buf, *end = buf + len, *nl, *s;
	u32 line = 0, cap = 0, lines = 0;
	size_t n, i;
	int ret;

	memset(w, 0, sizeof(*w));
	memset(err, 0, sizeof(*err));
	for (i = 0; i < len; i++)
		cap += buf[i] == '\n';
	w->ops = sb_alloc_array(cap + 1, sizeof(*w->ops));
	if (!w->ops)
		return -ENOMEM;
	for (; p < end; p = nl ? nl + 1 : end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		s = p;
		n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		line++;
		trim(&s, &n);
		if (!n)
			continue;
		lines++;
		if (n == 5 && !memcmp(s, "flush", 5)) {
			if (lines == 1) {
				w->flush = true;
				continue;
			}
			err->why = "flush may only come first";
			ret = -EINVAL;
		} else {
			ret = sb_exempt_parse_line(s, n, false, now,
						   &w->ops[w->n], &err->why);
		}
		if (ret) {
			err->line = line;
			err->text = s;
			err->text_len = (u32)n;
			sb_exempt_write_free(w);
			return ret;
		}
		w->ops[w->n++].line = line;
	}
	if (!lines) {
		err->why = "empty write, nothing changed";
		sb_exempt_write_free(w);
		return -EINVAL;
	}
	return 0;
}

void sb_exempt_write_free(struct sb_exempt_write *w)
{
	sb_free(w->ops);
	w->ops = NULL;
	w->n = 0;
}

/*
 * The sorts of a build are radix sorts (radix_sort.c), which yield: a bulk
 * load brings up to 2 x SB_EXEMPTIONS_LIMIT lines. A line's key, least
 * significant byte first: its line number, the prefix length, the
 * address (IPv4 as a 128-bit number), the family: sb_prefix_cmp()'s
 * order, then the order written.
 */
static u8 op_digit(const void *rec, u32 d)
{
	const struct sb_exempt_op *o = rec;
	const struct sb_addr *a = &o->pfx.addr;
	u64 lo = a->family == SB_AF_INET ? a->v4 : a->v6.lo;
	u64 hi = a->family == SB_AF_INET ? 0 : a->v6.hi;

	if (d < 4)
		return (u8)(o->line >> (8 * d));
	if (d == 4)
		return o->pfx.len;
	if (d < 13)
		return (u8)(lo >> (8 * (d - 5)));
	if (d < 21)
		return (u8)(hi >> (8 * (d - 13)));
	return a->family;
}

/* The expiry order's key: the entry's index (prefix order), its until. */
struct expiry_key {
	u64 until;		/* > 0: a time after 1970 */
	u32 idx;
};

static u8 expiry_digit(const void *rec, u32 d)
{
	const struct expiry_key *k = rec;

	if (d < 4)
		return (u8)(k->idx >> (8 * d));
	return (u8)(k->until >> (8 * (d - 4)));
}

/* Whether prefix @p holds prefix @q (or address @q, as a full length). */
static bool holds(const struct sb_prefix *p, const struct sb_prefix *q)
{
	if (p->addr.family != q->addr.family || p->len > q->len)
		return false;
	if (p->addr.family == SB_AF_INET)
		return (q->addr.v4 & ~sb_hostmask4(p->len)) == p->addr.v4;
	{
		struct sb_u128 m = sb_hostmask6(p->len);

		return (q->addr.v6.hi & ~m.hi) == p->addr.v6.hi &&
		       (q->addr.v6.lo & ~m.lo) == p->addr.v6.lo;
	}
}

/* Nested prefixes are at most 129 deep: one stack slot per length. */
static void fill_parents(struct sb_exemption *e, u32 from, u32 to)
{
	u32 stack[129], depth = 0, i;

	for (i = from; i < to; i++) {
		while (depth && !holds(&e[stack[depth - 1]].pfx, &e[i].pfx))
			depth--;
		e[i].parent = depth ? stack[depth - 1] : SB_EXEMPT_NONE;
		stack[depth++] = i;
	}
}

void sb_exempt_table_free(struct sb_exempt_table *t)
{
	u32 i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++)
		sb_hits_put(t->e[i].hits);
	sb_free(t->by_expiry);
	sb_free(t->e);
	sb_free(t);
}

/* The entry of @t with prefix @p exactly, or NULL. */
const struct sb_exemption *sb_exempt_base_entry(const struct sb_exempt_table *t,
						const struct sb_prefix *p)
{
	u32 lo = 0, hi = t ? t->n : 0, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = sb_prefix_cmp(&t->e[mid].pfx, p);
		if (!c)
			return &t->e[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Indexes, parents and the expiry order of a table whose entries are set. */
static int table_finish(struct sb_exempt_table *t)
{
	struct expiry_key *k;
	u32 i;

	for (t->n4 = 0; t->n4 < t->n && t->e[t->n4].pfx.addr.family == SB_AF_INET;
	     t->n4++)
		;
	fill_parents(t->e, 0, t->n4);
	fill_parents(t->e, t->n4, t->n);
	t->by_expiry = sb_alloc_array(t->n ?: 1, sizeof(*t->by_expiry));
	k = sb_alloc_array(t->n ?: 1, sizeof(*k));
	if (!t->by_expiry || !k) {
		sb_free(k);
		return -ENOMEM;
	}
	for (i = 0; i < t->n; i++) {
		sb_cond_resched(i);
		k[i].until = (u64)t->e[i].until;
		k[i].idx = i;
	}
	if (sb_radix_sort((void **)&k, t->n, sizeof(*k), 12, expiry_digit)) {
		sb_free(k);
		return -ENOMEM;
	}
	for (i = 0; i < t->n; i++)
		t->by_expiry[i] = k[i].idx;
	sb_free(k);
	return 0;
}

/*
 * sb_exempt_build - a new table: @base (may be NULL), emptied first if
 * @flush, changed by @ops in the order of their lines
 *
 * An add of a prefix that is there replaces its expiry and note; the
 * exemption keeps its hit counter whenever its prefix is in the result
 * (so also across a flush that adds it again). Removing an absent prefix
 * is -ENOENT (*@bad_line: the first such line); a result of more than
 * @max entries is -ENOSPC, unless it holds no more entries than @base
 * (after @max was lowered, removals and renewals must still work);
 * -ENOMEM. *@ops is sorted, and may be replaced by a new array (the old
 * one freed: sb_radix_sort). Nothing changes on error.
 */
int sb_exempt_build(const struct sb_exempt_table *base, bool flush,
		    struct sb_exempt_op **opsp, u32 n, u32 max,
		    struct sb_exempt_table **out, u32 *bad_line)
{
	u32 nb = base ? base->n : 0, b = 0, i = 0, j, count = 0, bad = 0;
	const struct sb_exempt_op *last;
	struct sb_exempt_table *t;
	struct sb_exemption *e;
	struct sb_exempt_op *ops;
	int pass;

	if (sb_radix_sort((void **)opsp, n, sizeof(**opsp), 22, op_digit))
		return -ENOMEM;
	ops = *opsp;
	t = sb_zalloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	/* Pass 0 counts and checks; pass 1 fills what pass 0 sized. */
	for (pass = 0; pass < 2; pass++) {
		b = 0;
		i = 0;
		while (b < nb || i < n) {
			int c = b == nb ? 1 : i == n ? -1 :
				sb_prefix_cmp(&base->e[b].pfx, &ops[i].pfx);
			const struct sb_exemption *old = NULL;
			bool present;

			sb_cond_resched(b + i);
			if (c < 0) {	/* a base entry that no line names */
				if (!flush && pass) {
					t->e[t->n] = base->e[b];
					sb_hits_get(t->e[t->n++].hits);
				}
				count += !flush;
				b++;
				continue;
			}
			if (c == 0)
				old = &base->e[b++];
			present = old && !flush;
			last = NULL;
			for (j = i; j < n && !sb_prefix_cmp(&ops[j].pfx, &ops[i].pfx); j++) {
				if (ops[j].kind == SB_EXEMPT_ADD) {
					present = true;
					last = &ops[j];
				} else if (present) {
					present = false;
					last = NULL;
				} else if (!bad || ops[j].line < bad) {
					bad = ops[j].line;
				}
			}
			i = j;
			if (!present)
				continue;
			count++;
			if (!pass)
				continue;
			e = &t->e[t->n++];
			if (last) {
				memset(e, 0, sizeof(*e));
				e->pfx = last->pfx;
				e->until = last->until;
				memcpy(e->note, last->note, sizeof(e->note));
			} else {
				*e = *old;
			}
			if (old) {
				e->hits = old->hits;
				sb_hits_get(e->hits);
			} else {
				e->hits = sb_hits_new();
				if (!e->hits) {
					t->n--;
					goto nomem;
				}
			}
		}
		if (pass)
			break;
		if (bad) {
			*bad_line = bad;
			sb_free(t);
			return -ENOENT;
		}
		if (count > max && count > nb) {
			sb_free(t);
			return -ENOSPC;
		}
		t->e = sb_alloc_array(count ?: 1, sizeof(*t->e));
		if (!t->e)
			goto nomem;
	}
	if (table_finish(t))
		goto nomem;
	*out = t;
	return 0;
nomem:
	sb_exempt_table_free(t);
	return -ENOMEM;
}

/*
 * sb_exempt_find - the most specific exemption holding @a that has not
 * expired at @now (until= later than @now), or NULL
 *
 * The last entry starting at or below @a either holds it, or is inside
 * every entry that does (nested prefixes never partly overlap), so the
 * answer is on its chain of enclosing entries. An expired entry that the
 * module has not yet removed gives way to the one around it.
 */
const struct sb_exemption *sb_exempt_find(const struct sb_exempt_table *t,
					  const struct sb_addr *a, s64 now)
{
	struct sb_prefix p = { .addr = *a };
	u32 lo, hi, mid, from;

	p.len = a->family == SB_AF_INET ? 32 : 128;
	from = a->family == SB_AF_INET ? 0 : t->n4;
	lo = from;
	hi = a->family == SB_AF_INET ? t->n4 : t->n;
	while (lo < hi) {	/* lo ends as one past the last entry <= a */
		mid = lo + (hi - lo) / 2;
		if (sb_prefix_cmp(&t->e[mid].pfx, &p) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == from)
		return NULL;
	for (mid = lo - 1; mid != SB_EXEMPT_NONE; mid = t->e[mid].parent) {
		if (t->e[mid].until > now && holds(&t->e[mid].pfx, &p))
			return &t->e[mid];
	}
	return NULL;
}

/* Bytes of a table and its hit counters. */
size_t sb_exempt_bytes(const struct sb_exempt_table *t)
{
	if (!t)
		return 0;
	return sizeof(*t) + (size_t)t->n * (sizeof(*t->e) +
		sizeof(*t->by_expiry) + sizeof(struct sb_hits));
}

/* One line of the exemptions file, without its newline; returns its length. */
size_t sb_exempt_format(const struct sb_exemption *e, char *buf)
{
	char until[SB_UTC_STRLEN];
	size_t n = sb_prefix_format(&e->pfx, buf);

	sb_format_utc(e->until, until);
	n += (size_t)snprintf(buf + n, SB_EXEMPT_LINE_MAX - n,
			      " until=%s hits=%llu", until,
			      (unsigned long long)sb_hits_read(e->hits));
	if (e->note[0])
		n += (size_t)snprintf(buf + n, SB_EXEMPT_LINE_MAX - n,
				      " note=%s", e->note);
	return n;
}
