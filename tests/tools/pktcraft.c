/*
 * pktcraft - craft raw TCP packets and count them at the receiver, for the
 * smtpblock selftests.
 *
 *   pktcraft send [options] --dst ADDR
 *   pktcraft batch [FILE]      one send per line (its options), in order
 *   pktcraft sniff -i IFACE [-t TIMEOUT_MS] [--mark M] [--expect N]
 *                  [--marks LO-HI] [--rst] [--fence F] [--fences N]
 *                  [--dir in|out|any] [-r READY_FILE]
 *
 * "send" builds the whole IP packet itself (raw IPPROTO_RAW socket) so that
 * it can emit what a normal socket never would: IPv4 options, long IPv6
 * extension header chains, fragments, truncated TCP headers.  Every packet
 * carries a mark (IPv4 ID / IPv6 flow label) so "sniff" on the receiving
 * side can count exactly these packets and nothing else.
 *
 * Run "pktcraft -h" for the option list.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE	64
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define IPV4_HDR_LEN	20
#define IPV6_HDR_LEN	40
#define TCP_HDR_LEN	20
#define MAX_IP_LEN	65535
#define MAX_EXT		8192	/* 8-byte headers: more cannot fit anyway */

/* IPv6 next-header values used in extension chains. */
#define NH_HBH		0
#define NH_TCP		6
#define NH_RT		43
#define NH_FRAG		44
#define NH_AH		51
#define NH_DST		60

/* TCP header flag bits (byte 13). */
#define TCPF_FIN	0x01
#define TCPF_SYN	0x02
#define TCPF_RST	0x04
#define TCPF_PSH	0x08
#define TCPF_ACK	0x10
#define TCPF_URG	0x20
#define TCPF_ECE	0x40
#define TCPF_CWR	0x80

#define AH_LEN		24	/* 12-byte fixed part + 12-byte (zero) ICV */
#define RT_TYPE_UNUSED	253	/* RFC 4727 experimental, never processed */

#define DEF_SPORT	40000
#define DEF_DPORT	25
#define DEF_MARK	0x5b5b
#define DEF_TIMEOUT_MS	2000

static _Noreturn void usage(void)
{
	fprintf(stderr,
"usage: pktcraft send [-4|-6] --dst ADDR [--src ADDR] [--sport N] [--dport N]\n"
"           [--flags LIST] [--mark M] [--count N] [--ip-options N]\n"
"           [--vary-src N] [--vary-net N] [--vary-dst N]\n"
"           [--ext LIST] [--ext-repeat N] [--frag-offset N]\n"
"           [--more-fragments] [--frag-id N] [--frag-len L] [--tcp-bytes K]\n"
"           [--payload N]\n"
"       pktcraft batch [FILE]\n"
"       pktcraft sniff -i IFACE [-t TIMEOUT_MS] [--mark M] [--expect N]\n"
"           [--marks LO-HI] [--rst] [--fence F] [--fences N] [--dir in|out|any]\n"
"           [-r READY_FILE]\n"
"\n"
"send:\n"
"  --src          default: the address the kernel would pick for --dst\n"
"  --sport/dport  default %d / %d\n"
"  --flags        comma list of syn,ack,fin,rst,psh,urg,ece,cwr or none\n"
"                 (default syn)\n"
"  --mark         IPv4 ID (1..0xffff) / IPv6 flow label (0..0xfffff),\n"
"                 default 0x%x\n"
"  --ip-options   IPv4: N bytes of options (4..40, multiple of 4)\n"
"  --vary-src N   packet i: source's low 32 bits + i %% N (IPv6: same /64)\n"
"  --vary-net N   IPv6: packet i's source in the /64 numbered + i %% N\n"
"  --vary-dst N   packet i: destination's low 32 bits + i %% N\n"
"  --ext          IPv6: comma list of hbh,dst,rt,ah,frag, emitted in order\n"
"  --ext-repeat   IPv6: emit every 'dst' of --ext N times\n"
"  --frag-offset  offset in 8-byte units into the fragmentable part: for\n"
"                 IPv6 the headers after the fragment header, then TCP\n"
"                 (so those headers only appear in first fragments).\n"
"                 IPv6 appends a fragment header to --ext if it has none\n"
"  --more-fragments  set the MF / M bit\n"
"  --frag-id      IPv6 fragment id (default: the mark); IPv4 uses the mark\n"
"  --frag-len     carry exactly L bytes of the fragmentable part from\n"
"                 offset*8 (zero-padded); default: up to its end, and at\n"
"                 least 8 bytes for a non-first fragment\n"
"  --tcp-bytes    keep only the first K (0..20) TCP header bytes, and no\n"
"                 payload; the TCP checksum still covers the full segment\n"
"  --payload      N zero bytes after the TCP header\n"
"batch: the sends of FILE (default: stdin), one per line, written as the\n"
"  options of send ('#' starts a comment), from one process pinned to one\n"
"  CPU: a fence on the last line cannot overtake the packets before it\n"
"sniff: prints the number of packets carrying the mark seen on IFACE\n"
"  (default direction: in) within TIMEOUT_MS (default %d) or until N were\n"
"  seen, or until N packets (--fences, default 1) carrying mark F (fences\n"
"  sent after the packets under test: what is not there by then was\n"
"  dropped) arrived; exits 3 when the fences did not all come in time.\n"
"  --marks LO-HI: counts every mark in LO..HI apart and prints a line\n"
"  'MARK COUNT' (decimal) for each mark seen, instead of one number.\n"
"  --rst: counts TCP segments with RST set, whatever their mark (the\n"
"  resets a router sends carry none of ours); fences still by mark.\n"
"  Creates READY_FILE once capturing.\n",
		DEF_SPORT, DEF_DPORT, DEF_MARK, DEF_TIMEOUT_MS);
	exit(EXIT_USAGE);
}

