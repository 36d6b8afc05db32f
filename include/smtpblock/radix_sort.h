/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Sorting millions of fixed-size keys with scheduling points: what a bulk
 * commit sorts (2 x 4,194,304 keys per family at most). The kernel's
 * sort() is a heapsort that never yields; see radix_sort.c.
 */
#ifndef SMTPBLOCK_RADIX_SORT_H
#define SMTPBLOCK_RADIX_SORT_H

#include "smtpblock/base.h"

/* Byte @d of the key @rec, @d = 0 the least significant. */
typedef u8 (*sb_digit_fn)(const void *rec, u32 d);

int sb_radix_sort(void **keys, u32 n, size_t size, u32 ndigits,
		  sb_digit_fn digit);

#endif /* SMTPBLOCK_RADIX_SORT_H */
