// SPDX-License-Identifier: GPL-2.0
/* smtpblockctl: the lists: check, add, del, show. */
#include "ctl.h"

static bool is_list(const char *s)
{
	return !strcmp(s, "campus") || !strcmp(s, "relays");
}

int check_list_arg(const char *s)
{
	char msg[128];

	if (is_list(s))
		return RC_OK;
	snprintf(msg, sizeof(msg), "unknown list '%.64s' (campus or relays)", s);
	return usage_error(msg);
}

/* What load and check take: a list, or the exemptions. */
int check_load_arg(const char *s)
{
	char msg[128];

	if (is_list(s) || !strcmp(s, "exemptions"))
		return RC_OK;
	snprintf(msg, sizeof(msg), "unknown list '%.64s' (campus, relays or exemptions)", s);
	return usage_error(msg);
}

/* "FILE:LINE: invalid entry 'TEXT'", TEXT without comment and blanks. */
static int bad_line(const char *label, const struct buf *in, u32 line)
{
	char q[ITEM_BUF], h[SB_PREFIX_STRLEN + 48];
	const char *s, *hash;
	size_t len;

	find_line(in, line, &s, &len);
	if (len > SB_STAGED_LINE_MAX)
		return fail(RC_INVALID, "%s:%u: line too long (%zu bytes, at most %d)",
			    label, line, len, SB_STAGED_LINE_MAX);
	hash = memchr(s, '#', len);
	if (hash)
		len = (size_t)(hash - s);
	while (len && is_blank(*s)) {
		s++;
		len--;
	}
	while (len && is_blank(s[len - 1]))
		len--;
	return fail(RC_INVALID, "%s:%u: invalid entry '%s'%s", label, line,
		    quote(s, len, q), hint(s, len, true, h, sizeof(h)));
}

/*
 * Everything the module checks before a bulk commit, in userspace: the
 * same line parser, then the same size limit. An empty list is refused:
 * a truncated or forgotten file must not silently switch the campus
 * edge off.
 */
int validate(const char *label, const struct buf *in,
		    const char *list, struct list_info *info)
{
	struct sb_prefix_set *set;
	struct sb_staged *st;
	int err, rc = RC_OK;

	/* Heap, not stack: the struct carries a whole line buffer. */
	st = malloc(sizeof(*st));
	if (!st)
		return fail(RC_FAIL, "out of memory");
	sb_staged_init(st);
	err = sb_staged_feed(st, in->p, in->len);
	if (!err)
		err = sb_staged_finish(st);
	if (!err && !st->n) {
		rc = fail(RC_INVALID, "%s: no entries; refusing to empty the %s list (to do that on purpose: echo flush > %s/%s)",
			  label, list, sysfs_root, list);
		goto out;
	}
	/*
	 * The set build is what enforces the limit per address family;
	 * it costs most of the time of a big check, and below the limit
	 * in total it cannot fail but for memory, so only a huge list
	 * pays for it.
	 */
	if (!err && st->n > SB_SET_MAX_ENTRIES) {
		err = sb_staged_build(st, &set);
		if (!err)
			sb_set_free(set);
	}
	if (err == -EINVAL)
		rc = bad_line(label, in, st->bad_line);
	else if (err == -ENOSPC)
		rc = fail(RC_INVALID, "%s: too many entries (at most %u per address family)",
			  label, SB_SET_MAX_ENTRIES);
	else if (err)
		rc = fail(RC_FAIL, "%s: %s", label, strerror(-err));
	info->lines = st->lines;
	info->entries = st->n;
out:
	sb_staged_free(st);
	free(st);
	return rc;
}

/* validate(), or for the exemptions exemptions_prepare() (which may change @in). */
int validate_input(const char *label, struct buf *in, const char *what,
		   struct list_info *info)
{
	size_t i;

	if (strcmp(what, "exemptions"))
		return validate(label, in, what, info);
	info->lines = 0;
	for (i = 0; i < in->len; i++)
		info->lines += in->p[i] == '\n';
	if (in->len && in->p[in->len - 1] != '\n')
		info->lines++;
	return exemptions_prepare(label, in, &info->entries);
}

int cmd_check(int argc, char **argv)
{
	struct list_info info;
	struct buf in = { 0 };
	int rc;

	take_verbose(&argc, &argv);
	if (argc != 2)
		return usage_error("usage: smtpblockctl check campus|relays|exemptions FILE");
	rc = check_load_arg(argv[0]);
	if (!rc)
		rc = read_input(argv[1], &in);
	if (!rc)
		rc = validate_input(input_label(argv[1]), &in, argv[0], &info);
	if (!rc && verbose)
		printf("%s: valid: %u %s in %u %s\n", input_label(argv[1]),
		       info.entries, plural(info.entries, "entry", "entries"),
		       info.lines, plural(info.lines, "line", "lines"));
	buf_free(&in);
	return rc;
}

/*
 * After an ENOENT from a "-P ..." write: which item was not there? The
 * module logs it; the tool answers too, by replaying the edits on the
 * list as it is now with the module's own set code. @items holds the
 * canonical text of each edit, SB_PREFIX_STRLEN bytes apart.
 */
