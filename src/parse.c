// SPDX-License-Identifier: GPL-2.0
/* Text written by operators: items, lists, ports, modes, switches. */
#include "smtpblock/parse.h"

static const char *const mode_names[] = {
	[SB_MODE_DROP] = "drop",
	[SB_MODE_REJECT] = "reject",
	[SB_MODE_MONITOR] = "monitor",
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	       c == '\v' || c == '\f';
}

static void set_err(struct sb_parse_err *err, u32 pos, const char *tok,
		    u32 len)
{
	err->pos = pos;
	err->tok = tok;
	err->tok_len = len;
}

void sb_tokenizer_init(struct sb_tokenizer *t, const char *buf, size_t len)
{
	t->p = buf;
	t->end = buf + len;
	t->pos = 0;
	t->after_comma = false;
}

/*
 * Next item: 1 and *@tok, 0 at the end, or -EINVAL for an empty item
 * (a comma at either end, or two commas with only space between).
 */
int sb_token_next(struct sb_tokenizer *t, struct sb_token *tok,
		  struct sb_parse_err *err)
{
	const char *start;

	while (t->p < t->end && is_space(*t->p))
		t->p++;
	if (t->p == t->end || *t->p == ',') {
		if (t->p == t->end && !t->after_comma)
			return 0;
		if (t->p < t->end || t->after_comma) {
			set_err(err, t->pos + 1, "", 0);
			return -EINVAL;
		}
	}
	start = t->p;
	while (t->p < t->end && *t->p != ',' && !is_space(*t->p))
		t->p++;
	tok->s = start;
	tok->len = (u32)(t->p - start);
	tok->pos = ++t->pos;

	while (t->p < t->end && is_space(*t->p))
		t->p++;
	t->after_comma = t->p < t->end && *t->p == ',';
	if (t->after_comma)
		t->p++;
	return 1;
}

/* Counts the items, failing on an empty one, so one allocation fits all. */
static int count_items(const char *buf, size_t len, u32 *n,
		       struct sb_parse_err *err)
{
	struct sb_tokenizer t;
	struct sb_token tok;
	int ret;

	*n = 0;
	sb_tokenizer_init(&t, buf, len);
	while ((ret = sb_token_next(&t, &tok, err)) > 0)
		(*n)++;
	if (ret)
		return ret;
	if (!*n) {
		set_err(err, 0, "", 0);
		return -EINVAL;	/* an empty write must never mean "no list" */
	}
	return 0;
}

static bool tok_is(const struct sb_token *tok, const char *word)
{
	size_t n = strlen(word);

	return tok->len == n && !memcmp(tok->s, word, n);
}

/* @plain: the kind of the write, set by its first item. */
static int parse_list_item(const struct sb_token *tok, bool *plain,
			   struct sb_list_write *w, struct sb_parse_err *err)
{
	struct sb_edit *e = &w->edits[w->n];
	const char *s = tok->s;
	u32 len = tok->len;
	bool edit = len && (s[0] == '+' || s[0] == '-');

	if (tok_is(tok, "flush")) {
		/* Only as the first item: "flush +a +b" reads unambiguously. */
		if (tok->pos != 1)
			goto bad;
		w->replace = true;
		w->flush = true;
		*plain = false;
		return 0;
	}
	if (tok->pos == 1) {
		*plain = !edit;
		w->replace = !edit;
	} else if (edit == *plain) {
		goto bad;	/* plain prefixes and edits mixed */
	}
	if (edit) {
		e->op = s[0] == '+' ? SB_EDIT_ADD : SB_EDIT_DEL;
		s++;
		len--;
	} else {
		e->op = SB_EDIT_ADD;
	}
	if (sb_prefix_parse(s, len, &e->pfx))
		goto bad;
	e->pos = tok->pos;
	w->n++;
	return 0;
bad:
	set_err(err, tok->pos, tok->s, tok->len);
	return -EINVAL;
}

/*
 * sb_list_parse - parse a write to a list file
 *
 * Plain prefixes replace the list; "+P"/"-P" edit it; "flush" (first
 * item only) empties it before the "+P" items that may follow. Returns
 * 0, -EINVAL (with @err) or -ENOMEM.
 */
int sb_list_parse(const char *buf, size_t len, struct sb_list_write *w,
		  struct sb_parse_err *err)
{
	struct sb_tokenizer t;
	struct sb_token tok;
	bool plain = false;
	u32 n;
	int ret;

	memset(w, 0, sizeof(*w));
	ret = count_items(buf, len, &n, err);
	if (ret)
		return ret;
	w->edits = sb_alloc_array(n, sizeof(*w->edits));
	if (!w->edits)
		return -ENOMEM;
	sb_tokenizer_init(&t, buf, len);
	while (sb_token_next(&t, &tok, err) > 0) {
		ret = parse_list_item(&tok, &plain, w, err);
		if (ret) {
			sb_list_write_free(w);
			return ret;
		}
	}
	return 0;
}

