// SPDX-License-Identifier: GPL-2.0
/* Unit tests of src/staged.c: bulk-load text in arbitrary chunks. */
#include "unit.h"
#include "smtpblock/staged.h"

/* Feeds @text in chunks of @chunk bytes (0: all at once), then finishes. */
static int feed(struct sb_staged *s, const char *text, size_t chunk)
{
	size_t len = strlen(text), off = 0, n;
	int err;

	sb_staged_init(s);
	while (off < len) {
		n = chunk && len - off > chunk ? chunk : len - off;
		err = sb_staged_feed(s, text + off, n);
		if (err)
			return err;
		off += n;
	}
	return sb_staged_finish(s);
}

static void format(void)
{
	static const char text[] =
		"# campus prefixes\n"
		"10.0.0.0/8\n"
		"\n"
		"   192.0.2.25   # the relay\r\n"
		"\t2001:db8::/32\n"
		"#\n"
		"2001:DB8::25";
	struct sb_staged s;
	size_t chunk;

	for (chunk = 0; chunk < sizeof(text); chunk++) {
		CHECKF(feed(&s, text, chunk) == 0, "chunk %zu", chunk);
		CHECKF(s.n == 4 && s.lines == 7, "chunk %zu: %u entries, %u lines",
		       chunk, s.n, s.lines);
		CHECK(s.n4 == 2 && s.n6 == 2);
		CHECK(s.k4[0] == sb_key4(0x0a000000, 8) &&
		      s.k4[1] == sb_key4(0xc0000219, 32));
		CHECK(s.k6[0].len == 32 && s.k6[1].len == 128 &&
		      s.k6[1].first.lo == 0x25);
		sb_staged_free(&s);
	}
	CHECK(feed(&s, "", 0) == 0 && s.n == 0 && s.lines == 0);
	sb_staged_free(&s);
}

/* Found by make fuzz: only comments, so no entry array at all. */
static void comments_only(void)
{
	struct sb_prefix_set *set;
	struct sb_staged s;

	CHECK(feed(&s, "# c\n# d\n\n", 0) == 0 && s.n == 0 && !s.k4 && !s.k6);
	CHECK(sb_staged_build(&s, &set) == 0);
	CHECK(sb_set_count(set) == 0);
	sb_set_free(set);
	sb_staged_free(&s);
}

static void errors_name_the_line(void)
{
	static const char *const bad[] = {
		"10.0.0.0/8\n10.1.2.3/8\n",
		"10.0.0.0/8\n10.0.0.0/8 11.0.0.0/8\n",
		"10.0.0.0/8\n+11.0.0.0/8\n",
		"10.0.0.0/8\n10.0.0.0/8,11.0.0.0/8\n",
		"10.0.0.0/8\nflush\n",
		"10.0.0.0/8\n1.2.3\n12.0.0.0/8\n",
		"10.0.0.0/8\n::1::",
	};
	struct sb_staged s;
	size_t i, chunk;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (chunk = 0; chunk < 12; chunk += 3) {
			CHECKF(feed(&s, bad[i], chunk) == -EINVAL, "%zu", i);
			CHECKF(s.bad_line == 2, "case %zu chunk %zu: line %u", i,
			       chunk, s.bad_line);
			sb_staged_free(&s);
		}
	}
	CHECK(feed(&s, "10.0.0.0/8\n  1.2.3  # x\n", 5) == -EINVAL);
	CHECK(!strcmp(s.bad_item, "1.2.3"));
	sb_staged_free(&s);
}

static void long_lines(void)
{
	static char text[3 * SB_STAGED_LINE_MAX];
	struct sb_staged s;

	memset(text, ' ', sizeof(text) - 1);
	memcpy(text, "10.0.0.0/8\n", 11);
	text[sizeof(text) - 1] = '\0';
	CHECK(feed(&s, text, 100) == -EINVAL && s.bad_line == 2);
	sb_staged_free(&s);
	CHECK(feed(&s, text, 0) == -EINVAL && s.bad_line == 2);
	sb_staged_free(&s);
	/* Exactly the limit, comment included, is fine. */
	memset(text, ' ', SB_STAGED_LINE_MAX);
	memcpy(text, "10.0.0.0/8 #", 12);
	text[SB_STAGED_LINE_MAX] = '\n';
	text[SB_STAGED_LINE_MAX + 1] = '\0';
	CHECK(feed(&s, text, 7) == 0 && s.n == 1);
	sb_staged_free(&s);
}

/* Many entries grow the array; the set built from them is right. */
static void many(void)
{
	enum { N = 100000 };
	static char text[N * 20];
	struct sb_prefix_set *set;
	struct sb_staged s;
	size_t off = 0;
	u32 i;

	for (i = 0; i < N; i++)
		off += (size_t)sprintf(text + off, "10.%u.%u.0/24\n",
				       i >> 8 & 0xff, i & 0xff);
	CHECK(feed(&s, text, 4096) == 0 && s.n == N);
	CHECK(sb_staged_build(&s, &set) == 0);
	CHECK(sb_set_count(set) == 65536);	/* 10.x.y.0/24 repeats */
	sb_set_free(set);
	sb_staged_free(&s);
}