/* The line of a batch being sent, for error messages; 0 outside batch. */
static unsigned long batch_line;

static void error_prefix(void)
{
	fprintf(stderr, "pktcraft: ");
	if (batch_line)
		fprintf(stderr, "batch line %lu: ", batch_line);
}

static _Noreturn void die(const char *what)
{
	int err = errno;

	error_prefix();
	fprintf(stderr, "%s: %s\n", what, strerror(err));
	exit(1);
}

static _Noreturn __attribute__((format(printf, 1, 2)))
void bad_arg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_prefix();
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(pktcraft -h for help)\n");
	exit(EXIT_USAGE);
}

static unsigned long parse_num(const char *s, unsigned long min,
			       unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || strchr(s, '-') || v < min || v > max)
		bad_arg("bad or out of range number '%s'", s);
	return v;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static uint16_t get16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* One's complement sum of big-endian 16-bit words (RFC 1071). */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	while (len > 1) {
		sum += get16(p);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static void create_ready_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		die(path);
	close(fd);
}

/*
 * Numeric-only parsing: no DNS in tests, and getaddrinfo() gives us
 * IPv6 scope ids ("fe80::1%veth0") for free.
 */
static int parse_addr(const char *host, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct addrinfo hints = {
		.ai_flags = AI_NUMERICHOST,
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_RAW,
	};
	struct addrinfo *ai;

	if (getaddrinfo(host, NULL, &hints, &ai))
		return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* Raw address bytes (4 or 16) of a sockaddr_in/sockaddr_in6. */
static const uint8_t *addr_bytes(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return (const uint8_t *)&sin->sin_addr;
	return (const uint8_t *)&sin6->sin6_addr;
}

/* ------------------------------------------------------------------ send */

struct craft {
	int family;			/* AF_INET or AF_INET6 */
	struct sockaddr_storage src;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	bool have_src;
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint32_t mark;
	unsigned long count;
	unsigned long vary_src;		/* sources: low 32 bits + i % N */
	unsigned long vary_net;		/* IPv6 /64s: bits 32..63 + i % N */
	unsigned long vary_dst;		/* destinations: low 32 bits + i % N */
	unsigned int ip_opts;		/* IPv4 option bytes */
	const char *ext_list;		/* IPv6, parsed after all options */
	unsigned int ext_repeat;
	uint8_t ext[MAX_EXT];		/* IPv6 extension header types */
	unsigned int n_ext;
	unsigned int frag_off;		/* in 8-byte units */
	bool more_frags;
	bool frag_id_set;
	uint32_t frag_id;
	unsigned int tcp_bytes;
	unsigned int payload;
	long frag_len;			/* -1: up to the end of the datagram */
};

static const struct {
	const char *name;
	uint8_t bit;
} tcp_flag_names[] = {
	{ "fin", TCPF_FIN }, { "syn", TCPF_SYN }, { "rst", TCPF_RST },
	{ "psh", TCPF_PSH }, { "ack", TCPF_ACK }, { "urg", TCPF_URG },
	{ "ece", TCPF_ECE }, { "cwr", TCPF_CWR },
};

static uint8_t parse_flags(const char *list)
{
	char *copy = strdup(list), *tok, *save;
	uint8_t flags = 0;
	size_t i;

	if (!copy)
		die("strdup");
	if (!strcmp(list, "none"))
		goto out;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < ARRAY_SIZE(tcp_flag_names); i++)
			if (!strcmp(tok, tcp_flag_names[i].name))
				break;
		if (i == ARRAY_SIZE(tcp_flag_names))
			bad_arg("unknown TCP flag '%s'", tok);
		flags |= tcp_flag_names[i].bit;
	}
	if (!flags)
		bad_arg("empty flag list '%s' (use 'none')", list);
out:
	free(copy);
	return flags;
}

