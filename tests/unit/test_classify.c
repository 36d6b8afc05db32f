// SPDX-License-Identifier: GPL-2.0
/* Unit tests of src/classify.c: watched SYNs and the class order. */
#include "unit.h"
#include "smtpblock/classify.h"

static struct sb_prefix_set *set_of(const char *text)
{
	struct sb_list_write w;
	struct sb_parse_err err;
	struct sb_prefix_set *set;
	u32 bad;

	CHECK(sb_list_parse(text, strlen(text), &w, &err) == 0);
	CHECK(sb_set_build(NULL, w.edits, w.n, &set, &bad) == 0);
	sb_list_write_free(&w);
	return set;
}

static struct sb_pkt pkt_of(const char *src, const char *dst)
{
	struct sb_prefix s, d;
	struct sb_pkt p;

	CHECK(sb_prefix_parse(src, strlen(src), &s) == 0);
	CHECK(sb_prefix_parse(dst, strlen(dst), &d) == 0);
	memset(&p, 0, sizeof(p));
	p.src = s.addr;
	p.dst = d.addr;
	return p;
}

static void watched_syns(void)
{
	struct sb_ports ports;
	struct sb_port_map *map = calloc(1, sizeof(*map));
	struct sb_parse_err err;
	struct sb_pkt p = { .dport = 25, .tcp_flags = SB_TCP_SYN };

	CHECK(sb_ports_parse("25 2525 65535", 13, &ports, &err) == 0);
	sb_port_map_fill(map, &ports);
	CHECK(sb_port_watched(map, 25) && sb_port_watched(map, 2525));
	CHECK(sb_port_watched(map, 65535) && !sb_port_watched(map, 0));
	CHECK(!sb_port_watched(map, 587) && !sb_port_watched(map, 24));
	CHECK(sb_is_watched_syn(SB_PKT_TCP, &p, map));
	p.tcp_flags = SB_TCP_SYN | 0x01;	/* SYN+FIN */
	CHECK(sb_is_watched_syn(SB_PKT_TCP, &p, map));
	p.tcp_flags = 0xff & ~SB_TCP_ACK;	/* everything but ACK */
	CHECK(sb_is_watched_syn(SB_PKT_TCP, &p, map));
	p.tcp_flags = SB_TCP_SYN | SB_TCP_ACK;
	CHECK(!sb_is_watched_syn(SB_PKT_TCP, &p, map));
	p.tcp_flags = SB_TCP_ACK;
	CHECK(!sb_is_watched_syn(SB_PKT_TCP, &p, map));
	p.tcp_flags = 0;
	CHECK(!sb_is_watched_syn(SB_PKT_TCP, &p, map));
	p.tcp_flags = SB_TCP_SYN;
	p.dport = 587;
	CHECK(!sb_is_watched_syn(SB_PKT_TCP, &p, map));
	CHECK(sb_is_watched_syn(SB_PKT_HIDDEN, &p, map));
	CHECK(!sb_is_watched_syn(SB_PKT_OTHER, &p, map));
	free(map);
}

static void class_order(void)
{
	struct sb_prefix_set *campus = set_of("10.0.0.0/8 2001:db8::/32");
	struct sb_prefix_set *relays = set_of("10.1.1.25 198.51.100.25 "
					      "2001:db8::25 10.0.0.0/8");
	struct sb_prefix_set *none = sb_set_empty();
	struct sb_pkt p;

	p = pkt_of("198.51.100.7", "203.0.113.1");
	CHECK(sb_classify(campus, relays, &p) == SB_CLASS_EXTERNAL);
	/* Outside source, even to a relay or into campus: not ours. */
	p = pkt_of("198.51.100.25", "10.1.2.3");
	CHECK(sb_classify(campus, relays, &p) == SB_CLASS_EXTERNAL);
	p = pkt_of("10.1.2.3", "10.9.9.9");
	CHECK(sb_classify(campus, relays, &p) == SB_CLASS_INTERNAL);
	p = pkt_of("10.1.1.25", "203.0.113.1");
	CHECK(sb_classify(campus, relays, &p) == SB_CLASS_RELAY);
	p = pkt_of("10.1.2.3", "198.51.100.25");
	CHECK(sb_classify(campus, relays, &p) == SB_CLASS_RELAY);
	p = pkt_of("10.1.2.3", "203.0.113.1");
	CHECK(sb_classify(campus, none, &p) == SB_CLASS_BLOCKED);
	/* A relay entry covering the campus is still a relay entry. */
	CHECK(sb_classify(campus, relays, &p) == SB_CLASS_RELAY);
	p = pkt_of("2001:db8::25", "2001:db9::1");
	CHECK(sb_classify(campus, relays, &p) == SB_CLASS_RELAY);
	p = pkt_of("2001:db8::26", "2001:db9::1");
	CHECK(sb_classify(campus, relays, &p) == SB_CLASS_BLOCKED);
	p = pkt_of("2001:db8::26", "2001:db8:ffff::1");
	CHECK(sb_classify(campus, relays, &p) == SB_CLASS_INTERNAL);
	p = pkt_of("2001:db9::1", "2001:db8::1");
	CHECK(sb_classify(campus, relays, &p) == SB_CLASS_EXTERNAL);
	/* No campus configured: nothing is ever blocked. */
	p = pkt_of("10.1.2.3", "203.0.113.1");
	CHECK(sb_classify(none, none, &p) == SB_CLASS_EXTERNAL);
	sb_set_free(campus);
	sb_set_free(relays);
	sb_set_free(none);
}

UNIT_MAIN("classify", T(watched_syns), T(class_order))
