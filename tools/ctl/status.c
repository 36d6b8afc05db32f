// SPDX-License-Identifier: GPL-2.0
/* smtpblockctl: status, settings, offenders, report. */
#include "ctl.h"

static const char *const counters[] = {
	"syn_seen", "allowed_external", "allowed_internal", "allowed_relay",
	"blocked", "dropped", "rejected", "monitored",
	"offenders_evicted", "log_suppressed",
};

static const char *const tunables[] = {
	"offenders_max", "offender_ttl", "report_interval", "report_max",
	"log_burst", "log_interval", "bulk_timeout", "exemptions_max",
};

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
int cmd_set(int argc, char **argv)
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

int cmd_status(int argc, char **argv)
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
	/* (a module older than exemptions has no file of them) */
	attr_path(path, "exemptions");
	if (!access(path, F_OK)) {
		char ex[128];

		r = exemptions_summary(ex, sizeof(ex));
		rc = rc ?: r;
		printf("  %-20s %s\n", "exemptions", r ? "?" : ex);
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

int cmd_offenders(int argc, char **argv)
{
	(void)argv;
	if (argc)
		return usage_error("usage: smtpblockctl offenders");
	return need_module() ?: scan_attr("offenders", stdout, NULL);
}

int cmd_report(int argc, char **argv)
{
	(void)argv;
	if (argc)
		return usage_error("usage: smtpblockctl report");
	return need_module() ?: write_simple("report", "1");
}