static void ext_push(struct craft *c, uint8_t type)
{
	if (c->n_ext >= MAX_EXT)
		bad_arg("too many extension headers");
	c->ext[c->n_ext++] = type;
}

static void parse_ext(struct craft *c)
{
	char *copy, *tok, *save;
	bool have_dst = false, have_frag = false;
	unsigned int i;

	if (c->ext_list) {
		copy = strdup(c->ext_list);
		if (!copy)
			die("strdup");
		for (tok = strtok_r(copy, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			if (!strcmp(tok, "hbh")) {
				ext_push(c, NH_HBH);
			} else if (!strcmp(tok, "dst")) {
				for (i = 0; i < c->ext_repeat; i++)
					ext_push(c, NH_DST);
				have_dst = true;
			} else if (!strcmp(tok, "rt")) {
				ext_push(c, NH_RT);
			} else if (!strcmp(tok, "ah")) {
				ext_push(c, NH_AH);
			} else if (!strcmp(tok, "frag")) {
				ext_push(c, NH_FRAG);
				have_frag = true;
			} else {
				bad_arg("unknown extension header '%s'", tok);
			}
		}
		free(copy);
	}
	if (c->ext_repeat != 1 && !have_dst)
		bad_arg("--ext-repeat needs 'dst' in --ext");
	/* Asking for fragment fields implies a fragment header. */
	if (!have_frag && (c->frag_off || c->more_frags || c->frag_id_set))
		ext_push(c, NH_FRAG);
}

/*
 * The TCP checksum needs the source address, so ask the kernel which one
 * it would use: connect() on a UDP socket only does the route lookup.
 */
static void pick_source(struct craft *c)
{
	struct sockaddr_storage tmp = c->dst;
	socklen_t len = sizeof(c->src);
	int fd;

	if (tmp.ss_family == AF_INET)
		((struct sockaddr_in *)&tmp)->sin_port = htons(9);
	else
		((struct sockaddr_in6 *)&tmp)->sin6_port = htons(9);
	fd = socket(c->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&tmp, c->dst_len) < 0)
		die("no route to --dst");
	if (getsockname(fd, (struct sockaddr *)&c->src, &len) < 0)
		die("getsockname");
	close(fd);
}

/*
 * Build the complete TCP segment with a correct checksum over the
 * pseudo-header (RFC 793 / RFC 8200 8.1: the final destination and the
 * upper-layer length), then apply --tcp-bytes.  The checksum always
 * covers the untruncated segment, as it would for a real datagram that
 * is later fragmented.  Returns the (possibly truncated) length.
 */
static size_t build_segment(const struct craft *c, uint8_t *seg)
{
	size_t len = TCP_HDR_LEN + c->payload, alen;
	uint8_t pseudo[40] = { 0 };
	uint32_t sum;

	memset(seg, 0, len);
	put16(seg + 0, c->sport);
	put16(seg + 2, c->dport);
	put32(seg + 4, 0x5b000001);			/* seq, arbitrary */
	put32(seg + 8, (c->tcp_flags & TCPF_ACK) ? 1 : 0);
	seg[12] = (TCP_HDR_LEN / 4) << 4;		/* data offset */
	seg[13] = c->tcp_flags;
	put16(seg + 14, 64240);				/* window */

	alen = c->family == AF_INET ? 4 : 16;
	memcpy(pseudo, addr_bytes(&c->src), alen);
	memcpy(pseudo + alen, addr_bytes(&c->dst), alen);
	if (c->family == AF_INET) {
		pseudo[9] = NH_TCP;
		put16(pseudo + 10, len);
		sum = csum_add(0, pseudo, 12);
	} else {
		put32(pseudo + 32, len);
		pseudo[39] = NH_TCP;
		sum = csum_add(0, pseudo, 40);
	}
	put16(seg + 16, csum_fold(csum_add(sum, seg, len)));

	/* --tcp-bytes truncates the whole segment, payload included. */
	return c->tcp_bytes < TCP_HDR_LEN ? c->tcp_bytes : len;
}

static size_t ext_size(uint8_t type)
{
	return type == NH_AH ? AH_LEN : 8;
}

/* Writes extension header @i of the chain at @p, returns its length. */
static size_t put_ext(const struct craft *c, unsigned int i, uint8_t *p)
{
	uint8_t next = i + 1 < c->n_ext ? c->ext[i + 1] : NH_TCP;

	switch (c->ext[i]) {
	case NH_HBH:
	case NH_DST:
		/* 8 bytes: next, len 0, PadN option covering the other 4 */
		memset(p, 0, 8);
		p[0] = next;
		p[2] = 1;
		p[3] = 4;
		return 8;
	case NH_RT:
		/* Unknown type with segments left 0: must be skipped. */
		memset(p, 0, 8);
		p[0] = next;
		p[2] = RT_TYPE_UNUSED;
		return 8;
	case NH_AH:
		/* Length is in 4-byte units minus 2; ICV stays zero. */
		memset(p, 0, AH_LEN);
		p[0] = next;
		p[1] = AH_LEN / 4 - 2;
		put32(p + 4, 0x5b5b0100);	/* SPI: not a reserved one */
		put32(p + 8, 1);		/* sequence number */
		return AH_LEN;
	case NH_FRAG:
	default:
		p[0] = next;
		p[1] = 0;
		put16(p + 2, c->frag_off << 3 | (c->more_frags ? 1 : 0));
		put32(p + 4, c->frag_id);
		return 8;
	}
}