void sb_list_write_free(struct sb_list_write *w)
{
	sb_free(w->edits);
	w->edits = NULL;
	w->n = 0;
}

static int parse_port(const struct sb_token *tok, u16 *port)
{
	u32 v = 0, i;

	if (tok->len == 0 || tok->len > 5 || tok->s[0] == '0')
		return -EINVAL;
	for (i = 0; i < tok->len; i++) {
		if (tok->s[i] < '0' || tok->s[i] > '9')
			return -EINVAL;
		v = v * 10 + (u32)(tok->s[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = (u16)v;
	return 0;
}

/* Inserts @port into the ascending set; a duplicate is not an error. */
static int ports_insert(struct sb_ports *ports, u16 port)
{
	u16 i = 0, k;

	while (i < ports->n && ports->port[i] < port)
		i++;
	if (i < ports->n && ports->port[i] == port)
		return 0;
	if (ports->n == SB_MAX_PORTS)
		return -EINVAL;
	for (k = ports->n; k > i; k--)
		ports->port[k] = ports->port[k - 1];
	ports->port[i] = port;
	ports->n++;
	return 0;
}

/* A new port set, 1..SB_MAX_PORTS distinct ports in 1..65535. */
int sb_ports_parse(const char *buf, size_t len, struct sb_ports *ports,
		   struct sb_parse_err *err)
{
	struct sb_tokenizer t;
	struct sb_token tok;
	u16 port;
	int ret;

	memset(ports, 0, sizeof(*ports));
	sb_tokenizer_init(&t, buf, len);
	while ((ret = sb_token_next(&t, &tok, err)) > 0) {
		if (parse_port(&tok, &port) || ports_insert(ports, port)) {
			set_err(err, tok.pos, tok.s, tok.len);
			return -EINVAL;
		}
	}
	if (ret)
		return ret;
	if (!ports->n) {
		set_err(err, 0, "", 0);
		return -EINVAL;
	}
	return 0;
}

/* The one item of a write that must hold exactly one. */
static int single_item(const char *buf, size_t len, struct sb_token *tok,
		       struct sb_parse_err *err)
{
	struct sb_tokenizer t;
	struct sb_token extra;
	int ret;

	sb_tokenizer_init(&t, buf, len);
	ret = sb_token_next(&t, tok, err);
	if (ret <= 0) {
		if (!ret)
			set_err(err, 0, "", 0);
		return -EINVAL;
	}
	ret = sb_token_next(&t, &extra, err);
	if (ret) {
		if (ret > 0)
			set_err(err, extra.pos, extra.s, extra.len);
		return -EINVAL;
	}
	set_err(err, tok->pos, tok->s, tok->len);
	return 0;
}

/* Exactly one item, which must be one of @words; its index in *@idx. */
static int parse_word(const char *buf, size_t len, const char *const *words,
		      u32 nwords, u32 *idx, struct sb_parse_err *err)
{
	struct sb_token tok;
	u32 i;

	if (single_item(buf, len, &tok, err))
		return -EINVAL;
	for (i = 0; i < nwords; i++) {
		if (tok_is(&tok, words[i])) {
			*idx = i;
			return 0;
		}
	}
	return -EINVAL;
}

int sb_mode_parse(const char *buf, size_t len, enum sb_mode *mode,
		  struct sb_parse_err *err)
{
	u32 i;
	int ret = parse_word(buf, len, mode_names, ARRAY_SIZE(mode_names), &i,
			     err);

	if (!ret)
		*mode = (enum sb_mode)i;
	return ret;
}

int sb_bool_parse(const char *buf, size_t len, bool *val,
		  struct sb_parse_err *err)
{
	static const char *const words[] = { "0", "1" };
	u32 i;
	int ret = parse_word(buf, len, words, 2, &i, err);

	if (!ret)
		*val = i;
	return ret;
}

/* Exactly one plain decimal item in [@min, @max]. */
int sb_u32_parse(const char *buf, size_t len, u32 min, u32 max, u32 *val,
		 struct sb_parse_err *err)
{
	struct sb_token tok;
	u64 v = 0;
	u32 i;

	if (single_item(buf, len, &tok, err))
		return -EINVAL;
	if (tok.len > 10 || (tok.len > 1 && tok.s[0] == '0'))
		return -EINVAL;
	for (i = 0; i < tok.len; i++) {
		if (tok.s[i] < '0' || tok.s[i] > '9')
			return -EINVAL;
		v = v * 10 + (u32)(tok.s[i] - '0');
	}
	if (v < min || v > max)
		return -EINVAL;
	*val = (u32)v;
	return 0;
}

const char *sb_mode_name(enum sb_mode mode)
{
	return mode_names[mode];
}
