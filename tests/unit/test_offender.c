// SPDX-License-Identifier: GPL-2.0
/* Unit tests of src/offender.c: keys, sets, eviction, expiry, estimate, text. */
#include <math.h>
#include "unit.h"
#include "smtpblock/offender.h"
#include "smtpblock/parse.h"

#define TTL 604800
/* A moment on both clocks: in most tests they agree. */
#define AT(t) (&(struct sb_clock){ .wall = (t), .boot = (t) })
#define AT2(w, b) (&(struct sb_clock){ .wall = (w), .boot = (b) })
/* PRF keys of the tests. */
#define K1 (&(const struct sb_prf_key){ { 1, 2 } })
#define K7 (&(const struct sb_prf_key){ { 7, 8 } })

static struct sb_addr addr(const char *s)
{
	struct sb_prefix p;

	CHECKF(sb_prefix_parse(s, strlen(s), &p) == 0, "%s", s);
	return p.addr;
}

static struct sb_okey key_of(const char *s)
{
	struct sb_addr a = addr(s);
	struct sb_okey k;

	sb_okey_from_src(&a, &k);
	return k;
}

static void keys(void)
{
	struct sb_okey a = key_of("10.1.2.3"), b = key_of("10.1.2.4");
	struct sb_okey c = key_of("2001:db8:1:2::1"), d = key_of("2001:db8:1:2:a:b:c:d");
	struct sb_okey e = key_of("2001:db8:1:3::1");

	CHECK(a.family == SB_AF_INET && a.bits == 0x0a010203);
	CHECK(a.bits != b.bits);
	/* Privacy addresses of one /64 are one offender. */
	CHECK(c.family == SB_AF_INET6 && c.bits == d.bits);
	CHECK(c.bits != e.bits);
	CHECK(sb_okey_hash(&c, K1) == sb_okey_hash(&d, K1));
	CHECK(sb_okey_hash(&a, K1) != sb_okey_hash(&b, K1));
	CHECK(sb_oset_index(0, 7) == 0 && sb_oset_index(0xffffffff, 7) == 6);
}

static void claim_and_record(void)
{
	struct sb_offender set[SB_OFFENDER_WAYS] = { 0 };
	struct sb_okey k = key_of("10.1.2.3");
	struct sb_addr dst = addr("198.51.100.7");
	enum sb_claim how;
	struct sb_offender *o;

	o = sb_oset_claim(set, SB_OFFENDER_WAYS, &k, AT(1000), TTL, &how);
	CHECK(how == SB_CLAIM_NEW && o->first == 1000);
	sb_offender_record(o, &dst, 25, SB_HOOK_FORWARD, SB_MODE_DROP, AT(1000), 1, K7);
	CHECK(sb_oset_claim(set, SB_OFFENDER_WAYS, &k, AT(1005), TTL, &how) == o);
	CHECK(how == SB_CLAIM_FOUND);
	sb_offender_record(o, &dst, 2525, SB_HOOK_OUTPUT, SB_MODE_REJECT, AT(1005), 1, K7);
	CHECK(o->syns == 2 && o->first == 1000 && o->last == 1005);
	CHECK(o->dport == 2525 && o->hook == SB_HOOK_OUTPUT);
	CHECK(o->action == SB_MODE_REJECT && sb_offender_dsts(o) == 1);
	CHECK(o->period == 1);
}

/* A full set gives up the entry seen least recently. */
static void eviction(void)
{
	struct sb_offender set[SB_OFFENDER_WAYS] = { 0 };
	struct sb_addr dst = addr("198.51.100.7");
	struct sb_okey k;
	enum sb_claim how;
	struct sb_offender *o;
	u32 i;

	for (i = 0; i < SB_OFFENDER_WAYS; i++) {
		k.family = SB_AF_INET;
		k.bits = i;
		o = sb_oset_claim(set, SB_OFFENDER_WAYS, &k, AT(100), TTL, &how);
		CHECK(how == SB_CLAIM_NEW);
		/* Entry 3 is the stalest; the others were seen later. */
		sb_offender_record(o, &dst, 25, 0, 0, AT(i == 3 ? 50 : 100 + i), 1, K1);
	}
	k.bits = 99;
	o = sb_oset_claim(set, SB_OFFENDER_WAYS, &k, AT(200), TTL, &how);
	CHECK(how == SB_CLAIM_EVICTED && o == &set[3]);
	CHECK(o->syns == 0 && o->key.bits == 99 && o->first == 200);
	/* A smaller set (the last set of a table) holds fewer. */
	memset(set, 0, sizeof(set));
	for (i = 0; i < 3; i++) {
		k.bits = i;
		sb_oset_claim(set, 3, &k, AT(100 + i), TTL, &how);
		CHECK(how == SB_CLAIM_NEW);
		set[i].seen = 100 + i;
	}
	k.bits = 7;
	CHECK(sb_oset_claim(set, 3, &k, AT(200), TTL, &how) == &set[0]);
	CHECK(how == SB_CLAIM_EVICTED && set[3].key.family == 0);
}