/*
 * Number of IPv6 extension headers in the unfragmentable part: everything
 * up to and including the first fragment header, or all of them.
 */
static unsigned int unfrag_count(const struct craft *c)
{
	unsigned int i;

	for (i = 0; i < c->n_ext; i++)
		if (c->ext[i] == NH_FRAG)
			return i + 1;
	return c->n_ext;
}

/*
 * The fragmentable part of the datagram, which fragment offsets index
 * into: for IPv6 the extension headers following the fragment header,
 * then (for both families) the TCP segment.
 */
static size_t build_fragmentable(const struct craft *c, const uint8_t *seg,
				 size_t seg_len, uint8_t *out)
{
	size_t len = 0, total = seg_len;
	unsigned int i;

	for (i = 0; i < c->n_ext; i++)
		total += ext_size(c->ext[i]);
	if (total > MAX_IP_LEN)
		bad_arg("datagram payload larger than 65535 bytes");
	for (i = unfrag_count(c); i < c->n_ext; i++)
		len += put_ext(c, i, out + len);
	memcpy(out + len, seg, seg_len);
	return len + seg_len;
}

/*
 * Copy into @out what this packet carries of the fragmentable part: the
 * bytes from offset*8 to its end, or exactly --frag-len of them, zero
 * padded.  Non-first fragments carry at least 8 bytes, as real ones do.
 */
static size_t carried_bytes(const struct craft *c, const uint8_t *buf,
			    size_t len, uint8_t *out)
{
	size_t start = (size_t)c->frag_off * 8, end, avail;

	if (c->frag_len >= 0)
		end = start + c->frag_len;
	else if (!start)
		end = len;
	else
		end = len > start + 8 ? len : start + 8;
	avail = len > start ? len - start : 0;
	if (avail > end - start)
		avail = end - start;
	memset(out, 0, end - start);
	if (avail)
		memcpy(out, buf + start, avail);
	return end - start;
}

static size_t build_ipv4(const struct craft *c, const uint8_t *data,
			 size_t dlen, uint8_t *pkt)
{
	size_t hlen = IPV4_HDR_LEN + c->ip_opts;
	unsigned int i;

	if (hlen + dlen > MAX_IP_LEN)
		bad_arg("packet larger than 65535 bytes");
	memset(pkt, 0, hlen);
	pkt[0] = 0x40 | hlen / 4;
	put16(pkt + 2, hlen + dlen);
	/* The mark doubles as fragment id; the kernel keeps a non-zero ID. */
	put16(pkt + 4, c->mark);
	put16(pkt + 6, (c->more_frags ? 0x2000 : 0) | c->frag_off);
	pkt[8] = 64;
	pkt[9] = NH_TCP;
	memcpy(pkt + 12, addr_bytes(&c->src), 4);
	memcpy(pkt + 16, addr_bytes(&c->dst), 4);
	/* NOPs, then EOL as the last byte: harmless, but makes IHL > 5. */
	for (i = 0; i + 1 < c->ip_opts; i++)
		pkt[IPV4_HDR_LEN + i] = 1;
	put16(pkt + 10, csum_fold(csum_add(0, pkt, hlen)));
	memcpy(pkt + hlen, data, dlen);
	return hlen + dlen;
}

/* IPv6 header, the unfragmentable extension headers, then @data. */
static size_t build_ipv6(const struct craft *c, const uint8_t *data,
			 size_t dlen, uint8_t *pkt)
{
	unsigned int i, n = unfrag_count(c);
	size_t off = IPV6_HDR_LEN, ext_len = 0;

	for (i = 0; i < n; i++)
		ext_len += ext_size(c->ext[i]);
	if (ext_len + dlen > MAX_IP_LEN)
		bad_arg("IPv6 payload larger than 65535 bytes");
	for (i = 0; i < n; i++)
		off += put_ext(c, i, pkt + off);
	put32(pkt, 6u << 28 | c->mark);		/* version, TC 0, flow label */
	put16(pkt + 4, ext_len + dlen);
	pkt[6] = c->n_ext ? c->ext[0] : NH_TCP;
	pkt[7] = 64;
	memcpy(pkt + 8, addr_bytes(&c->src), 16);
	memcpy(pkt + 24, addr_bytes(&c->dst), 16);
	memcpy(pkt + off, data, dlen);
	return off + dlen;
}

