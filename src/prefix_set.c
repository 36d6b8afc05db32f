// SPDX-License-Identifier: GPL-2.0
/* Immutable prefix sets: building from edits or keys, lookup, text. */
#include "smtpblock/prefix_set.h"

static int edit_cmp(const void *a, const void *b)
{
	const struct sb_edit *x = a, *y = b;
	int c = sb_prefix_cmp(&x->pfx, &y->pfx);

	if (c)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int entry4_cmp(const struct sb_entry4 *e, const struct sb_prefix *p)
{
	if (e->first != p->addr.v4)
		return e->first < p->addr.v4 ? -1 : 1;
	return e->len < p->len ? -1 : e->len > p->len;
}

static int entry6_cmp(const struct sb_entry6 *e, const struct sb_prefix *p)
{
	int c = sb_u128_cmp(&e->first, &p->addr.v6);

	if (c)
		return c;
	return e->len < p->len ? -1 : e->len > p->len;
}

static bool set_has_exact(const struct sb_prefix_set *set,
			  const struct sb_prefix *p)
{
	u32 lo = 0, hi, mid;
	int c;

	if (!set)
		return false;
	hi = p->addr.family == SB_AF_INET ? set->n4 : set->n6;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = p->addr.family == SB_AF_INET ?
			entry4_cmp(&set->e4[mid], p) :
			entry6_cmp(&set->e6[mid], p);
		if (!c)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/*
 * Replays each prefix's tokens in the order written and keeps only the
 * net changes, in prefix order, at the front of @edits: op ADD for a
 * prefix the base lacks, DEL for one it has. Deleting an absent prefix
 * is -ENOENT; *@bad_pos is then the first such token.
 */
static int net_changes(const struct sb_prefix_set *base, struct sb_edit *edits,
		       u32 n, u32 *nchanges, u32 *bad_pos)
{
	u32 i = 0, j, w = 0, first_bad = 0;
	bool was, now;

	sb_sort(edits, n, sizeof(*edits), edit_cmp);
	while (i < n) {
		sb_cond_resched(i);
		was = set_has_exact(base, &edits[i].pfx);
		now = was;
		for (j = i; j < n && !sb_prefix_cmp(&edits[j].pfx, &edits[i].pfx);
		     j++) {
			if (edits[j].op == SB_EDIT_ADD)
				now = true;
			else if (now)
				now = false;
			else if (!first_bad || edits[j].pos < first_bad)
				first_bad = edits[j].pos;
		}
		if (now != was) {
			edits[w] = edits[i];
			edits[w].op = now ? SB_EDIT_ADD : SB_EDIT_DEL;
			w++;
		}
		i = j;
	}
	if (first_bad) {
		*bad_pos = first_bad;
		return -ENOENT;
	}
	*nchanges = w;
	return 0;
}

static void fill_cover4(struct sb_entry4 *e, u32 n)
{
	u32 i, cover = 0;

	for (i = 0; i < n; i++) {
		u32 last = sb_prefix_last4(e[i].first, e[i].len);

		sb_cond_resched(i);
		if (i == 0 || last > cover)
			cover = last;
		e[i].cover = cover;
	}
}

static void fill_cover6(struct sb_entry6 *e, u32 n)
{
	struct sb_u128 cover = { 0, 0 }, last;
	u32 i;

	for (i = 0; i < n; i++) {
		sb_cond_resched(i);
		last = sb_prefix_last6(&e[i].first, e[i].len);
		if (i == 0 || sb_u128_cmp(&last, &cover) > 0)
			cover = last;
		e[i].cover = cover;
	}
}

/* Merges the sorted base entries of one family with its sorted changes. */
static void merge4(struct sb_entry4 *out, const struct sb_entry4 *base, u32 nb,
		   const struct sb_edit *ch, u32 nc)
{
	u32 b = 0, c = 0, o = 0;

	while (b < nb || c < nc) {
		int cmp = b == nb ? 1 : c == nc ? -1 :
			  entry4_cmp(&base[b], &ch[c].pfx);

		sb_cond_resched(b + c);
		if (cmp < 0) {
			out[o++] = base[b++];
			continue;
		}
		if (ch[c].op == SB_EDIT_ADD) {
			out[o].first = ch[c].pfx.addr.v4;
			out[o].len = ch[c].pfx.len;
			o++;
		} else {
			b++;	/* net_changes() only deletes what base has */
		}
		c++;
	}
	fill_cover4(out, o);
}

static void merge6(struct sb_entry6 *out, const struct sb_entry6 *base, u32 nb,
		   const struct sb_edit *ch, u32 nc)
{
	u32 b = 0, c = 0, o = 0;

	while (b < nb || c < nc) {
		int cmp = b == nb ? 1 : c == nc ? -1 :
			  entry6_cmp(&base[b], &ch[c].pfx);

		sb_cond_resched(b + c);
		if (cmp < 0) {
			out[o++] = base[b++];
			continue;
		}
		if (ch[c].op == SB_EDIT_ADD) {
			out[o].first = ch[c].pfx.addr.v6;
			out[o].len = ch[c].pfx.len;
			o++;
		} else {
			b++;
		}
		c++;
	}
	fill_cover6(out, o);
}

static size_t format_entry(const struct sb_prefix_set *set, u32 i, char *buf)
{
	struct sb_prefix p = { .addr.family = SB_AF_INET6 };

	if (i < set->n4) {
		p.addr.family = SB_AF_INET;
		p.addr.v4 = set->e4[i].first;
		p.len = set->e4[i].len;
	} else {
		p.addr.v6 = set->e6[i - set->n4].first;
		p.len = set->e6[i - set->n4].len;
	}
	return sb_prefix_format(&p, buf);
}

struct sb_prefix_set *sb_set_empty(void)
{
	return sb_zalloc(sizeof(struct sb_prefix_set));
}

/*
 * Chooses the bucket width for about four entries a bucket over the span
 * of first addresses, then records where each bucket starts.
 */
static int index4_build(struct sb_index4 *idx, const struct sb_entry4 *e, u32 n)
{
	u64 span = (u64)e[n - 1].first - e[0].first;
	u32 want = n / 4, b = 0, i, eb;

	idx->base = e[0].first;
	idx->shift = 0;
	while ((span >> idx->shift) + 1 > want)
		idx->shift++;
	idx->nbuckets = (u32)(span >> idx->shift) + 1;
	idx->start = sb_alloc_array(idx->nbuckets + 1, sizeof(*idx->start));
	if (!idx->start)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		sb_cond_resched(i);
		eb = (e[i].first - idx->base) >> idx->shift;
		/* (a gap between two entries may span most buckets) */
		while (b <= eb) {
			sb_cond_resched(b);
			idx->start[b++] = i;
		}
	}
	while (b <= idx->nbuckets)
		idx->start[b++] = n;
	return 0;
}

void sb_set_free(struct sb_prefix_set *set)
{
	if (!set)
		return;
	sb_free(set->text_off);
	sb_free(set->idx4.start);
	sb_free(set->e4);
	sb_free(set->e6);
	sb_free(set);
}

static int text_index_build(struct sb_prefix_set *set)
{
	char line[SB_PREFIX_STRLEN];
	u32 i, n = sb_set_count(set);
	size_t off = 0;

	if (!n)
		return 0;
	set->text_off = sb_alloc_array((n - 1) / SB_TEXT_BLOCK + 1,
				       sizeof(*set->text_off));
	if (!set->text_off)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		sb_cond_resched(i);
		if (!(i % SB_TEXT_BLOCK))
			set->text_off[i / SB_TEXT_BLOCK] = (u32)off;
		off += format_entry(set, i, line) + 1;
	}
	set->text_len = (u32)off;
	return 0;
}

