// SPDX-License-Identifier: GPL-2.0
/*
 * smtpblockctl metrics: stats/ and the live settings in the Prometheus
 * text exposition format (version 0.0.4), for node_exporter's textfile
 * collector or any scraper. Every value is read before anything is
 * printed: a module that is gone, or a file that cannot be read, gives
 * an exit code and no output, so no collector publishes half a scrape
 * or stale numbers.
 */
#include <fcntl.h>
#include <libgen.h>
#include <sys/utsname.h>
#include "ctl.h"
#include "smtpblock/utc.h"

struct metrics {
	FILE *out;
	char *text;
	size_t len;
	int rc;
};

/* A value of @file (relative to the sysfs root), or "" after an error. */
static const char *value(struct metrics *m, const char *file, char *buf,
			 size_t size)
{
	int rc = read_value(file, buf, size);

	if (rc) {
		m->rc = m->rc ?: rc;
		buf[0] = 0;
	}
	return buf;
}

/* A number of @file, as it is (the module prints decimal integers). */
static const char *number(struct metrics *m, const char *file, char *buf,
			  size_t size)
{
	const char *v = value(m, file, buf, size);
	const char *p = v;

	while (*p >= '0' && *p <= '9')
		p++;
	if (!m->rc && (p == v || *p)) {
		m->rc = fail(RC_FAIL, "%s: not a number: '%s'", file, v);
		buf[0] = 0;
	}
	return buf;
}

static void family(struct metrics *m, const char *name, const char *type,
		   const char *help)
{
	fprintf(m->out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample per stats/ file: NAME{LABEL="VALUE"} stats/FILE. */
struct labelled {
	const char *file;
	const char *value;
};

static void labelled(struct metrics *m, const char *name, const char *label,
		     const struct labelled *l, size_t n)
{
	char path[64], v[32];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "stats/%s", l[i].file);
		fprintf(m->out, "%s{%s=\"%s\"} %s\n", name, label, l[i].value,
			number(m, path, v, sizeof(v)));
	}
}

