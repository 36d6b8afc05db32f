// SPDX-License-Identifier: GPL-2.0
/*
 * smtpblockctl: the operator's tool for /sys/kernel/smtpblock.
 *
 * Everything here could be done with echo and cat; the tool exists so
 * that the dangerous cases cannot happen by accident: a list file is
 * validated whole, with the module's own parser, before anything is
 * written; a big list goes through the staged bulk protocol and is
 * always aborted on failure; several edits go in one write, so they are
 * all or nothing; and errno values become messages and exit codes that a
 * boot script can act on.
 *
 * The parsing is not reimplemented: src/addr.c, src/staged.c (the very
 * code the module runs on bulk/data) and src/prefix_set.c are compiled
 * in, so "check" accepts exactly what a load would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smtpblock/addr.h"
#include "smtpblock/prefix_set.h"
#include "smtpblock/staged.h"

#define DEFAULT_SYSFS	"/sys/kernel/smtpblock"

/* The kernel takes bulk data a page at a time; bigger chunks save calls. */
#define CHUNK		(64 * 1024)

/* How much of a bad item a message quotes, like the module's own logs. */
#define ITEM_SHOWN	SB_STAGED_ITEM_MAX
#define ITEM_BUF	(ITEM_SHOWN * 4 + 4)

/* Exit codes, documented in --help and smtpblockctl(8). */
enum {
	RC_OK = 0,
	RC_FAIL = 1,
	RC_USAGE = 2,
	RC_INVALID = 3,
	RC_NOMODULE = 4,
	RC_PERM = 5,
	RC_BUSY = 6,
};

static const char *sysfs_root = DEFAULT_SYSFS;
static bool verbose;

/* Set by a signal during a bulk load, so the load is aborted, not left. */
static volatile sig_atomic_t got_signal;

static const char *const counters[] = {
	"syn_seen", "allowed_external", "allowed_internal", "allowed_relay",
	"blocked", "dropped", "rejected", "monitored",
	"offenders_evicted", "log_suppressed",
};

static const char *const tunables[] = {
	"offenders_max", "offender_ttl", "report_interval", "report_max",
	"log_burst", "log_interval", "bulk_timeout",
};

static const char usage_text[] =
"Usage: smtpblockctl [-h|--help] [-v|--verbose] COMMAND [ARG...]\n"
"\n"
"Controls the smtpblock kernel module through " DEFAULT_SYSFS "\n"
"(or $SMTPBLOCK_SYSFS).\n"
"\n"
"Commands:\n"
"  status                       switches, list sizes, counters, settings\n"
"  show campus|relays           print a list, one prefix per line\n"
"  add campus|relays PREFIX...  add prefixes in one atomic write\n"
"  del campus|relays PREFIX...  remove prefixes in one atomic write\n"
"  load campus|relays FILE      replace a list with FILE (- for stdin),\n"
"                               validated first, applied atomically\n"
"  check campus|relays FILE     validate FILE only (needs no module)\n"
"  set SETTING VALUE...         change a setting: enabled, mode, ports,\n"
"                               offenders_max, offender_ttl, report_interval,\n"
"                               report_max, log_burst, log_interval,\n"
"                               bulk_timeout\n"
"  offenders                    print the offender table (root only)\n"
"  report                       print a report to the kernel log now\n"
"\n"
"FILE: one address or prefix per line; '#' starts a comment; blank lines\n"
"and surrounding white space are ignored.\n"
"\n"
"Options:\n"
"  -v, --verbose  load, check: print a one-line summary on success\n"
"  -h, --help     print this help\n"
"\n"
"Exit status:\n"
"  0  success\n"
"  1  other failure (out of memory, I/O error...)\n"
"  2  usage error\n"
"  3  invalid input (bad prefix, bad line in FILE, bad value,\n"
"     entry not in the list, list too big)\n"
"  4  the module is not loaded\n"
"  5  permission denied (needs root with CAP_NET_ADMIN)\n"
"  6  busy (another bulk load is in progress)\n";

/* Every message is one line on stderr, prefixed with the tool's name. */
__attribute__((format(printf, 2, 3)))
static int fail(int rc, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "smtpblockctl: %s\n", msg);
	return rc;
}

static int usage_error(const char *what)
{
	return fail(RC_USAGE, "%s (see smtpblockctl --help)", what);
}