/* Entries not seen for the TTL are forgotten: not found, slot reused. */
static void expiry(void)
{
	struct sb_offender set[2] = { 0 };
	struct sb_addr dst = addr("198.51.100.7");
	struct sb_okey a = key_of("10.0.0.1"), b = key_of("10.0.0.2");
	enum sb_claim how;
	struct sb_offender *o;

	o = sb_oset_claim(set, 2, &a, AT(1000), 60, &how);
	sb_offender_record(o, &dst, 25, 0, 0, AT(1000), 1, K1);
	o = sb_oset_claim(set, 2, &b, AT(1030), 60, &how);
	sb_offender_record(o, &dst, 25, 0, 0, AT(1030), 1, K1);
	CHECK(sb_offender_live(&set[0], 1059, 60));
	CHECK(!sb_offender_live(&set[0], 1060, 60));
	o = sb_oset_claim(set, 2, &a, AT(1060), 60, &how);
	CHECK(how == SB_CLAIM_NEW && o->syns == 0 && o->first == 1060);
	/* With a free (expired) slot around, nothing live is evicted. */
	a = key_of("10.0.0.3");
	o = sb_oset_claim(set, 2, &a, AT(1095), 60, &how);
	CHECK(how == SB_CLAIM_NEW && o == &set[1]);
}

static u32 dsts_after(u32 n, u64 seed)
{
	const struct sb_prf_key k = { { seed, ~seed } };
	struct sb_offender o = { 0 };
	struct sb_addr dst;
	u32 i;

	for (i = 0; i < n; i++) {
		dst.family = SB_AF_INET;
		dst.v4 = 0xc6336400 + i * 7919;
		/* Each destination twice: repeats must not count. */
		sb_offender_record(&o, &dst, 25, 0, 0, AT(1), 1, &k);
		sb_offender_record(&o, &dst, 25, 0, 0, AT(1), 1, &k);
	}
	return sb_offender_dsts(&o);
}

static void estimate(void)
{
	u32 n, est, worst = 0;
	u64 seed;
	int z;

	for (z = 1; z <= SB_DST_BITS; z++) {
		struct sb_offender o = { .nexact = SB_EXACT_DSTS + 1 };
		double want = SB_DST_BITS * log((double)SB_DST_BITS / z);
		int k;

		for (k = 0; k < SB_DST_BITS - z; k++)
			o.dst_bits[k / 64] |= 1ULL << (k % 64);
		est = sb_offender_dsts(&o);
		if (want > SB_EXACT_DSTS + 1)
			CHECKF(fabs(est - want) <= 0.5, "z=%d: %u vs %.2f", z, est, want);
	}
	for (seed = 1; seed <= 200; seed++) {
		/* Exact while small: 1 from 2, 2 from 10. */
		CHECK(dsts_after(1, seed) == 1);
		CHECK(dsts_after(2, seed) == 2);
		CHECK(dsts_after(8, seed) == 8);
		for (n = 9; n <= 100; n++) {
			est = dsts_after(n, seed);
			if (est * 100 > n * 125 || est * 100 < n * 75)
				CHECKF(false, "seed %llu: %u destinations read %u",
				       (unsigned long long)seed, n, est);
			if (abs((int)est - (int)n) * 100 / (int)n > (int)worst)
				worst = abs((int)est - (int)n) * 100 / n;
		}
		est = dsts_after(10, seed);
		CHECK(est >= 8 && est <= 12);
		if (unit_failures > 5)
			break;
	}
	printf("# worst relative error up to 100: %u%%\n", worst);
	CHECK(dsts_after(2000, 3) >= 500);	/* saturates high, never low */
}