static void parse_send_opts(struct craft *c, int argc, char **argv)
{
	enum {
		O_SRC = 256, O_DST, O_SPORT, O_DPORT, O_FLAGS, O_MARK, O_COUNT,
		O_VARY_SRC, O_VARY_NET, O_VARY_DST,
		O_IPOPT, O_EXT, O_EXTREP, O_FOFF, O_MF, O_FID, O_FLEN, O_TCPB,
		O_PAYL,
	};
	static const struct option lopts[] = {
		{ "src",		required_argument, NULL, O_SRC },
		{ "dst",		required_argument, NULL, O_DST },
		{ "sport",		required_argument, NULL, O_SPORT },
		{ "dport",		required_argument, NULL, O_DPORT },
		{ "flags",		required_argument, NULL, O_FLAGS },
		{ "mark",		required_argument, NULL, O_MARK },
		{ "count",		required_argument, NULL, O_COUNT },
		{ "vary-src",		required_argument, NULL, O_VARY_SRC },
		{ "vary-net",		required_argument, NULL, O_VARY_NET },
		{ "vary-dst",		required_argument, NULL, O_VARY_DST },
		{ "ip-options",		required_argument, NULL, O_IPOPT },
		{ "ext",		required_argument, NULL, O_EXT },
		{ "ext-repeat",		required_argument, NULL, O_EXTREP },
		{ "frag-offset",	required_argument, NULL, O_FOFF },
		{ "more-fragments",	no_argument,	   NULL, O_MF },
		{ "frag-id",		required_argument, NULL, O_FID },
		{ "frag-len",		required_argument, NULL, O_FLEN },
		{ "tcp-bytes",		required_argument, NULL, O_TCPB },
		{ "payload",		required_argument, NULL, O_PAYL },
		{ "help",		no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *src = NULL, *dst = NULL;
	int opt, want_family = AF_UNSPEC;
	socklen_t slen;

	while ((opt = getopt_long(argc, argv, "46h", lopts, NULL)) != -1) {
		switch (opt) {
		case '4':
			want_family = AF_INET;
			break;
		case '6':
			want_family = AF_INET6;
			break;
		case O_SRC:
			src = optarg;
			break;
		case O_DST:
			dst = optarg;
			break;
		case O_SPORT:
			c->sport = parse_num(optarg, 0, 65535);
			break;
		case O_DPORT:
			c->dport = parse_num(optarg, 0, 65535);
			break;
		case O_FLAGS:
			c->tcp_flags = parse_flags(optarg);
			break;
		case O_MARK:
			c->mark = parse_num(optarg, 0, 0xfffff);
			break;
		case O_COUNT:
			c->count = parse_num(optarg, 1, 1000000);
			break;
		case O_VARY_SRC:
			c->vary_src = parse_num(optarg, 1, 0xffffffff);
			break;
		case O_VARY_NET:
			c->vary_net = parse_num(optarg, 1, 0xffffffff);
			break;
		case O_VARY_DST:
			c->vary_dst = parse_num(optarg, 1, 0xffffffff);
			break;
		case O_IPOPT:
			c->ip_opts = parse_num(optarg, 4, 40);
			break;
		case O_EXT:
			c->ext_list = optarg;
			break;
		case O_EXTREP:
			c->ext_repeat = parse_num(optarg, 1, MAX_EXT);
			break;
		case O_FOFF:
			c->frag_off = parse_num(optarg, 0, 8191);
			break;
		case O_MF:
			c->more_frags = true;
			break;
		case O_FID:
			c->frag_id = parse_num(optarg, 0, 0xffffffffUL);
			c->frag_id_set = true;
			break;
		case O_FLEN:
			c->frag_len = parse_num(optarg, 0, 65535);
			break;
		case O_TCPB:
			c->tcp_bytes = parse_num(optarg, 0, 20);
			break;
		case O_PAYL:
			c->payload = parse_num(optarg, 0, 65000);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		bad_arg("unexpected argument '%s'", argv[optind]);
	if (!dst)
		bad_arg("--dst is required");
	if (parse_addr(dst, &c->dst, &c->dst_len))
		bad_arg("bad --dst address '%s'", dst);
	c->family = c->dst.ss_family;
	if (want_family != AF_UNSPEC && want_family != c->family)
		bad_arg("--dst '%s' does not match -4/-6", dst);
	if (src) {
		if (parse_addr(src, &c->src, &slen) ||
		    c->src.ss_family != c->family)
			bad_arg("bad --src '%s' (family of --dst?)", src);
	}
	c->have_src = src != NULL;
}

static void check_send_opts(struct craft *c)
{
	if (c->family == AF_INET) {
		if (c->ext_list || c->ext_repeat != 1)
			bad_arg("--ext/--ext-repeat are IPv6 only");
		if (c->ip_opts % 4)
			bad_arg("--ip-options must be a multiple of 4");
		/* The kernel overwrites a zero ID on IP_HDRINCL sockets. */
		if (!c->mark || c->mark > 0xffff)
			bad_arg("IPv4 --mark must be 1..0xffff");
		if (c->frag_id_set && c->frag_id != c->mark)
			bad_arg("IPv4 fragment id is the IP ID: use --mark");
	} else {
		if (c->ip_opts)
			bad_arg("--ip-options is IPv4 only");
		if (!c->frag_id_set)
			c->frag_id = c->mark;
		parse_ext(c);
	}
}

/* Adds @delta to the big-endian 32 bits at byte @at of an address. */
static void add_be32(struct sockaddr_storage *ss, unsigned int at,
		     uint32_t delta)
{
	uint8_t *p = (uint8_t *)addr_bytes(ss) + at;
	uint32_t v = (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];

	v += delta;
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* Packet @i's addresses: @base's, shifted by the --vary-* options. */
static void vary_addresses(struct craft *c, const struct craft *base,
			   unsigned long i)
{
	unsigned int low = c->family == AF_INET ? 0 : 12;

	c->src = base->src;
	c->dst = base->dst;
	if (c->vary_src)
		add_be32(&c->src, low, i % c->vary_src);
	if (c->vary_net && c->family == AF_INET6)
		add_be32(&c->src, 4, i % c->vary_net);
	if (c->vary_dst)
		add_be32(&c->dst, low, i % c->vary_dst);
}

static int cmd_send(int argc, char **argv)
{
	static const struct craft defaults = {
		.sport = DEF_SPORT,
		.dport = DEF_DPORT,
		.tcp_flags = TCPF_SYN,
		.mark = DEF_MARK,
		.count = 1,
		.ext_repeat = 1,
		.tcp_bytes = TCP_HDR_LEN,
		.frag_len = -1,
	};
	/* None of these exceeds 65535 bytes (checked while building). */
	static uint8_t seg[MAX_IP_LEN], frag[MAX_IP_LEN], data[MAX_IP_LEN];
	static uint8_t pkt[IPV6_HDR_LEN + MAX_IP_LEN];
	static struct craft c, base;
	size_t len, plen = 0;
	unsigned long i;
	int fd;

	c = defaults;
	parse_send_opts(&c, argc, argv);
	check_send_opts(&c);
	if (!c.have_src)
		pick_source(&c);

	/* IPPROTO_RAW implies header inclusion for both families. */
	fd = socket(c.family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0)
		die("raw socket");
	base = c;
	for (i = 0; i < c.count; i++) {
		/* Rebuilt only when an address changes: checksums cover them. */
		if (i == 0 || c.vary_src || c.vary_net || c.vary_dst) {
			vary_addresses(&c, &base, i);
			len = build_segment(&c, seg);
			len = build_fragmentable(&c, seg, len, frag);
			len = carried_bytes(&c, frag, len, data);
			if (c.family == AF_INET)
				plen = build_ipv4(&c, data, len, pkt);
			else
				plen = build_ipv6(&c, data, len, pkt);
		}
		if (sendto(fd, pkt, plen, 0, (struct sockaddr *)&c.dst,
			   c.dst_len) < 0)
			die("sendto");
	}
	close(fd);
	return 0;
}

/*
 * Pinned to the CPU it starts on: veth hands each packet to the backlog
 * of the sending CPU, so packets sent from one CPU are seen in order, and
 * a fence on the last line arrives after everything before it.
 */
static void pin_to_this_cpu(void)
{
	int cpu = sched_getcpu();
	cpu_set_t set;

	if (cpu < 0)
		die("sched_getcpu");
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
}

#define MAX_BATCH_ARGS	64

static int cmd_batch(int argc, char **argv)
{
	FILE *in = stdin;
	char *line = NULL, *args[MAX_BATCH_ARGS + 1], *tok, *save;
	size_t cap = 0;
	int n;

	if (argc > 2)
		bad_arg("batch takes at most one FILE");
	if (argc == 2 && strcmp(argv[1], "-")) {
		in = fopen(argv[1], "r");
		if (!in)
			die(argv[1]);
	}
	pin_to_this_cpu();
	while (getline(&line, &cap, in) > 0) {
		batch_line++;
		*strchrnul(line, '#') = '\0';
		args[0] = "send";
		n = 1;
		for (tok = strtok_r(line, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save)) {
			if (n == MAX_BATCH_ARGS)
				bad_arg("more than %d words", MAX_BATCH_ARGS - 1);
			args[n++] = tok;
		}
		if (n == 1)
			continue;
		args[n] = NULL;
		optind = 0;	/* glibc: a full restart of getopt */
		cmd_send(n, args);
	}
	if (ferror(in))
		die("reading the batch");
	free(line);
	return 0;
}

/* ----------------------------------------------------------------- sniff */

enum direction { DIR_IN, DIR_OUT, DIR_ANY };

struct sniff {
	const char *iface;
	const char *ready;
	long timeout_ms;
	uint32_t mark;
	unsigned long expect;		/* 0: run until the timeout */
	uint32_t fence;			/* stop at fences packets with this mark */
	unsigned long fences;
	bool has_fence;
	bool per_mark;			/* count marks lo..hi apart */
	bool rst;			/* count TCP resets, not a mark */
	uint32_t lo, hi;
	enum direction dir;
};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void parse_sniff_opts(struct sniff *s, int argc, char **argv)
{
	enum { O_MARK = 256, O_EXPECT, O_DIR, O_FENCE, O_FENCES, O_MARKS, O_RST };
	static const struct option lopts[] = {
		{ "iface",	required_argument, NULL, 'i' },
		{ "timeout",	required_argument, NULL, 't' },
		{ "ready",	required_argument, NULL, 'r' },
		{ "mark",	required_argument, NULL, O_MARK },
		{ "expect",	required_argument, NULL, O_EXPECT },
		{ "dir",	required_argument, NULL, O_DIR },
		{ "fence",	required_argument, NULL, O_FENCE },
		{ "fences",	required_argument, NULL, O_FENCES },
		{ "marks",	required_argument, NULL, O_MARKS },
		{ "rst",	no_argument,	   NULL, O_RST },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *dash;
	int opt;

	while ((opt = getopt_long(argc, argv, "i:t:r:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			s->iface = optarg;
			break;
		case 't':
			s->timeout_ms = parse_num(optarg, 0, 3600000);
			break;
		case 'r':
			s->ready = optarg;
			break;
		case O_MARK:
			s->mark = parse_num(optarg, 0, 0xfffff);
			break;
		case O_EXPECT:
			s->expect = parse_num(optarg, 1, ~0UL);
			break;
		case O_FENCE:
			s->fence = parse_num(optarg, 0, 0xfffff);
			s->has_fence = true;
			break;
		case O_RST:
			s->rst = true;
			break;
		case O_FENCES:
			s->fences = parse_num(optarg, 1, 1000);
			break;
		case O_MARKS:
			dash = strchr(optarg, '-');
			if (!dash)
				bad_arg("--marks wants LO-HI");
			*dash = '\0';
			s->lo = parse_num(optarg, 0, 0xfffff);
			s->hi = parse_num(dash + 1, s->lo, 0xfffff);
			s->per_mark = true;
			break;
		case O_DIR:
			if (!strcmp(optarg, "in"))
				s->dir = DIR_IN;
			else if (!strcmp(optarg, "out"))
				s->dir = DIR_OUT;
			else if (!strcmp(optarg, "any"))
				s->dir = DIR_ANY;
			else
				bad_arg("bad --dir '%s'", optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		bad_arg("unexpected argument '%s'", argv[optind]);
	if (!s->iface)
		bad_arg("-i IFACE is required");
	if (s->per_mark && s->rst)
		bad_arg("--marks or --rst, not both");
	if (s->per_mark && s->expect)
		bad_arg("--expect counts one mark: not with --marks");
	if (s->per_mark && s->has_fence && s->fence >= s->lo && s->fence <= s->hi)
		bad_arg("the fence's mark is inside --marks");
}

/*
 * Bind before any traffic can be queued: creating the socket with
 * protocol 0 and only then binding to ETH_P_ALL on one ifindex keeps
 * packets of other interfaces out of the receive queue.
 */
static int open_capture(const char *iface)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
	};
	int fd, rcvbuf = 4 << 20;

	sll.sll_ifindex = if_nametoindex(iface);
	if (!sll.sll_ifindex)
		die(iface);
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("packet socket");
	/* Large bursts (--count) must not be lost to a small queue. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
		       sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		die("bind packet socket");
	return fd;
}

static bool dir_ok(const struct sniff *s, unsigned char pkttype)
{
	bool out = pkttype == PACKET_OUTGOING;

	return s->dir == DIR_ANY || (s->dir == DIR_OUT) == out;
}

/* A TCP segment with RST set: IPv4 (any header length) or IPv6 with TCP
 * right after the fixed header, which is how resets are sent. */
static bool is_rst(const struct sockaddr_ll *from, const uint8_t *p,
		   ssize_t len)
{
	ssize_t off;

	if (from->sll_protocol == htons(ETH_P_IP) && len >= IPV4_HDR_LEN &&
	    p[9] == NH_TCP && !(get16(p + 6) & 0x1fff)) {
		off = (p[0] & 0x0f) * 4;
		return len > off + 13 && (p[off + 13] & TCPF_RST);
	}
	if (from->sll_protocol == htons(ETH_P_IPV6) && len >= IPV6_HDR_LEN &&
	    p[6] == NH_TCP)
		return len > IPV6_HDR_LEN + 13 &&
		       (p[IPV6_HDR_LEN + 13] & TCPF_RST);
	return false;
}

/*
 * What --marks counts: crafted packets are TCP (or fragments of it) and
 * never resets. The hosts' own answers (ICMP errors, resets) carry IDs
 * and flow labels of their own, which may fall into the range.
 */
static bool is_crafted(const struct sockaddr_ll *from, const uint8_t *p,
		       ssize_t len)
{
	if (is_rst(from, p, len))
		return false;
	if (from->sll_protocol == htons(ETH_P_IP))
		return len >= IPV4_HDR_LEN && p[9] == NH_TCP;
	if (from->sll_protocol == htons(ETH_P_IPV6))
		return len >= IPV6_HDR_LEN && p[6] != 58;	/* not ICMPv6 */
	return false;
}

/* The packet's mark (IPv4 ID, IPv6 flow label), or -1 if it is not IP. */
static long mark_of(const struct sockaddr_ll *from, const uint8_t *p,
		    ssize_t len)
{
	if (from->sll_protocol == htons(ETH_P_IP) &&
	    len >= IPV4_HDR_LEN && p[0] >> 4 == 4)
		return get16(p + 4);
	if (from->sll_protocol == htons(ETH_P_IPV6) &&
	    len >= IPV6_HDR_LEN && p[0] >> 4 == 6)
		return get32(p) & 0xfffff;
	return -1;
}

static void warn_drops(int fd)
{
	struct tpacket_stats st;
	socklen_t len = sizeof(st);

	if (!getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) &&
	    st.tp_drops)
		fprintf(stderr, "pktcraft: warning: %u packets dropped by the "
			"capture socket, count may be low\n", st.tp_drops);
}

static int cmd_sniff(int argc, char **argv)
{
	struct sniff s = {
		.timeout_ms = DEF_TIMEOUT_MS,
		.mark = DEF_MARK,
		.fences = 1,
		.dir = DIR_IN,
	};
	unsigned long count = 0, fences = 0, *per_mark = NULL;
	bool timed_out = false;
	long deadline;
	uint32_t m;
	struct pollfd pfd;
	int fd;

	parse_sniff_opts(&s, argc, argv);
	if (s.per_mark) {
		per_mark = calloc(s.hi - s.lo + 1, sizeof(*per_mark));
		if (!per_mark)
			die("calloc");
	}
	fd = open_capture(s.iface);
	if (s.ready)
		create_ready_file(s.ready);

	pfd.fd = fd;
	pfd.events = POLLIN;
	deadline = now_ms() + s.timeout_ms;
	while (!s.expect || count < s.expect) {
		long left = deadline - now_ms(), mark;
		struct sockaddr_ll from;
		socklen_t flen = sizeof(from);
		uint8_t buf[128];	/* IP header, and TCP flags for --rst */
		ssize_t n;
		int r;

		if (left <= 0) {
			timed_out = true;
			break;
		}
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno != EINTR)
			die("poll");
		if (r <= 0)
			continue;
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &flen);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			die("recvfrom");
		}
		if (!dir_ok(&s, from.sll_pkttype))
			continue;
		mark = mark_of(&from, buf, n);
		if (mark < 0)
			continue;
		if (s.has_fence && mark == s.fence) {
			if (++fences == s.fences)
				break;
		} else if (s.rst) {
			if (is_rst(&from, buf, n))
				count++;
		} else if (s.per_mark) {
			if (mark >= s.lo && mark <= s.hi &&
			    is_crafted(&from, buf, n))
				per_mark[mark - s.lo]++;
		} else if (mark == s.mark) {
			count++;
		}
	}
	warn_drops(fd);
	if (s.per_mark) {
		for (m = s.lo; m <= s.hi; m++)
			if (per_mark[m - s.lo])
				printf("%u %lu\n", m, per_mark[m - s.lo]);
	} else {
		printf("%lu\n", count);
	}
	free(per_mark);
	close(fd);
	if (s.has_fence && fences < s.fences && timed_out) {
		fprintf(stderr, "pktcraft: sniff: %lu of %lu fences in %ld ms\n",
			fences, s.fences, s.timeout_ms);
		return 3;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	/* Let getopt() see the subcommand as argv[0]. */
	if (!strcmp(argv[1], "send"))
		return cmd_send(argc - 1, argv + 1);
	if (!strcmp(argv[1], "batch"))
		return cmd_batch(argc - 1, argv + 1);
	if (!strcmp(argv[1], "sniff"))
		return cmd_sniff(argc - 1, argv + 1);
	usage();
}
