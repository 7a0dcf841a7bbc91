/* SPDX-License-Identifier: MIT
 * mara_bench.c - mara-bench: main() only: flags -> configuration -> generator threads (each
 * with its own io_uring loop, sockets and call table) -> progress line once a second -> merged
 * statistics -> table or JSON -> exit status (1 when failures exceed --max-fail).
 * Owns: the configuration and the thread array. Thread: main; SIGINT asks the generators to
 * start nothing more and drain (a second one kills the process). */
#include "bench.h"

#include "mara_build.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define EXIT_FAILED 1 /* failures exceed --max-fail */
#define EXIT_USAGE  2 /* bad flags, setup or connection error */

static const struct {
	const char *name;
	enum bench_flow flow;
} flows[] = {
    {"invite", BENCH_FLOW_INVITE},   {"register", BENCH_FLOW_REGISTER},
    {"message", BENCH_FLOW_MESSAGE}, {"message-burst", BENCH_FLOW_BURST},
    {"noauth", BENCH_FLOW_NOAUTH},   {"mar", BENCH_FLOW_MAR},
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: mara-bench --flow {invite,register,message,message-burst,noauth,mar}\n"
	    "                  --target HOST:PORT [--uas HOST:PORT]\n"
	    "                  [--user U --password P --realm R] (--calls N | --duration S)\n"
	    "                  (--rate R | --concurrency C) [--threads T] [--warmup S]\n"
	    "                  [--max-fail F|F%%] [--json] [--local HOST]\n"
	    "                  [--method M] [--server-uri U] [--empty-authz]   (mar)\n"
	    "  --flow F          invite: INVITE/407/ACK/INVITE+auth/200/ACK/BYE/200;\n"
	    "                    register, message: REQUEST/407/REQUEST+auth/200;\n"
	    "                    message-burst: --burst MESSAGEs per UA on one nonce;\n"
	    "                    noauth: INVITE/200/ACK/BYE/200; mar: Diameter MARs to mara-aaa\n"
	    "  --target H:P      the proxy (SIP, UDP), or mara-aaa (mar)\n"
	    "  --uas H:P         where the built-in UAS listens (the proxy routes there)\n"
	    "  --user U          digest user (alice); --password P (alice-secret)\n"
	    "  --realm R         digest realm (default: the challenge's)\n"
	    "  --domain D        Request-URI host[:port] (default: --uas, else --target)\n"
	    "  --callee C        Request-URI user (bob)\n"
	    "  --calls N         flows to run (measured ones, after --warmup)\n"
	    "  --duration S      or run for S seconds after --warmup\n"
	    "  --rate R          open loop: flows started per second\n"
	    "  --concurrency C   closed loop: C flows in progress (with --rate: a cap)\n"
	    "  --threads T       generator threads (1)\n"
	    "  --sockets K       UAC sockets per thread (4); --conns K Diameter connections\n"
	    "                    per thread (2); --burst N MESSAGEs per UA (10)\n"
	    "  --warmup S        seconds not counted (0)\n"
	    "  --timeout S       transaction timeout, Timer B/F (32)\n"
	    "  --max-fail F      failures allowed: a count or a percentage (0)\n"
	    "  --hold S          invite/noauth: seconds each call stays up before its BYE (0)\n"
	    "  --table N         call slots per thread (default from rate/concurrency)\n"
	    "  --json            one JSON object on stdout instead of the table\n"
	    "  --progress        a progress line on stderr every second (default: on a tty)\n"
	    "  --local HOST      local address of our sockets (default: the route's)\n"
	    "  --method M        mar: SIP-Method and Digest-Method (INVITE); REGISTER makes the\n"
	    "                    SIP-AOR sip:USER@DOMAIN and the digest uri sip:DOMAIN\n"
	    "  --server-uri U    mar: a SIP-Server-URI AVP in every MAR (none)\n"
	    "  --empty-authz     mar: MAR #1 carries SIP-Authorization with an empty nonce and\n"
	    "                    response (freeDiameter app_sip's first round)\n"
	    "  -h, --help        this text;  -V, --version  the version\n"
	    "exit status: 0 pass, 1 failures above --max-fail, 2 usage or setup error\n");
}

/* "host:port" or "[v6]:port" into @host/@port. */
static int split_hostport(const char *s, char *host, size_t cap, uint16_t *port)
{
	const char *colon;
	size_t n;
	char *end;
	long p;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		n = (size_t)(rb - s - 1);
		colon = rb + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= cap)
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	p = strtol(colon + 1, &end, 10);
	if (*end || p <= 0 || p > 65535)
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

