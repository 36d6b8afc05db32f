// SPDX-License-Identifier: GPL-2.0
/* Unit tests of src/addr.c: prefix parsing and canonical text. */
#include "unit.h"
#include "smtpblock/addr.h"

static int parse(const char *s, struct sb_prefix *p)
{
	return sb_prefix_parse(s, strlen(s), p);
}

/* Each input parses and prints as the expected canonical text. */
static void canonical_forms(void)
{
	static const char *const cases[][2] = {
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "10.0.0.0/8", "10.0.0.0/8" },
		{ "192.0.2.25", "192.0.2.25/32" },
		{ "255.255.255.255/32", "255.255.255.255/32" },
		{ "192.0.2.128/25", "192.0.2.128/25" },
		{ "::", "::/128" },
		{ "::/0", "::/0" },
		{ "::1", "::1/128" },
		{ "1::", "1::/128" },
		{ "2001:db8::/32", "2001:db8::/32" },
		{ "2001:DB8::25", "2001:db8::25/128" },
		{ "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1/128" },
		{ "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1/128" },
		{ "1:0:0:2:0:0:0:3", "1:0:0:2::3/128" },
		{ "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1/128" },
		{ "2001:db8::1:0:0:0:1", "2001:db8:0:1::1/128" },
		{ "::ffff:192.0.2.1", "::ffff:192.0.2.1/128" },
		{ "::ffff:c000:201", "::ffff:192.0.2.1/128" },
		{ "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304/128" },
		{ "::1.2.3.4", "::102:304/128" },
		{ "fe80::/10", "fe80::/10" },
		{ "2001:db8:1:2::/64", "2001:db8:1:2::/64" },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128" },
		{ "0:0:0:0:0:0:0:0/0", "::/0" },
		{ "1:0::/16", "1::/16" },
	};
	char buf[SB_PREFIX_STRLEN];
	struct sb_prefix p;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECKF(parse(cases[i][0], &p) == 0, "%s", cases[i][0]);
		sb_prefix_format(&p, buf);
		CHECKF(!strcmp(buf, cases[i][1]), "%s -> %s, want %s",
		       cases[i][0], buf, cases[i][1]);
	}
}

static void rejects_malformed(void)
{
	static const char *const bad[] = {
		"", "/", "/8", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.256",
		"01.2.3.4", "1.2.3.04", "1.2.3.4/33", "1.2.3.4/", "1.2.3.4/08",
		"10.1.2.3/8", "192.0.2.1/24", " 1.2.3.4", "1.2.3.4 ", "1..2.3",
		"a.b.c.d", "1.2.3.4/-1", "1.2.3.4/+8", "-1.2.3.4", "+1.2.3.4",
		"1.2.3.4//8", "1.2.3.4/8/8", ".1.2.3", "1.2.3.", "1.2.3.4/4294967328",
		"1.2.3.4/99999999999", "4294967295", "0x1.2.3.4", "1.2.3.4\n",
		":::", "1:::2", "1::2::3", ":1::", "1::2:", ":", "1:2:3:4:5:6:7:8:9",
		"1:2:3:4:5:6:7", "1:2:3:4:5:6:7::8", "::1:2:3:4:5:6:7:8",
		"12345::", "g::", "::1.2.3", "1.2.3.4::", "::1.2.3.4:5",
		"fe80::1%eth0", "2001:db8::/129", "2001:db8::1/64", "::/",
		"[::1]", "::1/0128", "2001:db8::/32 ", "::ffff:256.1.1.1",
		"1:2:3:4:5:6:7:1.2.3.4", "::-1", "1:-2::", "::1.2.3.04",
		"2001:db8:4000::/33", "ffff::/1",
	};
	struct sb_prefix p;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECKF(parse(bad[i], &p) == -EINVAL, "'%s' accepted", bad[i]);
}

/* The parser must not read past @len: the input is not NUL-terminated. */
static void respects_length(void)
{
	struct sb_prefix p;

	CHECK(sb_prefix_parse("10.0.0.0/8junk", 10, &p) == 0);
	CHECK(p.len == 8 && p.addr.v4 == 0x0a000000);
	CHECK(sb_prefix_parse("2001:db8::1", 10, &p) == 0);
	CHECK(sb_prefix_parse("2001:db8::1", 9, &p) == -EINVAL);
	CHECK(sb_prefix_parse("2001:db8::1", 10, &p) == 0 && p.len == 128);
	CHECK(p.addr.v6.hi == 0x20010db800000000ULL && p.addr.v6.lo == 0);
	CHECK(sb_prefix_parse("1.2.3.4", 0, &p) == -EINVAL);
}

static void random_prefix(struct sb_prefix *p)
{
	u64 r = unit_rand();

	memset(p, 0, sizeof(*p));
	if (r & 1) {
		p->addr.family = SB_AF_INET;
		p->len = (u8)(unit_rand() % 33);
		p->addr.v4 = (u32)unit_rand() & ~sb_hostmask4(p->len);
	} else {
		struct sb_u128 m;

		p->addr.family = SB_AF_INET6;
		p->len = (u8)(unit_rand() % 129);
		m = sb_hostmask6(p->len);
		/* Many zero groups, so "::" placement is exercised. */
		p->addr.v6.hi = unit_rand() & unit_rand() & unit_rand() & ~m.hi;
		p->addr.v6.lo = unit_rand() & unit_rand() & unit_rand() & ~m.lo;
	}
}

static void random_round_trip(void)
{
	char buf[SB_PREFIX_STRLEN];
	struct sb_prefix p, q;
	int i;

	for (i = 0; i < 100000; i++) {
		random_prefix(&p);
		CHECKF(sb_prefix_format(&p, buf) < SB_PREFIX_STRLEN, "%s", buf);
		CHECKF(parse(buf, &q) == 0 && sb_prefix_cmp(&p, &q) == 0,
		       "%s", buf);
		if (unit_failures > 10)
			return;
	}
}

static void ordering(void)
{
	struct sb_prefix a, b;

	parse("255.255.255.255", &a);
	parse("::", &b);
	CHECK(sb_prefix_cmp(&a, &b) < 0);
	parse("10.0.0.0/8", &a);
	parse("10.0.0.0/16", &b);
	CHECK(sb_prefix_cmp(&a, &b) < 0);
	CHECK(sb_prefix_cmp(&b, &a) > 0);
	CHECK(sb_prefix_cmp(&a, &a) == 0);
	parse("2001:db8::/32", &a);
	parse("2001:db8::1", &b);
	CHECK(sb_prefix_cmp(&a, &b) < 0);
}

static void masks(void)
{
	struct sb_u128 m = sb_hostmask6(0);

	CHECK(sb_hostmask4(0) == ~0U && sb_hostmask4(32) == 0);
	CHECK(sb_hostmask4(8) == 0x00ffffff);
	CHECK(m.hi == ~0ULL && m.lo == ~0ULL);
	m = sb_hostmask6(64);
	CHECK(m.hi == 0 && m.lo == ~0ULL);
	m = sb_hostmask6(65);
	CHECK(m.hi == 0 && m.lo == ~0ULL >> 1);
	m = sb_hostmask6(128);
	CHECK(m.hi == 0 && m.lo == 0);
	m = sb_hostmask6(1);
	CHECK(m.hi == ~0ULL >> 1 && m.lo == ~0ULL);
}

UNIT_MAIN("addr", T(canonical_forms), T(rejects_malformed), T(respects_length),
	  T(random_round_trip), T(ordering), T(masks))
