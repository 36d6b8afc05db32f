// SPDX-License-Identifier: GPL-2.0
/*
 * The netfilter hooks: FORWARD (what the router routes) and LOCAL_OUT
 * (what it sends itself), IPv4 and IPv6, in the initial network namespace
 * only, which is the router's.
 */
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/timekeeping.h>
#include <net/net_namespace.h>
#include <net/netfilter/ipv4/nf_reject.h>
#include <net/netfilter/ipv6/nf_reject.h>
#include "smtpblock/config.h"
#include "smtpblock/offender.h"
#include "smtpblock/hooks.h"
#include "smtpblock/report.h"
#include "smtpblock/stats.h"

/*
 * Just before the filter table: after conntrack's defragmentation (when
 * conntrack is loaded at all) and before the operator's own filter rules,
 * whose counters then see only what smtpblock let through.
 */
#define SB_HOOK_PRIORITY (NF_IP_PRI_FILTER - 1)

static const enum sb_stat class_stat[] = {
	[SB_CLASS_EXTERNAL] = SB_STAT_ALLOWED_EXTERNAL,
	[SB_CLASS_INTERNAL] = SB_STAT_ALLOWED_INTERNAL,
	[SB_CLASS_RELAY] = SB_STAT_ALLOWED_RELAY,
};

static void send_reset(struct sk_buff *skb, const struct nf_hook_state *state)
{
	if (state->pf == NFPROTO_IPV4)
		nf_send_reset(state->net, state->sk, skb, state->hook);
	else
		nf_send_reset6(state->net, state->sk, skb, state->hook);
}

/*
 * An exemption acts as a relay, source or destination, until the second
 * of its until= (exemptions.c removes it from the table soon after).
 * Only a SYN about to be blocked asks, and its exemption counts it.
 */
static bool exempted(const struct sb_exempt_table *t, const struct sb_pkt *pkt)
{
	s64 now = ktime_get_real_seconds();
	const struct sb_exemption *e = sb_exempt_find(t, &pkt->src, now);

	if (!e)
		e = sb_exempt_find(t, &pkt->dst, now);
	if (!e)
		return false;
	sb_hits_inc(e->hits);
	return true;
}

/*
 * nf_hook() holds rcu_read_lock() around every hook it runs, so the live
 * configuration is read here without taking it again: on the pass path a
 * lock/unlock pair is a measurable share of the hook's cost (bench/).
 */
static unsigned int sb_verdict(enum sb_pkt_kind kind, const struct sb_pkt *pkt,
			       struct sk_buff *skb,
			       const struct nf_hook_state *state)
{
	const struct sb_config *cfg;
	unsigned int verdict = NF_ACCEPT;
	enum sb_class class;

	cfg = rcu_dereference(sb_live_config);
	if (!cfg->enabled || !sb_is_watched_syn(kind, pkt, &cfg->port_map))
		return NF_ACCEPT;
	if (unlikely(kind == SB_PKT_HIDDEN))
		sb_stats_inc(SB_STAT_HIDDEN + pkt->hidden);
	class = sb_classify(cfg->campus, cfg->relays, pkt);
	if (class == SB_CLASS_BLOCKED && unlikely(cfg->exempt) &&
	    exempted(cfg->exempt, pkt))
		class = SB_CLASS_RELAY;
	if (class != SB_CLASS_BLOCKED) {
		sb_stats_inc(class_stat[class]);
		return NF_ACCEPT;
	}
	sb_report_blocked(pkt, state->hook == NF_INET_FORWARD ?
			  SB_HOOK_FORWARD : SB_HOOK_OUTPUT, cfg->mode);
	switch (cfg->mode) {
	case SB_MODE_DROP:
		sb_stats_inc(SB_STAT_DROPPED);
		verdict = NF_DROP;
		break;
	case SB_MODE_REJECT:
		sb_stats_inc(SB_STAT_REJECTED);
		/*
		 * Only for a SYN we could read: a packet that hides its port
		 * or flags is no connection a client waits on, and the
		 * reject helpers would read its TCP header from wherever
		 * their own walk ends (a later fragment's data, the end of
		 * an over-long chain).
		 */
		if (kind == SB_PKT_TCP)
			send_reset(skb, state);
		verdict = NF_DROP;
		break;
	case SB_MODE_MONITOR:
		sb_stats_inc(SB_STAT_MONITORED);
		break;
	}
	return verdict;
}

static unsigned int sb_hook_ipv4(void *priv, struct sk_buff *skb,
				 const struct nf_hook_state *state)
{
	struct sb_pkt_src src = { .skb = skb };
	struct sb_pkt pkt = {};	/* a hidden port reads as 0 */
	enum sb_pkt_kind kind = sb_pkt_parse4(&src, &pkt);

	/* The fast path: no table, no snapshot, for all but TCP. */
	if (kind == SB_PKT_OTHER)
		return NF_ACCEPT;
	return sb_verdict(kind, &pkt, skb, state);
}

static unsigned int sb_hook_ipv6(void *priv, struct sk_buff *skb,
				 const struct nf_hook_state *state)
{
	struct sb_pkt_src src = { .skb = skb };
	struct sb_pkt pkt = {};
	enum sb_pkt_kind kind = sb_pkt_parse6(&src, &pkt);

	if (kind == SB_PKT_OTHER)
		return NF_ACCEPT;
	return sb_verdict(kind, &pkt, skb, state);
}

static const struct nf_hook_ops sb_hook_ops[] = {
	{
		.hook = sb_hook_ipv4,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_FORWARD,
		.priority = SB_HOOK_PRIORITY,
	},
	{
		.hook = sb_hook_ipv4,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = SB_HOOK_PRIORITY,
	},
	{
		.hook = sb_hook_ipv6,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_FORWARD,
		.priority = SB_HOOK_PRIORITY,
	},
	{
		.hook = sb_hook_ipv6,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = SB_HOOK_PRIORITY,
	},
};

/*
 * Unregistering does not wait for hooks still running on other CPUs
 * (their entries are freed by RCU), but the caller frees what they use
 * next: wait for them here, on success and failure alike.
 */
int sb_hooks_init(void)
{
	int err = nf_register_net_hooks(&init_net, sb_hook_ops,
					ARRAY_SIZE(sb_hook_ops));

	if (err)
		synchronize_net();
	return err;
}

void sb_hooks_uninit(void)
{
	nf_unregister_net_hooks(&init_net, sb_hook_ops, ARRAY_SIZE(sb_hook_ops));
	synchronize_net();
}