/* An empty set with room for @n4 and @n6 entries, or NULL. */
static struct sb_prefix_set *set_alloc(u32 n4, u32 n6)
{
	struct sb_prefix_set *set = sb_set_empty();

	if (!set)
		return NULL;
	set->n4 = n4;
	set->n6 = n6;
	set->e4 = sb_alloc_array(n4, sizeof(*set->e4));
	set->e6 = sb_alloc_array(n6, sizeof(*set->e6));
	if ((n4 && !set->e4) || (n6 && !set->e6)) {
		sb_set_free(set);
		return NULL;
	}
	return set;
}

/* The indexes of a set whose entries are in place; frees it on error. */
static int set_finish(struct sb_prefix_set *set, struct sb_prefix_set **out)
{
	if ((set->n4 >= SB_INDEX4_MIN_ENTRIES &&
	     index4_build(&set->idx4, set->e4, set->n4)) ||
	    text_index_build(set)) {
		sb_set_free(set);
		return -ENOMEM;
	}
	*out = set;
	return 0;
}

/*
 * sb_set_build - a new set: @base (may be NULL: empty) changed by @edits
 *
 * The edits of one write are applied in the order of their @pos, so
 * "+X -X" leaves X out and "-X +X" needs X present before. @edits is
 * reordered. On error nothing is allocated; -ENOENT sets *@bad_pos.
 */
