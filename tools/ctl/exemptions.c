// SPDX-License-Identifier: GPL-2.0
/*
 * smtpblockctl: exemptions: exempt, unexempt, exemptions, and their file.
 *
 * An exemption granted here lasts across reboots: it is also written to
 * the exemptions file (/etc/smtpblock/exemptions.list, or
 * $SMTPBLOCK_EXEMPTIONS_FILE), which smtpblock-apply loads at boot. The
 * kernel is changed first; the file only after the kernel took the
 * change, replaced whole (a temporary file renamed over it), with the
 * absolute until= the kernel computed, so a grant never outlives its
 * expiry whatever happens to the machine meanwhile.
 */
#include "ctl.h"
#include <sys/file.h>
#include <time.h>
#include "smtpblock/exemption.h"

/*
 * smtpblock-apply's lock, around a change of the module and the file
 * together: a reload in between would load the file without the change,
 * and two grants at once would each write the file without the other.
 */
static int take_lock(void)
{
	const char *path = getenv("SMTPBLOCK_LOCK");
	int fd;

	if (!path || !*path) {
		path = "/run/smtpblock/apply.lock";
		mkdir("/run/smtpblock", 0755);
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX)) {
		fail(RC_FAIL, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;	/* closed at exit, which unlocks */
}

static const char *exemptions_file(void)
{
	const char *f = getenv("SMTPBLOCK_EXEMPTIONS_FILE");

	return f && *f ? f : "/etc/smtpblock/exemptions.list";
}

/* "90m", "36h", "7d", "2w" or plain seconds: 1..31622400, or 0. */
static u32 parse_duration(const char *s)
{
	unsigned long long n = 0, unit = 1;
	const char *p = s;

	if (*p < '1' || *p > '9')
		return 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (unsigned long long)(*p - '0');
		if (n > SB_EXEMPT_SECONDS_MAX)
			return 0;
	}
	switch (*p) {
	case '\0':
	case 's':
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	case 'w':
		unit = 7 * 86400;
		break;
	default:
		return 0;
	}
	if (*p && p[1])
		return 0;
	n *= unit;
	return n > SB_EXEMPT_SECONDS_MAX ? 0 : (u32)n;
}

/* "3d04h05m" of @secs > 0, for people. */
static void format_left(s64 secs, char *buf, size_t size)
{
	if (secs >= 86400)
		snprintf(buf, size, "%lldd%02lldh%02lldm", (long long)(secs / 86400),
			 (long long)(secs % 86400 / 3600),
			 (long long)(secs % 3600 / 60));
	else if (secs >= 3600)
		snprintf(buf, size, "%lldh%02lldm", (long long)(secs / 3600),
			 (long long)(secs % 3600 / 60));
	else if (secs >= 60)
		snprintf(buf, size, "%lldm%02llds", (long long)(secs / 60),
			 (long long)(secs % 60));
	else
		snprintf(buf, size, "%llds", (long long)(secs > 0 ? secs : 0));
}

/* A line's data: up to a "#" that starts a word, without blanks around. */
static void data_part(const char *s, size_t len, const char **d, size_t *n)
{
	size_t c;

	for (c = 0; c < len && !(s[c] == '#' && (!c || is_blank(s[c - 1]))); c++)
		;
	while (c && is_blank(*s)) {
		s++;
		c--;
	}
	while (c && is_blank(s[c - 1]))
		c--;
	*d = s;
	*n = c;
}

/* The first word of @line (a data line of the file) as a prefix. */
static bool line_prefix(const char *line, size_t len, struct sb_prefix *p)
{
	size_t n = 0;

	while (len && is_blank(*line)) {
		line++;
		len--;
	}
	while (n < len && !is_blank(line[n]))
		n++;
	return n && !sb_prefix_parse(line, n, p);
}

/*
 * Rewrites the exemptions file without @p's line and without lines that
 * have expired, then with @add (a line, or NULL) at the end. Comments
 * and other lines stay as they are. Whole or not at all: a temporary
 * file in the same directory, synced, renamed over the old one.
 */
