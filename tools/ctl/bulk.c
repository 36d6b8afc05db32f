// SPDX-License-Identifier: GPL-2.0
/* smtpblockctl: bulk loads (load), always aborted unless committed. */
#include "ctl.h"

/* Set by a signal during a bulk load, so the load is aborted, not left. */
static volatile sig_atomic_t got_signal;

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

int cmd_load(int argc, char **argv)
{
	const char *label, *list;
	struct list_info info;
	struct buf in = { 0 };
	char path[PATH_MAX], abort_id[32];	/* "id=K": commit, abort */
	unsigned long id;
	int rc, err, n;

	take_verbose(&argc, &argv);
	if (argc != 2)
		return usage_error("usage: smtpblockctl load campus|relays|exemptions FILE");
	rc = check_load_arg(argv[0]);
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
		rc = validate_input(label, &in, list, &info);
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
