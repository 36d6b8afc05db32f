// SPDX-License-Identifier: GPL-2.0
/* Unit tests of src/packet.c on hand-built IPv4 and IPv6 packets. */
#include "unit.h"
#include "smtpblock/packet.h"

static u8 pkt[2048];

static enum sb_pkt_kind parse4(u32 len, struct sb_pkt *p)
{
	struct sb_pkt_src src = { pkt, len };

	memset(p, 0, sizeof(*p));
	return sb_pkt_parse4(&src, p);
}

static enum sb_pkt_kind parse6(u32 len, struct sb_pkt *p)
{
	struct sb_pkt_src src = { pkt, len };

	memset(p, 0, sizeof(*p));
	return sb_pkt_parse6(&src, p);
}

/* SB_PKT_HIDDEN, and for that reason (stats/hidden_<reason>). */
#define HIDDEN(call, why) CHECK((call) == SB_PKT_HIDDEN && p.hidden == (why))

static void put_tcp(u8 *th, u16 dport, u8 flags)
{
	memset(th, 0, 20);
	th[0] = 0x9c;
	th[1] = 0x40;
	th[2] = (u8)(dport >> 8);
	th[3] = (u8)dport;
	th[12] = 5 << 4;
	th[13] = flags;
}

/* IPv4 header with @ihl words, fragment field @frag, then TCP; returns len. */
static u32 build4(u32 ihl, u16 frag, u8 proto, u16 dport, u8 flags)
{
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = (u8)(0x40 | ihl);
	pkt[6] = (u8)(frag >> 8);
	pkt[7] = (u8)frag;
	pkt[8] = 64;
	pkt[9] = proto;
	memcpy(pkt + 12, "\x0a\x01\x02\x03", 4);
	memcpy(pkt + 16, "\xc6\x33\x64\x07", 4);
	if (ihl > 5)
		memset(pkt + 20, 1, (ihl - 5) * 4);	/* NOP options */
	put_tcp(pkt + ihl * 4, dport, flags);
	return ihl * 4 + 20;
}

static void ipv4(void)
{
	struct sb_pkt p;
	u32 len;

	len = build4(5, 0, 6, 25, SB_TCP_SYN);
	CHECK(parse4(len, &p) == SB_PKT_TCP);
	CHECK(p.dport == 25 && p.tcp_flags == SB_TCP_SYN);
	CHECK(p.src.family == SB_AF_INET && p.src.v4 == 0x0a010203);
	CHECK(p.dst.v4 == 0xc6336407);
	/* Options move the TCP header; the port must be read behind them. */
	len = build4(15, 0, 6, 25, SB_TCP_SYN);
	CHECK(parse4(len, &p) == SB_PKT_TCP && p.dport == 25);
	len = build4(8, 0, 6, 587, SB_TCP_SYN | SB_TCP_ACK);
	CHECK(parse4(len, &p) == SB_PKT_TCP && p.dport == 587);
	CHECK(p.tcp_flags == (SB_TCP_SYN | SB_TCP_ACK));
	len = build4(5, 0, 17, 25, 0);
	CHECK(parse4(len, &p) == SB_PKT_OTHER);
	/* DF set, not a fragment. */
	len = build4(5, 0x4000, 6, 25, SB_TCP_SYN);
	CHECK(parse4(len, &p) == SB_PKT_TCP);
	/* Too short for an IPv4 header at all. */
	CHECK(parse4(19, &p) == SB_PKT_OTHER);
}

static void ipv4_evasion(void)
{
	struct sb_pkt p;
	u32 len;

	/* First fragment (MF) with the whole header: read normally. */
	len = build4(5, 0x2000, 6, 25, SB_TCP_SYN);
	CHECK(parse4(len, &p) == SB_PKT_TCP && p.dport == 25);
	/* First fragment cut before the flags, or before the ports. */
	HIDDEN(parse4(20 + 13, &p), SB_HIDDEN_CUT_BEFORE_FLAGS);
	HIDDEN(parse4(20 + 8, &p), SB_HIDDEN_CUT_BEFORE_FLAGS);
	HIDDEN(parse4(20 + 2, &p), SB_HIDDEN_CUT_BEFORE_FLAGS);
	HIDDEN(parse4(20, &p), SB_HIDDEN_CUT_BEFORE_FLAGS);
	CHECK(parse4(20 + 14, &p) == SB_PKT_TCP);
	/* Offset 8 overwrites the flags on reassembly. */
	len = build4(5, 0x0001, 6, 80, 0);
	HIDDEN(parse4(len, &p), SB_HIDDEN_OFFSET_8);
	CHECK(p.src.v4 == 0x0a010203);	/* still classifiable */
	len = build4(5, 0x2001, 6, 80, 0);
	HIDDEN(parse4(len, &p), SB_HIDDEN_OFFSET_8);
	/* Offset 16 and beyond cannot touch ports or flags. */
	len = build4(5, 0x0002, 6, 25, SB_TCP_SYN);
	CHECK(parse4(len, &p) == SB_PKT_OTHER);
	len = build4(5, 0x1fff, 6, 25, SB_TCP_SYN);
	CHECK(parse4(len, &p) == SB_PKT_OTHER);
	/* Header length below the minimum, options running past the end. */
	len = build4(5, 0, 6, 25, SB_TCP_SYN);
	pkt[0] = 0x44;
	HIDDEN(parse4(len, &p), SB_HIDDEN_IPV4_HEADER_SHORT);
	pkt[0] = 0x40;
	HIDDEN(parse4(len, &p), SB_HIDDEN_IPV4_HEADER_SHORT);
	len = build4(15, 0, 6, 25, SB_TCP_SYN);
	HIDDEN(parse4(60 + 10, &p), SB_HIDDEN_CUT_BEFORE_FLAGS);
	HIDDEN(parse4(50, &p), SB_HIDDEN_CUT_BEFORE_FLAGS);
}