static void utc(void)
{
	char buf[SB_UTC_STRLEN];

	sb_format_utc(0, buf);
	CHECK(!strcmp(buf, "1970-01-01T00:00:00Z"));
	sb_format_utc(1795827723, buf);
	CHECK(!strcmp(buf, "2026-11-28T01:02:03Z"));
	sb_format_utc(951782400, buf);		/* leap day of a /400 year */
	CHECK(!strcmp(buf, "2000-02-29T00:00:00Z"));
	sb_format_utc(4107542399LL, buf);	/* 2100 is not a leap year */
	CHECK(!strcmp(buf, "2100-02-28T23:59:59Z"));
	sb_format_utc(4107542400LL, buf);
	CHECK(!strcmp(buf, "2100-03-01T00:00:00Z"));
	sb_format_utc(-1, buf);
	CHECK(!strcmp(buf, "1969-12-31T23:59:59Z"));
	sb_format_utc(253402300799LL, buf);
	CHECK(!strcmp(buf, "9999-12-31T23:59:59Z"));
}

static void lines(void)
{
	struct sb_offender set[1] = { 0 };
	struct sb_okey k = key_of("2001:db8:1:2::99");
	struct sb_addr dst = addr("2001:db8:e:1::25");
	enum sb_claim how;
	struct sb_offender *o;
	char buf[256];

	o = sb_oset_claim(set, 1, &k, AT(1795827723), TTL, &how);
	sb_offender_record(o, &dst, 25, SB_HOOK_OUTPUT, SB_MODE_MONITOR,
			   AT(1795831140), 1, K1);
	sb_offender_line(o, false, buf, sizeof(buf));
	CHECKF(!strcmp(buf, "src=2001:db8:1:2::/64 syns=1 dsts=1 "
		       "first=2026-11-28T01:02:03Z last=2026-11-28T01:59:00Z "
		       "dport=25 action=monitor"), "%s", buf);
	sb_offender_line(o, true, buf, sizeof(buf));
	CHECKF(strstr(buf, "action=monitor hook=output dst=2001:db8:e:1::25") != NULL,
	       "%s", buf);
	CHECK(sb_offender_line(o, true, buf, 10) > 10);
	CHECK(strlen(buf) == 9);
	k = key_of("10.1.2.3");
	sb_okey_format(&k, buf);
	CHECK(!strcmp(buf, "10.1.2.3"));
}

/*
 * Ages come from the boot clock: the wall clock stepped forward two days
 * keeps a fresh entry, stepped back an hour does not keep a stale one;
 * first= and last= stay the wall-clock times of the blocks.
 */
static void clock_steps(void)
{
	struct sb_offender set[2] = { 0 };
	struct sb_addr dst = addr("198.51.100.7");
	struct sb_okey a = key_of("10.0.0.1"), b = key_of("10.0.0.2");
	s64 day = 86400;
	enum sb_claim how;
	struct sb_offender *o;

	o = sb_oset_claim(set, 2, &a, AT2(1000 * day, 50), 60, &how);
	sb_offender_record(o, &dst, 25, 0, 0, AT2(1000 * day, 50), 1, K1);
	/* Wall +2 days, boot +1 s: still live, found, its age 1 s. */
	CHECK(sb_offender_live(o, 51, 60));
	CHECK(sb_oset_claim(set, 2, &a, AT2(1002 * day, 51), 60, &how) == o);
	CHECK(how == SB_CLAIM_FOUND);
	sb_offender_record(o, &dst, 25, 0, 0, AT2(1002 * day, 51), 1, K1);
	CHECK(o->first == 1000 * day && o->last == 1002 * day);
	/* Wall back an hour, boot past the TTL: gone. */
	CHECK(!sb_offender_live(o, 111, 60));
	CHECK(sb_oset_claim(set, 2, &a, AT2(1002 * day - 3600, 111), 60, &how) == o);
	CHECK(how == SB_CLAIM_NEW && o->syns == 0);
	CHECK(o->first == 1002 * day - 3600);
	/* Eviction by boot time too: b, seen later by boot, stays. */
	o = sb_oset_claim(set, 2, &b, AT2(1 * day, 120), 60, &how);
	sb_offender_record(o, &dst, 25, 0, 0, AT2(1 * day, 120), 1, K1);
	sb_offender_record(&set[0], &dst, 25, 0, 0, AT2(5000 * day, 115), 1, K1);
	b = key_of("10.0.0.3");
	CHECK(sb_oset_claim(set, 2, &b, AT2(2 * day, 121), 60, &how) == &set[0]);
	CHECK(how == SB_CLAIM_EVICTED);
}

