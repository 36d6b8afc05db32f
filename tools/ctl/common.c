// SPDX-License-Identifier: GPL-2.0
/* smtpblockctl: messages, buffers and input files. */
#include "ctl.h"

/* Every message is one line on stderr, prefixed with the tool's name. */
__attribute__((format(printf, 2, 3)))
int fail(int rc, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "smtpblockctl: %s\n", msg);
	return rc;
}

int usage_error(const char *what)
{
	return fail(RC_USAGE, "%s (see smtpblockctl --help)", what);
}

/*
 * @s as it can be quoted in a one-line message: bytes outside printable
 * ASCII escaped, the first ITEM_SHOWN bytes only, "..." when cut.
 */
const char *quote(const char *s, size_t len, char *buf)
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

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

/* Reads @fd to its end; 0 or a negative errno. */
int read_all(int fd, struct buf *b)
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

const char *plural(u32 n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* "-v" is accepted after the command too: "load -v campus FILE". */
void take_verbose(int *argc, char ***argv)
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
const char *hint(const char *s, size_t len, bool in_file, char *buf,
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
void find_line(const struct buf *in, u32 line, const char **s,
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
bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

int read_input(const char *file, struct buf *in)
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

const char *input_label(const char *file)
{
	return strcmp(file, "-") ? file : "<stdin>";
}
