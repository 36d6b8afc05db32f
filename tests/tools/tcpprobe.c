/*
 * tcpprobe - minimal TCP connect/listen helper for the smtpblock selftests.
 *
 *   tcpprobe connect [-b SRCADDR] [-t TIMEOUT_MS] ADDR PORT
 *   tcpprobe listen [-r READY_FILE] ADDR PORT [PORT...]
 *
 * "connect" prints exactly one line on stdout describing how the attempt
 * ended, so shell tests can match on it without parsing errno text:
 *
 *   connected|refused|timeout|unreachable|error <ENAME>  followed by " <N>ms"
 *
 * and exits 0 (connected), 1 (refused), 2 (timeout) or 3 (anything else).
 *
 * "listen" accepts and immediately closes connections on every given port
 * until it is killed.  READY_FILE is created once all sockets listen, so a
 * test can wait for it instead of sleeping.  The caller should remove a
 * stale READY_FILE before starting the listener.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE	64
#define MAX_PORTS	64
#define DEF_TIMEOUT_MS	3000

enum result {
	RES_CONNECTED	= 0,
	RES_REFUSED	= 1,
	RES_TIMEOUT	= 2,
	RES_OTHER	= 3,
};

static _Noreturn void usage(void)
{
	fprintf(stderr,
"usage: tcpprobe connect [-b SRCADDR] [-t TIMEOUT_MS] ADDR PORT\n"
"       tcpprobe listen [-r READY_FILE] ADDR PORT [PORT...]\n"
"\n"
"connect prints one line: connected|refused|timeout|unreachable|\n"
"error <ENAME>, then \" <N>ms\"; exit 0/1/2/3 respectively\n"
"(unreachable and error both exit 3). Default timeout %d ms.\n"
"listen accepts and closes connections until killed and creates\n"
"READY_FILE once every port listens.\n",
		DEF_TIMEOUT_MS);
	exit(EXIT_USAGE);
}

/*
 * Symbolic errno names: tests match on these, and strerror() text is
 * locale dependent.  Only errors connect()/bind() can plausibly return
 * are listed; anything else is printed numerically.
 */
#define ENAME(e) { e, #e }
static const struct {
	int err;
	const char *name;
} enames[] = {
	ENAME(EPERM), ENAME(EACCES), ENAME(EINVAL), ENAME(ENOMEM),
	ENAME(ENOBUFS), ENAME(EMFILE), ENAME(ENFILE), ENAME(EINTR),
	ENAME(EAFNOSUPPORT), ENAME(EADDRINUSE), ENAME(EADDRNOTAVAIL),
	ENAME(ENETDOWN), ENAME(ENETUNREACH), ENAME(ENETRESET),
	ENAME(ECONNABORTED), ENAME(ECONNRESET), ENAME(ECONNREFUSED),
	ENAME(EHOSTDOWN), ENAME(EHOSTUNREACH), ENAME(ETIMEDOUT),
	ENAME(EPROTO), ENAME(ENOPROTOOPT), ENAME(EPROTONOSUPPORT),
	ENAME(EOPNOTSUPP), ENAME(EMSGSIZE), ENAME(ENONET),
	ENAME(EISCONN), ENAME(EALREADY), ENAME(EINPROGRESS),
};

static const char *errno_name(int err)
{
	static char buf[32];
	size_t i;

	for (i = 0; i < sizeof(enames) / sizeof(enames[0]); i++)
		if (enames[i].err == err)
			return enames[i].name;
	snprintf(buf, sizeof(buf), "E%d", err);
	return buf;
}

static long parse_num(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "tcpprobe: bad number '%s'\n", s);
		usage();
	}
	return v;
}

/*
 * Numeric-only resolution: the tests never want DNS, and getaddrinfo()
 * handles both families plus IPv6 scope ids ("fe80::1%veth0").
 */
