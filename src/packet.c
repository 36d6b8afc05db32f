// SPDX-License-Identifier: GPL-2.0
/*
 * Header walking, written against sb_pkt_read() so that the same code runs
 * on skbs in the module and on byte arrays in the unit tests and fuzzers.
 *
 * The module is stateless (no conntrack, so no reassembly): each packet is
 * judged alone. A fragment can only smuggle a SYN to port 25 if it carries
 * or overwrites TCP bytes 0..13 (ports and flags), i.e. it is a first
 * fragment or starts at offset 8. First fragments are read like whole
 * packets; anything that hides those bytes is SB_PKT_HIDDEN.
 */
#include "smtpblock/packet.h"

#define PROTO_TCP	6
#define V6_HOPOPTS	0
#define V6_ROUTING	43
#define V6_FRAGMENT	44
#define V6_AH		51
#define V6_DSTOPTS	60
#define V6_MOBILITY	135
#define V6_HIP		139
#define V6_SHIM6	140
#define V6_EXP1		253
#define V6_EXP2		254

/* Bytes of the TCP header up to and including the flags. */
#define TCP_NEED	14

static u32 get_be32(const u8 *p)
{
	return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3];
}

static u64 get_be64(const u8 *p)
{
	return (u64)get_be32(p) << 32 | get_be32(p + 4);
}

static const char *const hidden_names[SB_HIDDEN_COUNT] = {
	[SB_HIDDEN_NONE] = "none",
	[SB_HIDDEN_CUT_BEFORE_FLAGS] = "cut_before_flags",
	[SB_HIDDEN_OFFSET_8] = "offset_8",
	[SB_HIDDEN_V6_FRAGMENT_EXTHDR] = "v6_fragment_exthdr",
	[SB_HIDDEN_V6_CHAIN_TRUNCATED] = "v6_chain_truncated",
	[SB_HIDDEN_V6_CHAIN_TOO_LONG] = "v6_chain_too_long",
	[SB_HIDDEN_IPV4_HEADER_SHORT] = "ipv4_header_short",
};

const char *sb_hidden_name(enum sb_hidden why)
{
	return why < SB_HIDDEN_COUNT ? hidden_names[why] : "none";
}

static enum sb_pkt_kind hidden(struct sb_pkt *pkt, enum sb_hidden why)
{
	pkt->hidden = (u8)why;
	return SB_PKT_HIDDEN;
}

static enum sb_pkt_kind read_tcp(const struct sb_pkt_src *src, u32 thoff,
				 struct sb_pkt *pkt)
{
	u8 buf[TCP_NEED];
	const u8 *th = sb_pkt_read(src, thoff, TCP_NEED, buf);

	if (!th)
		return hidden(pkt, SB_HIDDEN_CUT_BEFORE_FLAGS);
	pkt->dport = (u16)(th[2] << 8 | th[3]);
	pkt->tcp_flags = th[13];
	return SB_PKT_TCP;
}

enum sb_pkt_kind sb_pkt_parse4(const struct sb_pkt_src *src, struct sb_pkt *pkt)
{
	u8 buf[20];
	const u8 *iph = sb_pkt_read(src, 0, sizeof(buf), buf);
	u32 ihl, frag_units;

	if (!iph || iph[9] != PROTO_TCP)
		return SB_PKT_OTHER;
	pkt->src.family = SB_AF_INET;
	pkt->src.v4 = get_be32(iph + 12);
	pkt->dst.family = SB_AF_INET;
	pkt->dst.v4 = get_be32(iph + 16);

	/* Fragment offset in 8-byte units; offset 1 covers TCP bytes 8..15. */
	frag_units = (u32)(iph[6] & 0x1f) << 8 | iph[7];
	if (frag_units >= 2)
		return SB_PKT_OTHER;
	if (frag_units == 1)
		return hidden(pkt, SB_HIDDEN_OFFSET_8);
	ihl = (u32)(iph[0] & 0x0f) * 4;
	if (ihl < 20)
		return hidden(pkt, SB_HIDDEN_IPV4_HEADER_SHORT);
	return read_tcp(src, ihl, pkt);
}

static bool v6_is_exthdr(u8 nexthdr)
{
	switch (nexthdr) {
	case V6_HOPOPTS:
	case V6_ROUTING:
	case V6_FRAGMENT:
	case V6_AH:
	case V6_DSTOPTS:
	case V6_MOBILITY:
	case V6_HIP:
	case V6_SHIM6:
	case V6_EXP1:
	case V6_EXP2:
		return true;
	}
	return false;
}

/*
 * A later IPv6 fragment: its data starts at @frag_units * 8 of the
 * fragmentable part. Receivers take the protocol from the first fragment,
 * not from this one's @nexthdr, so offset 8 (the TCP flags, if TCP starts
 * the part) is suspect whatever @nexthdr says. If the part starts with
 * another extension header, where TCP begins is unknown, so any offset
 * may overlap it.
 */
static enum sb_pkt_kind v6_later_fragment(struct sb_pkt *pkt, u8 nexthdr,
					  u32 frag_units)
{
	if (frag_units == 1)
		return hidden(pkt, SB_HIDDEN_OFFSET_8);
	if (v6_is_exthdr(nexthdr))
		return hidden(pkt, SB_HIDDEN_V6_FRAGMENT_EXTHDR);
	return SB_PKT_OTHER;
}

enum sb_pkt_kind sb_pkt_parse6(const struct sb_pkt_src *src, struct sb_pkt *pkt)
{
	u8 buf[40];
	const u8 *h = sb_pkt_read(src, 0, sizeof(buf), buf);
	u32 off = 40, frag_units, i;
	u8 nexthdr;

	if (!h)
		return SB_PKT_OTHER;
	pkt->src.family = SB_AF_INET6;
	pkt->src.v6.hi = get_be64(h + 8);
	pkt->src.v6.lo = get_be64(h + 16);
	pkt->dst.family = SB_AF_INET6;
	pkt->dst.v6.hi = get_be64(h + 24);
	pkt->dst.v6.lo = get_be64(h + 32);
	nexthdr = h[6];

	for (i = 0; i <= SB_MAX_EXTHDRS; i++) {
		if (nexthdr == PROTO_TCP)
			return read_tcp(src, off, pkt);
		if (!v6_is_exthdr(nexthdr))
			return SB_PKT_OTHER;
		/* Every extension header starts with next header and length. */
		h = sb_pkt_read(src, off, 8, buf);
		if (!h)
			return hidden(pkt, SB_HIDDEN_V6_CHAIN_TRUNCATED);
		if (nexthdr == V6_FRAGMENT) {
			frag_units = (u32)(h[2] << 8 | h[3]) >> 3;
			if (frag_units)
				return v6_later_fragment(pkt, h[0], frag_units);
			off += 8;
		} else if (nexthdr == V6_AH) {
			off += ((u32)h[1] + 2) * 4;
		} else {
			off += ((u32)h[1] + 1) * 8;
		}
		nexthdr = h[0];
	}
	return hidden(pkt, SB_HIDDEN_V6_CHAIN_TOO_LONG);
}
