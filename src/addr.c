// SPDX-License-Identifier: GPL-2.0
/*
 * Address and prefix text. The parser is strict on purpose: operators'
 * lists must mean exactly one thing, so forms that other parsers accept
 * with surprising meanings (octal "010", "1.2.3", zone ids, host bits set
 * in a prefix) are errors here rather than guesses.
 */
#include "smtpblock/addr.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decimal without sign or leading zeros, at most @max. */
static int parse_dec(const char *s, size_t n, u32 max, u32 *out)
{
	u32 v = 0;
	size_t i;

	if (n == 0 || n > 10 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (u32)(s[i] - '0');
		if (v > max)
			return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_v4(const char *s, size_t n, u32 *out)
{
	u32 addr = 0, octet;
	size_t i = 0, j;
	int part;

	for (part = 0; part < 4; part++) {
		for (j = i; j < n && s[j] != '.'; j++)
			;
		if (parse_dec(s + i, j - i, 255, &octet))
			return -EINVAL;
		addr = addr << 8 | octet;
		if (part < 3) {
			if (j == n)
				return -EINVAL;
			i = j + 1;
		} else if (j != n) {
			return -EINVAL;
		}
	}
	*out = addr;
	return 0;
}

/* One piece between colons: 1..4 hex digits, or a dotted quad at the end. */
static int parse_v6_piece(const char *s, size_t n, bool last, u16 *g, int *ng)
{
	u32 v4, v = 0;
	size_t i;
	int d;

	if (n == 0)
		return -EINVAL;
	if (memchr(s, '.', n)) {
		if (!last || parse_v4(s, n, &v4))
			return -EINVAL;
		g[0] = v4 >> 16;
		g[1] = v4 & 0xffff;
		*ng = 2;
		return 0;
	}
	if (n > 4)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		d = hexval(s[i]);
		if (d < 0)
			return -EINVAL;
		v = v << 4 | (u32)d;
	}
	g[0] = v;
	*ng = 1;
	return 0;
}

static int parse_v6(const char *s, size_t n, struct sb_u128 *out)
{
	u16 groups[8], piece[2];
	int nhead = 0, ntotal = 0, np, k;
	bool compressed = false;
	size_t i = 0, j;

	if (n >= 2 && s[0] == ':' && s[1] == ':') {
		compressed = true;
		i = 2;
	} else if (n >= 1 && s[0] == ':') {
		return -EINVAL;
	}
	while (i < n) {
		for (j = i; j < n && s[j] != ':'; j++)
			;
		if (parse_v6_piece(s + i, j - i, j == n, piece, &np))
			return -EINVAL;
		if (ntotal + np > 8)
			return -EINVAL;
		for (k = 0; k < np; k++)
			groups[ntotal++] = piece[k];
		if (!compressed)
			nhead = ntotal;
		if (j == n)
			break;
		if (j + 1 < n && s[j + 1] == ':') {
			if (compressed)
				return -EINVAL;
			compressed = true;
			i = j + 2;
		} else {
			i = j + 1;
			if (i == n)
				return -EINVAL;	/* trailing single colon */
		}
	}
	if (compressed ? ntotal > 7 : ntotal != 8)
		return -EINVAL;

	/* Head groups, then the zeros "::" stands for, then tail groups. */
	out->hi = 0;
	out->lo = 0;
	for (k = 0; k < 8; k++) {
		int tail_start = 8 - (ntotal - nhead);
		u64 g = 0;

		if (k < nhead)
			g = groups[k];
		else if (k >= tail_start)
			g = groups[nhead + k - tail_start];
		if (k < 4)
			out->hi |= g << (16 * (3 - k));
		else
			out->lo |= g << (16 * (7 - k));
	}
	return 0;
}

static bool host_bits_clear(const struct sb_prefix *p)
{
	struct sb_u128 m;

	if (p->addr.family == SB_AF_INET)
		return !(p->addr.v4 & sb_hostmask4(p->len));
	m = sb_hostmask6(p->len);
	return !(p->addr.v6.hi & m.hi) && !(p->addr.v6.lo & m.lo);
}

/*
 * sb_prefix_parse - parse "ADDR" or "ADDR/LEN", IPv4 or IPv6
 *
 * A bare address is a host prefix (/32 or /128). Returns 0 or -EINVAL.
 */
int sb_prefix_parse(const char *s, size_t len, struct sb_prefix *p)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = slash ? (size_t)(slash - s) : len;
	u32 plen;
	u32 max;

	memset(p, 0, sizeof(*p));
	if (memchr(s, ':', alen)) {
		p->addr.family = SB_AF_INET6;
		max = 128;
		if (parse_v6(s, alen, &p->addr.v6))
			return -EINVAL;
	} else {
		p->addr.family = SB_AF_INET;
		max = 32;
		if (parse_v4(s, alen, &p->addr.v4))
			return -EINVAL;
	}
	plen = max;
	if (slash && parse_dec(slash + 1, len - alen - 1, max, &plen))
		return -EINVAL;
	p->len = (u8)plen;
	if (!host_bits_clear(p))
		return -EINVAL;
	return 0;
}

