/* SPDX-License-Identifier: MIT
 * udp_probe.c - sends raw SIP datagrams to a proxy and reports what comes back (used by
 * integration/torture_netns.sh). Plain C17 and POSIX sockets, no dependencies.
 * Owns: its sockets. Thread: single.
 *
 * Probe mode:  udp_probe [-t MS] [-l PORT]... [-v] HOST PORT FILE
 *   Sends FILE's bytes as one datagram to HOST:PORT from an ephemeral UDP socket, waits up to MS
 *   milliseconds (default 300) for one datagram on that socket or on any of the -l ports (bound
 *   on HOST: where a proxy answers a request without rport, the top Via's sent-by port), prints
 *   its first line (without CRLF), or "NONE". Where FILE has a Call-ID (or "i:") header, only an
 *   answer carrying that Call-ID counts (a late answer to an earlier probe is skipped). -v also
 *   copies the whole answer to stderr.
 *
 * Mutation mode: udp_probe -m N [-s SEED] [-t MS] [-o DIR] HOST PORT FILE...
 *   N times: picks one of the FILEs, mutates a copy (bit flips, random or special bytes,
 *   truncation, deleted, duplicated or inserted spans, overlong numbers), sends it, then sends
 *   a ping (OPTIONS with Max-Forwards: 0, rport, a unique Call-ID) from the same socket and waits
 *   up to MS (default 1000, two tries) for its 483 (a proxy answers it at once, in order after
 *   the mutant: same source, same shard). No 483: prints "STALL i=I file=F seed=S", writes the
 *   mutant to DIR/stall.bin and exits 1. Every mutant is also kept as DIR/last.bin while it is
 *   in flight. Success: "mutations=N pings=N answers=A seed=S".
 *
 * Exit: 0 done, 1 stall (mutation mode), 2 usage or I/O error. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTEN 8
#define MAX_DGRAM  70000

static int udp_socket(const char *host, unsigned port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1, fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Waits until @deadline (ms, monotonic) for one datagram on any of @fds; its length or -1. */
static ssize_t recv_any(const int *fds, int nfds, char *buf, size_t cap, long deadline)
{
	struct pollfd pfd[MAX_LISTEN + 1];

	for (int i = 0; i < nfds; i++)
		pfd[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
	for (;;) {
		long left = deadline - now_ms();
		int n;

		if (left < 0)
			return -1;
		n = poll(pfd, (nfds_t)nfds, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		for (int i = 0; i < nfds; i++) {
			ssize_t r;

			if (!(pfd[i].revents & POLLIN))
				continue;
			r = recv(fds[i], buf, cap, MSG_DONTWAIT);
			if (r >= 0)
				return r;
		}
	}
}

static void print_first_line(const char *buf, size_t len)
{
	size_t n = 0;

	while (n < len && buf[n] != '\r' && buf[n] != '\n')
		n++;
	fwrite(buf, 1, n, stdout);
	fputc('\n', stdout);
}

/* The value of the first Call-ID (or compact "i") header of @msg, in @out; false if none. */
static bool call_id_of(const char *msg, size_t len, char *out, size_t cap)
{
	const char *p = msg, *end = msg + len;

	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p)), *le = lf ? lf : end, *v;
		size_t n;

		if (le - p >= 8 && strncasecmp(p, "call-id", 7) == 0)
			v = p + 7;
		else if (le - p >= 2 && (p[0] == 'i' || p[0] == 'I') &&
		         (p[1] == ':' || p[1] == ' '))
			v = p + 1;
		else
			v = NULL;
		if (v) {
			while (v < le && (*v == ' ' || *v == '\t'))
				v++;
			if (v < le && *v == ':') {
				for (v++; v < le && (*v == ' ' || *v == '\t'); v++)
					;
				for (n = 0;
				     v + n < le && v[n] != '\r' && v[n] != ' ' && n + 1 < cap; n++)
					out[n] = v[n];
				out[n] = '\0';
				return n > 0;
			}
		}
		if (!lf || (lf + 1 < end && (lf[1] == '\r' || lf[1] == '\n')))
			break; /* end of the header section */
		p = lf + 1;
	}
	return false;
}

static void usage(void)
{
	fprintf(stderr, "usage: udp_probe [-t MS] [-l PORT]... [-v] HOST PORT FILE\n"
	                "       udp_probe -m N [-s SEED] [-t MS] [-o DIR] HOST PORT FILE...\n");
}

/* ---- mutation mode ---------------------------------------------------------------------------
 */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state; /* xorshift64* */

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static size_t below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

static const char specials[] = "\r\n\0 \t;,:<>\"@%=/\\?&[]'()*-.0123456789";
static const char *const bignums[] = {
    "4294967296", "99999999999999999999",   "-1", "0", "2147483648",
    "65536",      "00000000000000000000001"};