int sb_set_build(const struct sb_prefix_set *base, struct sb_edit *edits,
		 u32 n, struct sb_prefix_set **out, u32 *bad_pos)
{
	u32 nch, n4ch = 0, i, add4 = 0, del4 = 0, add6 = 0, del6 = 0;
	u32 b4 = base ? base->n4 : 0, b6 = base ? base->n6 : 0;
	struct sb_prefix_set *set;
	int err;

	err = net_changes(base, edits, n, &nch, bad_pos);
	if (err)
		return err;
	for (i = 0; i < nch; i++) {
		bool v4 = edits[i].pfx.addr.family == SB_AF_INET;
		bool add = edits[i].op == SB_EDIT_ADD;

		n4ch += v4;
		add4 += v4 && add;
		del4 += v4 && !add;
		add6 += !v4 && add;
		del6 += !v4 && !add;
	}
	if (b4 - del4 + add4 > SB_SET_MAX_ENTRIES ||
	    b6 - del6 + add6 > SB_SET_MAX_ENTRIES)
		return -ENOSPC;

	set = set_alloc(b4 - del4 + add4, b6 - del6 + add6);
	if (!set)
		return -ENOMEM;
	/* IPv4 sorts before IPv6, so the changes come family by family. */
	merge4(set->e4, base ? base->e4 : NULL, b4, edits, n4ch);
	/* (No arithmetic on a NULL @edits: an empty write may have none.) */
	merge6(set->e6, base ? base->e6 : NULL, b6, edits ? edits + n4ch : NULL,
	       nch - n4ch);
	return set_finish(set, out);
}

/* Drops the repeats from sorted keys, in place; returns how many remain. */
static u32 unique4(u64 *k, u32 n)
{
	u32 i, w = 0;

	for (i = 0; i < n; i++) {
		sb_cond_resched(i);
		if (!w || k[i] != k[w - 1])
			k[w++] = k[i];
	}
	return w;
}

static u32 unique6(struct sb_key6 *k, u32 n)
{
	u32 i, w = 0;

	for (i = 0; i < n; i++) {
		sb_cond_resched(i);
		if (!w || k[i].len != k[w - 1].len ||
		    sb_u128_cmp(&k[i].first, &k[w - 1].first))
			k[w++] = k[i];
	}
	return w;
}

/*
 * sb_set_from_keys - a new set of the prefixes @k4 and @k6, each sorted
 *
 * What a bulk load builds: its staged keys, sorted (sb_radix_sort), with
 * repeats allowed and dropped here (so the keys are changed). -ENOSPC
 * beyond SB_SET_MAX_ENTRIES distinct prefixes of one family.
 */
int sb_set_from_keys(u64 *k4, u32 n4, struct sb_key6 *k6, u32 n6,
		     struct sb_prefix_set **out)
{
	struct sb_prefix_set *set;
	u32 i;

