// SPDX-License-Identifier: GPL-2.0
/* Unit tests of src/exemption.c and src/utc.c: grants, tables, lookup. */
#include "unit.h"
#include "smtpblock/exemption.h"

/* 2026-12-01T00:00:00Z */
#define NOW 1796083200LL

static void utc_both_ways(void)
{
	static const char *const bad[] = {
		"2026-12-31T17:00:00", "2026-12-31 17:00:00Z", "2026-13-01T00:00:00Z",
		"2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-12-31T24:00:00Z",
		"2026-12-31T23:60:00Z", "2026-12-31T23:59:60Z", "1969-12-31T23:59:59Z",
		"2026-12-31T17:00:00+01:00", "2026-1-31T17:00:00Z", "2026-12-31T17:00:00.5Z",
		"+026-12-31T17:00:00Z",
	};
	char buf[SB_UTC_STRLEN];
	s64 t;
	size_t i;

	CHECK(sb_parse_utc("2026-12-01T00:00:00Z", 20, &t) == 0 && t == NOW);
	CHECK(sb_parse_utc("1970-01-01T00:00:00Z", 20, &t) == 0 && t == 0);
	CHECK(sb_parse_utc("2028-02-29T23:59:59Z", 20, &t) == 0);
	CHECK(sb_parse_utc("2000-02-29T12:00:00Z", 20, &t) == 0);
	CHECK(sb_parse_utc("2100-02-29T12:00:00Z", 20, &t) == -EINVAL);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		CHECKF(sb_parse_utc(bad[i], strlen(bad[i]), &t) == -EINVAL, "%s", bad[i]);
	/* every day of 1970..2400 and back */
	for (t = 0; t < 13569465600LL; t += 86400 + 3661) {
		s64 back;

		sb_format_utc(t, buf);
		CHECKF(sb_parse_utc(buf, strlen(buf), &back) == 0 && back == t,
		       "%s", buf);
		if (back != t)
			break;
	}
}

static int parse(const char *text, struct sb_exempt_write *w,
		 struct sb_exempt_err *err)
{
	return sb_exempt_parse_write(text, strlen(text), NOW, w, err);
}

static void lines_parse(void)
{
	struct sb_exempt_write w;
	struct sb_exempt_err err;

	CHECK(parse("+10.1.2.3/32 until=2026-12-31T17:00:00Z note=INC-4711\n", &w, &err) == 0);
	CHECK(w.n == 1 && !w.flush && w.ops[0].kind == SB_EXEMPT_ADD);
	CHECK(w.ops[0].until == NOW + 30 * 86400 + 17 * 3600);
	CHECK(!strcmp(w.ops[0].note, "INC-4711") && w.ops[0].pfx.len == 32);
	sb_exempt_write_free(&w);
	CHECK(parse("flush\n  +2001:db8::/48   note=a.b_c:d/e@f#g+h-i for=60 \n\n-192.0.2.0/24\n",
		    &w, &err) == 0);
	CHECK(w.flush && w.n == 2 && w.ops[0].until == NOW + 60);
	CHECK(!strcmp(w.ops[0].note, "a.b_c:d/e@f#g+h-i") && w.ops[0].line == 2);
	CHECK(w.ops[1].kind == SB_EXEMPT_DEL && w.ops[1].line == 4);
	sb_exempt_write_free(&w);
	CHECK(parse("+10.0.0.1 for=31622400", &w, &err) == 0);
	sb_exempt_write_free(&w);
	CHECK(parse("+10.0.0.1 until=2027-12-02T00:00:00Z", &w, &err) == 0);
	sb_exempt_write_free(&w);
}

/* Every refusal names its line, and says why. */
static void lines_refused(void)
{
	static const char *const bad[] = {
		"+10.1.2.3/8 for=60",			/* host bits */
		"+10.1.2 for=60",
		"+10.1.2.3 until=2026-12-31T17:00:00Z for=60",
		"+10.1.2.3",
		"+10.1.2.3 note=x",
		"+10.1.2.3 until=2026-11-30T23:59:59Z",
		"+10.1.2.3 until=2026-12-01T00:00:00Z",
		"+10.1.2.3 until=2027-12-02T00:00:01Z",
		"+10.1.2.3 until=2026-12-31T17:00:00",
		"+10.1.2.3 for=0",
		"+10.1.2.3 for=31622401",
		"+10.1.2.3 for=060",
		"+10.1.2.3 for=-1",
		"+10.1.2.3 for=60 note=",
		"+10.1.2.3 for=60 note=a=b",
		"+10.1.2.3 for=60 note=a,b",
		"+10.1.2.3 for=60 note=" "12345678901234567890123456789012345678901234567890123456789012345",
		"+10.1.2.3 for=60 note=a note=b",
		"+10.1.2.3 for=60 ttl=5",
		"+10.1.2.3 for=60 for=70",
		"-10.1.2.3 for=60",
		"10.1.2.3 for=60",
		"+10.1.2.3 for=60\nflush",
		"flush flush",
	};
	struct sb_exempt_write w;
	struct sb_exempt_err err;
	char text[256];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(text, sizeof(text), "+192.0.2.1 for=5\n%s\n", bad[i]);
		CHECKF(parse(text, &w, &err) == -EINVAL && err.why &&
		       err.line >= 2 && !w.ops, "%s: line %u", bad[i], err.line);
	}
	CHECK(parse("+10.1.2.3 for=60 note=" "1234567890123456789012345678901234567890123456789012345678901234",
		    &w, &err) == 0);
	sb_exempt_write_free(&w);
	CHECK(parse("\n  \n", &w, &err) == -EINVAL && err.line == 0);
	CHECK(parse("flush\n", &w, &err) == 0 && w.flush && w.n == 0);
	sb_exempt_write_free(&w);
}

