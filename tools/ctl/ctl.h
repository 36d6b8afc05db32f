/* SPDX-License-Identifier: GPL-2.0 */
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
#ifndef SMTPBLOCKCTL_CTL_H
#define SMTPBLOCKCTL_CTL_H

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


/* A growing byte buffer: whole files and whole sysfs attributes. */
struct buf {
	char *p;
	size_t len;
	size_t cap;
};


struct list_info {
	u32 lines;
	u32 entries;
};

extern const char *sysfs_root;
extern bool verbose;

void attr_path(char *path, const char *name);
void buf_free(struct buf *b);
int check_list_arg(const char *s);
int cmd_add(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_offenders(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_status(int argc, char **argv);
__attribute__((format(printf, 2, 3)))
int fail(int rc, const char *fmt, ...);
void find_line(const struct buf *in, u32 line, const char **s,
		      size_t *len);
const char *hint(const char *s, size_t len, bool in_file, char *buf,
			size_t size);
const char *input_label(const char *file);
int io_error(const char *name, int err, bool writing);
bool is_blank(char c);
bool is_dir(const char *path);
int need_module(void);
int open_attr(const char *name, int flags, int *fd);
const char *plural(u32 n, const char *one, const char *many);
const char *quote(const char *s, size_t len, char *buf);
int read_all(int fd, struct buf *b);
int read_attr(const char *name, struct buf *b);
int read_input(const char *file, struct buf *in);
int read_value(const char *name, char *out, size_t size);
int scan_attr(const char *name, FILE *out, u32 *lines);
void take_verbose(int *argc, char ***argv);
int usage_error(const char *what);
int validate(const char *label, const struct buf *in,
		    const char *list, struct list_info *info);
int write_attr(const char *name, const char *s, size_t len, int *err);
int write_simple(const char *name, const char *s);

int check_load_arg(const char *s);
int validate_input(const char *label, struct buf *in, const char *what,
		   struct list_info *info);
int cmd_exempt(int argc, char **argv);
int cmd_unexempt(int argc, char **argv);
int cmd_exemptions(int argc, char **argv);
int exemptions_summary(char *out, size_t size);
int exemptions_prepare(const char *label, struct buf *in, u32 *entries);

#endif /* SMTPBLOCKCTL_CTL_H */