static void single(struct metrics *m, const char *name, const char *type,
		   const char *help, const char *file)
{
	char v[32];

	family(m, name, type, help);
	fprintf(m->out, "%s %s\n", name, number(m, file, v, sizeof(v)));
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void counters(struct metrics *m)
{
	static const struct labelled syns[] = {
		{ "allowed_external", "allowed_external" },
		{ "allowed_internal", "allowed_internal" },
		{ "allowed_relay", "allowed_relay" },
		{ "blocked", "blocked" },
	};
	static const struct labelled actions[] = {
		{ "dropped", "drop" },
		{ "rejected", "reject" },
		{ "monitored", "monitor" },
	};
	static const struct labelled hidden[] = {
		{ "hidden_cut_before_flags", "cut_before_flags" },
		{ "hidden_offset_8", "offset_8" },
		{ "hidden_v6_fragment_exthdr", "v6_fragment_exthdr" },
		{ "hidden_v6_chain_truncated", "v6_chain_truncated" },
		{ "hidden_v6_chain_too_long", "v6_chain_too_long" },
		{ "hidden_ipv4_header_short", "ipv4_header_short" },
	};

	family(m, "smtpblock_syns_total", "counter",
	       "TCP SYNs to a watched port, while enabled, by class.");
	labelled(m, "smtpblock_syns_total", "class", syns, N(syns));
	family(m, "smtpblock_blocked_total", "counter",
	       "Blocked SYNs by what the mode did with them.");
	labelled(m, "smtpblock_blocked_total", "action", actions, N(actions));
	family(m, "smtpblock_hidden_total", "counter",
	       "Watched SYNs that hid their port or flags, by reason (a subset of smtpblock_syns_total).");
	labelled(m, "smtpblock_hidden_total", "reason", hidden, N(hidden));
	single(m, "smtpblock_log_suppressed_total", "counter",
	       "Blocked-SYN log lines held back by the rate limit.",
	       "stats/log_suppressed");
	single(m, "smtpblock_offenders_evicted_total", "counter",
	       "Offenders that gave way to newer ones in a full table.",
	       "stats/offenders_evicted");
}

static void gauges(struct metrics *m)
{
	static const struct labelled lists[] = {
		{ "campus_entries", "campus" },
		{ "relays_entries", "relays" },
	};

	single(m, "smtpblock_offenders", "gauge",
	       "Sources in the offender table.", "stats/offenders");
	family(m, "smtpblock_list_entries", "gauge",
	       "Prefixes in a list.");
	labelled(m, "smtpblock_list_entries", "list", lists, N(lists));
	single(m, "smtpblock_exemptions", "gauge",
	       "Exemptions in force.", "stats/exemptions_entries");
	single(m, "smtpblock_memory_bytes", "gauge",
	       "Bytes of the live lookup structures.", "stats/memory_bytes");
}

static void settings(struct metrics *m)
{
	static const char *const modes[] = { "drop", "reject", "monitor" };
	/* name, sysfs file, help; seconds get their unit in the name */
	static const char *const tunables[][3] = {
		{ "smtpblock_offenders_max", "offenders_max",
		  "Capacity of the offender table." },
		{ "smtpblock_offender_ttl_seconds", "offender_ttl",
		  "How long an offender is remembered after its last blocked SYN." },
		{ "smtpblock_report_interval_seconds", "report_interval",
		  "Seconds between reports (0: none)." },
		{ "smtpblock_report_max", "report_max",
		  "Offenders listed in a report at most." },
		{ "smtpblock_log_burst", "log_burst",
		  "Blocked-SYN log lines allowed in a burst." },
		{ "smtpblock_log_interval_seconds", "log_interval",
		  "The period of the log rate limit." },
		{ "smtpblock_bulk_timeout_seconds", "bulk_timeout",
		  "An idle bulk load is aborted after this." },
		{ "smtpblock_exemptions_max", "exemptions_max",
		  "Exemptions allowed at most." },
	};
	char mode[32], ports[256], *p, *save = NULL;
	size_t i;

	single(m, "smtpblock_enabled", "gauge",
	       "1 while filtering, 0 when switched off.", "enabled");
	value(m, "mode", mode, sizeof(mode));
	family(m, "smtpblock_mode", "gauge",
	       "1 for the active mode, 0 for the others.");
	for (i = 0; i < N(modes); i++)
		fprintf(m->out, "smtpblock_mode{mode=\"%s\"} %d\n", modes[i],
			!strcmp(mode, modes[i]));
	value(m, "ports", ports, sizeof(ports));
	family(m, "smtpblock_watched_port", "gauge",
	       "1 for each watched destination port.");
	for (p = strtok_r(ports, " ", &save); p; p = strtok_r(NULL, " ", &save))
		fprintf(m->out, "smtpblock_watched_port{port=\"%s\"} 1\n", p);
	for (i = 0; i < N(tunables); i++)
		single(m, tunables[i][0], "gauge", tunables[i][2],
		       tunables[i][1]);
}

static void config(struct metrics *m)
{
	char when[64];
	s64 t = 0;

	single(m, "smtpblock_config_generation", "gauge",
	       "Grows by one with every configuration change; 1 at load.",
	       "stats/generation");
	value(m, "stats/changed_at", when, sizeof(when));
	if (!m->rc && sb_parse_utc(when, strlen(when), &t))
		m->rc = fail(RC_FAIL, "stats/changed_at: not a UTC time: '%s'",
			     when);
	family(m, "smtpblock_config_changed_timestamp_seconds", "gauge",
	       "Unix time of the last configuration change (the load's until then).");
	fprintf(m->out, "smtpblock_config_changed_timestamp_seconds %lld\n",
		(long long)t);
}

/*
 * The module's version is in /sys/module/smtpblock/version, found from
 * the sysfs root (/sys/kernel/smtpblock) so that SMTPBLOCK_SYSFS moves
 * both: ROOT/../../module/smtpblock/version.
 */
static void build_info(struct metrics *m)
{
	char path[PATH_MAX], version[64] = "unknown";
	struct utsname u;
	FILE *f;

	snprintf(path, sizeof(path), "%s/../../module/smtpblock/version",
		 sysfs_root);
	f = fopen(path, "r");
	if (f) {
		if (fgets(version, sizeof(version), f))
			version[strcspn(version, "\n\"\\")] = 0;
		fclose(f);
	}
	if (uname(&u))
		strcpy(u.release, "unknown");
	u.release[strcspn(u.release, "\"\\")] = 0;
	family(m, "smtpblock_build_info", "gauge",
	       "The module's version and the running kernel.");
	fprintf(m->out, "smtpblock_build_info{version=\"%s\",kernel=\"%s\"} 1\n",
		version, u.release);
}

/*
 * --textfile FILE: node_exporter's textfile collector reads every *.prom
 * in its directory at each scrape, so FILE must never be seen half
 * written: a temporary file in the same directory (its name starts with
 * a dot: not *.prom), synced, then renamed over FILE.
 */
static int write_textfile(const char *file, const char *text, size_t len)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, err = 0;

	snprintf(dir, sizeof(dir), "%s", file);
	if (snprintf(tmp, sizeof(tmp), "%s/.smtpblock.prom.XXXXXX",
		     dirname(dir)) >= (int)sizeof(tmp))
		return fail(RC_USAGE, "%s: path too long", file);
	errno = 0;
	fd = mkstemp(tmp);
	if (fd < 0)
		return fail(RC_FAIL, "%s: cannot create a file there: %s", tmp,
			    strerror(errno));
	if (write(fd, text, len) != (ssize_t)len || fchmod(fd, 0644) ||
	    fsync(fd))
		err = errno ?: EIO;
	if (close(fd) && !err)
		err = errno;
	if (!err && rename(tmp, file))
		err = errno;
	if (err) {
		unlink(tmp);
		return fail(RC_FAIL, "%s: %s", file, strerror(err));
	}
	return RC_OK;
}