	n4 = unique4(k4, n4);
	n6 = unique6(k6, n6);
	if (n4 > SB_SET_MAX_ENTRIES || n6 > SB_SET_MAX_ENTRIES)
		return -ENOSPC;
	set = set_alloc(n4, n6);
	if (!set)
		return -ENOMEM;
	for (i = 0; i < n4; i++) {
		sb_cond_resched(i);
		set->e4[i].first = (u32)(k4[i] >> 8);
		set->e4[i].len = (u8)k4[i];
	}
	fill_cover4(set->e4, n4);
	for (i = 0; i < n6; i++) {
		sb_cond_resched(i);
		set->e6[i].first = k6[i].first;
		set->e6[i].len = k6[i].len;
	}
	fill_cover6(set->e6, n6);
	return set_finish(set, out);
}

static bool contains4(const struct sb_prefix_set *set, u32 a)
{
	const struct sb_index4 *idx = &set->idx4;
	u32 lo = 0, hi = set->n4, mid, b;

	if (idx->start) {
		if (a < idx->base)
			return false;	/* below every entry */
		b = (a - idx->base) >> idx->shift;
		if (b < idx->nbuckets) {
			lo = idx->start[b];
			hi = idx->start[b + 1];
		} else {
			lo = set->n4;	/* above every first address */
		}
	}
	/* lo ends as the number of entries starting at or below a */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (set->e4[mid].first <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && set->e4[lo - 1].cover >= a;
}

static bool contains6(const struct sb_prefix_set *set, const struct sb_u128 *a)
{
	u32 lo = 0, hi = set->n6, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (sb_u128_cmp(&set->e6[mid].first, a) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && sb_u128_cmp(&set->e6[lo - 1].cover, a) >= 0;
}

bool sb_set_contains(const struct sb_prefix_set *set, const struct sb_addr *a)
{
	if (a->family == SB_AF_INET)
		return contains4(set, a->v4);
	return contains6(set, &a->v6);
}

/*
 * sb_set_read - bytes @off on of the canonical text (one prefix a line,
 * sorted), at most @count of them, into @buf
 *
 * Returns how many: 0 at or past the end. Formats only the lines that
 * overlap the range, from the start of the block that holds @off: a page
 * costs the same wherever it is, and nothing is allocated.
 */
size_t sb_set_read(const struct sb_prefix_set *set, size_t off, char *buf,
		   size_t count)
{
	char line[SB_PREFIX_STRLEN + 1];
	u32 n = sb_set_count(set), lo = 0, hi, mid, i;
	size_t pos, done = 0, len, skip, c;

	if (off >= set->text_len)
		return 0;
	hi = (n - 1) / SB_TEXT_BLOCK + 1;
	while (hi - lo > 1) {	/* the last block starting at or before off */
		mid = lo + (hi - lo) / 2;
		if (set->text_off[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	pos = set->text_off[lo];
	for (i = lo * SB_TEXT_BLOCK; i < n && done < count; i++) {
		len = format_entry(set, i, line);
		line[len++] = '\n';
		if (pos + len > off) {
			skip = off > pos ? off - pos : 0;
			c = len - skip < count - done ? len - skip : count - done;
			memcpy(buf + done, line + skip, c);
			done += c;
		}
		pos += len;
	}
	return done;
}

/* The whole text in a new, NUL-terminated buffer (sb_free() it). */
int sb_set_render(const struct sb_prefix_set *set, char **text, size_t *len)
{
	char *t = sb_alloc_array((size_t)set->text_len + 1, 1);

	if (!t)
		return -ENOMEM;
	*len = sb_set_read(set, 0, t, set->text_len);
	t[*len] = '\0';
	*text = t;
	return 0;
}

/* Bytes of the lookup structures. */
size_t sb_set_bytes(const struct sb_prefix_set *set)
{
	size_t idx = set->idx4.start ?
		     ((size_t)set->idx4.nbuckets + 1) * sizeof(u32) : 0;
	u32 n = sb_set_count(set);
	size_t text = n ? ((n - 1) / SB_TEXT_BLOCK + 1) * sizeof(u32) : 0;

	return sizeof(*set) + (size_t)set->n4 * sizeof(*set->e4) +
	       (size_t)set->n6 * sizeof(*set->e6) + idx + text;
}
