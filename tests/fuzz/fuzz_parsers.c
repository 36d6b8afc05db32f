// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for every parser an operator's text or a packet
 * reaches, built from the module's own pure files under ASan and UBSan.
 * The first byte picks the parser; the rest is its input. Beyond "no
 * crash, no leak, no undefined behaviour", each branch checks what must
 * hold for any input: a parsed prefix prints and parses back to itself,
 * a built set contains what was added and reads back as itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include "smtpblock/classify.h"
#include "smtpblock/staged.h"

static void must(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "invariant broken: %s\n", what);
		abort();
	}
}

static void fuzz_prefix(const char *s, size_t n)
{
	char text[SB_PREFIX_STRLEN];
	struct sb_prefix p, q;

	if (sb_prefix_parse(s, n, &p))
		return;
	must(sb_prefix_format(&p, text) < SB_PREFIX_STRLEN, "length");
	must(!sb_prefix_parse(text, strlen(text), &q), "reparse");
	must(!sb_prefix_cmp(&p, &q), "round trip");
}

/* A list write applied to a small base; the result reads back as itself. */
static void fuzz_list(const char *s, size_t n)
{
	static const char base_text[] = "10.0.0.0/8 192.0.2.0/24 2001:db8::/32";
	struct sb_prefix_set *base, *set, *again;
	struct sb_list_write w, b;
	struct sb_parse_err err;
	size_t len;
	char *text;
	u32 bad, i;

	if (sb_list_parse(s, n, &w, &err))
		return;
	must(!sb_list_parse(base_text, sizeof(base_text) - 1, &b, &err), "base");
	must(!sb_set_build(NULL, b.edits, b.n, &base, &bad), "base set");
	sb_list_write_free(&b);
	if (sb_set_build(w.replace ? NULL : base, w.edits, w.n, &set, &bad)) {
		sb_list_write_free(&w);
		sb_set_free(base);
		return;
	}
	for (i = 0; i < w.n; i++) {
		if (w.edits[i].op == SB_EDIT_ADD)
			must(sb_set_contains(set, &w.edits[i].pfx.addr) ||
			     i + 1 < w.n, "added prefix looked up");
	}
	must(!sb_set_render(set, &text, &len), "render");
	if (len) {
		must(!sb_list_parse(text, len, &b, &err), "read back parses");
		must(!sb_set_build(NULL, b.edits, b.n, &again, &bad), "rebuild");
		must(sb_set_count(again) == sb_set_count(set), "read back count");
		sb_set_free(again);
		sb_list_write_free(&b);
	}
	free(text);
	sb_set_free(set);
	sb_set_free(base);
	sb_list_write_free(&w);
}

static void fuzz_settings(const char *s, size_t n)
{
	struct sb_parse_err err;
	struct sb_ports ports;
	enum sb_mode mode;
	bool on;
	u32 v;
	u16 i;

	if (!sb_ports_parse(s, n, &ports, &err)) {
		must(ports.n >= 1 && ports.n <= SB_MAX_PORTS, "port count");
		for (i = 1; i < ports.n; i++)
			must(ports.port[i - 1] < ports.port[i], "ports ascending");
	}
	if (!sb_mode_parse(s, n, &mode, &err))
		must(mode <= SB_MODE_MONITOR, "mode");
	sb_bool_parse(s, n, &on, &err);
	if (!sb_u32_parse(s, n, 5, 3600, &v, &err))
		must(v >= 5 && v <= 3600, "range");
}

/* Bulk-load text in chunks whose sizes the input also chooses. */
static void fuzz_staged(const unsigned char *d, size_t n)
{
	struct sb_prefix_set *set;
	struct sb_staged st;
	size_t off = 0, chunk = n ? (size_t)d[0] % 64 + 1 : 1;

	sb_staged_init(&st);
	while (off < n) {
		size_t c = n - off < chunk ? n - off : chunk;

		if (sb_staged_feed(&st, (const char *)d + off, c))
			goto out;
		off += c;
	}
	if (!sb_staged_finish(&st) &&
	    !sb_staged_build(&st, &set)) {
		must(sb_set_count(set) <= st.n, "dedup");
		sb_set_free(set);
	}
out:
	sb_staged_free(&st);
}

