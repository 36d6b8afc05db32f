// SPDX-License-Identifier: GPL-2.0
/* The policy: one class for every watched SYN, in a fixed order. */
#include "smtpblock/classify.h"

void sb_port_map_fill(struct sb_port_map *map, const struct sb_ports *ports)
{
	u16 i;

	memset(map, 0, sizeof(*map));
	for (i = 0; i < ports->n; i++)
		map->bits[ports->port[i] / 64] |= 1ULL << (ports->port[i] % 64);
}

/*
 * The order matters and is part of the contract: traffic from outside is
 * never our business, traffic that stays inside never leaves, and only
 * then is the relay whitelist consulted.
 */
enum sb_class sb_classify(const struct sb_prefix_set *campus,
			  const struct sb_prefix_set *relays,
			  const struct sb_pkt *pkt)
{
	if (!sb_set_contains(campus, &pkt->src))
		return SB_CLASS_EXTERNAL;
	if (sb_set_contains(campus, &pkt->dst))
		return SB_CLASS_INTERNAL;
	if (sb_set_contains(relays, &pkt->src) ||
	    sb_set_contains(relays, &pkt->dst))
		return SB_CLASS_RELAY;
	return SB_CLASS_BLOCKED;
}
