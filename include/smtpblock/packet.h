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

struct sb_pkt {
	struct sb_addr src;
	struct sb_addr dst;
	u16 dport;
	u8 tcp_flags;
};

enum sb_pkt_kind sb_pkt_parse4(const struct sb_pkt_src *src, struct sb_pkt *pkt);
enum sb_pkt_kind sb_pkt_parse6(const struct sb_pkt_src *src, struct sb_pkt *pkt);

#endif /* SMTPBLOCK_PACKET_H */