/* No module, no numbers: the collector then reports nothing stale. */
static int remove_textfile(const char *file)
{
	if (unlink(file) && errno != ENOENT)
		return fail(RC_FAIL, "%s: cannot remove it: %s", file,
			    strerror(errno));
	return RC_OK;
}

int cmd_metrics(int argc, char **argv)
{
	struct metrics m = { 0 };
	const char *textfile = NULL;
	int rc;

	if (argc == 2 && !strcmp(argv[0], "--textfile") && argv[1][0])
		textfile = argv[1];
	else if (argc)
		return usage_error("usage: smtpblockctl metrics [--textfile FILE]");
	/*
	 * A timer runs --textfile every 15 s: a module not loaded is no
	 * error then (the file goes, quietly), or the journal would get a
	 * line every 15 s while the module is out on purpose.
	 */
	if (textfile && !is_dir(sysfs_root))
		return remove_textfile(textfile);
	rc = need_module();
	if (rc)
		return rc;
	m.out = open_memstream(&m.text, &m.len);
	if (!m.out)
		return fail(RC_FAIL, "out of memory");
	counters(&m);
	gauges(&m);
	settings(&m);
	config(&m);
	build_info(&m);
	if (fclose(m.out) && !m.rc)
		m.rc = fail(RC_FAIL, "out of memory");
	if (m.rc) {
		/* the module went away meanwhile: as if it had been gone */
		if (!is_dir(sysfs_root))
			m.rc = textfile ? remove_textfile(textfile) : RC_NOMODULE;
		else if (textfile)
			remove_textfile(textfile);
	} else if (textfile) {
		m.rc = write_textfile(textfile, m.text, m.len);
	} else if (fwrite(m.text, 1, m.len, stdout) != m.len || fflush(stdout)) {
		m.rc = fail(RC_FAIL, "cannot write the metrics: %s",
			    strerror(errno));
	}
	free(m.text);
	return m.rc;
}
