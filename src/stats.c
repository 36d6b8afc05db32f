// SPDX-License-Identifier: GPL-2.0
/* Counters: per CPU so that packet paths never share a cache line. */
#include <linux/percpu.h>
#include <linux/u64_stats_sync.h>
#include "smtpblock/stats.h"

struct sb_stats_cpu {
	u64_stats_t count[SB_STAT_COUNT];
	struct u64_stats_sync syncp;
};

static struct sb_stats_cpu __percpu *sb_stats;

int sb_stats_init(void)
{
	int cpu;

	sb_stats = alloc_percpu(struct sb_stats_cpu);
	if (!sb_stats)
		return -ENOMEM;
	for_each_possible_cpu(cpu)
		u64_stats_init(&per_cpu_ptr(sb_stats, cpu)->syncp);
	return 0;
}

void sb_stats_uninit(void)
{
	free_percpu(sb_stats);
}

/*
 * Called from softirq (FORWARD) and from process context (OUTPUT of a
 * local socket), so this CPU's counters may be interrupted half-way: the
 * irqsave flavour keeps 32-bit readers from seeing a torn value, and
 * get_cpu_ptr() keeps us on one CPU.
 */
void sb_stats_inc(enum sb_stat stat)
{
	struct sb_stats_cpu *s = get_cpu_ptr(sb_stats);
	unsigned long flags;

	flags = u64_stats_update_begin_irqsave(&s->syncp);
	u64_stats_inc(&s->count[stat]);
	u64_stats_update_end_irqrestore(&s->syncp, flags);
	put_cpu_ptr(sb_stats);
}

u64 sb_stats_read(enum sb_stat stat)
{
	u64 sum = 0, v;
	unsigned int start;
	int cpu;

	for_each_possible_cpu(cpu) {
		const struct sb_stats_cpu *s = per_cpu_ptr(sb_stats, cpu);

		do {
			start = u64_stats_fetch_begin(&s->syncp);
			v = u64_stats_read(&s->count[stat]);
		} while (u64_stats_fetch_retry(&s->syncp, start));
		sum += v;
	}
	return sum;
}
