// SPDX-License-Identifier: GPL-2.0
/* UTC times in ISO 8601, both ways: see utc.h. */
#include "smtpblock/utc.h"

/* Days since 1970-01-01 to a civil date (proleptic Gregorian calendar). */
static void civil_from_days(s64 days, s64 *y, u32 *m, u32 *d)
{
	s64 z = days + 719468;
	s64 era = (z >= 0 ? z : z - 146096) / 146097;
	s64 doe = z - era * 146097;			/* [0, 146096] */
	s64 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	s64 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	s64 mp = (5 * doy + 2) / 153;			/* March = 0 */

	*d = (u32)(doy - (153 * mp + 2) / 5 + 1);
	*m = (u32)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* UTC ISO 8601, "2026-11-28T01:02:03Z", for matching DHCP/RADIUS logs. */
size_t sb_format_utc(s64 t, char *buf)
{
	s64 days = t / 86400, secs = t % 86400, y;
	u32 m, d;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	return (size_t)snprintf(buf, SB_UTC_STRLEN, "%04lld-%02u-%02uT%02u:%02u:%02uZ",
				(long long)y, m, d, (u32)(secs / 3600),
				(u32)(secs / 60 % 60), (u32)(secs % 60));
}

/* A civil date to days since 1970-01-01: the inverse of the above. */
static s64 days_from_civil(s64 y, u32 m, u32 d)
{
	s64 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;					/* [0, 399] */
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;	/* [0, 365] */
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;		/* [0, 146096] */
	return era * 146097 + doe - 719468;
}

static bool leap_year(s64 y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* @n decimal digits at @s, or -1. */
static int digits(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * sb_parse_utc - "YYYY-MM-DDTHH:MM:SSZ" exactly, a real date and time of
 * day (no leap second, no other zone, no fraction): 0 and *@t, or -EINVAL.
 */
int sb_parse_utc(const char *s, size_t len, s64 *t)
{
	static const u8 mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec;

	if (len != SB_UTC_STRLEN - 1 || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
		return -EINVAL;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !leap_year(y)) || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || sec < 0 || sec > 59)
		return -EINVAL;
	*t = days_from_civil(y, (u32)mo, (u32)d) * 86400 + h * 3600 + mi * 60 +
	     sec;
	return 0;
}
