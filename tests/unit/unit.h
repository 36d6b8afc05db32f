/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal KTAP harness for the userspace unit tests of the pure files.
 * Each UNIT_TEST is one KTAP test; its failed CHECKs print as diagnostics.
 */
#ifndef SMTPBLOCK_UNIT_H
#define SMTPBLOCK_UNIT_H

#include <stdio.h>
#include <string.h>
#include "smtpblock/base.h"

struct unit_test {
	const char *name;
	void (*fn)(void);
};

static int unit_failures;
static int unit_checks;

#define CHECK(cond) do {						\
	unit_checks++;							\
	if (!(cond)) {							\
		unit_failures++;					\
		printf("# %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, \
		       #cond);						\
	}								\
} while (0)

/* CHECK with a printf-style note, for checks made in a loop over cases. */
#define CHECKF(cond, fmt, ...) do {					\
	unit_checks++;							\
	if (!(cond)) {							\
		unit_failures++;					\
		printf("# %s:%d: CHECK(%s) failed: " fmt "\n", __FILE__, \
		       __LINE__, #cond, __VA_ARGS__);			\
	}								\
} while (0)

/* A small deterministic PRNG (xorshift64*), so failures reproduce. */
static u64 unit_rng_state = 0x9e3779b97f4a7c15ULL;

static inline u64 unit_rand(void)
{
	unit_rng_state ^= unit_rng_state >> 12;
	unit_rng_state ^= unit_rng_state << 25;
	unit_rng_state ^= unit_rng_state >> 27;
	return unit_rng_state * 0x2545f4914f6cdd1dULL;
}

static inline int unit_run(const char *suite, const struct unit_test *tests,
			   int n)
{
	int i, failed = 0;

	printf("TAP version 13\n1..%d\n", n);
	for (i = 0; i < n; i++) {
		unit_failures = 0;
		unit_checks = 0;
		tests[i].fn();
		printf("%sok %d %s.%s # %d checks\n", unit_failures ? "not " : "",
		       i + 1, suite, tests[i].name, unit_checks);
		failed += unit_failures != 0;
	}
	return failed ? 1 : 0;
}

#define UNIT_MAIN(suite, ...)						\
int main(void)								\
{									\
	static const struct unit_test tests[] = { __VA_ARGS__ };	\
	return unit_run(suite, tests, sizeof(tests) / sizeof(tests[0])); \
}

#define T(fn) { #fn, fn }

#endif /* SMTPBLOCK_UNIT_H */