/* A random prefix from a small space, so that repeats and ties happen. */
static void random_prefix(struct sb_prefix *p, u64 shape)
{
	u64 r = unit_rand();

	memset(p, 0, sizeof(*p));
	if (r & 1) {
		p->addr.family = SB_AF_INET;
		p->len = (u8)(shape & 2 ? 32 : 8 + (r >> 8) % 25);
		p->addr.v4 = (u32)(r >> 16) & ~sb_hostmask4(p->len);
		if (shape & 4)	/* one top byte for all: a skipped pass */
			p->addr.v4 = (p->addr.v4 & 0x00ffffff) | 0x0a000000;
	} else {
		p->addr.family = SB_AF_INET6;
		p->len = (u8)(shape & 2 ? 64 : (r >> 8) % 129);
		p->addr.v6.hi = (shape & 4 ? 0x20010db800000000ULL : unit_rand()) |
				((r >> 16) & 0xffff);
		p->addr.v6.lo = unit_rand() % 3;	/* ties in the low half */
		struct sb_u128 m = sb_hostmask6(p->len);

		p->addr.v6.hi &= ~m.hi;
		p->addr.v6.lo &= ~m.lo;
	}
}

/*
 * The radix path (staged keys) and the comparison path (sb_set_build,
 * which sorts with sb_sort) give the same set for the same entries in
 * random order, repeats included, whatever bytes the keys share.
 */
static void radix_matches_comparison_sort(void)
{
	enum { N = 20000 };
	static char text[N * (SB_PREFIX_STRLEN + 1)];
	struct sb_prefix_set *a, *b;
	char *ta, *tb;
	struct sb_edit *e = calloc(N, sizeof(*e));
	struct sb_staged s;
	size_t off, la, lb;
	u64 shape;
	u32 i, bad;

	for (shape = 0; shape < 8; shape++) {
		off = 0;
		for (i = 0; i < N; i++) {
			random_prefix(&e[i].pfx, shape);
			if (shape & 1 && i)	/* many repeats */
				e[i].pfx = e[unit_rand() % i].pfx;
			e[i].op = SB_EDIT_ADD;
			e[i].pos = i + 1;
			off += sb_prefix_format(&e[i].pfx, text + off);
			text[off++] = '\n';
		}
		text[off] = '\0';
		CHECK(feed(&s, text, 4096) == 0 && s.n == N);
		CHECKF(sb_staged_build(&s, &a) == 0, "shape %llu",
		       (unsigned long long)shape);
		CHECK(sb_set_build(NULL, e, N, &b, &bad) == 0);
		CHECK(sb_set_render(a, &ta, &la) == 0);
		CHECK(sb_set_render(b, &tb, &lb) == 0);
		CHECKF(la == lb && !strcmp(ta, tb), "shape %llu: %zu, %zu bytes",
		       (unsigned long long)shape, la, lb);
		CHECK(a->n4 == b->n4 && a->n6 == b->n6);
		free(ta);
		free(tb);
		sb_set_free(a);
		sb_set_free(b);
		sb_staged_free(&s);
	}
	free(e);
	/* One key alone differs in a byte: that pass must still run. */
	CHECK(feed(&s, "10.0.0.2\n10.0.0.3\n9.0.0.9\n10.0.0.1\n", 0) == 0);
	CHECK(sb_staged_build(&s, &a) == 0 && sb_set_render(a, &ta, &la) == 0);
	CHECK(!strcmp(ta, "9.0.0.9/32\n10.0.0.1/32\n10.0.0.2/32\n10.0.0.3/32\n"));
	free(ta);
	sb_set_free(a);
	sb_staged_free(&s);
}

/* A bulk load of exemptions: "#" starts a comment only at a word's start. */
static void exemptions(void)
{
	static const char text[] =
		"# the table\n"
		"10.1.2.3 until=2026-12-31T17:00:00Z note=INC#4711 # a ticket\n"
		"\n"
		"2001:db8::/48 for=3600#x\n"
		"192.0.2.0/24 for=60\n";
	struct sb_staged s;
	size_t chunk;

	for (chunk = 1; chunk < sizeof(text); chunk += 7) {
		size_t off = 0, n;
		int err = 0;

		sb_staged_init_exempt(&s, 1796083200);
		while (!err && off < sizeof(text) - 1) {
			n = sizeof(text) - 1 - off < chunk ? sizeof(text) - 1 - off : chunk;
			err = sb_staged_feed(&s, text + off, n);
			off += n;
		}
		/* "for=3600#x" is not a number: line 4 */
		CHECKF(err == -EINVAL && s.bad_line == 4 && s.bad_why, "chunk %zu: %d line %u",
		       chunk, err, s.bad_line);
		CHECK(s.nops == 1 && !strcmp(s.ops[0].note, "INC#4711") &&
		      s.ops[0].line == 2);
		sb_staged_free(&s);
	}
	sb_staged_init_exempt(&s, 1796083200);
	CHECK(sb_staged_feed(&s, text, 60) == 0 && sb_staged_finish(&s) == 0);
	CHECK(s.nops == 1 && s.n == 1);
	sb_staged_free(&s);
	sb_staged_init_exempt(&s, 1796083200);
	CHECK(sb_staged_feed(&s, "+10.1.2.3 for=5\n", 16) == -EINVAL && s.bad_line == 1);
	sb_staged_free(&s);
	/* A line whose until= has passed is left out and counted. */
	sb_staged_init_exempt(&s, 1796083200);
	CHECK(sb_staged_feed(&s, "10.1.2.3 until=2026-11-30T00:00:00Z\n10.1.2.4 for=9\n", 51) == 0);
	CHECK(s.nops == 1 && s.expired == 1 && !s.bad_line);
	sb_staged_free(&s);
}

UNIT_MAIN("staged", T(format), T(comments_only), T(errors_name_the_line), T(long_lines),
	  T(many), T(radix_matches_comparison_sort), T(exemptions))