static int update_file(const struct sb_prefix *p, const char *add)
{
	const char *file = exemptions_file();
	struct buf in = { 0 };
	char tmp[PATH_MAX], dir[PATH_MAX], *slash;
	const char *s, *end, *nl, *why;
	struct sb_exempt_op op;
	struct sb_prefix lp;
	s64 now = time(NULL);
	struct stat st = { .st_mode = 0644 };
	bool had = false;
	FILE *out = NULL;
	int fd;

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		return fail(RC_FAIL, "%s: %s", file, strerror(errno));
	if (fd >= 0) {
		int err = read_all(fd, &in);

		had = !fstat(fd, &st);
		close(fd);
		if (err)
			return fail(RC_FAIL, "%s: %s", file, strerror(-err));
	}
	/* Nothing to remove from a file that is not there: none is made. */
	if (fd < 0 && !add)
		return RC_OK;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", file, (int)getpid()) >=
	    sizeof(tmp))
		return fail(RC_FAIL, "%s: path too long", file);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	/* The old file's mode and owner stay (a failed chown is no error). */
	if (fd >= 0) {
		if (fchmod(fd, st.st_mode & 07777) ||
		    (had && fchown(fd, st.st_uid, st.st_gid)))
			fprintf(stderr, "smtpblockctl: %s: cannot keep the mode or owner: %s\n",
				file, strerror(errno));
	}
	out = fd < 0 ? NULL : fdopen(fd, "w");
	if (!out) {
		fail(RC_FAIL, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	for (s = in.p, end = in.p + in.len; s && s < end; s = nl ? nl + 1 : NULL) {
		size_t len;

		const char *d;
		size_t c;

		nl = memchr(s, '\n', (size_t)(end - s));
		len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		if (line_prefix(s, len, &lp)) {
			if (!sb_prefix_cmp(&lp, p))
				continue;
			/* an expired line would only be skipped at boot */
			data_part(s, len, &d, &c);
			if (sb_exempt_parse_line(d, c, true, now, &op, &why) &&
			    !strcmp(why, SB_EXEMPT_WHY_PAST))
				continue;
		}
		fprintf(out, "%.*s\n", (int)len, s);
	}
	if (add)
		fprintf(out, "%s\n", add);
	if (fflush(out) || fsync(fileno(out)) || ferror(out)) {
		fail(RC_FAIL, "%s: %s", tmp, strerror(errno));
		fclose(out);
		goto fail;
	}
	fclose(out);
	if (rename(tmp, file)) {
		fail(RC_FAIL, "%s: %s", file, strerror(errno));
		goto fail;
	}
	/* The rename itself, on disk: the directory synced too. */
	snprintf(dir, sizeof(dir), "%s", file);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	buf_free(&in);
	return RC_OK;
fail:
	unlink(tmp);
	buf_free(&in);
	fprintf(stderr, "smtpblockctl: the module has the change; %s does not\n",
		file);
	return RC_FAIL;
}

/* The module's line for @p (without its newline), or "" if none. */
static int kernel_line(const struct sb_prefix *p, char *out, size_t size)
{
	struct buf b = { 0 };
	const char *s, *end, *nl;
	struct sb_prefix lp;
	int rc = read_attr("exemptions", &b);

	out[0] = '\0';
	for (s = b.p, end = b.p + b.len; !rc && s && s < end; s = nl ? nl + 1 : NULL) {
		size_t len;

		nl = memchr(s, '\n', (size_t)(end - s));
		len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		if (line_prefix(s, len, &lp) && !sb_prefix_cmp(&lp, p) &&
		    len < size) {
			memcpy(out, s, len);
			out[len] = '\0';
			break;
		}
	}
	buf_free(&b);
	return rc;
}

/* The line of the file for the kernel's line @k: its prefix, until=, note=. */
static void file_line(const char *k, char *out, size_t size)
{
	const char *until = strstr(k, " until="), *note = strstr(k, " note=");
	int n = (int)strcspn(k, " ");

	snprintf(out, size, "%.*s %.*s%s%.*s", n, k,
		 until ? (int)strcspn(until + 1, " ") : 0, until ? until + 1 : "",
		 note ? " " : "", note ? (int)strcspn(note + 1, " ") : 0,
		 note ? note + 1 : "");
}

static int write_refused(const char *what, int err)
{
	if (err == EINVAL)
		return fail(RC_INVALID, "%s: refused by the module (see its line in dmesg)",
			    what);
	if (err == ENOENT)
		return fail(RC_INVALID, "%s: not exempt", what);
	if (err == ENOSPC)
		return fail(RC_INVALID, "%s: the table is full (exemptions_max)",
			    what);
	return io_error("exemptions", err, true);
}

int cmd_exempt(int argc, char **argv)
{
	char line[SB_EXEMPT_LINE_MAX + 64], k[SB_EXEMPT_LINE_MAX], f[SB_EXEMPT_LINE_MAX];
	char q[ITEM_BUF], h[SB_PREFIX_STRLEN + 48], canon[SB_PREFIX_STRLEN];
	const char *pfx, *dur = NULL, *until = NULL, *note = NULL, *why;
	struct sb_exempt_op op;
	int i, n, rc, err;
	u32 secs = 0;

	if (argc < 3)
		return usage_error("usage: smtpblockctl exempt PREFIX (--for DURATION | --until TIME) [--note TEXT]");
	pfx = argv[0];
	for (i = 1; i < argc; i += 2) {
		const char **slot = !strcmp(argv[i], "--for") ? &dur :
				    !strcmp(argv[i], "--until") ? &until :
				    !strcmp(argv[i], "--note") ? &note : NULL;

		if (!slot || i + 1 == argc || *slot)
			return usage_error("usage: smtpblockctl exempt PREFIX (--for DURATION | --until TIME) [--note TEXT]");
		*slot = argv[i + 1];
	}
	if (!dur == !until)
		return usage_error("exempt: give one of --for and --until");
	if (dur && !(secs = parse_duration(dur)))
		return fail(RC_INVALID, "invalid duration '%s' (like 90m, 36h, 7d, 2w: at most 366 days)",
			    quote(dur, strlen(dur), q));
	if (sb_prefix_parse(pfx, strlen(pfx), &op.pfx))
		return fail(RC_INVALID, "invalid prefix '%s'%s",
			    quote(pfx, strlen(pfx), q),
			    hint(pfx, strlen(pfx), false, h, sizeof(h)));
	sb_prefix_format(&op.pfx, canon);
	n = dur ? snprintf(line, sizeof(line), "+%s for=%u", canon, secs) :
		  snprintf(line, sizeof(line), "+%s until=%s", canon, until);
	if (note && n > 0 && (size_t)n < sizeof(line))
		n += snprintf(line + n, sizeof(line) - (size_t)n, " note=%s", note);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    sb_exempt_parse_line(line, (size_t)n, false, time(NULL), &op, &why))
		return fail(RC_INVALID, "exempt %s: %s", canon,
			    (size_t)n >= sizeof(line) ? "too long" : why);
	rc = need_module();
	if (rc)
		return rc;
	if (take_lock() < 0)
		return RC_FAIL;
	rc = write_attr("exemptions", line, (size_t)n, &err);
	if (rc < 0)
		return write_refused(canon, err);
	if (rc)
		return rc;
	rc = kernel_line(&op.pfx, k, sizeof(k));
	if (!rc && !k[0])
		rc = fail(RC_FAIL, "%s: granted, but not in the module's table (expired already?)",
			  canon);
	if (rc) {
		fprintf(stderr, "smtpblockctl: the module has the change; %s does not\n",
			exemptions_file());
		return rc;
	}
	file_line(k, f, sizeof(f));
	rc = update_file(&op.pfx, f);
	if (!rc && verbose)
		printf("%s\n", k);
	return rc;
}

