// SPDX-License-Identifier: GPL-2.0
/* smtpblockctl: reading and writing the module's files, errno to exit code. */
#include "ctl.h"

void attr_path(char *path, const char *name)
{
	snprintf(path, PATH_MAX, "%s/%s", sysfs_root, name);
}

bool is_dir(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

int need_module(void)
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
int io_error(const char *name, int err, bool writing)
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

int open_attr(const char *name, int flags, int *fd)
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
int write_attr(const char *name, const char *s, size_t len, int *err)
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
int write_simple(const char *name, const char *s)
{
	int err, rc = write_attr(name, s, strlen(s), &err);

	return rc < 0 ? io_error(name, err, true) : rc;
}

int read_attr(const char *name, struct buf *b)
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
int read_value(const char *name, char *out, size_t size)
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
int scan_attr(const char *name, FILE *out, u32 *lines)
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