/* SipHash-2-4 of any length, straight from the paper: the reference. */
static u64 siphash_ref(const struct sb_prf_key *k, const u8 *m, size_t len)
{
	u64 v[4] = {
		k->key[0] ^ 0x736f6d6570736575ULL, k->key[1] ^ 0x646f72616e646f6dULL,
		k->key[0] ^ 0x6c7967656e657261ULL, k->key[1] ^ 0x7465646279746573ULL,
	};
	u64 w;
	size_t i, j;

	for (i = 0; i + 8 <= len + 8; i += 8) {
		w = 0;
		if (i + 8 <= len) {
			for (j = 0; j < 8; j++)
				w |= (u64)m[i + j] << (8 * j);
		} else {
			for (j = 0; i + j < len; j++)
				w |= (u64)m[i + j] << (8 * j);
			w |= (u64)(len & 0xff) << 56;
		}
		v[3] ^= w;
		sb_sipround(v);
		sb_sipround(v);
		v[0] ^= w;
		if (i + 8 > len)
			break;
	}
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		sb_sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/*
 * The offender hash is SipHash-2-4 (the paper's test vector), keyed: the
 * sources that share a set under one key are spread under another, so
 * without the key nobody can choose sources that crowd a set.
 */
static void keyed_prf(void)
{
	const struct sb_prf_key k = { { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL } };
	const struct sb_prf_key other = { { 0x1234, 0x5678 } };
	u8 m[16];
	u32 i, n = 0, nsets = 512, count[512] = { 0 }, max = 0;
	struct sb_okey key = { .family = SB_AF_INET };
	u64 crowd[64];

	for (i = 0; i < 16; i++)
		m[i] = (u8)i;
	CHECK(siphash_ref(&k, m, 15) == 0xa129ca6149be45e5ULL);
	CHECK(sb_prf(&k, 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL) ==
	      siphash_ref(&k, m, 16));
	/* The paper's vector for the 16 bytes 00..0f: db 9b c2 57 7f cc 2a 3f. */
	CHECK(siphash_ref(&k, m, 16) == 0x3f2acc7f57c29bdbULL);
	/* 64 sources that fall into set 0 under one key... */
	for (key.bits = 0x0a000000; n < 64; key.bits++) {
		if (sb_oset_index(sb_okey_hash(&key, &k), nsets) == 0)
			crowd[n++] = key.bits;
	}
	/* ...land in many sets under another. */
	for (i = 0; i < 64; i++) {
		key.bits = crowd[i];
		count[sb_oset_index(sb_okey_hash(&key, &other), nsets)]++;
	}
	for (i = 0; i < nsets; i++)
		max = count[i] > max ? count[i] : max;
	CHECKF(max <= 4, "%u of 64 crowding sources share a set under another key", max);
}

static void sorting(void)
{
	struct sb_offender o[4] = { 0 };

	o[0].syns = 5; o[0].key.bits = 1;
	o[1].syns = 50; o[1].key.bits = 2;
	o[2].syns = 5; o[2].seen = 9; o[2].key.bits = 3;
	o[3].syns = 7; o[3].key.bits = 4;
	sb_offenders_sort(o, 4);
	CHECK(o[0].key.bits == 2 && o[1].key.bits == 4);
	CHECK(o[2].key.bits == 3 && o[3].key.bits == 1);
}

UNIT_MAIN("offender", T(keys), T(claim_and_record), T(eviction), T(expiry),
	  T(estimate), T(utc), T(lines), T(sorting), T(clock_steps), T(keyed_prf))
