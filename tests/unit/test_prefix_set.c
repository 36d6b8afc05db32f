// SPDX-License-Identifier: GPL-2.0
/* Unit tests of src/prefix_set.c: building, editing, lookup, text. */
#include "unit.h"
#include "smtpblock/prefix_set.h"
#include "smtpblock/parse.h"

/* Builds base changed by the list write in @text; returns the errno. */
static int apply(struct sb_prefix_set **set, const char *text, u32 *bad)
{
	struct sb_list_write w;
	struct sb_parse_err perr;
	struct sb_prefix_set *out;
	int ret = sb_list_parse(text, strlen(text), &w, &perr);

	if (ret) {
		*bad = perr.pos;
		return ret;
	}
	ret = sb_set_build(w.replace ? NULL : *set, w.edits, w.n, &out, bad);
	sb_list_write_free(&w);
	if (!ret) {
		sb_set_free(*set);
		*set = out;
	}
	return ret;
}

/* The set's text; valid until the next call. */
static const char *text_of(struct sb_prefix_set *set)
{
	static char *text;
	size_t len;

	free(text);
	text = NULL;
	CHECK(sb_set_render(set, &text, &len) == 0);
	CHECK(len == strlen(text));
	return text;
}

static bool has(const struct sb_prefix_set *set, const char *addr)
{
	struct sb_prefix p;

	if (sb_prefix_parse(addr, strlen(addr), &p))
		return false;
	return sb_set_contains(set, &p.addr);
}

static void replace_sorts_and_dedups(void)
{
	struct sb_prefix_set *set = sb_set_empty();
	u32 bad = 0;

	CHECK(apply(&set, "2001:db8::/32, 10.0.0.0/8 192.0.2.25\n10.0.0.0/8 "
		    "2001:DB8::25 10.0.0.0/16", &bad) == 0);
	CHECK(sb_set_count(set) == 5);
	CHECK(!strcmp(text_of(set), "10.0.0.0/8\n10.0.0.0/16\n192.0.2.25/32\n"
		      "2001:db8::/32\n2001:db8::25/128\n"));
	sb_set_free(set);
}