int cmd_unexempt(int argc, char **argv)
{
	char q[ITEM_BUF], line[SB_PREFIX_STRLEN + 2];
	struct sb_prefix p;
	int rc, err, n, lock;

	if (argc != 1)
		return usage_error("usage: smtpblockctl unexempt PREFIX");
	if (sb_prefix_parse(argv[0], strlen(argv[0]), &p))
		return fail(RC_INVALID, "invalid prefix '%s'",
			    quote(argv[0], strlen(argv[0]), q));
	line[0] = '-';
	n = (int)sb_prefix_format(&p, line + 1) + 1;
	lock = take_lock();
	if (lock < 0)
		return RC_FAIL;
	rc = need_module();
	if (rc) {
		/* so that it does not come back at the next boot */
		if (!update_file(&p, NULL))
			fprintf(stderr, "smtpblockctl: %s: removed from %s only\n",
				line + 1, exemptions_file());
		return rc;
	}
	rc = write_attr("exemptions", line, (size_t)n, &err);
	if (rc > 0)
		return rc;
	/* Not in the module (expired, say): out of the file all the same. */
	if (rc < 0 && err != ENOENT)
		return write_refused(line + 1, err);
	err = rc < 0 ? ENOENT : 0;
	rc = update_file(&p, NULL);
	return rc ? rc : err ? write_refused(line + 1, err) : RC_OK;
}

