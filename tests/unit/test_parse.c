// SPDX-License-Identifier: GPL-2.0
/* Unit tests of src/parse.c: items, list writes, ports, modes, switches. */
#include "unit.h"
#include "smtpblock/parse.h"

static int count(const char *s, u32 *bad_pos)
{
	struct sb_tokenizer t;
	struct sb_token tok;
	struct sb_parse_err err;
	int n = 0, ret;

	sb_tokenizer_init(&t, s, strlen(s));
	while ((ret = sb_token_next(&t, &tok, &err)) > 0)
		n++;
	if (ret) {
		*bad_pos = err.pos;
		return ret;
	}
	return n;
}

static void items(void)
{
	u32 bad = 0;

	CHECK(count("", &bad) == 0);
	CHECK(count(" \n\t", &bad) == 0);
	CHECK(count("a", &bad) == 1);
	CHECK(count("a\n", &bad) == 1);
	CHECK(count("a,b c\td\ne", &bad) == 5);
	CHECK(count("a , b ,c", &bad) == 3);
	CHECK(count(" a  b ", &bad) == 2);
	CHECK(count("a,,b", &bad) == -EINVAL && bad == 2);
	CHECK(count("a, ,b", &bad) == -EINVAL && bad == 2);
	CHECK(count(",a", &bad) == -EINVAL && bad == 1);
	CHECK(count("a,", &bad) == -EINVAL && bad == 2);
	CHECK(count("a,\n", &bad) == -EINVAL && bad == 2);
	CHECK(count(",", &bad) == -EINVAL && bad == 1);
	CHECK(count("a b,,", &bad) == -EINVAL && bad == 3);
}

static int list(const char *s, struct sb_list_write *w, u32 *bad)
{
	struct sb_parse_err err;
	int ret = sb_list_parse(s, strlen(s), w, &err);

	if (ret)
		*bad = err.pos;
	return ret;
}

static void list_writes(void)
{
	struct sb_list_write w;
	u32 bad = 99;

	CHECK(list("", &w, &bad) == -EINVAL && bad == 0);
	CHECK(list("\n", &w, &bad) == -EINVAL && bad == 0);
	CHECK(list("10.0.0.0/8 2001:db8::/32\n", &w, &bad) == 0);
	CHECK(w.replace && !w.flush && w.n == 2);
	sb_list_write_free(&w);
	CHECK(list("+10.0.0.0/8,-2001:db8::/32", &w, &bad) == 0);
	CHECK(!w.replace && !w.flush && w.n == 2 && w.edits[1].op == SB_EDIT_DEL);
	CHECK(w.edits[0].pos == 1 && w.edits[1].pos == 2);
	sb_list_write_free(&w);
	CHECK(list("flush", &w, &bad) == 0 && w.replace && w.flush && w.n == 0);
	sb_list_write_free(&w);
	CHECK(list("flush +10.0.0.0/8", &w, &bad) == 0 && w.replace && w.flush &&
	      w.n == 1);
	sb_list_write_free(&w);
	/* Mixed kinds, misplaced flush, bad prefixes: named by position. */
	CHECK(list("10.0.0.0/8 +11.0.0.0/8", &w, &bad) == -EINVAL && bad == 2);
	CHECK(list("+10.0.0.0/8 11.0.0.0/8", &w, &bad) == -EINVAL && bad == 2);
	CHECK(list("flush 10.0.0.0/8", &w, &bad) == -EINVAL && bad == 2);
	CHECK(list("+10.0.0.0/8 flush", &w, &bad) == -EINVAL && bad == 2);
	CHECK(list("10.0.0.0/8 flush", &w, &bad) == -EINVAL && bad == 2);
	CHECK(list("flush flush", &w, &bad) == -EINVAL && bad == 2);
	CHECK(list("10.0.0.0/8 10.1.2.3/8", &w, &bad) == -EINVAL && bad == 2);
	CHECK(list("+", &w, &bad) == -EINVAL && bad == 1);
	CHECK(list("-", &w, &bad) == -EINVAL && bad == 1);
	CHECK(list("++10.0.0.0/8", &w, &bad) == -EINVAL && bad == 1);
	CHECK(list("+-10.0.0.0/8", &w, &bad) == -EINVAL && bad == 1);
	CHECK(list("FLUSH", &w, &bad) == -EINVAL && bad == 1);
	CHECK(list("10.0.0.0/8,,11.0.0.0/8", &w, &bad) == -EINVAL && bad == 2);
	CHECK(list("10.0.0.0/8 bogus", &w, &bad) == -EINVAL && bad == 2);
}

static int ports(const char *s, struct sb_ports *p, u32 *bad)
{
	struct sb_parse_err err;
	int ret = sb_ports_parse(s, strlen(s), p, &err);

	if (ret)
		*bad = err.pos;
	return ret;
}