/* IPv6 header, then @next headers laid out by the caller from byte 40. */
static void build6_header(u8 nexthdr)
{
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x60;
	pkt[6] = nexthdr;
	pkt[7] = 64;
	memcpy(pkt + 8, "\x20\x01\x0d\xb8\x00\x01\x00\x02", 8);
	pkt[23] = 0x05;
	memcpy(pkt + 24, "\x20\x01\x0d\xb9", 4);
	pkt[39] = 0x25;
}

/* An extension header of @bytes at @off; returns the offset after it. */
static u32 put_ext(u32 off, u8 type, u8 next, u32 bytes)
{
	pkt[off] = next;
	if (type == 51)
		pkt[off + 1] = (u8)(bytes / 4 - 2);
	else if (type != 44)
		pkt[off + 1] = (u8)(bytes / 8 - 1);
	return off + bytes;
}

static void put_frag(u32 off, u8 next, u16 units, bool more)
{
	u16 v = (u16)(units << 3 | more);

	put_ext(off, 44, next, 8);
	pkt[off + 2] = (u8)(v >> 8);
	pkt[off + 3] = (u8)v;
}

static void ipv6(void)
{
	struct sb_pkt p;
	u32 off;

	build6_header(6);
	put_tcp(pkt + 40, 25, SB_TCP_SYN);
	CHECK(parse6(60, &p) == SB_PKT_TCP && p.dport == 25);
	CHECK(p.src.family == SB_AF_INET6);
	CHECK(p.src.v6.hi == 0x20010db800010002ULL && p.src.v6.lo == 5);
	CHECK(p.dst.v6.hi == 0x20010db900000000ULL && p.dst.v6.lo == 0x25);
	CHECK(parse6(39, &p) == SB_PKT_OTHER);

	/* Every walkable extension header, AH with its odd length unit. */
	build6_header(0);
	off = put_ext(40, 0, 60, 8);
	off = put_ext(off, 60, 43, 16);
	off = put_ext(off, 43, 51, 24);
	off = put_ext(off, 51, 135, 24);
	off = put_ext(off, 135, 139, 8);
	off = put_ext(off, 139, 140, 8);
	off = put_ext(off, 140, 253, 8);
	off = put_ext(off, 253, 254, 8);
	off = put_ext(off, 254, 6, 8);
	put_tcp(pkt + off, 25, SB_TCP_SYN);
	CHECK(parse6(off + 20, &p) == SB_PKT_TCP && p.dport == 25);
	HIDDEN(parse6(off + 13, &p), SB_HIDDEN_CUT_BEFORE_FLAGS);
	HIDDEN(parse6(off, &p), SB_HIDDEN_CUT_BEFORE_FLAGS);
	HIDDEN(parse6(off - 3, &p), SB_HIDDEN_V6_CHAIN_TRUNCATED);

	/* Not TCP: UDP, ESP (opaque), no next header. */
	build6_header(17);
	CHECK(parse6(60, &p) == SB_PKT_OTHER);
	build6_header(50);
	CHECK(parse6(60, &p) == SB_PKT_OTHER);
	build6_header(0);
	put_ext(40, 0, 59, 8);
	CHECK(parse6(60, &p) == SB_PKT_OTHER);
}