static int parse_addr(const char *host, int port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct addrinfo hints = {
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
	};
	struct addrinfo *ai;
	char serv[8];

	snprintf(serv, sizeof(serv), "%d", port);
	if (getaddrinfo(host, serv, &hints, &ai))
		return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Returns 0 if connected, an errno value otherwise (ETIMEDOUT on timeout). */
static int try_connect(const struct sockaddr_storage *dst, socklen_t dlen,
		       const struct sockaddr_storage *src, socklen_t slen,
		       long timeout_ms)
{
	long deadline = now_ms() + timeout_ms;
	struct pollfd pfd;
	socklen_t elen = sizeof(int);
	int fd, err = 0;

	fd = socket(dst->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return errno;
	if (src && bind(fd, (const struct sockaddr *)src, slen) < 0) {
		err = errno;
		goto out;
	}
	if (connect(fd, (const struct sockaddr *)dst, dlen) == 0)
		goto out;
	if (errno != EINPROGRESS) {
		err = errno;
		goto out;
	}

	pfd.fd = fd;
	pfd.events = POLLOUT;
	for (;;) {
		long left = deadline - now_ms();
		int n;

		if (left < 0)
			left = 0;
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			break;
		if (n == 0) {
			err = ETIMEDOUT;
			goto out;
		}
		if (errno != EINTR) {
			err = errno;
			goto out;
		}
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		err = errno;
out:
	close(fd);
	return err;
}

static int cmd_connect(int argc, char **argv)
{
	struct sockaddr_storage dst, src;
	socklen_t dlen, slen = 0;
	const char *srcaddr = NULL;
	long timeout = DEF_TIMEOUT_MS, start, elapsed;
	int opt, port, err;
	enum result res;

	while ((opt = getopt(argc, argv, "+b:t:h")) != -1) {
		switch (opt) {
		case 'b':
			srcaddr = optarg;
			break;
		case 't':
			timeout = parse_num(optarg, 0, 3600 * 1000);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 2)
		usage();

	port = (int)parse_num(argv[optind + 1], 1, 65535);
	if (parse_addr(argv[optind], port, &dst, &dlen)) {
		fprintf(stderr, "tcpprobe: bad address '%s'\n", argv[optind]);
		usage();
	}
	if (srcaddr) {
		if (parse_addr(srcaddr, 0, &src, &slen) ||
		    src.ss_family != dst.ss_family) {
			fprintf(stderr, "tcpprobe: bad source address '%s'\n",
				srcaddr);
			usage();
		}
	}

	start = now_ms();
	err = try_connect(&dst, dlen, srcaddr ? &src : NULL, slen, timeout);
	elapsed = now_ms() - start;

	switch (err) {
	case 0:
		printf("connected");
		res = RES_CONNECTED;
		break;
	case ECONNREFUSED:
		printf("refused");
		res = RES_REFUSED;
		break;
	case ETIMEDOUT:
		/* Also covers the kernel giving up on SYN retransmits. */
		printf("timeout");
		res = RES_TIMEOUT;
		break;
	case EHOSTUNREACH:
	case ENETUNREACH:
		printf("unreachable");
		res = RES_OTHER;
		break;
	default:
		printf("error %s", errno_name(err));
		res = RES_OTHER;
		break;
	}
	printf(" %ldms\n", elapsed);
	return res;
}

static int listen_one(const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (parse_addr(addr, port, &ss, &len)) {
		fprintf(stderr, "tcpprobe: bad address '%s'\n", addr);
		usage();
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		perror("tcpprobe: socket");
		exit(1);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		perror("tcpprobe: SO_REUSEADDR");
		exit(1);
	}
	/* Keep the v4 and v6 listeners of a test independent of each other. */
	if (ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
		perror("tcpprobe: IPV6_V6ONLY");
		exit(1);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		fprintf(stderr, "tcpprobe: bind %s port %d: %s\n",
			addr, port, strerror(errno));
		exit(1);
	}
	if (listen(fd, 128) < 0) {
		perror("tcpprobe: listen");
		exit(1);
	}
	return fd;
}

static void create_ready_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0) {
		fprintf(stderr, "tcpprobe: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	close(fd);
}

/* Drain the accept queue; sockets are non-blocking so this cannot hang. */
static void accept_all(int lfd)
{
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
}

static int cmd_listen(int argc, char **argv)
{
	struct pollfd pfds[MAX_PORTS];
	const char *ready = NULL;
	int opt, i, n;

	while ((opt = getopt(argc, argv, "+r:h")) != -1) {
		switch (opt) {
		case 'r':
			ready = optarg;
			break;
		default:
			usage();
		}
	}
	n = argc - optind - 1;
	if (n < 1 || n > MAX_PORTS)
		usage();

	for (i = 0; i < n; i++) {
		int port = (int)parse_num(argv[optind + 1 + i], 1, 65535);

		pfds[i].fd = listen_one(argv[optind], port);
		pfds[i].events = POLLIN;
	}
	if (ready)
		create_ready_file(ready);

	for (;;) {
		if (poll(pfds, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("tcpprobe: poll");
			return 1;
		}
		for (i = 0; i < n; i++)
			if (pfds[i].revents & POLLIN)
				accept_all(pfds[i].fd);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	/* Let getopt() see the subcommand as argv[0]. */
	if (!strcmp(argv[1], "connect"))
		return cmd_connect(argc - 1, argv + 1);
	if (!strcmp(argv[1], "listen"))
		return cmd_listen(argc - 1, argv + 1);
	usage();
}
