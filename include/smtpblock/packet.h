/* SPDX-License-Identifier: GPL-2.0 */
/* Reading the IPv4/IPv6 and TCP headers a decision needs, nothing more. */
#ifndef SMTPBLOCK_PACKET_H
#define SMTPBLOCK_PACKET_H

#include "smtpblock/addr.h"

#define SB_TCP_SYN 0x02
#define SB_TCP_ACK 0x10

/* More IPv6 extension headers than this before TCP is treated as evasion. */
#define SB_MAX_EXTHDRS 32

enum sb_pkt_kind {
	/* Not TCP, or a later fragment that holds no part of ports or flags. */
	SB_PKT_OTHER,
	/* TCP with its destination port and flags read. */
	SB_PKT_TCP,
	/*
	 * TCP whose port or flags this packet does not show reliably: a first
	 * fragment too short to hold them, a fragment that overlaps them, a
	 * truncated or over-long header chain. A receiver may still assemble
	 * a SYN to port 25 from it, so it is handled like a watched SYN.
	 */
	SB_PKT_HIDDEN,
};

/*
 * Why a packet is SB_PKT_HIDDEN (README, "Headers a spam bot might play
 * with"): counted per reason in stats/hidden_<name>.
 */
enum sb_hidden {
	SB_HIDDEN_NONE,
	SB_HIDDEN_CUT_BEFORE_FLAGS,	/* TCP ends before its flags */
	SB_HIDDEN_OFFSET_8,		/* a fragment at offset 8 */
	SB_HIDDEN_V6_FRAGMENT_EXTHDR,	/* later fragment, extension header first */
	SB_HIDDEN_V6_CHAIN_TRUNCATED,	/* the packet ends inside the chain */
	SB_HIDDEN_V6_CHAIN_TOO_LONG,	/* more than SB_MAX_EXTHDRS */
	SB_HIDDEN_IPV4_HEADER_SHORT,	/* IHL below 5 */
	SB_HIDDEN_COUNT
};

struct sb_pkt {
	struct sb_addr src;
	struct sb_addr dst;
	u16 dport;
	u8 tcp_flags;
	u8 hidden;		/* enum sb_hidden: why SB_PKT_HIDDEN */
};

const char *sb_hidden_name(enum sb_hidden why);

enum sb_pkt_kind sb_pkt_parse4(const struct sb_pkt_src *src, struct sb_pkt *pkt);
enum sb_pkt_kind sb_pkt_parse6(const struct sb_pkt_src *src, struct sb_pkt *pkt);

#endif /* SMTPBLOCK_PACKET_H */
