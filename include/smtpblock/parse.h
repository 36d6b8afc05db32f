/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parsing of everything an operator writes: module parameters and sysfs
 * writes share these functions, so both accept exactly the same text.
 * Items are separated by commas or white space; an empty item is an error.
 */
#ifndef SMTPBLOCK_PARSE_H
#define SMTPBLOCK_PARSE_H

#include "smtpblock/prefix_set.h"

#define SB_MAX_PORTS 16

enum sb_mode {
	SB_MODE_DROP,
	SB_MODE_REJECT,
	SB_MODE_MONITOR,
};

/* What went wrong, for the one log line a failed write produces. */
struct sb_parse_err {
	u32 pos;		/* 1-based item number; 0: the write as a whole */
	const char *tok;	/* the offending item (not NUL-terminated) */
	u32 tok_len;
};

struct sb_tokenizer {
	const char *p;
	const char *end;
	u32 pos;
	bool after_comma;
};

struct sb_token {
	const char *s;
	u32 len;
	u32 pos;
};

struct sb_ports {
	u16 n;
	u16 port[SB_MAX_PORTS];		/* ascending, no duplicates */
};

/* A parsed list write: either a replacement or edits of the current list. */
struct sb_list_write {
	bool replace;		/* plain prefixes, or "flush" first */
	bool flush;		/* "flush" first */
	struct sb_edit *edits;	/* owned; free with sb_list_write_free() */
	u32 n;
};

void sb_tokenizer_init(struct sb_tokenizer *t, const char *buf, size_t len);
int sb_token_next(struct sb_tokenizer *t, struct sb_token *tok,
		  struct sb_parse_err *err);

int sb_list_parse(const char *buf, size_t len, struct sb_list_write *w,
		  struct sb_parse_err *err);
void sb_list_write_free(struct sb_list_write *w);
int sb_ports_parse(const char *buf, size_t len, struct sb_ports *ports,
		   struct sb_parse_err *err);
int sb_mode_parse(const char *buf, size_t len, enum sb_mode *mode,
		  struct sb_parse_err *err);
int sb_bool_parse(const char *buf, size_t len, bool *val,
		  struct sb_parse_err *err);
int sb_u32_parse(const char *buf, size_t len, u32 min, u32 max, u32 *val,
		 struct sb_parse_err *err);
const char *sb_mode_name(enum sb_mode mode);

#endif /* SMTPBLOCK_PARSE_H */