static void lookup_basics(void)
{
	struct sb_prefix_set *set = sb_set_empty();
	u32 bad;

	CHECK(!has(set, "10.0.0.1") && !has(set, "::1"));
	CHECK(apply(&set, "10.0.0.0/8 10.1.0.0/16 192.0.2.25 2001:db8::/32",
		    &bad) == 0);
	CHECK(has(set, "10.0.0.0") && has(set, "10.255.255.255"));
	CHECK(has(set, "10.2.3.4"));	/* after a nested prefix */
	CHECK(!has(set, "11.0.0.0") && !has(set, "9.255.255.255"));
	CHECK(has(set, "192.0.2.25") && !has(set, "192.0.2.24") &&
	      !has(set, "192.0.2.26"));
	CHECK(has(set, "2001:db8::1") && has(set, "2001:db8:ffff:ffff::"));
	CHECK(!has(set, "2001:db9::") && !has(set, "2001:db7:ffff::"));
	/* No mixing of families: ::ffff:10.0.0.1 is an IPv6 address. */
	CHECK(!has(set, "::ffff:10.0.0.1"));
	CHECK(apply(&set, "0.0.0.0/0 ::/0", &bad) == 0);
	CHECK(has(set, "0.0.0.0") && has(set, "255.255.255.255"));
	CHECK(has(set, "::") && has(set, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	sb_set_free(set);
}

static void edits(void)
{
	struct sb_prefix_set *set = sb_set_empty();
	u32 bad = 0;

	CHECK(apply(&set, "+10.0.0.0/8 +2001:db8::/32", &bad) == 0);
	CHECK(sb_set_count(set) == 2);
	CHECK(apply(&set, "+10.0.0.0/8", &bad) == 0);	/* present: fine */
	CHECK(sb_set_count(set) == 2);
	CHECK(apply(&set, "-10.0.0.0/8, +192.0.2.0/24", &bad) == 0);
	CHECK(!strcmp(text_of(set), "192.0.2.0/24\n2001:db8::/32\n"));
	/* Removing an absent entry fails the whole write, naming it. */
	CHECK(apply(&set, "+198.51.100.0/24 -10.0.0.0/8", &bad) == -ENOENT);
	CHECK(bad == 2);
	CHECK(sb_set_count(set) == 2 && !has(set, "198.51.100.1"));
	/* In the order written: +X -X is a no-op, -X +X needs X. */
	CHECK(apply(&set, "+198.51.100.0/24 -198.51.100.0/24", &bad) == 0);
	CHECK(sb_set_count(set) == 2);
	CHECK(apply(&set, "-198.51.100.0/24 +198.51.100.0/24", &bad) == -ENOENT);
	CHECK(bad == 1);
	CHECK(apply(&set, "-192.0.2.0/24 +192.0.2.0/24", &bad) == 0);
	CHECK(sb_set_count(set) == 2);
	CHECK(apply(&set, "-192.0.2.0/24 -192.0.2.0/24", &bad) == -ENOENT);
	CHECK(bad == 2);
	/* Of several bad tokens, the first written is named. */
	CHECK(apply(&set, "-203.0.113.0/24 -10.0.0.0/8", &bad) == -ENOENT);
	CHECK(bad == 1);
	CHECK(apply(&set, "-10.0.0.0/8 -203.0.113.0/24", &bad) == -ENOENT);
	CHECK(bad == 1);
	/* A different length is a different entry. */
	CHECK(apply(&set, "-192.0.2.0/25", &bad) == -ENOENT);
	CHECK(apply(&set, "flush", &bad) == 0);
	CHECK(sb_set_count(set) == 0 && !strcmp(text_of(set), ""));
	CHECK(apply(&set, "flush +10.0.0.0/8", &bad) == 0);
	CHECK(!strcmp(text_of(set), "10.0.0.0/8\n"));
	CHECK(apply(&set, "flush -10.0.0.0/8", &bad) == -ENOENT);
	CHECK(sb_set_count(set) == 1);
	sb_set_free(set);
}

/* Each set renders its own text. */
static void text_is_per_set(void)
{
	struct sb_prefix_set *set = sb_set_empty();
	u32 bad;

	CHECK(apply(&set, "10.0.0.0/8", &bad) == 0);
	CHECK(!strcmp(text_of(set), "10.0.0.0/8\n"));
	CHECK(apply(&set, "+11.0.0.0/8", &bad) == 0);
	CHECK(!strcmp(text_of(set), "10.0.0.0/8\n11.0.0.0/8\n"));
	sb_set_free(set);
}

static bool brute_has(const struct sb_prefix *pfx, int n,
		      const struct sb_addr *a)
{
	int i;

	for (i = 0; i < n; i++) {
		const struct sb_prefix *p = &pfx[i];

		if (p->addr.family != a->family)
			continue;
		if (a->family == SB_AF_INET) {
			if ((a->v4 & ~sb_hostmask4(p->len)) == p->addr.v4)
				return true;
		} else {
			struct sb_u128 m = sb_hostmask6(p->len);

			if ((a->v6.hi & ~m.hi) == p->addr.v6.hi &&
			    (a->v6.lo & ~m.lo) == p->addr.v6.lo)
				return true;
		}
	}
	return false;
}

/* Lookups agree with a linear scan, over random nested prefixes. */
static void lookup_matches_brute_force(void)
{
	enum { N = 300, PROBES = 20000 };
	struct sb_prefix pfx[N];
	struct sb_edit edits[N];
	struct sb_prefix_set *set;
	struct sb_addr a;
	u32 bad;
	int i, round;

	for (round = 0; round < 20; round++) {
		for (i = 0; i < N; i++) {
			struct sb_prefix *p = &pfx[i];

			memset(p, 0, sizeof(*p));
			/* A narrow address space makes overlaps common. */
			if (unit_rand() & 1) {
				p->addr.family = SB_AF_INET;
				p->len = (u8)(unit_rand() % 33);
				p->addr.v4 = ((u32)unit_rand() & 0x0f0f00ff) &
					     ~sb_hostmask4(p->len);
			} else {
				struct sb_u128 m;

				p->addr.family = SB_AF_INET6;
				p->len = (u8)(unit_rand() % 129);
				m = sb_hostmask6(p->len);
				p->addr.v6.hi = (unit_rand() & 0xf0000000000000f0ULL) & ~m.hi;
				p->addr.v6.lo = (unit_rand() & 0x0f) & ~m.lo;
			}
			edits[i].pfx = *p;
			edits[i].op = SB_EDIT_ADD;
			edits[i].pos = (u32)i + 1;
		}
		CHECK(sb_set_build(NULL, edits, N, &set, &bad) == 0);
		for (i = 0; i < PROBES; i++) {
			memset(&a, 0, sizeof(a));
			if (i & 1) {
				a.family = SB_AF_INET;
				a.v4 = (u32)unit_rand() & 0x0f0f00ff;
				if (i % 7 == 0)
					a.v4 = (u32)unit_rand();
			} else {
				a.family = SB_AF_INET6;
				a.v6.hi = unit_rand() & 0xf0000000000000f0ULL;
				a.v6.lo = unit_rand() & 0x0f;
			}
			CHECKF(sb_set_contains(set, &a) == brute_has(pfx, N, &a),
			       "round %d probe %d", round, i);
			if (unit_failures > 5)
				break;
		}
		sb_set_free(set);
	}
}

/* Random edit sequences keep the set equal to a reference model. */
static void edits_match_model(void)
{
	enum { UNIVERSE = 64 };
	bool model[UNIVERSE] = { false };
	struct sb_prefix_set *set = sb_set_empty();
	struct sb_edit e[8];
	struct sb_prefix_set *out;
	int round, i, k, n;
	u32 bad;

	for (round = 0; round < 3000; round++) {
		bool next[UNIVERSE];
		bool ok = true;

		memcpy(next, model, sizeof(next));
		n = 1 + (int)(unit_rand() % 8);
		for (i = 0; i < n; i++) {
			k = (int)(unit_rand() % UNIVERSE);
			memset(&e[i], 0, sizeof(e[i]));
			e[i].pfx.addr.family = k & 1 ? SB_AF_INET6 : SB_AF_INET;
			if (k & 1)
				e[i].pfx.addr.v6.hi = (u64)k << 48;
			else
				e[i].pfx.addr.v4 = (u32)k << 24;
			e[i].pfx.len = (u8)(k & 1 ? 16 : 8);
			e[i].op = unit_rand() % 3 ? SB_EDIT_ADD : SB_EDIT_DEL;
			e[i].pos = (u32)i + 1;
			if (e[i].op == SB_EDIT_ADD)
				next[k] = true;
			else if (!next[k])
				ok = false;
			else
				next[k] = false;
		}
		if (!ok) {
			CHECK(sb_set_build(set, e, (u32)n, &out, &bad) == -ENOENT);
			continue;
		}
		CHECK(sb_set_build(set, e, (u32)n, &out, &bad) == 0);
		sb_set_free(set);
		set = out;
		memcpy(model, next, sizeof(model));
		for (k = 0, n = 0; k < UNIVERSE; k++)
			n += model[k];
		CHECKF(sb_set_count(set) == (u32)n, "round %d", round);
		if (unit_failures)
			break;
	}
	sb_set_free(set);
}

/*
 * Large IPv4 sets go through the first-level index: every shape of list
 * (dense, spread over the whole space, one far outlier crowding the rest
 * into a single bucket, nested prefixes) must answer like a linear scan,
 * at each entry's edges and at random.
 */
static void index_matches_brute_force(void)
{
	enum { N = 2000, PROBES = 4000 };
	static struct sb_prefix pfx[N];
	static struct sb_edit edits[N];
	static const u32 masks[] = { 0x000fffff, 0xffffffff, 0x00000fff,
				     0x00ff0f0f };
	struct sb_prefix_set *set;
	struct sb_addr a = { .family = SB_AF_INET };
	u32 bad, last, probe[6];
	int shape, i, k;

	for (shape = 0; shape < 4; shape++) {
		for (i = 0; i < N; i++) {
			struct sb_prefix *p = &pfx[i];

			memset(p, 0, sizeof(*p));
			p->addr.family = SB_AF_INET;
			p->len = shape == 3 ? (u8)(8 + unit_rand() % 25) : 32;
			p->addr.v4 = (0x0a000000 | ((u32)unit_rand() & masks[shape])) &
				     ~sb_hostmask4(p->len);
			if (shape == 2 && i == N - 1)
				p->addr.v4 = 0xfffffff0;	/* the outlier */
			edits[i].pfx = *p;
			edits[i].op = SB_EDIT_ADD;
			edits[i].pos = (u32)i + 1;
		}
		CHECK(sb_set_build(NULL, edits, N, &set, &bad) == 0);
		CHECKF(set->idx4.start, "shape %d has no index", shape);
		for (i = 0; i < PROBES; i++) {
			const struct sb_prefix *p = &pfx[i % N];

			last = sb_prefix_last4(p->addr.v4, p->len);
			probe[0] = p->addr.v4 - 1;
			probe[1] = p->addr.v4;
			probe[2] = last;
			probe[3] = last + 1;
			probe[4] = 0x0a000000 | ((u32)unit_rand() & masks[shape]);
			probe[5] = (u32)unit_rand();
			for (k = 0; k < 6; k++) {
				a.v4 = probe[k];
				CHECKF(sb_set_contains(set, &a) ==
				       brute_has(pfx, N, &a),
				       "shape %d probe %08x", shape, a.v4);
			}
			if (unit_failures > 5)
				break;
		}
		sb_set_free(set);
	}
}

/* A set of @n IPv4 addresses 13 apart (like bench/lists.sh's relays). */
static struct sb_prefix_set *set_of_n4(u32 n)
{
	struct sb_edit *e = calloc(n, sizeof(*e));
	struct sb_prefix_set *set = NULL;
	u32 i, bad;

	for (i = 0; e && i < n; i++) {
		e[i].pfx.addr.family = SB_AF_INET;
		e[i].pfx.addr.v4 = 0x0b000000 + 13 * i;
		e[i].pfx.len = 32;
		e[i].op = SB_EDIT_ADD;
		e[i].pos = i + 1;
	}
	CHECK(e && sb_set_build(NULL, e, n, &set, &bad) == 0);
	free(e);
	return set;
}

static void memory_accounting(void)
{
	struct sb_prefix_set *set = sb_set_empty();
	u32 bad;

	CHECK(sb_set_bytes(set) == sizeof(*set));
	CHECK(apply(&set, "10.0.0.0/8 11.0.0.0/8 ::/0", &bad) == 0);
	CHECK(sb_set_bytes(set) == sizeof(*set) + 2 * sizeof(struct sb_entry4) +
	      sizeof(struct sb_entry6) + sizeof(u32));
	CHECK(sizeof(struct sb_entry4) <= 16 && sizeof(struct sb_entry6) <= 40);
	sb_set_free(set);

	/* With the index, still within 16 bytes an IPv4 entry. */
	set = set_of_n4(100000);
	CHECK(set->idx4.start);
	CHECK(sb_set_bytes(set) > sizeof(*set) + 100000 * sizeof(struct sb_entry4));
	CHECK(sb_set_bytes(set) <= sizeof(*set) + 100000 * 16);
	sb_set_free(set);
}

/*
 * Any range of the text, read alone, is that range of the whole text
 * made by formatting the entries one by one: at every offset, for reads
 * of a byte, of a few, and of a page, across the block boundaries.
 */
static void read_any_range(void)
{
	static const size_t counts[] = { 1, 7, 45, 4096 };
	struct sb_prefix_set *set = sb_set_empty();
	char *whole, buf[4096];
	size_t len = 0, off, got, c;
	struct sb_prefix p;
	u32 i, bad;

	CHECK(sb_set_read(set, 0, buf, sizeof(buf)) == 0);
	CHECK(apply(&set, "10.0.0.0/8 ::/0", &bad) == 0);
	for (i = 0; i < 700; i++) {
		char item[SB_PREFIX_STRLEN + 2] = "+";

		memset(&p, 0, sizeof(p));
		p.addr.family = i % 3 ? SB_AF_INET : SB_AF_INET6;
		p.len = p.addr.family == SB_AF_INET ? 32 : 128;
		p.addr.v4 = (u32)unit_rand();
		p.addr.v6.hi = unit_rand();
		p.addr.v6.lo = unit_rand() & 0xffff;
		sb_prefix_format(&p, item + 1);
		CHECK(apply(&set, item, &bad) == 0);
	}
	whole = malloc((size_t)sb_set_count(set) * (SB_PREFIX_STRLEN + 1));
	for (i = 0; i < sb_set_count(set); i++) {
		memset(&p, 0, sizeof(p));
		p.addr.family = i < set->n4 ? SB_AF_INET : SB_AF_INET6;
		if (i < set->n4) {
			p.addr.v4 = set->e4[i].first;
			p.len = set->e4[i].len;
		} else {
			p.addr.v6 = set->e6[i - set->n4].first;
			p.len = set->e6[i - set->n4].len;
		}
		len += sb_prefix_format(&p, whole + len);
		whole[len++] = '\n';
	}
	CHECK(set->text_len == len);
	for (c = 0; c < ARRAY_SIZE(counts); c++) {
		for (off = 0; off <= len; off++) {
			got = sb_set_read(set, off, buf, counts[c]);
			CHECKF(got == (len - off < counts[c] ? len - off : counts[c]) &&
			       !memcmp(buf, whole + off, got),
			       "offset %zu count %zu: %zu bytes", off, counts[c], got);
		}
	}
	CHECK(sb_set_read(set, len + 100, buf, sizeof(buf)) == 0);
	free(whole);
	sb_set_free(set);
}

UNIT_MAIN("prefix_set", T(replace_sorts_and_dedups), T(lookup_basics),
	  T(edits), T(text_is_per_set), T(lookup_matches_brute_force),
	  T(index_matches_brute_force),
	  T(edits_match_model), T(memory_accounting), T(read_any_range))
