// SPDX-License-Identifier: GPL-2.0
/*
 * LSD radix sort, one byte a pass, stable.
 *
 * Why not sort(): it would run for seconds on a slow router CPU without a
 * scheduling point (the soft-lockup detector fires, softirq work starves).
 * Every loop here yields every 1024 keys, and reads and writes memory in
 * order, which a heapsort of 200 MB does not. The cost is a second array
 * of n keys while sorting. One counting scan at the start counts every
 * byte of every key; a pass over a byte that all keys share (the length
 * of a list of /32s, the 2001:db8::/32 of a campus's IPv6 prefixes) would
 * move nothing and is skipped, so a typical list takes a few passes, not
 * one per key byte.
 */
#include "smtpblock/radix_sort.h"

typedef u32 sb_counts[256];

/* The count of each byte value of each digit, turned into start offsets. */
static sb_counts *count_digits(const u8 *src, u32 n, size_t size,
			       u32 ndigits, sb_digit_fn digit)
{
	sb_counts *count = sb_alloc_array(ndigits, sizeof(*count));
	u32 i, d;

	if (!count)
		return NULL;
	memset(count, 0, ndigits * sizeof(*count));
	for (i = 0; i < n; i++) {
		sb_cond_resched(i);
		for (d = 0; d < ndigits; d++)
			count[d][digit(src + (size_t)i * size, d)]++;
	}
	return count;
}

static void counts_to_offsets(u32 *c)
{
	u32 b, sum = 0, t;

	for (b = 0; b < 256; b++) {
		t = c[b];
		c[b] = sum;
		sum += t;
	}
}

/*
 * sb_radix_sort - sort @n keys of @size bytes at *@keys, in key order
 *
 * The sorted keys may end in a new array: *@keys is then replaced and
 * the old one freed (sb_free). Returns 0, or -ENOMEM with *@keys
 * untouched.
 */
int sb_radix_sort(void **keys, u32 n, size_t size, u32 ndigits,
		  sb_digit_fn digit)
{
	u8 *src = *keys, *dst = NULL, *t;
	sb_counts *count;
	u32 i, d;

	if (n < 2)
		return 0;
	count = count_digits(src, n, size, ndigits, digit);
	if (!count)
		return -ENOMEM;
	for (d = 0; d < ndigits; d++) {
		u32 *c = count[d];

		if (c[digit(src, d)] == n)
			continue;	/* every key has this byte */
		if (!dst) {
			dst = sb_alloc_array(n, size);
			if (!dst) {
				/* the first pass: nothing has moved yet */
				sb_free(count);
				return -ENOMEM;
			}
		}
		counts_to_offsets(c);
		for (i = 0; i < n; i++) {
			const u8 *rec = src + (size_t)i * size;

			sb_cond_resched(i);
			memcpy(dst + (size_t)c[digit(rec, d)]++ * size, rec,
			       size);
		}
		t = src;
		src = dst;
		dst = t;
	}
	sb_free(count);
	*keys = src;
	sb_free(dst);	/* the first array, or the spare one */
	return 0;
}