/*
 * An exemptions write applied to a small table, then the same text as a
 * bulk load: what a write grants is found by lookup, each line formats
 * within its bound, and a table reads back in expiry order.
 */
static void fuzz_exemptions(const char *s, size_t n)
{
	static const char base_text[] = "+10.0.0.0/8 for=60 note=a\n+2001:db8::/32 for=99\n";
	const s64 now = 1796083200;
	struct sb_exempt_table *base, *t;
	struct sb_exempt_write w, b;
	struct sb_exempt_err err;
	char line[SB_EXEMPT_LINE_MAX];
	struct sb_staged st;
	u32 bad, i;

	must(!sb_exempt_parse_write(base_text, sizeof(base_text) - 1, now, &b,
				    &err), "base");
	must(!sb_exempt_build(NULL, false, &b.ops, b.n, 100, &base, &bad),
	     "base table");
	sb_exempt_write_free(&b);
	if (!sb_exempt_parse_write(s, n, now, &w, &err)) {
		for (i = 0; i < w.n; i++)
			must(w.ops[i].kind == SB_EXEMPT_DEL ||
			     (w.ops[i].until > now &&
			      w.ops[i].until <= now + SB_EXEMPT_SECONDS_MAX), "until");
		if (!sb_exempt_build(base, w.flush, &w.ops, w.n, 100, &t, &bad)) {
			for (i = 0; i < t->n; i++) {
				must(sb_exempt_format(&t->e[i], line) < sizeof(line),
				     "line length");
				must(sb_exempt_find(t, &t->e[i].pfx.addr, now) != NULL,
				     "granted prefix looked up");
				must(!i || t->e[t->by_expiry[i - 1]].until <=
				     t->e[t->by_expiry[i]].until, "expiry order");
			}
			sb_exempt_table_free(t);
		}
		sb_exempt_write_free(&w);
	}
	sb_exempt_table_free(base);
	sb_staged_init_exempt(&st, now);
	if (!sb_staged_feed(&st, s, n) && !sb_staged_finish(&st))
		must(st.nops == st.n, "staged exemptions");
	sb_staged_free(&st);
}

static void fuzz_packet(const unsigned char *d, size_t n)
{
	struct sb_pkt_src src = { d, (u32)n };
	struct sb_pkt pkt;

	enum sb_pkt_kind kind;

	/* A reason exactly for what is hidden (stats/hidden_<reason>). */
	memset(&pkt, 0, sizeof(pkt));
	kind = sb_pkt_parse4(&src, &pkt);
	must((kind == SB_PKT_HIDDEN) == (pkt.hidden != SB_HIDDEN_NONE) &&
	     pkt.hidden < SB_HIDDEN_COUNT, "IPv4 hidden reason");
	memset(&pkt, 0, sizeof(pkt));
	kind = sb_pkt_parse6(&src, &pkt);
	must((kind == SB_PKT_HIDDEN) == (pkt.hidden != SB_HIDDEN_NONE) &&
	     pkt.hidden < SB_HIDDEN_COUNT, "IPv6 hidden reason");
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *s = (const char *)data + 1;

	if (size < 1)
		return 0;
	switch (data[0] % 6) {
	case 0:
		fuzz_prefix(s, size - 1);
		break;
	case 1:
		fuzz_list(s, size - 1);
		break;
	case 2:
		fuzz_settings(s, size - 1);
		break;
	case 3:
		fuzz_staged(data + 1, size - 1);
		break;
	case 4:
		fuzz_packet(data + 1, size - 1);
		break;
	case 5:
		fuzz_exemptions(s, size - 1);
		break;
	}
	return 0;
}