/* One mutation of @buf (@*len bytes, room for @cap). */
static void mutate_once(char *buf, size_t *len, size_t cap)
{
	size_t n = *len, at = below(n ? n : 1), span;

	switch (below(9)) {
	case 0: /* flip a bit */
		if (n)
			buf[at] ^= (char)(1u << below(8));
		break;
	case 1: /* a random byte */
		if (n)
			buf[at] = (char)below(256);
		break;
	case 2: /* a byte the grammar cares about */
		if (n)
			buf[at] = specials[below(sizeof(specials) - 1)];
		break;
	case 3: /* truncate */
		*len = below(n + 1);
		break;
	case 4: /* delete a span */
		span = 1 + below(16);
		if (at + span > n)
			span = n - at;
		memmove(buf + at, buf + at + span, n - at - span);
		*len = n - span;
		break;
	case 5: /* duplicate a span (a header line, a parameter...) */
		span = 1 + below(64);
		if (at + span > n)
			span = n - at;
		if (n + span <= cap) {
			memmove(buf + at + span, buf + at, n - at);
			*len = n + span;
		}
		break;
	case 6: /* insert a run of special bytes */
		span = 1 + below(4);
		if (n + span <= cap) {
			memmove(buf + at + span, buf + at, n - at);
			for (size_t i = 0; i < span; i++)
				buf[at + i] = specials[below(sizeof(specials) - 1)];
			*len = n + span;
		}
		break;
	case 7: { /* a digit run becomes an overlong or odd number */
		const char *num = bignums[below(sizeof(bignums) / sizeof(bignums[0]))];
		size_t k = strlen(num), b = at, e;

		while (b < n && (buf[b] < '0' || buf[b] > '9'))
			b++;
		for (e = b; e < n && buf[e] >= '0' && buf[e] <= '9'; e++)
			;
		if (b == n || n - (e - b) + k > cap)
			break;
		memmove(buf + b + k, buf + e, n - e);
		memcpy(buf + b, num, k);
		*len = n - (e - b) + k;
		break;
	}
	default: { /* cut the end of a line: a header loses its CRLF, or a CR stays alone */
		char *lf = memchr(buf + at, '\n', n - at);

		if (lf) {
			size_t i = (size_t)(lf - buf);

			memmove(buf + i, buf + i + 1, n - i - 1);
			*len = n - 1;
		}
		break;
	}
	}
}

static int write_bin(const char *dir, const char *name, const char *buf, size_t len)
{
	char path[4096];
	FILE *f;

	if (!dir)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return -1;
	fwrite(buf, 1, len, f);
	fclose(f);
	return 0;
}

static int mutation_mode(const char *host, unsigned port, char **files, int nfiles, long count,
                         uint64_t seed, long timeout_ms, const char *dir)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct sockaddr_in me;
	socklen_t melen = sizeof(me);
	char **data = calloc((size_t)nfiles, sizeof(*data));
	size_t *lens = calloc((size_t)nfiles, sizeof(*lens));
	char *buf = malloc(MAX_DGRAM), *rx = malloc(MAX_DGRAM), ping[1024];
	long answers = 0, pings = 0;
	int fd = udp_socket(host, 0), rc = 2;

	if (!data || !lens || !buf || !rx || fd < 0 ||
	    inet_pton(AF_INET, host, &to.sin_addr) != 1 ||
	    getsockname(fd, (struct sockaddr *)&me, &melen) != 0) {
		fprintf(stderr, "udp_probe: setup failed: %s\n", strerror(errno));
		goto out;
	}
	for (int i = 0; i < nfiles; i++) {
		data[i] = read_file(files[i], &lens[i]);
		if (!data[i] || lens[i] > MAX_DGRAM / 2) {
			fprintf(stderr, "udp_probe: cannot read %s\n", files[i]);
			goto out;
		}
	}
	rng_state = seed ? seed : 0x9e3779b97f4a7c15ULL;
	for (long i = 0; i < count; i++) {
		int f = (int)below((size_t)nfiles), pl, tries;
		size_t len = lens[f];
		char callid[64];
		bool answered = false;

		memcpy(buf, data[f], len);
		for (size_t k = 1 + below(4); k > 0; k--)
			mutate_once(buf, &len, MAX_DGRAM / 2 + 4096);
		write_bin(dir, "last.bin", buf, len);
		if (len && sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0 &&
		    errno != EMSGSIZE) {
			fprintf(stderr, "udp_probe: sendto: %s\n", strerror(errno));
			goto out;
		}
		snprintf(callid, sizeof(callid), "ping-%lx-%ld", (unsigned long)seed, i);
		pl = snprintf(ping, sizeof(ping),
		              "OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\n"
		              "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-%s;rport\r\n"
		              "Max-Forwards: 0\r\n"
		              "From: <sip:probe@127.0.0.1>;tag=probe\r\n"
		              "To: <sip:ping@127.0.0.1>\r\n"
		              "Call-ID: %s\r\n"
		              "CSeq: 1 OPTIONS\r\n"
		              "Content-Length: 0\r\n\r\n",
		              ntohs(me.sin_port), callid, callid);
		for (tries = 0; tries < 2 && !answered; tries++) {
			long deadline = now_ms() + timeout_ms;

			if (sendto(fd, ping, (size_t)pl, 0, (struct sockaddr *)&to, sizeof(to)) <
			    0) {
				fprintf(stderr, "udp_probe: sendto (ping): %s\n", strerror(errno));
				goto out;
			}
			pings++;
			for (;;) {
				ssize_t r = recv_any(&fd, 1, rx, MAX_DGRAM - 1, deadline);

				if (r < 0)
					break;
				rx[r] = '\0';
				if (strncmp(rx, "SIP/2.0 483", 11) == 0 && strstr(rx, callid)) {
					answered = true;
					break;
				}
				answers++; /* something else came back (a 400, a 407...) */
			}
		}
		if (!answered) {
			printf("STALL i=%ld file=%s seed=%llu len=%zu\n", i, files[f],
			       (unsigned long long)seed, len);
			write_bin(dir, "stall.bin", buf, len);
			rc = 1;
			goto out;
		}
	}
	printf("mutations=%ld pings=%ld answers=%ld seed=%llu\n", count, pings, answers,
	       (unsigned long long)seed);
	rc = 0;