static void port_sets(void)
{
	struct sb_ports p;
	u32 bad = 99;

	CHECK(ports("25\n", &p, &bad) == 0 && p.n == 1 && p.port[0] == 25);
	CHECK(ports("587 25,25 465", &p, &bad) == 0 && p.n == 3);
	CHECK(p.port[0] == 25 && p.port[1] == 465 && p.port[2] == 587);
	CHECK(ports("1 65535", &p, &bad) == 0 && p.n == 2);
	CHECK(ports("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", &p, &bad) == 0);
	CHECK(p.n == 16);
	CHECK(ports("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", &p, &bad) ==
	      -EINVAL && bad == 17);
	CHECK(ports("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 16 1", &p, &bad) == 0);
	CHECK(ports("", &p, &bad) == -EINVAL && bad == 0);
	CHECK(ports("0", &p, &bad) == -EINVAL && bad == 1);
	CHECK(ports("25 65536", &p, &bad) == -EINVAL && bad == 2);
	CHECK(ports("025", &p, &bad) == -EINVAL);
	CHECK(ports("-25", &p, &bad) == -EINVAL);
	CHECK(ports("+25", &p, &bad) == -EINVAL);
	CHECK(ports("25,,587", &p, &bad) == -EINVAL && bad == 2);
	CHECK(ports("smtp", &p, &bad) == -EINVAL);
	CHECK(ports("999999", &p, &bad) == -EINVAL);
	CHECK(ports("25x", &p, &bad) == -EINVAL);
}

static void modes_and_switches(void)
{
	struct sb_parse_err err;
	enum sb_mode m;
	bool b;

	CHECK(sb_mode_parse("drop\n", 5, &m, &err) == 0 && m == SB_MODE_DROP);
	CHECK(sb_mode_parse("reject", 6, &m, &err) == 0 && m == SB_MODE_REJECT);
	CHECK(sb_mode_parse("monitor", 7, &m, &err) == 0 && m == SB_MODE_MONITOR);
	CHECK(sb_mode_parse("DROP", 4, &m, &err) == -EINVAL);
	CHECK(sb_mode_parse("dro", 3, &m, &err) == -EINVAL);
	CHECK(sb_mode_parse("drop reject", 11, &m, &err) == -EINVAL);
	CHECK(err.pos == 2);
	CHECK(sb_mode_parse("", 0, &m, &err) == -EINVAL);
	CHECK(!strcmp(sb_mode_name(SB_MODE_MONITOR), "monitor"));
	CHECK(sb_bool_parse("1\n", 2, &b, &err) == 0 && b);
	CHECK(sb_bool_parse("0", 1, &b, &err) == 0 && !b);
	CHECK(sb_bool_parse("2", 1, &b, &err) == -EINVAL);
	CHECK(sb_bool_parse("yes", 3, &b, &err) == -EINVAL);
	CHECK(sb_bool_parse("01", 2, &b, &err) == -EINVAL);
	CHECK(sb_bool_parse("1 1", 3, &b, &err) == -EINVAL);
	CHECK(sb_bool_parse("", 0, &b, &err) == -EINVAL);
}

static void numbers(void)
{
	struct sb_parse_err err;
	u32 v = 0;

	CHECK(sb_u32_parse("3600\n", 5, 0, 604800, &v, &err) == 0 && v == 3600);
	CHECK(sb_u32_parse("0", 1, 0, 10, &v, &err) == 0 && v == 0);
	CHECK(sb_u32_parse("10", 2, 0, 10, &v, &err) == 0 && v == 10);
	CHECK(sb_u32_parse("11", 2, 0, 10, &v, &err) == -EINVAL && v == 10);
	CHECK(err.pos == 1 && err.tok_len == 2);
	CHECK(sb_u32_parse("0", 1, 1, 10, &v, &err) == -EINVAL);
	CHECK(sb_u32_parse("4294967295", 10, 0, 0xffffffff, &v, &err) == 0);
	CHECK(v == 0xffffffff);
	CHECK(sb_u32_parse("4294967296", 10, 0, 0xffffffff, &v, &err) == -EINVAL);
	CHECK(sb_u32_parse("99999999999", 11, 0, 0xffffffff, &v, &err) == -EINVAL);
	CHECK(sb_u32_parse("", 0, 0, 10, &v, &err) == -EINVAL && err.pos == 0);
	CHECK(sb_u32_parse("01", 2, 0, 10, &v, &err) == -EINVAL);
	CHECK(sb_u32_parse("-1", 2, 0, 10, &v, &err) == -EINVAL);
	CHECK(sb_u32_parse("+1", 2, 0, 10, &v, &err) == -EINVAL);
	CHECK(sb_u32_parse("1 2", 3, 0, 10, &v, &err) == -EINVAL && err.pos == 2);
	CHECK(sb_u32_parse("1x", 2, 0, 10, &v, &err) == -EINVAL);
	CHECK(sb_u32_parse("0x10", 4, 0, 100, &v, &err) == -EINVAL);
}

UNIT_MAIN("parse", T(numbers), T(items), T(list_writes), T(port_sets),
	  T(modes_and_switches))