static char *put_dec(char *b, u32 v)
{
	char tmp[10];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*b++ = tmp[--n];
	return b;
}

static char *put_hex16(char *b, u16 v)
{
	static const char digits[] = "0123456789abcdef";
	int shift = 12;

	while (shift > 0 && !((v >> shift) & 0xf))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		*b++ = digits[(v >> shift) & 0xf];
	return b;
}

static char *put_v4(char *b, u32 a)
{
	int i;

	for (i = 3; i >= 0; i--) {
		b = put_dec(b, (a >> (8 * i)) & 0xff);
		if (i)
			*b++ = '.';
	}
	return b;
}

static u16 v6_group(const struct sb_u128 *a, int k)
{
	return k < 4 ? (u16)(a->hi >> (16 * (3 - k))) :
		       (u16)(a->lo >> (16 * (7 - k)));
}

/* RFC 5952: lower case, no leading zeros, "::" for the longest zero run. */
static char *put_v6(char *b, const struct sb_u128 *a)
{
	int best = -1, best_len = 1, run = 0, k;

	/* IPv4-mapped addresses keep their dotted tail (RFC 5952, 5). */
	if (a->hi == 0 && (a->lo >> 32) == 0xffff) {
		memcpy(b, "::ffff:", 7);
		return put_v4(b + 7, (u32)a->lo);
	}
	for (k = 0; k < 8; k++) {
		run = v6_group(a, k) ? 0 : run + 1;
		if (run > best_len) {
			best_len = run;
			best = k - run + 1;
		}
	}
	for (k = 0; k < 8; k++) {
		if (k == best) {
			*b++ = ':';
			if (k == 0)
				*b++ = ':';
			k += best_len - 1;
			continue;
		}
		b = put_hex16(b, v6_group(a, k));
		if (k < 7)
			*b++ = ':';
	}
	return b;
}

/* Writes the address and a NUL; returns the length without the NUL. */
size_t sb_addr_format(const struct sb_addr *a, char *buf)
{
	char *end = a->family == SB_AF_INET ? put_v4(buf, a->v4) :
					      put_v6(buf, &a->v6);

	*end = '\0';
	return (size_t)(end - buf);
}

/* Canonical text, "/len" always shown; @buf holds SB_PREFIX_STRLEN. */
size_t sb_prefix_format(const struct sb_prefix *p, char *buf)
{
	char *end = buf + sb_addr_format(&p->addr, buf);

	*end++ = '/';
	end = put_dec(end, p->len);
	*end = '\0';
	return (size_t)(end - buf);
}

/* IPv4 before IPv6, then by address, then shorter prefix first. */
int sb_prefix_cmp(const struct sb_prefix *a, const struct sb_prefix *b)
{
	int c;

	if (a->addr.family != b->addr.family)
		return a->addr.family < b->addr.family ? -1 : 1;
	if (a->addr.family == SB_AF_INET) {
		if (a->addr.v4 != b->addr.v4)
			return a->addr.v4 < b->addr.v4 ? -1 : 1;
	} else {
		c = sb_u128_cmp(&a->addr.v6, &b->addr.v6);
		if (c)
			return c;
	}
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return 0;
}