out:
	for (int i = 0; data && i < nfiles; i++)
		free(data[i]);
	free(data);
	free(lens);
	free(buf);
	free(rx);
	if (fd >= 0)
		close(fd);
	fflush(stdout);
	return rc;
}

/* ---- probe mode ------------------------------------------------------------------------------
 */

int main(int argc, char **argv)
{
	unsigned lports[MAX_LISTEN];
	int nl = 0, fds[MAX_LISTEN + 1], nfds = 0, o;
	long timeout_ms = -1, count = 0;
	unsigned long long seed = 0;
	const char *dir = NULL;
	bool verbose = false;
	struct sockaddr_in to = {.sin_family = AF_INET};
	char *msg, *rx, cid[512];
	bool has_cid;
	long deadline;
	size_t len;
	ssize_t r;

	while ((o = getopt(argc, argv, "t:l:vm:s:o:")) != -1) {
		switch (o) {
		case 't':
			timeout_ms = atol(optarg);
			break;
		case 'l':
			if (nl == MAX_LISTEN) {
				usage();
				return 2;
			}
			lports[nl++] = (unsigned)atoi(optarg);
			break;
		case 'v':
			verbose = true;
			break;
		case 'm':
			count = atol(optarg);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			dir = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (argc - optind < 3 || (count == 0 && argc - optind != 3)) {
		usage();
		return 2;
	}
	if (count > 0)
		return mutation_mode(argv[optind], (unsigned)atoi(argv[optind + 1]),
		                     argv + optind + 2, argc - optind - 2, count, seed,
		                     timeout_ms < 0 ? 1000 : timeout_ms, dir);
	to.sin_port = htons((uint16_t)atoi(argv[optind + 1]));
	if (inet_pton(AF_INET, argv[optind], &to.sin_addr) != 1) {
		usage();
		return 2;
	}
	msg = read_file(argv[optind + 2], &len);
	rx = malloc(MAX_DGRAM);
	if (!msg || !rx) {
		fprintf(stderr, "udp_probe: cannot read %s\n", argv[optind + 2]);
		return 2;
	}
	fds[nfds++] = udp_socket(argv[optind], 0);
	for (int i = 0; i < nl; i++)
		fds[nfds++] = udp_socket(argv[optind], lports[i]);
	for (int i = 0; i < nfds; i++) {
		if (fds[i] < 0) {
			fprintf(stderr, "udp_probe: cannot bind %s:%u: %s\n", argv[optind],
			        i ? lports[i - 1] : 0, strerror(errno));
			return 2;
		}
	}
	if (sendto(fds[0], msg, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		fprintf(stderr, "udp_probe: sendto: %s\n", strerror(errno));
		return 2;
	}
	has_cid = call_id_of(msg, len, cid, sizeof(cid));
	deadline = now_ms() + (timeout_ms < 0 ? 300 : timeout_ms);
	for (;;) {
		r = recv_any(fds, nfds, rx, MAX_DGRAM - 1, deadline);
		if (r < 0)
			break;
		rx[r] = '\0';
		if (!has_cid || memmem(rx, (size_t)r, cid, strlen(cid)))
			break;
		if (verbose)
			fprintf(stderr, "udp_probe: skipped an answer without Call-ID %s\n", cid);
	}
	if (r < 0) {
		printf("NONE\n");
	} else {
		print_first_line(rx, (size_t)r);
		if (verbose)
			fwrite(rx, 1, (size_t)r, stderr);
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	free(msg);
	free(rx);
	fflush(stdout);
	return 0;
}