/* Applies @text to *@t; returns the errno. */
static int apply(struct sb_exempt_table **t, const char *text, u32 max)
{
	struct sb_exempt_write w;
	struct sb_exempt_err err;
	struct sb_exempt_table *out;
	u32 bad = 0;
	int ret = parse(text, &w, &err);

	if (ret)
		return ret;
	ret = sb_exempt_build(*t, w.flush, &w.ops, w.n, max, &out, &bad);
	sb_exempt_write_free(&w);
	if (!ret) {
		sb_exempt_table_free(*t);
		*t = out;
	}
	return ret;
}

static const struct sb_exemption *find(const struct sb_exempt_table *t,
				       const char *addr)
{
	struct sb_prefix p;

	if (sb_prefix_parse(addr, strlen(addr), &p))
		return NULL;
	return sb_exempt_find(t, &p.addr, NOW);
}

static const char *line_of(const struct sb_exempt_table *t, u32 i)
{
	static char buf[SB_EXEMPT_LINE_MAX];

	sb_exempt_format(&t->e[t->by_expiry[i]], buf);
	return buf;
}

static void table_changes(void)
{
	struct sb_exempt_table *t = NULL;
	const struct sb_exemption *e;
	struct sb_hits *h;

	CHECK(apply(&t, "+10.1.2.3 until=2026-12-31T17:00:00Z note=INC-4711\n"
		    "+2001:db8::/48 for=3600", 10) == 0);
	CHECK(t->n == 2 && t->n4 == 1);
	e = find(t, "10.1.2.3");
	CHECK(e && !strcmp(e->note, "INC-4711"));
	h = e->hits;
	sb_hits_inc(h);
	sb_hits_inc(h);
	/* Sorted by expiry: the IPv6 one ends first. */
	CHECK(!strcmp(line_of(t, 0), "2001:db8::/48 until=2026-12-01T01:00:00Z hits=0"));
	CHECK(!strcmp(line_of(t, 1), "10.1.2.3/32 until=2026-12-31T17:00:00Z hits=2 note=INC-4711"));
	/* A new grant of the same prefix: new expiry and note, same hits. */
	CHECK(apply(&t, "+10.1.2.3 for=60", 10) == 0);
	e = find(t, "10.1.2.3");
	CHECK(e && e->hits == h && sb_hits_read(h) == 2 && !e->note[0] &&
	      e->until == NOW + 60);
	CHECK(!strcmp(line_of(t, 0), "10.1.2.3/32 until=2026-12-01T00:01:00Z hits=2"));
	/* Other changes keep it; a failed write changes nothing. */
	CHECK(apply(&t, "+10.9.0.0/16 for=60\n-2001:db8::/48", 10) == 0);
	CHECK(t->n == 2 && find(t, "10.1.2.3")->hits == h);
	CHECK(apply(&t, "+10.8.0.0/16 for=60\n-2001:db8::/48", 10) == -ENOENT);
	CHECK(t->n == 2 && !find(t, "10.8.0.1"));
	/* In the order written: add then remove is nothing, remove then add is an add. */
	CHECK(apply(&t, "+10.7.0.0/16 for=60\n-10.7.0.0/16", 10) == 0 && t->n == 2);
	CHECK(apply(&t, "-10.9.0.0/16\n+10.9.0.0/16 for=99", 10) == 0 &&
	      find(t, "10.9.1.1")->until == NOW + 99);
	/* A flush that grants again keeps the hits of what it grants again. */
	CHECK(apply(&t, "flush\n+10.1.2.3 for=5", 10) == 0);
	CHECK(t->n == 1 && find(t, "10.1.2.3")->hits == h && sb_hits_read(h) == 2);
	CHECK(apply(&t, "flush\n-10.1.2.3", 10) == -ENOENT);
	/* The limit. */
	CHECK(apply(&t, "+10.2.0.1 for=5\n+10.2.0.2 for=5", 2) == -ENOSPC && t->n == 1);
	CHECK(apply(&t, "+10.2.0.1 for=5\n-10.1.2.3\n+10.2.0.2 for=5", 2) == 0 && t->n == 2);
	/* Over a lowered limit: removals and renewals still work, growth not. */
	CHECK(apply(&t, "+10.2.0.1 for=9\n-10.2.0.2", 1) == 0 && t->n == 1);
	CHECK(apply(&t, "+10.2.0.2 for=5", 2) == 0 && t->n == 2);
	CHECK(apply(&t, "+10.2.0.3 for=5", 1) == -ENOSPC && t->n == 2);
	CHECK(apply(&t, "-10.2.0.1\n+10.2.0.3 for=5", 1) == 0 && t->n == 2);
	CHECK(apply(&t, "flush\n+10.2.0.1 for=5\n+10.2.0.2 for=5", 1) == 0);
	CHECK(apply(&t, "flush\n+10.2.0.1 for=5\n+10.2.0.2 for=5\n+10.2.0.3 for=5", 1) == -ENOSPC);
	CHECK(apply(&t, "flush", 2) == 0 && t->n == 0);
	sb_exempt_table_free(t);
}