/* The module's table, each line with the time left (left=...). */
int cmd_exemptions(int argc, char **argv)
{
	struct buf b = { 0 };
	const char *s, *end, *nl, *u;
	char left[32];
	s64 t, now = time(NULL);
	int rc;

	(void)argv;
	if (argc)
		return usage_error("usage: smtpblockctl exemptions");
	rc = need_module() ?: read_attr("exemptions", &b);
	for (s = b.p, end = b.p + b.len; !rc && s && s < end; s = nl ? nl + 1 : NULL) {
		size_t len;

		nl = memchr(s, '\n', (size_t)(end - s));
		len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		u = memmem(s, len, " until=", 7);
		left[0] = '\0';
		if (u && !sb_parse_utc(u + 7, SB_UTC_STRLEN - 1, &t)) {
			strcpy(left, " left=");
			format_left(t - now, left + 6, sizeof(left) - 6);
		}
		printf("%.*s%s\n", (int)len, s, left);
	}
	buf_free(&b);
	if (!rc && (fflush(stdout) || ferror(stdout)))
		rc = fail(RC_FAIL, "standard output: %s", strerror(errno));
	return rc;
}

/* For status: how many there are, and the next expiry. */
int exemptions_summary(char *out, size_t size)
{
	struct buf b = { 0 };
	const char *u;
	char left[32];
	u32 n = 0;
	size_t i;
	s64 t;
	int rc = read_attr("exemptions", &b);

	if (rc)
		return rc;
	for (i = 0; i < b.len; i++)
		n += b.p[i] == '\n';
	u = n ? memmem(b.p, b.len, " until=", 7) : NULL;
	if (u && !sb_parse_utc(u + 7, SB_UTC_STRLEN - 1, &t)) {
		format_left(t - time(NULL), left, sizeof(left));
		snprintf(out, size, "%u (next expiry %.*s, in %s)", n,
			 SB_UTC_STRLEN - 1, u + 7, left);
	} else {
		snprintf(out, size, "%u", n);
	}
	buf_free(&b);
	return RC_OK;
}

/*
 * A file to load (or check) as the exemptions: its expired lines are
 * blanked out, with one message each, not an error (smtpblock-apply at
 * boot: an exemption must not come back after its expiry, nor hold up
 * the rest); then the module's own parser judges the rest.
 */
int exemptions_prepare(const char *label, struct buf *in, u32 *entries)
{
	const char *end = in->p + in->len, *why;
	char *s, *nl;
	s64 now = time(NULL);
	struct sb_exempt_op op;
	struct sb_staged *st;
	u32 line = 0;
	int err, rc = RC_OK;

	for (s = in->p; s && s < end; s = nl ? nl + 1 : NULL) {
		size_t len, c;

		nl = memchr(s, '\n', (size_t)(end - s));
		len = nl ? (size_t)(nl - s) : (size_t)(end - s);
		const char *d;

		line++;
		data_part(s, len, &d, &c);
		if (c && memmem(d, c, " for=", 5)) {
			/* relative to each load, it would never expire */
			fail(RC_INVALID, "%s:%u: for= has no place in a file: write until=",
			     label, line);
			return RC_INVALID;
		}
		if (!sb_exempt_parse_line(d, c, true, now, &op, &why))
			continue;
		if (!strcmp(why, SB_EXEMPT_WHY_PAST))
			fprintf(stderr, "smtpblockctl: %s:%u: expired, skipped\n",
				label, line);
		else if (!strcmp(why, "until= is more than 366 days ahead"))
			fprintf(stderr, "smtpblockctl: %s:%u: until= more than 366 days ahead (is the clock right?), skipped\n",
				label, line);
		else
			continue;	/* the module's parser names it below */
		memset(s, ' ', len);
	}
	st = malloc(sizeof(*st));
	if (!st)
		return fail(RC_FAIL, "out of memory");
	sb_staged_init_exempt(st, now);
	err = sb_staged_feed(st, in->p, in->len);
	if (!err)
		err = sb_staged_finish(st);
	if (err == -EINVAL)
		rc = fail(RC_INVALID, "%s:%u: %s", label, st->bad_line,
			  st->bad_why ?: "invalid line");
	else if (err == -ENOSPC)
		rc = fail(RC_INVALID, "%s: too many lines", label);
	else if (err)
		rc = fail(RC_FAIL, "%s: %s", label, strerror(-err));
	*entries = st->nops;
	sb_staged_free(st);
	free(st);
	return rc;
}
