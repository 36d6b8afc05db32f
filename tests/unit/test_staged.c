// SPDX-License-Identifier: GPL-2.0
/* Unit tests of src/staged.c: bulk-load text in arbitrary chunks. */
#include "unit.h"
#include "smtpblock/staged.h"

/* Feeds @text in chunks of @chunk bytes (0: all at once), then finishes. */
static int feed(struct sb_staged *s, const char *text, size_t chunk)
{
	size_t len = strlen(text), off = 0, n;
	int err;

	sb_staged_init(s);
	while (off < len) {
		n = chunk && len - off > chunk ? chunk : len - off;
		err = sb_staged_feed(s, text + off, n);
		if (err)
			return err;
		off += n;
	}
	return sb_staged_finish(s);
}

static void format(void)
{
	static const char text[] =
		"# campus prefixes\n"
		"10.0.0.0/8\n"
		"\n"
		"   192.0.2.25   # the relay\r\n"
		"\t2001:db8::/32\n"
		"#\n"
		"2001:DB8::25";
	struct sb_staged s;
	size_t chunk;

	for (chunk = 0; chunk < sizeof(text); chunk++) {
		CHECKF(feed(&s, text, chunk) == 0, "chunk %zu", chunk);
		CHECKF(s.n == 4 && s.lines == 7, "chunk %zu: %u entries, %u lines",
		       chunk, s.n, s.lines);
		CHECK(s.edits[0].pos == 2 && s.edits[1].pos == 4);
		CHECK(s.edits[3].pos == 7 && s.edits[3].pfx.len == 128);
		sb_staged_free(&s);
	}
	CHECK(feed(&s, "", 0) == 0 && s.n == 0 && s.lines == 0);
	sb_staged_free(&s);
}

/* Found by make fuzz: only comments, so no entry array at all. */
static void comments_only(void)
{
	struct sb_prefix_set *set;
	struct sb_staged s;
	u32 bad;

	CHECK(feed(&s, "# c\n# d\n\n", 0) == 0 && s.n == 0 && !s.edits);
	CHECK(sb_set_build(NULL, s.edits, s.n, &set, &bad) == 0);
	CHECK(sb_set_count(set) == 0);
	sb_set_free(set);
	sb_staged_free(&s);
}

static void errors_name_the_line(void)
{
	static const char *const bad[] = {
		"10.0.0.0/8\n10.1.2.3/8\n",
		"10.0.0.0/8\n10.0.0.0/8 11.0.0.0/8\n",
		"10.0.0.0/8\n+11.0.0.0/8\n",
		"10.0.0.0/8\n10.0.0.0/8,11.0.0.0/8\n",
		"10.0.0.0/8\nflush\n",
		"10.0.0.0/8\n1.2.3\n12.0.0.0/8\n",
		"10.0.0.0/8\n::1::",
	};
	struct sb_staged s;
	size_t i, chunk;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (chunk = 0; chunk < 12; chunk += 3) {
			CHECKF(feed(&s, bad[i], chunk) == -EINVAL, "%zu", i);
			CHECKF(s.bad_line == 2, "case %zu chunk %zu: line %u", i,
			       chunk, s.bad_line);
			sb_staged_free(&s);
		}
	}
	CHECK(feed(&s, "10.0.0.0/8\n  1.2.3  # x\n", 5) == -EINVAL);
	CHECK(!strcmp(s.bad_item, "1.2.3"));
	sb_staged_free(&s);
}

static void long_lines(void)
{
	static char text[3 * SB_STAGED_LINE_MAX];
	struct sb_staged s;

	memset(text, ' ', sizeof(text) - 1);
	memcpy(text, "10.0.0.0/8\n", 11);
	text[sizeof(text) - 1] = '\0';
	CHECK(feed(&s, text, 100) == -EINVAL && s.bad_line == 2);
	sb_staged_free(&s);
	CHECK(feed(&s, text, 0) == -EINVAL && s.bad_line == 2);
	sb_staged_free(&s);
	/* Exactly the limit, comment included, is fine. */
	memset(text, ' ', SB_STAGED_LINE_MAX);
	memcpy(text, "10.0.0.0/8 #", 12);
	text[SB_STAGED_LINE_MAX] = '\n';
	text[SB_STAGED_LINE_MAX + 1] = '\0';
	CHECK(feed(&s, text, 7) == 0 && s.n == 1);
	sb_staged_free(&s);
}

/* Many entries grow the array; the set built from them is right. */
static void many(void)
{
	enum { N = 100000 };
	static char text[N * 20];
	struct sb_prefix_set *set;
	struct sb_staged s;
	size_t off = 0;
	u32 i, bad;

	for (i = 0; i < N; i++)
		off += (size_t)sprintf(text + off, "10.%u.%u.0/24\n",
				       i >> 8 & 0xff, i & 0xff);
	CHECK(feed(&s, text, 4096) == 0 && s.n == N);
	CHECK(sb_set_build(NULL, s.edits, s.n, &set, &bad) == 0);
	CHECK(sb_set_count(set) == 65536);	/* 10.x.y.0/24 repeats */
	sb_set_free(set);
	sb_staged_free(&s);
}

UNIT_MAIN("staged", T(format), T(comments_only), T(errors_name_the_line), T(long_lines),
	  T(many))
