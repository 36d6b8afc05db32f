// SPDX-License-Identifier: GPL-2.0
/*
 * smtpblockctl: the operator's tool for /sys/kernel/smtpblock: the
 * commands, the options, the usage text. One file per subject, as
 * iproute2's ip/ splits by object; ctl.h is what they share (one parser
 * of the command line, one set of exit codes).
 */
#include "ctl.h"

const char *sysfs_root = DEFAULT_SYSFS;

bool verbose;

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
"  load exemptions FILE         replace the exemptions (expired lines\n"
"                               are skipped, one message each)\n"
"  check LIST|exemptions FILE   validate FILE only (needs no module)\n"
"  set SETTING VALUE...         change a setting: enabled, mode, ports,\n"
"                               offenders_max, offender_ttl, report_interval,\n"
"                               report_max, log_burst, log_interval,\n"
"                               bulk_timeout, exemptions_max\n"
"  offenders                    print the offender table (root only)\n"
"  report                       print a report to the kernel log now\n"
"  exempt PREFIX (--for DURATION | --until TIME) [--note TEXT]\n"
"                               grant an exemption (DURATION: 90m, 36h,\n"
"                               7d, 2w; TIME: 2026-12-31T17:00:00Z), in\n"
"                               the module and in the exemptions file\n"
"  unexempt PREFIX              remove one, from both\n"
"  exemptions                   the exemptions, with the time left\n"
"  metrics [--textfile FILE]    stats and settings for Prometheus (text\n"
"                               format); without the module: nothing\n"
"                               printed, exit 4 (--textfile: FILE written\n"
"                               atomically; removed, exit 0, without it)\n"
"\n"
"FILE: one address or prefix per line; '#' starts a comment; blank lines\n"
"and surrounding white space are ignored. An exemptions FILE has lines\n"
"'PREFIX until=TIME [note=TEXT]' ('#' starts a comment at a word's start).\n"
"\n"
"Options:\n"
"  -v, --verbose  load, check: print a one-line summary on success\n"
"  -h, --help     print this help\n"
"  -V, --version  print the version\n"
"\n"
"Environment: SMTPBLOCK_SYSFS, SMTPBLOCK_EXEMPTIONS_FILE (default\n"
"/etc/smtpblock/exemptions.list).\n"
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
	{ "exempt", cmd_exempt },
	{ "unexempt", cmd_unexempt },
	{ "exemptions", cmd_exemptions },
	{ "metrics", cmd_metrics },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
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
	while ((c = getopt_long(argc, argv, "+hvV", opts, NULL)) != -1) {
		switch (c) {
		case 'V':
			puts("smtpblockctl " SMTPBLOCK_VERSION);
			return fflush(stdout) ? RC_FAIL : RC_OK;
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
