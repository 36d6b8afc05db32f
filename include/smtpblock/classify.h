/* SPDX-License-Identifier: GPL-2.0 */
/* Which SYNs are watched, and what class a watched SYN falls into. */
#ifndef SMTPBLOCK_CLASSIFY_H
#define SMTPBLOCK_CLASSIFY_H

#include "smtpblock/packet.h"
#include "smtpblock/parse.h"

enum sb_class {
	SB_CLASS_EXTERNAL,	/* source outside the campus */
	SB_CLASS_INTERNAL,	/* destination inside the campus */
	SB_CLASS_RELAY,		/* source or destination is a relay */
	SB_CLASS_BLOCKED,
};

/* Watched destination ports as a bitmap: one test on the packet path. */
struct sb_port_map {
	u64 bits[65536 / 64];
};

void sb_port_map_fill(struct sb_port_map *map, const struct sb_ports *ports);

static inline bool sb_port_watched(const struct sb_port_map *map, u16 port)
{
	return map->bits[port / 64] >> (port % 64) & 1;
}

static inline bool sb_is_watched_syn(enum sb_pkt_kind kind,
				     const struct sb_pkt *pkt,
				     const struct sb_port_map *map)
{
	if (kind == SB_PKT_HIDDEN)
		return true;
	return kind == SB_PKT_TCP &&
	       (pkt->tcp_flags & (SB_TCP_SYN | SB_TCP_ACK)) == SB_TCP_SYN &&
	       sb_port_watched(map, pkt->dport);
}

enum sb_class sb_classify(const struct sb_prefix_set *campus,
			  const struct sb_prefix_set *relays,
			  const struct sb_pkt *pkt);

#endif /* SMTPBLOCK_CLASSIFY_H */
