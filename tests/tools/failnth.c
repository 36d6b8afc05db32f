// SPDX-License-Identifier: GPL-2.0
/*
 * failnth - one write() to a file with the Nth fault-injection point of
 * that write failing, for the smtpblock fault tests (debug kernel only).
 *
 *   failnth N FILE TEXT
 *
 * Opens FILE and /proc/thread-self/fail-nth first, so that the opens
 * themselves are not counted; arms fail-nth with N; write()s TEXT to FILE
 * in one call; reads fail-nth back (0: a fault was injected during the
 * write; still > 0: the write made fewer than N faultable calls) and
 * disarms it. Prints one line:
 *
 *   injected=0|1 result=OK|ERRNO_NAME
 *
 * Exit status 0 when that line was printed, 1 on a setup error, 64 usage.
 * Needs CONFIG_FAULT_INJECTION_DEBUG_FS, and failslab / fail_page_alloc
 * configured (ignore-gfp-wait=N) in debugfs by the caller.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char num[32];
	int fd, nth, injected;
	ssize_t n, len;
	long v;

	if (argc != 4 || atoi(argv[1]) <= 0) {
		fprintf(stderr, "usage: failnth N FILE TEXT\n");
		return 64;
	}
	fd = open(argv[2], O_WRONLY);
	if (fd < 0) {
		perror(argv[2]);
		return 1;
	}
	nth = open("/proc/thread-self/fail-nth", O_RDWR);
	if (nth < 0) {
		perror("/proc/thread-self/fail-nth");
		return 1;
	}
	len = snprintf(num, sizeof(num), "%d", atoi(argv[1]));
	if (write(nth, num, len) != len) {
		perror("arming fail-nth");
		return 1;
	}
	n = write(fd, argv[3], strlen(argv[3]));
	int err = errno;

	/* Reading it does not allocate; writing 0 disarms. */
	len = pread(nth, num, sizeof(num) - 1, 0);
	if (len <= 0) {
		perror("reading fail-nth");
		return 1;
	}
	num[len] = '\0';
	v = strtol(num, NULL, 10);
	injected = v == 0;
	if (pwrite(nth, "0", 1, 0) != 1 && errno != EINVAL) {
		perror("disarming fail-nth");
		return 1;
	}
	if (n == (ssize_t)strlen(argv[3]))
		printf("injected=%d result=OK\n", injected);
	else if (n >= 0)
		printf("injected=%d result=SHORT\n", injected);
	else
		printf("injected=%d result=%s\n", injected, strerrorname_np(err));
	return 0;
}