static void ipv6_evasion(void)
{
	struct sb_pkt p;
	u32 off, i;

	/* Atomic or first fragment: the walk goes on to TCP. */
	build6_header(44);
	put_frag(40, 6, 0, true);
	put_tcp(pkt + 48, 25, SB_TCP_SYN);
	CHECK(parse6(68, &p) == SB_PKT_TCP && p.dport == 25);
	HIDDEN(parse6(48 + 8, &p), SB_HIDDEN_CUT_BEFORE_FLAGS);
	/* Header chain continued in a later fragment (RFC 7112 breach). */
	build6_header(44);
	put_frag(40, 60, 0, true);
	HIDDEN(parse6(48, &p), SB_HIDDEN_V6_CHAIN_TRUNCATED);
	/* Later fragments of TCP: only offset 8 overlaps ports/flags. */
	build6_header(44);
	put_frag(40, 6, 1, false);
	HIDDEN(parse6(64, &p), SB_HIDDEN_OFFSET_8);
	put_frag(40, 6, 2, false);
	CHECK(parse6(64, &p) == SB_PKT_OTHER);
	/* Receivers take the protocol from the first fragment: offset 8 is
	 * suspect whatever this fragment's next header claims. */
	put_frag(40, 17, 1, true);
	HIDDEN(parse6(64, &p), SB_HIDDEN_OFFSET_8);
	put_frag(40, 17, 2, true);
	CHECK(parse6(64, &p) == SB_PKT_OTHER);
	/* A later fragment whose fragmentable part starts with options. */
	put_frag(40, 60, 5, true);
	HIDDEN(parse6(64, &p), SB_HIDDEN_V6_FRAGMENT_EXTHDR);
	/* Up to SB_MAX_EXTHDRS headers are walked; more is evasion. */
	for (i = 0; i < SB_MAX_EXTHDRS + 1; i++) {
		build6_header(60);
		for (off = 40; off < 40 + 8 * i; off += 8)
			put_ext(off, 60, 60, 8);
		put_ext(off, 60, 6, 8);
		put_tcp(pkt + off + 8, 25, SB_TCP_SYN);
		CHECKF(parse6(off + 28, &p) ==
		       (i + 1 <= SB_MAX_EXTHDRS ? SB_PKT_TCP : SB_PKT_HIDDEN),
		       "%u headers", i + 1);
		CHECK(p.hidden == (i + 1 <= SB_MAX_EXTHDRS ? SB_HIDDEN_NONE :
				   SB_HIDDEN_V6_CHAIN_TOO_LONG));
	}
	/* A length field pointing far beyond the packet. */
	build6_header(60);
	put_ext(40, 60, 6, 8);
	pkt[41] = 255;
	HIDDEN(parse6(200, &p), SB_HIDDEN_CUT_BEFORE_FLAGS);	/* TCP past the end */
}

/*
 * Random bytes never crash the parser or read out of bounds (ASan); every
 * result is one of the kinds, and a TCP result read its fields where the
 * headers say they are (IPv4 at IHL words, IPv6 without extension
 * headers at 40), each kind showing up at least once.
 */
static void random_bytes(void)
{
	u32 i, k, len, off, seen4[3] = { 0 }, seen6[3] = { 0 };
	enum sb_pkt_kind kind;
	struct sb_pkt p;
	bool bad = false;

	for (i = 0; i < 200000; i++) {
		len = (u32)(unit_rand() % 200);
		for (k = 0; k < len; k++)
			pkt[k] = (u8)unit_rand();
		if (len > 9 && (i & 1) == 0) {
			pkt[9] = 6;		/* TCP, unfragmented */
			pkt[6] &= 0x80;
			pkt[7] = 0;
		}
		if (len > 6 && (i & 3) == 0)
			pkt[6] = (u8)(unit_rand() % 4 ? 60 : 44);
		if (len > 6 && (i & 7) == 1)
			pkt[6] = 6;
		kind = parse4(len, &p);
		if (kind > SB_PKT_HIDDEN)
			bad = true;
		else
			seen4[kind]++;
		off = (pkt[0] & 15) * 4u;
		if (kind == SB_PKT_TCP &&
		    (len < off + 14 || p.dport != (pkt[off + 2] << 8 | pkt[off + 3]) ||
		     p.tcp_flags != pkt[off + 13]))
			bad = true;
		kind = parse6(len, &p);
		if (kind > SB_PKT_HIDDEN)
			bad = true;
		else
			seen6[kind]++;
		if (kind == SB_PKT_TCP && pkt[6] == 6 &&
		    (len < 54 || p.dport != (pkt[42] << 8 | pkt[43]) ||
		     p.tcp_flags != pkt[53]))
			bad = true;
	}
	CHECK(!bad);
	for (k = 0; k < 3; k++)
		CHECK(seen4[k] > 0 && seen6[k] > 0);
}

UNIT_MAIN("packet", T(ipv4), T(ipv4_evasion), T(ipv6), T(ipv6_evasion),
	  T(random_bytes))