/* The source address the kernel would use towards the target. */
static int route_source(const struct bench_cfg *cfg, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = socket(cfg->target.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;
	const void *a;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&cfg->target, cfg->target_len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		ret = -errno;
	close(fd);
	if (ret)
		return ret;
	a = ss.ss_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
	                             : (const void *)&((struct sockaddr_in *)&ss)->sin_addr;
	return inet_ntop(ss.ss_family, a, out, (socklen_t)cap) ? 0 : -errno;
}

static bool num_arg(const char *s, double *out)
{
	char *end;

	*out = strtod(s, &end);
	return end != s && !*end && *out >= 0;
}

static int bad(const char *what, const char *v)
{
	fprintf(stderr, "mara-bench: bad %s '%s' (see --help)\n", what, v ? v : "");
	return -EINVAL;
}

/* Flags into @cfg, then defaults derived from them. One switch over the flags and one block of
 * checks: long, but flat. The numeric flags' enum values follow their order in @opts (the
 * error message indexes @opts with them). */
static int parse_args(int argc, char **argv, struct bench_cfg *cfg)
{
	enum {
		O_UAS = 256,
		O_USER,
		O_PASS,
		O_REALM,
		O_DOMAIN,
		O_CALLEE,
		O_CALLS,
		O_DURATION,
		O_RATE,
		O_CONC,
		O_THREADS,
		O_SOCKETS,
		O_CONNS,
		O_BURST,
		O_WARMUP,
		O_TIMEOUT,
		O_MAXFAIL,
		O_TABLE,
		O_HOLD,
		O_JSON,
		O_PROGRESS,
		O_LOCAL,
		O_FLOW,
		O_TARGET,
		O_METHOD,
		O_SERVER_URI,
		O_EMPTY_AUTHZ
	};
	static const struct option opts[] = {
	    {"flow", required_argument, NULL, O_FLOW},
	    {"target", required_argument, NULL, O_TARGET},
	    {"uas", required_argument, NULL, O_UAS},
	    {"user", required_argument, NULL, O_USER},
	    {"password", required_argument, NULL, O_PASS},
	    {"realm", required_argument, NULL, O_REALM},
	    {"domain", required_argument, NULL, O_DOMAIN},
	    {"callee", required_argument, NULL, O_CALLEE},
	    {"calls", required_argument, NULL, O_CALLS},
	    {"duration", required_argument, NULL, O_DURATION},
	    {"rate", required_argument, NULL, O_RATE},
	    {"concurrency", required_argument, NULL, O_CONC},
	    {"threads", required_argument, NULL, O_THREADS},
	    {"sockets", required_argument, NULL, O_SOCKETS},
	    {"conns", required_argument, NULL, O_CONNS},
	    {"burst", required_argument, NULL, O_BURST},
	    {"warmup", required_argument, NULL, O_WARMUP},
	    {"timeout", required_argument, NULL, O_TIMEOUT},
	    {"max-fail", required_argument, NULL, O_MAXFAIL},
	    {"table", required_argument, NULL, O_TABLE},
	    {"hold", required_argument, NULL, O_HOLD},
	    {"json", no_argument, NULL, O_JSON},
	    {"progress", no_argument, NULL, O_PROGRESS},
	    {"local", required_argument, NULL, O_LOCAL},
	    {"method", required_argument, NULL, O_METHOD},
	    {"server-uri", required_argument, NULL, O_SERVER_URI},
	    {"empty-authz", no_argument, NULL, O_EMPTY_AUTHZ},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *target = NULL, *uas = NULL;
	bool have_flow = false;
	double v, table = 0;
	int o;

	while ((o = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (o) {
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("mara-bench %s\n", MARA_VERSION);
			exit(0);
		case O_FLOW:
			for (size_t i = 0; i < MR_ARRAY_SIZE(flows); i++)
				if (strcmp(optarg, flows[i].name) == 0) {
					cfg->flow = flows[i].flow;
					cfg->flow_name = flows[i].name;
					have_flow = true;
				}
			if (!have_flow)
				return bad("--flow", optarg);
			break;
		case O_TARGET:
			target = optarg;
			break;
		case O_UAS:
			uas = optarg;
			break;
		case O_USER:
			snprintf(cfg->user, sizeof(cfg->user), "%s", optarg);
			break;
		case O_PASS:
			snprintf(cfg->password, sizeof(cfg->password), "%s", optarg);
			break;
		case O_REALM:
			snprintf(cfg->realm, sizeof(cfg->realm), "%s", optarg);
			break;
		case O_DOMAIN:
			snprintf(cfg->domain, sizeof(cfg->domain), "%s", optarg);
			break;
		case O_CALLEE:
			snprintf(cfg->callee, sizeof(cfg->callee), "%s", optarg);
			break;
		case O_LOCAL:
			snprintf(cfg->local, sizeof(cfg->local), "%s", optarg);
			break;
		case O_METHOD:
			if (!optarg[0] || strlen(optarg) >= sizeof(cfg->method) ||
			    strspn(optarg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(optarg))
				return bad("--method (an upper-case SIP method)", optarg);
			snprintf(cfg->method, sizeof(cfg->method), "%s", optarg);
			break;
		case O_SERVER_URI:
			if (strlen(optarg) >= sizeof(cfg->server_uri))
				return bad("--server-uri (too long)", optarg);
			snprintf(cfg->server_uri, sizeof(cfg->server_uri), "%s", optarg);
			break;
		case O_EMPTY_AUTHZ:
			cfg->empty_authz = true;
			break;
		case O_JSON:
			cfg->json = true;
			break;
		case O_PROGRESS:
			cfg->progress = true;
			break;
		case O_MAXFAIL: {
			size_t n = strlen(optarg);
			char tmp[64];

			cfg->max_fail_pct = n > 0 && optarg[n - 1] == '%';
			snprintf(tmp, sizeof(tmp), "%.*s", (int)(n - cfg->max_fail_pct), optarg);
			if (!num_arg(tmp, &cfg->max_fail))
				return bad("--max-fail", optarg);
			break;
		}
		case '?':
			return -EINVAL;
		default:
			if (!num_arg(optarg, &v))
				return bad(opts[o - O_UAS + 2].name, optarg);
			switch (o) {
			case O_CALLS:
				cfg->calls = (uint64_t)v;
				break;
			case O_DURATION:
				cfg->duration_s = v;
				break;
			case O_RATE:
				cfg->rate = v;
				break;
			case O_CONC:
				cfg->concurrency = (unsigned)v;
				break;
			case O_THREADS:
				cfg->threads = (unsigned)v;
				break;
			case O_SOCKETS:
				cfg->sockets = (unsigned)v;
				break;
			case O_CONNS:
				cfg->conns = (unsigned)v;
				break;
			case O_BURST:
				cfg->burst = (unsigned)v;
				break;
			case O_WARMUP:
				cfg->warmup_s = v;
				break;
			case O_TIMEOUT:
				cfg->timeout_s = v;
				break;
			case O_TABLE:
				table = v;
				break;
			case O_HOLD:
				cfg->hold_ms = (unsigned)(v * 1000);
				break;
			}
		}
	}
	if (optind < argc)
		return bad("argument", argv[optind]);
	if (!have_flow)
		return bad("--flow", "(missing)");
	if (cfg->flow != BENCH_FLOW_MAR &&
	    (strcmp(cfg->method, "INVITE") || cfg->server_uri[0] || cfg->empty_authz))
		return bad("--method/--server-uri/--empty-authz (mar flow only)", NULL);
	if (!target ||
	    split_hostport(target, cfg->target_host, sizeof(cfg->target_host), &cfg->target_port) ||
	    io_sockaddr_parse(cfg->target_host, cfg->target_port, &cfg->target, &cfg->target_len))
		return bad("--target (numeric HOST:PORT)", target);
	if (uas) {
		struct sockaddr_storage ss;
		socklen_t sl;

		if (split_hostport(uas, cfg->uas_host, sizeof(cfg->uas_host), &cfg->uas_port) ||
		    io_sockaddr_parse(cfg->uas_host, cfg->uas_port, &ss, &sl))
			return bad("--uas (numeric HOST:PORT)", uas);
		cfg->has_uas = true;
	}
	if ((cfg->calls == 0) == (cfg->duration_s <= 0))
		return bad("--calls/--duration (exactly one)", NULL);
	if (cfg->rate <= 0 && cfg->concurrency == 0)
		return bad("--rate/--concurrency (one at least)", NULL);
	if (cfg->threads == 0 || cfg->threads > 64 || cfg->sockets == 0 || cfg->sockets > 64 ||
	    cfg->conns == 0 || cfg->conns > 64 || cfg->burst == 0 || cfg->burst > 60000)
		return bad("--threads/--sockets/--conns/--burst", NULL);
	if (cfg->hold_ms > 50000)
		return bad("--hold (0..50 s)", NULL);
	if (cfg->timeout_s < 1 || cfg->timeout_s > 60)
		return bad("--timeout (1..60 s)", NULL);
	if (!cfg->domain[0]) {
		if (cfg->flow == BENCH_FLOW_MAR)
			snprintf(cfg->domain, sizeof(cfg->domain), "%s",
			         cfg->realm[0] ? cfg->realm : "example.com");
		else if (uas)
			snprintf(cfg->domain, sizeof(cfg->domain), "%s", uas);
		else
			snprintf(cfg->domain, sizeof(cfg->domain), "%s", target);
	}
	if (!cfg->local[0] && route_source(cfg, cfg->local, sizeof(cfg->local)))
		return bad("--local (no route to the target)", NULL);
	if (table <= 0) {
		double per = cfg->concurrency ? (double)cfg->concurrency / cfg->threads + 1 : 0;

		/* open loop: 8 s worth of starts absorbs a stall; closed loop: the concurrency */
		if (cfg->rate > 0) {
			table = cfg->rate / cfg->threads * (8 + cfg->hold_ms / 1000.0);
			if (table < 256)
				table = 256;
			if (per && per < table)
				table = per;
		} else {
			table = per;
		}
		if (cfg->calls && table > (double)cfg->calls / cfg->threads + 1)
			table = (double)cfg->calls / cfg->threads + 1;
		if (table > 32768)
			table = 32768;
	}
	if (table < 1 || table > 262144)
		return bad("--table (1..262144)", NULL);
	cfg->table = (unsigned)table;
	return 0;
}

static void on_sigint(int sig)
{
	(void)sig;
	atomic_store(&bench_interrupted, true);
	signal(SIGINT, SIG_DFL);
}

static void merge(struct bench_stats *dst, const struct bench_stats *s)
{
	dst->started += s->started;
	dst->completed += s->completed;
	dst->failed += s->failed;
	dst->sent += s->sent;
	dst->received += s->received;
	dst->retrans += s->retrans;
	dst->mars += s->mars;
	dst->mars_ok += s->mars_ok;
	dst->stray += s->stray;
	dst->tx_drops += s->tx_drops;
	dst->stale += s->stale;
	for (unsigned i = 0; i < BENCH_F_COUNT; i++)
		dst->fail[i] += s->fail[i];
	for (unsigned i = 0; i < BENCH_STATUS_MAX; i++) {
		dst->status[i] += s->status[i];
		dst->mar_rc[i] += s->mar_rc[i];
	}
	if (s->end_us > dst->end_us)
		dst->end_us = s->end_us;
	for (unsigned i = 0; i < BENCH_L_COUNT; i++)
		bench_hist_merge(&dst->lat[i], &s->lat[i]);
}

/* Once a second: what the last second did, from the threads' relaxed counters. */
static void progress(struct bench_thread *th, unsigned n, uint64_t t0, uint64_t *last)
{
	uint64_t v[5] = {0};

	for (unsigned i = 0; i < n; i++) {
		v[0] += mr_count_read(&th[i].st.started);
		v[1] += mr_count_read(&th[i].st.completed);
		v[2] += mr_count_read(&th[i].st.failed);
		v[3] += mr_count_read(&th[i].st.sent) + mr_count_read(&th[i].st.received);
		v[4] += mr_count_read(&th[i].st.mars);
	}
	fprintf(stderr,
	        "mara-bench: %5.1fs started %llu completed %llu failed %llu in-flight %llu | "
	        "%llu flows/s %llu msgs/s",
	        (double)(bench_now_us() - t0) / 1e6, (unsigned long long)v[0],
	        (unsigned long long)v[1], (unsigned long long)v[2],
	        (unsigned long long)(v[0] - v[1] - v[2]), (unsigned long long)(v[1] - last[1]),
	        (unsigned long long)(v[3] - last[3]));
	if (v[4])
		fprintf(stderr, " %llu MAR/s", (unsigned long long)(v[4] - last[4]));
	fprintf(stderr, "\n");
	memcpy(last, v, sizeof(v));
}

int main(int argc, char **argv)
{
	struct bench_cfg cfg = {.threads = 1,
	                        .sockets = 4,
	                        .conns = 2,
	                        .burst = 10,
	                        .timeout_s = 32,
	                        .flow_name = "invite"};
	struct bench_thread *th;
	struct bench_stats *sum;
	_Atomic unsigned active;
	uint64_t t0, meas, failed, last[5] = {0};
	unsigned started = 0;
	int err = 0;
	double el;
	bool over = false;

	snprintf(cfg.user, sizeof(cfg.user), "alice");
	snprintf(cfg.password, sizeof(cfg.password), "alice-secret");
	snprintf(cfg.callee, sizeof(cfg.callee), "bob");
	snprintf(cfg.method, sizeof(cfg.method), "INVITE");
	if (parse_args(argc, argv, &cfg))
		return EXIT_USAGE;
	if (getrandom(&cfg.run_id, sizeof(cfg.run_id), 0) != sizeof(cfg.run_id))
		cfg.run_id = (uint32_t)getpid() ^ (uint32_t)time(NULL);
	if (isatty(STDERR_FILENO))
		cfg.progress = true;
	th = calloc(cfg.threads, sizeof(*th));
	sum = calloc(1, sizeof(*sum));
	if (!th || !sum)
		return EXIT_USAGE;
	atomic_init(&active, cfg.threads);
	for (unsigned i = 0; i < cfg.threads; i++) {
		err = bench_thread_init(&th[i], &cfg, i, &active);
		if (err) {
			fprintf(stderr, "mara-bench: thread %u setup: %s\n", i, strerror(-err));
			goto out;
		}
	}
	t0 = bench_now_us();
	meas = t0 + (uint64_t)(cfg.warmup_s * 1e6);
	for (unsigned i = 0; i < cfg.threads; i++) {
		struct bench_thread *t = &th[i];
		unsigned share = 1;

		t->t0_us = t0;
		t->meas_us = meas;
		t->stop_us = cfg.duration_s > 0 ? meas + (uint64_t)(cfg.duration_s * 1e6) : 0;
		t->quota = cfg.calls ? cfg.calls / cfg.threads + (i < cfg.calls % cfg.threads)
		                     : UINT64_MAX;
		t->rate = cfg.rate / cfg.threads;
		if (cfg.concurrency) {
			share = cfg.concurrency / cfg.threads + (i < cfg.concurrency % cfg.threads);
			t->conc = share ? share : 1;
		}
		if (t->quota == 0 || (cfg.concurrency && share == 0))
			t->no_more = true; /* more threads than work: this one only answers (UAS) */
	}
	signal(SIGINT, on_sigint);
	for (; started < cfg.threads; started++) {
		err = -pthread_create(&th[started].th, NULL, bench_thread_main, &th[started]);
		if (err) {
			fprintf(stderr, "mara-bench: pthread_create: %s\n", strerror(-err));
			atomic_store(&bench_interrupted, true);
			break;
		}
	}
	for (uint64_t next = t0 + 1000000; atomic_load(&active) > 0;) {
		struct timespec ts = {0, 50 * 1000 * 1000};

		nanosleep(&ts, NULL);
		if (cfg.progress && bench_now_us() >= next) {
			progress(th, cfg.threads, t0, last);
			next += 1000000;
		}
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i].th, NULL);
	for (unsigned i = 0; i < cfg.threads; i++) {
		merge(sum, &th[i].st);
		if (th[i].error && !err)
			err = th[i].error;
	}
	el = (double)((sum->end_us > meas ? sum->end_us : bench_now_us()) - meas) / 1e6;
	failed = sum->failed;
	over = cfg.max_fail_pct ? (double)failed > (double)sum->started * cfg.max_fail / 100.0
	                        : (double)failed > cfg.max_fail;
	if (sum->started == 0)
		over = true;
	bench_report(&cfg, sum, el, failed, over, stdout, cfg.json);
	if (cfg.json && isatty(STDERR_FILENO))
		bench_report(&cfg, sum, el, failed, over, stderr, false);
	if (err && !over)
		fprintf(stderr, "mara-bench: error during the run: %s\n", strerror(-err));
out:
	for (unsigned i = 0; i < cfg.threads; i++)
		bench_thread_fini(&th[i]);
	free(th);
	free(sum);
	if (err && started < cfg.threads)
		return EXIT_USAGE; /* setup failed: no report was printed */
	return over ? EXIT_FAILED : err ? EXIT_USAGE : 0;
}
