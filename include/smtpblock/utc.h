/* SPDX-License-Identifier: GPL-2.0 */
/*
 * UTC times as the abuse desk and the helpdesk write them: ISO 8601,
 * "2026-11-28T01:02:03Z", seconds since 1970 inside.
 */
#ifndef SMTPBLOCK_UTC_H
#define SMTPBLOCK_UTC_H

#include "smtpblock/base.h"

/* "2026-11-28T01:02:03Z" and a NUL. */
#define SB_UTC_STRLEN 21

size_t sb_format_utc(s64 t, char *buf);
int sb_parse_utc(const char *s, size_t len, s64 *t);

#endif /* SMTPBLOCK_UTC_H */