static const char *absent_item(const char *list, const char *items,
			       struct sb_edit *edits, u32 n)
{
	struct sb_prefix_set *base, *set;
	struct buf cur = { 0 };
	struct sb_staged *st;
	const char *found = NULL;
	u32 bad_pos = 0;
	int err;

	st = malloc(sizeof(*st));
	if (!st || read_attr(list, &cur))
		goto out;
	sb_staged_init(st);
	if (!sb_staged_feed(st, cur.p, cur.len) && !sb_staged_finish(st) &&
	    !sb_staged_build(st, &base)) {
		err = sb_set_build(base, edits, n, &set, &bad_pos);
		if (err == -ENOENT)
			found = items + (size_t)(bad_pos - 1) * SB_PREFIX_STRLEN;
		else if (!err)
			sb_set_free(set);
		sb_set_free(base);
	}
	sb_staged_free(st);
out:
	free(st);
	buf_free(&cur);
	return found;
}

static int cmd_edit(int argc, char **argv, bool add)
{
	const char *list, *absent;
	size_t max = (size_t)sysconf(_SC_PAGESIZE) - 1, len = 0;
	char q[ITEM_BUF], h[SB_PREFIX_STRLEN + 48], *text, *items;
	struct sb_edit *edits;
	int i, j, n, rc = RC_OK, err;

	if (argc < 2)
		return usage_error(add ?
			"usage: smtpblockctl add campus|relays PREFIX..." :
			"usage: smtpblockctl del campus|relays PREFIX...");
	rc = check_list_arg(argv[0]);
	if (rc)
		return rc;
	list = argv[0];
	n = argc - 1;
	argv++;
	edits = calloc((size_t)n, sizeof(*edits));
	/* Canonical text: what the module will see is what was validated. */
	items = calloc((size_t)n, SB_PREFIX_STRLEN);
	text = malloc((size_t)n * (SB_PREFIX_STRLEN + 1) + 1);
	if (!edits || !items || !text) {
		rc = fail(RC_FAIL, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		const char *s = argv[i];

		if (sb_prefix_parse(s, strlen(s), &edits[i].pfx)) {
			rc = fail(RC_INVALID, "invalid prefix '%s'%s",
				  quote(s, strlen(s), q),
				  hint(s, strlen(s), false, h, sizeof(h)));
			goto out;
		}
		/* "-P -P" fails in the module: say why before trying. */
		for (j = 0; !add && j < i; j++) {
			if (!sb_prefix_cmp(&edits[j].pfx, &edits[i].pfx)) {
				rc = fail(RC_INVALID, "%s given twice; nothing changed",
					  items + j * SB_PREFIX_STRLEN);
				goto out;
			}
		}
		edits[i].op = add ? SB_EDIT_ADD : SB_EDIT_DEL;
		edits[i].pos = (u32)i + 1;
		sb_prefix_format(&edits[i].pfx, items + i * SB_PREFIX_STRLEN);
		len += (size_t)sprintf(text + len, "%s%c%s", i ? " " : "",
				       add ? '+' : '-',
				       items + i * SB_PREFIX_STRLEN);
	}
	/* Split, it would no longer be all or nothing: refuse instead. */
	if (len > max) {
		rc = fail(RC_USAGE, "%d prefixes make a %zu-byte write, the module takes at most %zu in one atomic write; use 'smtpblockctl load' for big changes",
			  n, len, max);
		goto out;
	}
	rc = need_module();
	if (rc)
		goto out;
	rc = write_attr(list, text, len, &err);
	if (rc >= 0)
		goto out;
	if (err == ENOENT && !add) {
		absent = absent_item(list, items, edits, (u32)n);
		if (absent)
			rc = fail(RC_INVALID, "%s: %s is not in the list; nothing changed",
				  list, absent);
		else
			rc = fail(RC_INVALID, "%s: an entry is not in the list; nothing changed",
				  list);
	} else if (err == EINVAL) {
		rc = fail(RC_INVALID, "%s: the module refused the write (see its log line in dmesg)",
			  list);
	} else if (err == ENOSPC) {
		rc = fail(RC_INVALID, "%s: the list is full (at most %u entries per address family)",
			  list, SB_SET_MAX_ENTRIES);
	} else if (err == E2BIG) {
		rc = fail(RC_USAGE, "%s: write too big for one atomic write; use 'smtpblockctl load'",
			  list);
	} else {
		rc = io_error(list, err, true);
	}
out:
	free(edits);
	free(items);
	free(text);
	return rc;
}

int cmd_add(int argc, char **argv)
{
	return cmd_edit(argc, argv, true);
}

int cmd_del(int argc, char **argv)
{
	return cmd_edit(argc, argv, false);
}

int cmd_show(int argc, char **argv)
{
	int rc;

	if (argc != 1)
		return usage_error("usage: smtpblockctl show campus|relays");
	rc = check_list_arg(argv[0]);
	if (!rc)
		rc = need_module();
	return rc ? rc : scan_attr(argv[0], stdout, NULL);
}