/* The most specific exemption holding an address, against brute force. */
static void lookup_most_specific(void)
{
	struct sb_exempt_table *t = NULL;
	char text[4096];
	size_t off = 0;
	u32 i, k, j;

	CHECK(apply(&t, "+10.0.0.0/8 for=1 note=a\n+10.1.0.0/16 for=2 note=b\n"
		    "+10.1.2.3 for=3 note=c\n+10.1.3.0/24 for=4 note=d\n"
		    "+10.200.0.0/16 for=5 note=e\n+0.0.0.0/0 for=6 note=f\n"
		    "+2001:db8::/32 for=7 note=g\n+2001:db8:0:1::/64 for=8 note=h", 100) == 0);
	CHECK(!strcmp(find(t, "10.1.2.3")->note, "c"));
	CHECK(!strcmp(find(t, "10.1.2.4")->note, "b"));
	CHECK(!strcmp(find(t, "10.1.3.200")->note, "d"));
	CHECK(!strcmp(find(t, "10.1.4.0")->note, "b"));
	CHECK(!strcmp(find(t, "10.2.0.0")->note, "a"));
	CHECK(!strcmp(find(t, "10.200.9.9")->note, "e"));
	CHECK(!strcmp(find(t, "11.0.0.0")->note, "f"));
	CHECK(!strcmp(find(t, "9.255.255.255")->note, "f"));
	CHECK(!strcmp(find(t, "2001:db8:0:1::5")->note, "h"));
	CHECK(!strcmp(find(t, "2001:db8:0:2::5")->note, "g"));
	CHECK(!find(t, "2001:db9::1") && !find(t, "::1"));
	/* An expired one not yet removed gives way to the one around it. */
	{
		struct sb_prefix p;

		CHECK(!sb_prefix_parse("10.1.2.3", 8, &p));
		CHECK(!strcmp(sb_exempt_find(t, &p.addr, NOW + 2)->note, "c"));
		/* c, then b and a around it, have expired: f, around them all */
		CHECK(!strcmp(sb_exempt_find(t, &p.addr, NOW + 3)->note, "f"));
		CHECK(!sb_exempt_find(t, &p.addr, NOW + 6));
	}
	sb_exempt_table_free(t);

	/* Random nested prefixes in 10.0.0.0/16. */
	for (k = 0; k < 20; k++) {
		struct sb_prefix pf[60];

		t = NULL;
		off = 0;
		for (i = 0; i < 60; i++) {
			pf[i].addr.family = SB_AF_INET;
			pf[i].len = (u8)(16 + unit_rand() % 17);
			pf[i].addr.v4 = (0x0a000000 | ((u32)unit_rand() & 0xffff)) &
					~sb_hostmask4(pf[i].len);
			off += (size_t)snprintf(text + off, sizeof(text) - off, "+");
			off += sb_prefix_format(&pf[i], text + off);
			off += (size_t)snprintf(text + off, sizeof(text) - off,
						" for=%u\n", i + 1);
		}
		CHECK(apply(&t, text, 100) == 0);
		for (j = 0; j < 3000; j++) {
			struct sb_addr a = { .family = SB_AF_INET,
					     .v4 = 0x0a000000 | ((u32)unit_rand() & 0xffff) };
			const struct sb_exemption *got = sb_exempt_find(t, &a, NOW);
			int best = -1;

			for (i = 0; i < 60; i++) {
				if ((a.v4 & ~sb_hostmask4(pf[i].len)) == pf[i].addr.v4 &&
				    (best < 0 || pf[i].len > pf[best].len))
					best = (int)i;
			}
			CHECKF(best < 0 ? !got : got && got->pfx.len == pf[best].len &&
			       got->pfx.addr.v4 == pf[best].addr.v4, "round %u", k);
		}
		sb_exempt_table_free(t);
	}
}

UNIT_MAIN("exemption", T(utc_both_ways), T(lines_parse), T(lines_refused),
	  T(table_changes), T(lookup_most_specific))
