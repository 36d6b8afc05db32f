// SPDX-License-Identifier: GPL-2.0
/*
 * readpages - read one file through several open descriptors at once, a
 * page from each in turn, for the smtpblock reader tests.
 *
 *   readpages N FILE OUT
 *
 * Opens FILE N times, then reads 4096 bytes from each descriptor in turn
 * until every one reaches its end, and writes what descriptor i read to
 * OUT.i. Prints one line:
 *
 *   reads=R sys_us=S
 *
 * R: the read() calls made; S: the system time this process used, which
 * is the kernel's work for it (compare N=1 with N=2 in one run). Exit
 * status 0, 1 on an error, 64 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_FDS 64

int main(int argc, char **argv)
{
	int fd[MAX_FDS], out[MAX_FDS], n, i, open_fds;
	char buf[4096], path[4096];
	unsigned long reads = 0;
	struct rusage ru;
	ssize_t got;

	if (argc != 4 || (n = atoi(argv[1])) < 1 || n > MAX_FDS) {
		fprintf(stderr, "usage: readpages N FILE OUT (1 <= N <= %d)\n",
			MAX_FDS);
		return 64;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s.%d", argv[3], i);
		fd[i] = open(argv[2], O_RDONLY);
		out[i] = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd[i] < 0 || out[i] < 0) {
			fprintf(stderr, "readpages: %s: %s\n",
				fd[i] < 0 ? argv[2] : path, strerror(errno));
			return 1;
		}
	}
	for (open_fds = n; open_fds;) {
		for (i = 0; i < n; i++) {
			if (fd[i] < 0)
				continue;
			got = read(fd[i], buf, sizeof(buf));
			reads++;
			if (got < 0) {
				fprintf(stderr, "readpages: read %d: %s\n", i,
					strerror(errno));
				return 1;
			}
			if (got == 0) {
				close(fd[i]);
				fd[i] = -1;
				open_fds--;
			} else if (write(out[i], buf, got) != got) {
				fprintf(stderr, "readpages: write: %s\n",
					strerror(errno));
				return 1;
			}
		}
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("reads=%lu sys_us=%ld\n", reads,
	       (long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec);
	return 0;
}