/*
 * @s as it can be quoted in a one-line message: bytes outside printable
 * ASCII escaped, the first ITEM_SHOWN bytes only, "..." when cut.
 */
static const char *quote(const char *s, size_t len, char *buf)
{
	static const char hex[] = "0123456789abcdef";
	char *b = buf;
	size_t i;

	for (i = 0; i < len && i < ITEM_SHOWN; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
			*b++ = (char)c;
			continue;
		}
		*b++ = '\\';
		*b++ = 'x';
		*b++ = hex[c >> 4];
		*b++ = hex[c & 0xf];
	}
	if (len > ITEM_SHOWN)
		b = stpcpy(b, "...");
	*b = '\0';
	return buf;
}

/* A growing byte buffer: whole files and whole sysfs attributes. */
struct buf {
	char *p;
	size_t len;
	size_t cap;
};

static int buf_reserve(struct buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (more <= b->cap - b->len)
		return 0;
	while (cap - b->len < more) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

/* Reads @fd to its end; 0 or a negative errno. */
static int read_all(int fd, struct buf *b)
{
	struct stat st;
	ssize_t n;
	int err;

	/* A regular file's size saves the doubling copies of a big list. */
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size > 0) {
		err = buf_reserve(b, (size_t)st.st_size + 1);
		if (err)
			return err;
	}
	for (;;) {
		err = buf_reserve(b, CHUNK);
		if (err)
			return err;
		n = read(fd, b->p + b->len, b->cap - b->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		b->len += (size_t)n;
	}
}

static void attr_path(char *path, const char *name)
{
	snprintf(path, PATH_MAX, "%s/%s", sysfs_root, name);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

static int need_module(void)
{
	if (is_dir(sysfs_root))
		return RC_OK;
	return fail(RC_NOMODULE, "the smtpblock module is not loaded (no directory %s)",
		    sysfs_root);
}

/*
 * Explains a failed open(), read() or write() of attribute @name; what
 * one errno means depends on the file, so callers handle theirs first.
 */
static int io_error(const char *name, int err, bool writing)
{
	char path[PATH_MAX];

	attr_path(path, name);
	if (err == EPERM || err == EACCES)
		return fail(RC_PERM, "%s: permission denied (%s)", path,
			    writing ? "needs root with CAP_NET_ADMIN" :
				      "needs root with CAP_NET_ADMIN: personal data");
	if (err == ENOENT && !is_dir(sysfs_root))
		return need_module();
	if (err == ENOENT)
		return fail(RC_FAIL, "%s: no such file (is the module older than this tool?)",
			    path);
	if (err == EBUSY)
		return fail(RC_BUSY, "%s: busy", path);
	if (err == ENOMEM)
		return fail(RC_FAIL, "%s: the module is out of memory", path);
	return fail(RC_FAIL, "%s: %s", path, strerror(err));
}

static int open_attr(const char *name, int flags, int *fd)
{
	char path[PATH_MAX];

	attr_path(path, name);
	/* O_TRUNC as a shell's ">" does: harmless on sysfs, right on a file. */
	if (flags != O_RDONLY)
		flags |= O_TRUNC;
	*fd = open(path, flags | O_CLOEXEC);
	if (*fd < 0)
		return io_error(name, errno, flags != O_RDONLY);
	return RC_OK;
}

/*
 * The module applies each write() whole or not at all, so a change is
 * written in exactly one call; a short count would mean it did neither.
 * Returns 0 or an errno.
 */
static int write_once(int fd, const char *s, size_t len)
{
	ssize_t n;

	do {
		n = write(fd, s, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno;
	return (size_t)n == len ? 0 : EIO;
}

/*
 * One write of @s to @name. Returns 0; or an exit code, the open()
 * having failed and been reported; or -1, the write having failed with
 * *@err, which the caller explains.
 */
static int write_attr(const char *name, const char *s, size_t len, int *err)
{
	int fd, rc;

	rc = open_attr(name, O_WRONLY, &fd);
	if (rc)
		return rc;
	*err = write_once(fd, s, len);
	close(fd);
	return *err ? -1 : RC_OK;
}

/* write_attr() for the callers with no errno of their own to explain. */
static int write_simple(const char *name, const char *s)
{
	int err, rc = write_attr(name, s, strlen(s), &err);

	return rc < 0 ? io_error(name, err, true) : rc;
}

static int read_attr(const char *name, struct buf *b)
{
	int fd, rc, err;

	rc = open_attr(name, O_RDONLY, &fd);
	if (rc)
		return rc;
	err = read_all(fd, b);
	close(fd);
	return err ? io_error(name, -err, false) : RC_OK;
}

/* A one-line attribute, without its newline. */
static int read_value(const char *name, char *out, size_t size)
{
	struct buf b = { 0 };
	int rc = read_attr(name, &b);
	size_t n;

	out[0] = '\0';
	if (rc)
		return rc;
	n = b.len;
	while (n && (b.p[n - 1] == '\n' || b.p[n - 1] == ' '))
		n--;
	if (n >= size)
		n = size - 1;
	memcpy(out, b.p, n);
	out[n] = '\0';
	buf_free(&b);
	return RC_OK;
}

/*
 * Reads attribute @name through, in chunks (a list may hold millions of
 * lines): copied to @out if not NULL, its lines counted if @lines is not.
 */
static int scan_attr(const char *name, FILE *out, u32 *lines)
{
	char *chunk, *p, *end;
	int fd, rc, err = 0;
	bool partial = false;
	ssize_t n;

	if (lines)
		*lines = 0;
	chunk = malloc(CHUNK);
	if (!chunk)
		return fail(RC_FAIL, "out of memory");
	rc = open_attr(name, O_RDONLY, &fd);
	if (rc)
		goto out;
	while ((n = read(fd, chunk, CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			break;
		}
		if (out && fwrite(chunk, 1, (size_t)n, out) != (size_t)n)
			break;
		for (p = chunk, end = chunk + n; lines && p < end; p++) {
			if ((p = memchr(p, '\n', (size_t)(end - p))) == NULL)
				break;
			(*lines)++;
		}
		if (lines)
			partial = chunk[n - 1] != '\n';
	}
	close(fd);
	if (lines && partial)
		(*lines)++;
	if (err)
		rc = io_error(name, err, false);
	else if (out && (fflush(out) || ferror(out)))
		rc = fail(RC_FAIL, "standard output: %s", strerror(errno));
out:
	free(chunk);
	return rc;
}

static const char *plural(u32 n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static bool is_list(const char *s)
{
	return !strcmp(s, "campus") || !strcmp(s, "relays");
}

static int check_list_arg(const char *s)
{
	char msg[128];

	if (is_list(s))
		return RC_OK;
	snprintf(msg, sizeof(msg), "unknown list '%.64s' (campus or relays)", s);
	return usage_error(msg);
}

/* "-v" is accepted after the command too: "load -v campus FILE". */
static void take_verbose(int *argc, char ***argv)
{
	while (*argc && (!strcmp((*argv)[0], "-v") ||
			 !strcmp((*argv)[0], "--verbose"))) {
		verbose = true;
		(*argc)--;
		(*argv)++;
	}
}

/*
 * Why @s (a whole item) is not a prefix, when a likely reason can be
 * told; "" otherwise. Host bits set is the classic: "10.1.2.3/8" is
 * refused rather than masked, so name the prefix that was probably meant.
 */
static const char *hint(const char *s, size_t len, bool in_file, char *buf,
			size_t size)
{
	const char *slash = memchr(s, '/', len);
	char text[SB_PREFIX_STRLEN + 16], canon[SB_PREFIX_STRLEN];
	struct sb_prefix p, plen;
	size_t alen;

	if (len && (s[0] == '+' || s[0] == '-'))
		return " (no +/- here: one plain address or prefix)";
	if (memchr(s, ' ', len) || memchr(s, '\t', len) || memchr(s, ',', len))
		return in_file ? " (one address or prefix per line)" :
				 " (one prefix per argument)";
	if (!slash)
		return "";
	alen = (size_t)(slash - s);
	if (sb_prefix_parse(s, alen, &p) || len - alen > 4)
		return "";
	/* The project's parser judges the length, on an all-zero address. */
	snprintf(text, sizeof(text), "%s/%.*s",
		 p.addr.family == SB_AF_INET ? "0.0.0.0" : "::",
		 (int)(len - alen - 1), slash + 1);
	if (sb_prefix_parse(text, strlen(text), &plen))
		return "";
	p.len = plen.len;
	if (p.addr.family == SB_AF_INET) {
		p.addr.v4 &= ~sb_hostmask4(p.len);
	} else {
		struct sb_u128 m = sb_hostmask6(p.len);

		p.addr.v6.hi &= ~m.hi;
		p.addr.v6.lo &= ~m.lo;
	}
	sb_prefix_format(&p, canon);
	snprintf(buf, size, " (host bits set; did you mean %s?)", canon);
	return buf;
}

/* Line @line (1-based) of @in, without its newline. */
static void find_line(const struct buf *in, u32 line, const char **s,
		      size_t *len)
{
	const char *p = in->p, *end = in->p + in->len, *nl;

	while (--line && (nl = memchr(p, '\n', (size_t)(end - p))))
		p = nl + 1;
	nl = memchr(p, '\n', (size_t)(end - p));
	*s = p;
	*len = nl ? (size_t)(nl - p) : (size_t)(end - p);
}

/* What src/staged.c trims around an entry. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
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

struct list_info {
	u32 lines;
	u32 entries;
};

/*
 * Everything the module checks before a bulk commit, in userspace: the
 * same line parser, then the same size limit. An empty list is refused:
 * a truncated or forgotten file must not silently switch the campus
 * edge off.
 */
static int validate(const char *label, const struct buf *in,
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

static int read_input(const char *file, struct buf *in)
{
	bool is_stdin = !strcmp(file, "-");
	int fd = STDIN_FILENO, err;

	if (!is_stdin) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail(RC_FAIL, "%s: %s", file, strerror(errno));
	}
	err = read_all(fd, in);
	if (!is_stdin)
		close(fd);
	if (err)
		return fail(RC_FAIL, "%s: %s",
			    is_stdin ? "standard input" : file, strerror(-err));
	return RC_OK;
}

static const char *input_label(const char *file)
{
	return strcmp(file, "-") ? file : "<stdin>";
}

static int cmd_check(int argc, char **argv)
{
	struct list_info info;
	struct buf in = { 0 };
	int rc;

	take_verbose(&argc, &argv);
	if (argc != 2)
		return usage_error("usage: smtpblockctl check campus|relays FILE");
	rc = check_list_arg(argv[0]);
	if (!rc)
		rc = read_input(argv[1], &in);
	if (!rc)
		rc = validate(input_label(argv[1]), &in, argv[0], &info);
	if (!rc && verbose)
		printf("%s: valid: %u %s in %u %s\n", input_label(argv[1]),
		       info.entries, plural(info.entries, "entry", "entries"),
		       info.lines, plural(info.lines, "line", "lines"));
	buf_free(&in);
	return rc;
}

static void on_signal(int sig)
{
	got_signal = sig;
}

/* Without SA_RESTART, so a signal also ends a blocked write(). */
static void catch_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* Dies of the signal that interrupted a load, as if it had not been caught. */
static void reraise(void)
{
	if (!got_signal)
		return;
	signal(got_signal, SIG_DFL);
	raise(got_signal);
}

/*
 * The module refused the load: bulk/status says why, as
 * "failed list=L line=N item=TEXT" (line 0: not a line's fault).
 */
static int load_refused(const char *label, const char *what, int err)
{
	char status[512], path[PATH_MAX];
	const char *line, *item;

	if (err == ENOSPC)
		return fail(RC_INVALID, "%s: too many entries for the module",
			    label);
	if (err == ENOENT && !strcmp(what, "bulk/commit"))
		return fail(RC_FAIL, "%s: our load is gone (no write for bulk_timeout seconds, or a bulk/abort); nothing changed",
			    label);
	if (err != EINVAL)
		return io_error(what, err, true);
	if (read_value("bulk/status", status, sizeof(status)))
		return RC_FAIL;
	line = strstr(status, " line=");
	item = strstr(status, " item=");
	/* "failed list=L line=N item=TEXT id=K": the item ends before id=. */
	if (item && strstr(item, " id="))
		*strstr(item, " id=") = '\0';
	if (!strncmp(status, "failed ", 7) && line && item &&
	    strtoul(line + 6, NULL, 10))
		return fail(RC_INVALID, "%s:%lu: invalid entry '%s' (refused by the module)",
			    label, strtoul(line + 6, NULL, 10), item + 6);
	attr_path(path, what);
	if (!strcmp(status, "idle"))
		return fail(RC_FAIL, "%s: the load was aborted (no write for bulk_timeout seconds, or a bulk/abort)",
			    path);
	return fail(RC_FAIL, "%s: refused (bulk/status: %s)", path, status);
}

/* Streams @in to bulk/data through one descriptor, from offset 0. */
static int send_data(const char *label, const struct buf *in)
{
	size_t off = 0, n;
	ssize_t w;
	int fd, rc, err = 0;

	rc = open_attr("bulk/data", O_WRONLY, &fd);
	if (rc)
		return rc;
	while (off < in->len && !got_signal) {
		n = in->len - off < CHUNK ? in->len - off : CHUNK;
		w = write(fd, in->p + off, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = w < 0 ? errno : EIO;
			break;
		}
		/* sysfs takes a page per call: carry on where it stopped. */
		off += (size_t)w;
	}
	close(fd);
	return err ? load_refused(label, "bulk/data", err) : RC_OK;
}

/*
 * Begins a load and sets @id to its id (bulk/status, "id=K"): what this
 * tool aborts is its own load only. Right after a successful begin the
 * open load is ours: another begin gets EBUSY until it ends.
 */
static int begin_load(const char *list, unsigned long *id)
{
	char status[512], *p;
	int err, rc = write_attr("bulk/begin", list, strlen(list), &err);

	*id = 0;
	if (rc > 0)
		return rc;
	if (rc == 0) {
		if (!read_value("bulk/status", status, sizeof(status)) &&
		    (p = strstr(status, " id=")) != NULL)
			*id = strtoul(p + 4, NULL, 10);
		return RC_OK;
	}
	if (err != EBUSY)
		return io_error("bulk/begin", err, true);
	if (read_value("bulk/status", status, sizeof(status)))
		status[0] = '\0';
	return fail(RC_BUSY, "another bulk load is in progress (bulk/status: %s); retry later",
		    status);
}

static int cmd_load(int argc, char **argv)
{
	const char *label, *list;
	struct list_info info;
	struct buf in = { 0 };
	char path[PATH_MAX], abort_id[32];	/* "id=K": commit, abort */
	unsigned long id;
	int rc, err, n;

	take_verbose(&argc, &argv);
	if (argc != 2)
		return usage_error("usage: smtpblockctl load campus|relays FILE");
	rc = check_list_arg(argv[0]);
	if (rc)
		return rc;
	list = argv[0];
	label = input_label(argv[1]);
	/*
	 * The whole input is read into memory once: it is validated and
	 * sent from the same bytes, whatever happens to the file meanwhile,
	 * and stdin can be validated before the module sees any of it.
	 */
	rc = read_input(argv[1], &in);
	if (!rc)
		rc = validate(label, &in, list, &info);
	if (!rc)
		rc = need_module();
	attr_path(path, "bulk");
	if (!rc && !is_dir(path))
		rc = fail(RC_FAIL, "%s is missing: this module has no bulk loads (older than this tool?)",
			  path);
	if (rc) {
		buf_free(&in);
		return rc;
	}

	/*
	 * Once the load has begun, every way out but a commit aborts it, so
	 * the module's single staging area is free again at once, not after
	 * its bulk_timeout. Signals are caught from just before the begin,
	 * so none can slip between it and the abort. One that comes once
	 * the commit is under way is too late to matter: the load is done,
	 * and said so.
	 */
	catch_signals();
	rc = begin_load(list, &id);
	if (rc) {
		buf_free(&in);
		reraise();
		return rc;
	}
	rc = send_data(label, &in);
	/* Our load only, as for the abort: never another one begun since. */
	n = id ? snprintf(abort_id, sizeof(abort_id), "id=%lu", id) :
		 snprintf(abort_id, sizeof(abort_id), "1");
	if (!rc && !got_signal) {
		rc = write_attr("bulk/commit", abort_id, (size_t)n, &err);
		if (rc < 0)
			rc = load_refused(label, "bulk/commit", err);
		else if (!rc)
			got_signal = 0;
	}
	if (rc || got_signal) {
		/*
		 * Ours only: if our load is gone already (timed out, or
		 * aborted by someone), ENOENT, and a load that another
		 * administrator began since stays. A module without ids
		 * (id 0) takes "1".
		 */
		if (write_attr("bulk/abort", abort_id, (size_t)n, &err) < 0 &&
		    err != ENOENT)
			fail(RC_FAIL, "could not abort the load (%s); the module drops it after bulk_timeout seconds",
			     strerror(err));
		reraise();
	} else if (verbose) {
		printf("%s: loaded %u %s from %s\n", list, info.entries,
		       plural(info.entries, "entry", "entries"), label);
	}
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

static int cmd_add(int argc, char **argv)
{
	return cmd_edit(argc, argv, true);
}

static int cmd_del(int argc, char **argv)
{
	return cmd_edit(argc, argv, false);
}

static int cmd_show(int argc, char **argv)
{
	int rc;

	if (argc != 1)
		return usage_error("usage: smtpblockctl show campus|relays");
	rc = check_list_arg(argv[0]);
	if (!rc)
		rc = need_module();
	return rc ? rc : scan_attr(argv[0], stdout, NULL);
}

static int cmd_offenders(int argc, char **argv)
{
	(void)argv;
	if (argc)
		return usage_error("usage: smtpblockctl offenders");
	return need_module() ?: scan_attr("offenders", stdout, NULL);
}

static int cmd_report(int argc, char **argv)
{
	(void)argv;
	if (argc)
		return usage_error("usage: smtpblockctl report");
	return need_module() ?: write_simple("report", "1");
}

static bool is_setting(const char *s)
{
	size_t i;

	if (!strcmp(s, "enabled") || !strcmp(s, "mode") || !strcmp(s, "ports"))
		return true;
	for (i = 0; i < sizeof(tunables) / sizeof(tunables[0]); i++)
		if (!strcmp(s, tunables[i]))
			return true;
	return false;
}

/* The module validates values (and owns the ranges); one write each. */
static int cmd_set(int argc, char **argv)
{
	size_t max = (size_t)sysconf(_SC_PAGESIZE) - 1, len = 0;
	char msg[128], q[ITEM_BUF], *text;
	int i, rc, err;

	if (argc < 2)
		return usage_error("usage: smtpblockctl set SETTING VALUE...");
	if (!is_setting(argv[0])) {
		snprintf(msg, sizeof(msg), "unknown setting '%.64s'", argv[0]);
		return usage_error(msg);
	}
	for (i = 1; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if (len - 1 > max)
		return fail(RC_INVALID, "value for %s too long", argv[0]);
	text = malloc(len);
	if (!text)
		return fail(RC_FAIL, "out of memory");
	len = 0;
	for (i = 1; i < argc; i++)
		len += (size_t)sprintf(text + len, "%s%s", i > 1 ? " " : "",
				       argv[i]);
	rc = need_module();
	if (!rc)
		rc = write_attr(argv[0], text, len, &err);
	if (rc < 0 && err == EINVAL)
		rc = fail(RC_INVALID, "invalid value for %s: '%s'", argv[0],
			  quote(text, len, q));
	else if (rc < 0)
		rc = io_error(argv[0], err, true);
	free(text);
	return rc;
}

#define BLOCK_MAX 16

/*
 * A labelled block of at most BLOCK_MAX values, aligned on the widest.
 * A file the module does not have (an older module) is left out.
 */
static int print_block(const char *title, const char *dir,
		       const char *const *names, size_t n)
{
	char name[64], path[PATH_MAX], val[BLOCK_MAX][64];
	bool shown[BLOCK_MAX];
	size_t i, width = 1;
	int rc = RC_OK, r;

	for (i = 0; i < n && i < BLOCK_MAX; i++) {
		snprintf(name, sizeof(name), "%s%s", dir, names[i]);
		attr_path(path, name);
		shown[i] = !access(path, F_OK);
		if (!shown[i])
			continue;
		r = read_value(name, val[i], sizeof(val[i]));
		rc = rc ?: r;
		if (!val[i][0])
			strcpy(val[i], "?");
		if (strlen(val[i]) > width)
			width = strlen(val[i]);
	}
	printf("\n%s:\n", title);
	for (i = 0; i < n && i < BLOCK_MAX; i++)
		if (shown[i])
			printf("  %-20s %*s\n", names[i], (int)width, val[i]);
	return rc;
}

static const char *mode_gloss(const char *mode)
{
	if (!strcmp(mode, "drop"))
		return " (blocked SYNs are dropped)";
	if (!strcmp(mode, "reject"))
		return " (blocked SYNs get a TCP RST)";
	if (!strcmp(mode, "monitor"))
		return " (dry run: blocked SYNs are counted, let through)";
	return "";
}

static void print_size(unsigned long long bytes)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB" };
	double v = (double)bytes;
	int u = -1;

	while (v >= 1024 && u < 2) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		printf("  %-20s %llu bytes\n", "memory", bytes);
	else
		printf("  %-20s %llu bytes (%.1f %s)\n", "memory", bytes, v,
		       unit[u]);
}

static int cmd_status(int argc, char **argv)
{
	char enabled[64], mode[64], ports[256], path[PATH_MAX], mem[64];
	static const char *const lists[] = { "campus", "relays" };
	int rc, r;
	size_t i;
	u32 n;

	(void)argv;
	if (argc)
		return usage_error("usage: smtpblockctl status");
	rc = need_module();
	if (rc)
		return rc;
	rc = read_value("enabled", enabled, sizeof(enabled));
	r = read_value("mode", mode, sizeof(mode));
	rc = rc ?: r;
	r = read_value("ports", ports, sizeof(ports));
	rc = rc ?: r;
	printf("smtpblock (%s):\n", sysfs_root);
	printf("  %-20s %s%s\n", "enabled", enabled[0] ? enabled : "?",
	       !strcmp(enabled, "1") ? " (filtering)" :
	       !strcmp(enabled, "0") ? " (off: nothing filtered or counted)" :
				       "");
	printf("  %-20s %s%s\n", "mode", mode[0] ? mode : "?",
	       mode_gloss(mode));
	printf("  %-20s %s\n", "ports", ports[0] ? ports : "?");
	for (i = 0; i < 2; i++) {
		char gauge[64], count[32];

		/*
		 * stats/<list>_entries, where the module has it: counting the
		 * lines of the list itself would make the module render the
		 * whole list's text, megabytes for a large one.
		 */
		snprintf(gauge, sizeof(gauge), "stats/%s_entries", lists[i]);
		attr_path(path, gauge);
		if (access(path, R_OK) == 0 &&
		    read_value(gauge, count, sizeof(count)) == RC_OK) {
			n = (u32)strtoul(count, NULL, 10);
			r = RC_OK;
		} else {
			r = scan_attr(lists[i], NULL, &n);
		}
		rc = rc ?: r;
		if (r)
			printf("  %-20s ?\n", lists[i]);
		else
			printf("  %-20s %u %s\n", lists[i], n,
			       plural(n, "prefix", "prefixes"));
	}
	/* memory_bytes is newer than the rest: shown when there is one. */
	attr_path(path, "stats/memory_bytes");
	if (!access(path, F_OK)) {
		r = read_value("stats/memory_bytes", mem, sizeof(mem));
		rc = rc ?: r;
		if (!r)
			print_size(strtoull(mem, NULL, 10));
	}
	r = print_block("counters", "stats/", counters,
			sizeof(counters) / sizeof(counters[0]));
	rc = rc ?: r;
	r = print_block("settings", "", tunables,
			sizeof(tunables) / sizeof(tunables[0]));
	rc = rc ?: r;
	if (fflush(stdout) || ferror(stdout))
		return fail(RC_FAIL, "standard output: %s", strerror(errno));
	return rc;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "status", cmd_status },
	{ "show", cmd_show },
	{ "add", cmd_add },
	{ "del", cmd_del },
	{ "load", cmd_load },
	{ "check", cmd_check },
	{ "set", cmd_set },
	{ "offenders", cmd_offenders },
	{ "report", cmd_report },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = getenv("SMTPBLOCK_SYSFS");
	char msg[128];
	size_t i;
	int c;

	if (env && *env)
		sysfs_root = env;
	if (strlen(sysfs_root) > PATH_MAX - 64)
		return fail(RC_USAGE, "SMTPBLOCK_SYSFS is too long");

	opterr = 0;
	/* "+": options end at the command, whose arguments may start with -. */
	while ((c = getopt_long(argc, argv, "+hv", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			return fflush(stdout) ? RC_FAIL : RC_OK;
		case 'v':
			verbose = true;
			break;
		default:
			snprintf(msg, sizeof(msg), "unknown option '%.64s'",
				 argv[optind - 1]);
			return usage_error(msg);
		}
	}
	if (optind == argc)
		return usage_error("no command given");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[optind], commands[i].name))
			return commands[i].fn(argc - optind - 1,
					      argv + optind + 1);
	snprintf(msg, sizeof(msg), "unknown command '%.64s'", argv[optind]);
	return usage_error(msg);
}
