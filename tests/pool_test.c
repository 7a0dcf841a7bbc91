/* SPDX-License-Identifier: MIT
 * pool_test.c - the Diameter pool (dia_pool) against real mara-aaa peers, driven by two
 * simulated SIP shard threads, each with its own io loop so that every wake-up is real; prints
 * TAP. Used by tests/integration/pool.sh.
 * Owns: its pools, shard loops and threads, request objects, and a fake Diameter peer thread.
 * Thread: main drives phases; each shard thread runs its loop; the fake peer runs blocking I/O.
 * Usage: pool_test --peer HOST=IP:PORT [--peer ...] basic|failover
 *   basic    : (a) 20,000 MAR #1 from 2 shards, (b) RFC 4740 Figure 4 with digest, (d) peers
 *              that never answer TCP, (e) a peer that swallows MARs: timeouts, then stop
 *   failover : (c) a stream of MARs while the driver SIGKILLs the first peer (prints
 *              "# KILL <host>" and waits), then (d) the second: -ENOTCONN at once */
#include "auth.h"
#include "dia.h"
#include "dia_pool.h"
#include "dia_sipcli.h"
#include "io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NSHARDS   2
#define NREQS     1024 /* request objects per shard */
#define QUEUE     2048
#define MAX_PEERS 4
#define ORIGIN    "proxy.test"
#define AOR       "sip:bob@example.com"
#define USER      "alice"
#define PASSWORD  "alice-secret"

struct peer_arg {
	char host[64];
	char addr[64];
};

/* ---- TAP ------------------------------------------------------------------------------------- */

struct tap {
	int n, failed;
};

static void ok(struct tap *t, bool cond, const char *fmt, ...) MR_PRINTF(3, 4);
static void ok(struct tap *t, bool cond, const char *fmt, ...)
{
	va_list ap;

	t->n++;
	printf("%s %d - ", cond ? "ok" : "not ok", t->n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		t->failed++;
}

static void note(const char *fmt, ...) MR_PRINTF(1, 2);
static void note(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* ---- shards ---------------------------------------------------------------------------------- */

enum phase_kind {
	PH_BULK,   /* MAR #1, each must come back with @want_status (and a challenge when 0) */
	PH_STREAM, /* MAR #1 until main raises stop_stream */
	PH_FIG4,   /* Figure 4: challenge, right password, then a wrong one */
};

struct phase {
	enum phase_kind kind;
	uint64_t target; /* per shard */
	unsigned window; /* requests out at once */
	int want_status;
	bool big; /* a 3 kB SIP-AOR: fills a connection's tx queue quickly */
};

struct fig4 {
	int stage;
	char sid[128];
	char realm[64], nonce[128], alg[32], qop[32], opaque[300];
	enum dia_sipcli_outcome out1, out2, out3;
	char sid1[128], sid2[128];
	bool rspauth_ok;
	int err;
};

struct shard {
	struct io_loop loop;
	struct dia_pool *pool;
	unsigned id;
	pthread_t th;
	char *reqs; /* NREQS requests of REQ_STRIDE bytes, each with a full-size MAR buffer */
	struct dia_pool_req *free_list[NREQS];
	unsigned nfree;
	uint64_t t_submit[NREQS];
	struct auth_hash hash;
	bool hash_ready;
	char big_aor[3000];
	/* set by main before a wake, read by the shard */
	_Atomic(const struct phase *) cmd;
	atomic_bool quit;
	atomic_bool stop_stream;
	/* phase state, written by the shard; main reads after @done */
	const struct phase *ph;
	uint64_t submitted, answered, outstanding, wakes;
	uint64_t status_ok, status_bad, outcome_bad, sid_bad, dup, submit_err;
	int last_bad_status, last_submit_err;
	uint64_t lat_min_ns, lat_max_ns;
	uint8_t *seen;
	size_t seen_cap;
	struct fig4 f4;
	bool kick_due;
	atomic_bool all_submitted;
	atomic_bool done;
};

static void sid_for(char *out, size_t cap, unsigned shard, uint64_t seq)
{
	char call[64], tag[32];

	snprintf(call, sizeof(call), "call-%u-%lu@pool.test", shard, (unsigned long)seq);
	snprintf(tag, sizeof(tag), "tag-%lu", (unsigned long)seq);
	dia_sipcli_session_id(out, cap, MR_STR_LIT(ORIGIN), mr_str_c(call), mr_str_c(tag));
}

#define REQ_STRIDE ((sizeof(struct dia_pool_req) + DIA_POOL_MSG_MAX + 63) & ~(size_t)63)

static struct dia_pool_req *req_at(struct shard *sh, unsigned k)
{
	return (struct dia_pool_req *)(void *)(sh->reqs + (size_t)k * REQ_STRIDE);
}

static size_t req_idx(const struct shard *sh, const struct dia_pool_req *r)
{
	return (size_t)((const char *)r - sh->reqs) / REQ_STRIDE;
}

/* A request back to full capacity, its out-of-place answer (if any) freed. */
static void req_reset(struct dia_pool_req *r)
{
	if (r->maa && r->maa != r->mar)
		free(r->maa);
	r->maa = NULL;
	r->cap = DIA_POOL_MSG_MAX;
}

static struct dia_pool_req *req_get(struct shard *sh)
{
	struct dia_pool_req *r = sh->nfree ? sh->free_list[--sh->nfree] : NULL;

	if (r)
		req_reset(r);
	return r;
}

static void req_put(struct shard *sh, struct dia_pool_req *req)
{
	sh->free_list[sh->nfree++] = req;
}

/* Submits @req (MAR already encoded); 0, or the submit error (req back on the free list). */
static int submit(struct shard *sh, struct dia_pool_req *req)
{
	int ret;

	/* every other request is as small as its MAR, as the proxy's are: an answer larger than
	 * the MAR then lands in an allocation of its own (dia_pool_req.maa) */
	if (req_idx(sh, req) % 2)
		req->cap = req->mar_len;
	ret = dia_pool_submit(sh->pool, sh->id, req);

	if (ret) {
		req_put(sh, req);
		sh->submit_err++;
		sh->last_submit_err = ret;
		return ret;
	}
	sh->t_submit[req_idx(sh, req)] = mono_ns();
	sh->outstanding++;
	sh->kick_due = true;
	return 0;
}

static int submit_mar1(struct shard *sh)
{
	struct dia_pool_req *req = req_get(sh);
	char sid[128];
	struct dia_sipcli_mar m;

	if (!req)
		return -ENOBUFS;
	sid_for(sid, sizeof(sid), sh->id, sh->submitted);
	m = (struct dia_sipcli_mar){mr_str_c(sid), MR_STR_LIT(AOR), MR_STR_LIT("INVITE")};
	if (sh->ph->big) {
		memset(sh->big_aor, 'x', sizeof(sh->big_aor));
		memcpy(sh->big_aor, AOR ";pad=", sizeof(AOR ";pad=") - 1);
		m.aor = mr_str_make(sh->big_aor, sizeof(sh->big_aor));
	}
	if (dia_pool_encode_mar(sh->pool, req, &m) <= 0) {
		req_put(sh, req);
		return -EINVAL;
	}
	req->cookie = ((uint64_t)sh->id << 32) | sh->submitted;
	sh->submitted++;
	return submit(sh, req);
}

static bool more_to_submit(struct shard *sh)
{
	if (sh->ph->kind == PH_STREAM)
		return !atomic_load(&sh->stop_stream);
	return sh->submitted < sh->ph->target;
}

static void refill(struct shard *sh)
{
	while (sh->outstanding < sh->ph->window && more_to_submit(sh))
		if (submit_mar1(sh))
			break;
	if (!more_to_submit(sh))
		atomic_store(&sh->all_submitted, true);
}

/* A MAR #1 answer: status, outcome CHALLENGE, the Session-Id of this cookie, once. */
static void check_mar1(struct shard *sh, struct dia_pool_req *req)
{
	uint64_t seq = req->cookie & 0xffffffffu;
	struct dia_sipcli_result r;
	struct dia_msg m;
	char sid[128];

	if (req->status != sh->ph->want_status) {
		sh->status_bad++;
		sh->last_bad_status = req->status;
		return;
	}
	sh->status_ok++;
	if ((req->cookie >> 32) != sh->id || seq >= sh->submitted) {
		sh->sid_bad++;
		return;
	}
	if (seq < sh->seen_cap * 8) {
		if (sh->seen[seq / 8] & (1u << (seq % 8)))
			sh->dup++;
		sh->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	}
	if (req->status)
		return;
	if (dia_msg_init(&m, req->maa, req->maa_len) || dia_sipcli_decode_maa(&m, &r) ||
	    r.outcome != DIA_SIPCLI_CHALLENGE) {
		sh->outcome_bad++;
		return;
	}
	sid_for(sid, sizeof(sid), sh->id, seq);
	if (!mr_str_eq(r.session_id, mr_str_c(sid)))
		sh->sid_bad++;
}

/* ---- Figure 4 -------------------------------------------------------------------------------- */

static int fig4_submit(struct shard *sh, const struct auth_digest *cred)
{
	struct dia_pool_req *req = req_get(sh);
	struct dia_sipcli_mar m = {
	    mr_str_c(sh->f4.sid), MR_STR_LIT(AOR), MR_STR_LIT("INVITE"), {0}, cred};

	if (!req)
		return -EINVAL;
	/* as mara-proxy does: the credentials go back to the server that minted the nonce */
	req->dest_peer = 0;
	if (cred) {
		int i;

		m.dest_host = dia_sipcli_opaque_host(mr_str_c(sh->f4.opaque));
		i = dia_pool_peer_index(sh->pool, m.dest_host);
		req->dest_peer = i >= 0 ? (uint16_t)(i + 1) : 0;
	}
	if (dia_pool_encode_mar(sh->pool, req, &m) <= 0)
		return -EINVAL;
	req->cookie = (uint64_t)sh->f4.stage;
	sh->submitted++;
	return submit(sh, req);
}

static void fig4_start(struct shard *sh)
{
	memset(&sh->f4, 0, sizeof(sh->f4));
	dia_sipcli_session_id(sh->f4.sid, sizeof(sh->f4.sid), MR_STR_LIT(ORIGIN),
	                      MR_STR_LIT("a84b4c76e66710@pc33.example.com"),
	                      MR_STR_LIT("1928301774"));
	sh->f4.stage = 1;
	sh->f4.err = fig4_submit(sh, NULL);
}

static void copy_slice(char *dst, size_t cap, struct mr_str s)
{
	if (mr_str_copy_to(s, dst, cap))
		dst[0] = '\0';
}

/* The UA's side: Proxy-Authorization for the challenge, with @password and @nc. */
static int fig4_cred(struct shard *sh, const char *password, const char *nc, char *resp,
                     struct auth_digest *d)
{
	char ha1[AUTH_HEX_MAX + 1];
	int alg = auth_alg_parse(mr_str_c(sh->f4.alg));

	if (alg < 0)
		return alg;
	if (!sh->hash_ready && auth_hash_init(&sh->hash) == 0)
		sh->hash_ready = true;
	*d = (struct auth_digest){
	    .username = MR_STR_LIT(USER),
	    .realm = mr_str_c(sh->f4.realm),
	    .nonce = mr_str_c(sh->f4.nonce),
	    .uri = MR_STR_LIT(AOR),
	    .algorithm = mr_str_c(sh->f4.alg),
	    .cnonce = MR_STR_LIT("0a4f113b"),
	    .nc = mr_str_c(nc),
	    .qop = MR_STR_LIT("auth"),
	    .method = MR_STR_LIT("INVITE"),
	};
	if (auth_digest_ha1(&sh->hash, auth_alg_base((enum auth_alg)alg), d->username, d->realm,
	                    mr_str_c(password), ha1) < 0 ||
	    auth_digest_response(&sh->hash, d, mr_str_c(ha1), false, resp) < 0)
		return -EINVAL;
	d->response = mr_str_c(resp);
	/* the rspauth mara-aaa must send back (A2 without the method) */
	if (auth_digest_response(&sh->hash, d, mr_str_c(ha1), true, resp + AUTH_HEX_MAX + 1) < 0)
		return -EINVAL;
	return 0;
}

static void fig4_answer(struct shard *sh, struct dia_pool_req *req)
{
	char resp[2 * (AUTH_HEX_MAX + 1)];
	struct dia_sipcli_result r = {0};
	struct auth_digest d;
	struct dia_msg m;

	if (req->status || dia_msg_init(&m, req->maa, req->maa_len) ||
	    dia_sipcli_decode_maa(&m, &r)) {
		sh->f4.err = req->status ? req->status : -EBADMSG;
		sh->f4.stage = 0;
		return;
	}
	if (sh->f4.stage == 1) {
		sh->f4.out1 = r.outcome;
		copy_slice(sh->f4.sid1, sizeof(sh->f4.sid1), r.session_id);
		copy_slice(sh->f4.realm, sizeof(sh->f4.realm), r.chal.realm);
		copy_slice(sh->f4.nonce, sizeof(sh->f4.nonce), r.chal.nonce);
		copy_slice(sh->f4.alg, sizeof(sh->f4.alg), r.chal.algorithm);
		copy_slice(sh->f4.qop, sizeof(sh->f4.qop), r.chal.qop);
		copy_slice(sh->f4.opaque, sizeof(sh->f4.opaque), r.chal.opaque);
		sh->f4.stage = 2;
		sh->f4.err = fig4_cred(sh, PASSWORD, "00000001", resp, &d);
		if (!sh->f4.err)
			sh->f4.err = fig4_submit(sh, &d);
	} else if (sh->f4.stage == 2) {
		sh->f4.out2 = r.outcome;
		copy_slice(sh->f4.sid2, sizeof(sh->f4.sid2), r.session_id);
		/* recompute the expected rspauth for nc 1, then send a wrong password (nc 2) */
		fig4_cred(sh, PASSWORD, "00000001", resp, &d);
		sh->f4.rspauth_ok =
		    r.has_info && mr_str_eq(r.info.rspauth, mr_str_c(resp + AUTH_HEX_MAX + 1));
		sh->f4.stage = 3;
		sh->f4.err = fig4_cred(sh, "wrong-secret", "00000002", resp, &d);
		if (!sh->f4.err)
			sh->f4.err = fig4_submit(sh, &d);
	} else {
		sh->f4.out3 = r.outcome;
		sh->f4.stage = 4;
	}
}

/* ---- the shard loop -------------------------------------------------------------------------- */

static void phase_begin(struct shard *sh, const struct phase *ph)
{
	sh->ph = ph;
	sh->submitted = sh->answered = sh->wakes = 0;
	sh->status_ok = sh->status_bad = sh->outcome_bad = sh->sid_bad = sh->dup = 0;
	sh->submit_err = 0;
	sh->last_bad_status = sh->last_submit_err = 0;
	sh->lat_min_ns = UINT64_MAX;
	sh->lat_max_ns = 0;
	memset(sh->seen, 0, sh->seen_cap);
	atomic_store(&sh->all_submitted, false);
	if (ph->kind == PH_FIG4) {
		if (ph->target)
			fig4_start(sh);
		atomic_store(&sh->all_submitted, true);
	} else {
		refill(sh);
	}
}

static bool phase_finished(struct shard *sh)
{
	if (sh->outstanding)
		return false;
	if (sh->ph->kind == PH_FIG4)
		return sh->f4.stage == 0 || sh->f4.stage == 4 || !sh->ph->target;
	if (sh->ph->kind == PH_STREAM)
		return atomic_load(&sh->stop_stream);
	/* refused submits count as finished requests (the -ESHUTDOWN check) */
	return sh->submitted >= sh->ph->target || sh->submit_err > 0;
}

static void on_answer(struct shard *sh, struct dia_pool_req *req)
{
	uint64_t lat = mono_ns() - sh->t_submit[req_idx(sh, req)];

	sh->outstanding--;
	sh->answered++;
	if (lat < sh->lat_min_ns)
		sh->lat_min_ns = lat;
	if (lat > sh->lat_max_ns)
		sh->lat_max_ns = lat;
	if (sh->ph->kind == PH_FIG4)
		fig4_answer(sh, req);
	else
		check_mar1(sh, req);
	req_put(sh, req);
}

/* The shard's on_wake: a new phase from main, answers from the pool, then one kick. */
static void shard_wake(struct io_loop *l, void *arg)
{
	struct shard *sh = arg;
	const struct phase *ph = atomic_exchange(&sh->cmd, NULL);
	struct dia_pool_req *batch[64];
	unsigned n;

	if (atomic_load(&sh->quit)) {
		l->stop = true;
		return;
	}
	sh->wakes++;
	if (ph)
		phase_begin(sh, ph);
	if (!sh->ph)
		return;
	do {
		n = dia_pool_poll(sh->pool, sh->id, batch, MR_ARRAY_SIZE(batch));
		for (unsigned i = 0; i < n; i++)
			on_answer(sh, batch[i]);
	} while (n == MR_ARRAY_SIZE(batch));
	if (sh->ph->kind != PH_FIG4)
		refill(sh);
	if (sh->kick_due) {
		sh->kick_due = false;
		dia_pool_kick(sh->pool);
	}
	if (phase_finished(sh) && !atomic_load(&sh->done)) {
		sh->ph = NULL;
		atomic_store(&sh->done, true);
	}
}

static void *shard_main(void *arg)
{
	struct shard *sh = arg;

	io_loop_run(&sh->loop);
	return NULL;
}

/* ---- a rig: one pool and its shards ---------------------------------------------------------- */

struct rig {
	struct dia_pool *pool;
	struct dia_pool_cfg cfg;
	struct dia_pool_peer peers[MAX_PEERS];
	struct shard sh[NSHARDS];
	struct io_loop *loops[NSHARDS];
};

static int rig_up(struct rig *r, const struct peer_arg *pa, unsigned npeers, unsigned timeout_ms,
                  unsigned tc_ms, unsigned tw_ms, unsigned max_inflight)
{
	int ret;

	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < npeers; i++)
		r->peers[i] = (struct dia_pool_peer){pa[i].host, pa[i].addr};
	for (unsigned i = 0; i < NSHARDS; i++) {
		struct shard *sh = &r->sh[i];

		ret = io_loop_init(&sh->loop, i + 1, 64);
		if (ret)
			return ret;
		sh->loop.on_wake = shard_wake;
		sh->loop.wake_arg = sh;
		sh->id = i;
		sh->reqs = calloc(NREQS, REQ_STRIDE);
		sh->seen_cap = 1u << 16;
		sh->seen = calloc(sh->seen_cap, 1);
		if (!sh->reqs || !sh->seen)
			return -ENOMEM;
		for (unsigned k = 0; k < NREQS; k++) {
			struct dia_pool_req *q = req_at(sh, k);

			req_reset(q);
			req_put(sh, q);
		}
		atomic_store(&sh->done, true);
		r->loops[i] = &sh->loop;
	}
	r->cfg = (struct dia_pool_cfg){
	    .id = {MR_STR_LIT(ORIGIN), MR_STR_LIT("test"), (uint32_t)time(NULL)},
	    .dest_realm = MR_STR_LIT("example.com"),
	    .peers = r->peers,
	    .npeers = npeers,
	    .tw_ms = tw_ms,
	    .tc_ms = tc_ms,
	    .timeout_ms = timeout_ms,
	    .max_inflight = max_inflight ? max_inflight : 4096,
	    .queue_size = QUEUE,
	    .nshards = NSHARDS,
	    .shard_loops = r->loops,
	};
	ret = dia_pool_create(&r->cfg, &r->pool);
	if (ret)
		return ret;
	for (unsigned i = 0; i < NSHARDS; i++) {
		r->sh[i].pool = r->pool;
		ret = -pthread_create(&r->sh[i].th, NULL, shard_main, &r->sh[i]);
		if (ret)
			return ret;
	}
	return dia_pool_start(r->pool);
}

/* Runs @ph on the shards (@only: one shard, -1 both) and waits up to @limit_ms for the end. */
static bool rig_phase(struct rig *r, const struct phase *ph, int only, unsigned limit_ms)
{
	uint64_t end = mono_ns() + (uint64_t)limit_ms * 1000000u;
	bool done;

	for (unsigned i = 0; i < NSHARDS; i++) {
		if (only >= 0 && (unsigned)only != i)
			continue;
		atomic_store(&r->sh[i].stop_stream, false);
		atomic_store(&r->sh[i].done, false);
		atomic_store(&r->sh[i].cmd, ph);
		io_loop_wake(&r->sh[i].loop);
	}
	do {
		done = true;
		for (unsigned i = 0; i < NSHARDS; i++)
			done &= atomic_load(&r->sh[i].done);
		if (!done)
			sleep_ms(1);
	} while (!done && mono_ns() < end);
	return done;
}

static void rig_down(struct rig *r)
{
	if (r->pool)
		dia_pool_stop(r->pool);
	for (unsigned i = 0; i < NSHARDS; i++) {
		struct shard *sh = &r->sh[i];

		if (!sh->pool)
			continue;
		atomic_store(&sh->quit, true);
		io_loop_wake(&sh->loop);
		pthread_join(sh->th, NULL);
	}
	dia_pool_destroy(r->pool);
	for (unsigned i = 0; i < NSHARDS; i++) {
		struct shard *sh = &r->sh[i];

		if (sh->hash_ready)
			auth_hash_fini(&sh->hash);
		io_loop_fini(&sh->loop);
		for (unsigned k = 0; sh->reqs && k < NREQS; k++)
			req_reset(req_at(sh, k));
		free(sh->reqs);
		free(sh->seen);
	}
}

static bool wait_usable(struct rig *r, unsigned want, unsigned limit_ms)
{
	for (unsigned i = 0; i < limit_ms; i++) {
		if (dia_pool_usable_peers(r->pool) == want)
			return true;
		sleep_ms(1);
	}
	return dia_pool_usable_peers(r->pool) == want;
}

/* Totals of both shards. */
struct sums {
	uint64_t submitted, answered, ok, bad_status, bad_outcome, bad_sid, dup, wakes, submit_err;
	uint64_t lat_min, lat_max;
	int last_bad_status, last_submit_err;
};

static struct sums rig_sums(const struct rig *r)
{
	struct sums s = {.lat_min = UINT64_MAX};

	for (unsigned i = 0; i < NSHARDS; i++) {
		const struct shard *sh = &r->sh[i];

		s.submitted += sh->submitted;
		s.answered += sh->answered;
		s.ok += sh->status_ok;
		s.bad_status += sh->status_bad;
		s.bad_outcome += sh->outcome_bad;
		s.bad_sid += sh->sid_bad;
		s.dup += sh->dup;
		s.wakes += sh->wakes;
		s.submit_err += sh->submit_err;
		if (sh->last_bad_status)
			s.last_bad_status = sh->last_bad_status;
		if (sh->last_submit_err)
			s.last_submit_err = sh->last_submit_err;
		if (sh->answered && sh->lat_min_ns < s.lat_min)
			s.lat_min = sh->lat_min_ns;
		if (sh->lat_max_ns > s.lat_max)
			s.lat_max = sh->lat_max_ns;
	}
	return s;
}

/* ---- the fake peer: CER/CEA and DWR/DWA, DPR/DPA, swallows every MAR ------------------------- */

struct fake {
	int lfd;
	uint16_t port;
	pthread_t th;
	bool mute_dwr;
	bool deaf; /* stops reading after CEA */
	atomic_bool quit;
	atomic_uint mars, cers, dprs, dwrs;
};

static void fake_answer(int fd, const struct dia_msg *req)
{
	static const struct dia_ident id = {MR_STR_LIT("fake.test"), MR_STR_LIT("test"), 7};
	struct sockaddr_in lo = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	uint8_t buf[1024];
	struct dia_enc e;
	int len;

	dia_enc_init(&e, buf, sizeof(buf));
	dia_enc_answer_hdr(&e, req, &id, DIA_RC_SUCCESS);
	if (req->hdr.code == DIA_CMD_CE) {
		dia_enc_avp_addr(&e, DIA_AVP_HOST_IP_ADDRESS, DIA_AVP_F_M, (struct sockaddr *)&lo);
		dia_enc_avp_u32(&e, DIA_AVP_VENDOR_ID, DIA_AVP_F_M, 0);
		dia_enc_avp_str(&e, DIA_AVP_PRODUCT_NAME, 0, MR_STR_LIT("pool-test-fake"));
		dia_enc_avp_u32(&e, DIA_AVP_AUTH_APPLICATION_ID, DIA_AVP_F_M, DIA_APP_SIP);
	} else {
		dia_enc_avp_u32(&e, DIA_AVP_ORIGIN_STATE_ID, DIA_AVP_F_M, 7);
	}
	len = dia_enc_finish(&e);
	if (len > 0 && send(fd, buf, (size_t)len, MSG_NOSIGNAL) != len)
		fprintf(stderr, "fake: short send\n");
}

/* MARs are swallowed; so are DWRs when @mute_dwr (the watchdog then goes SUSPECT). */
static void fake_request(struct fake *f, int fd, const struct dia_msg *m)
{
	switch (m->hdr.code) {
	case DIA_CMD_MA:
		atomic_fetch_add(&f->mars, 1);
		break;
	case DIA_CMD_DW:
		atomic_fetch_add(&f->dwrs, 1);
		if (!f->mute_dwr)
			fake_answer(fd, m);
		break;
	case DIA_CMD_CE:
		atomic_fetch_add(&f->cers, 1);
		fake_answer(fd, m);
		break;
	case DIA_CMD_DP:
		atomic_fetch_add(&f->dprs, 1);
		fake_answer(fd, m);
		break;
	default:
		break;
	}
}

/* Serves one connection until it closes or quit. */
static void fake_serve(struct fake *f, int fd)
{
	static uint8_t rx[1 << 16];
	size_t have = 0;

	while (!atomic_load(&f->quit)) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;
		int len;

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		n = recv(fd, rx + have, sizeof(rx) - have, 0);
		if (n <= 0)
			return;
		have += (size_t)n;
		while (f->deaf && atomic_load(&f->cers) && !atomic_load(&f->quit))
			poll(NULL, 0, 20);
		while ((len = dia_frame(rx, have, sizeof(rx))) > 0) {
			struct dia_msg m;

			if (dia_msg_init(&m, rx, (uint32_t)len) == 0 && (m.hdr.flags & DIA_FLAG_R))
				fake_request(f, fd, &m);
			memmove(rx, rx + len, have - (size_t)len);
			have -= (size_t)len;
		}
		if (len < 0)
			return;
	}
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;

	while (!atomic_load(&f->quit)) {
		struct pollfd pfd = {.fd = f->lfd, .events = POLLIN};
		int fd;

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		fake_serve(f, fd);
		close(fd);
	}
	return NULL;
}

static int fake_start(struct fake *f, bool mute_dwr, bool deaf)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int small = 4096;

	memset(f, 0, sizeof(*f));
	f->mute_dwr = mute_dwr;
	f->deaf = deaf;
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (deaf) /* a small window: the pool's own queue is what fills */
		setsockopt(f->lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(f->lfd, 4) ||
	    getsockname(f->lfd, (struct sockaddr *)&sa, &sl))
		return -errno;
	f->port = ntohs(sa.sin_port);
	return -pthread_create(&f->th, NULL, fake_main, f);
}

static void fake_stop(struct fake *f)
{
	atomic_store(&f->quit, true);
	pthread_join(f->th, NULL);
	close(f->lfd);
}

/* A loopback port with nothing listening: bound, then closed. */
static uint16_t dead_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* ---- scenarios ------------------------------------------------------------------------------- */

static void scenario_bulk(struct tap *t, const struct peer_arg *pa, unsigned np)
{
	static const struct phase ph = {PH_BULK, 10000, 512, 0};
	struct dia_pool_stats st;
	struct rig r;
	uint64_t hist = 0, t0, t1;
	struct sums s;
	bool done, up;

	note("(a) 20,000 MAR #1 from %d shards over %u peer(s)", NSHARDS, np);
	if (rig_up(&r, pa, np, 5000, 1000, 0, 0)) {
		ok(t, false, "pool and shards start");
		rig_down(&r);
		return;
	}
	up = wait_usable(&r, np, 5000);
	ok(t, up, "every peer open and usable (%u)", dia_pool_usable_peers(r.pool));
	t0 = mono_ns();
	done = rig_phase(&r, &ph, -1, 60000);
	t1 = mono_ns();
	s = rig_sums(&r);
	ok(t, done, "both shards got all their answers back (answered %lu of %lu)",
	   (unsigned long)s.answered, (unsigned long)s.submitted);
	ok(t, s.submitted == 20000 && s.answered == 20000 && s.ok == 20000,
	   "20,000 submitted, 20,000 answered with status 0 (bad status %lu, last %d)",
	   (unsigned long)s.bad_status, s.last_bad_status);
	ok(t, s.bad_outcome == 0, "every MAA judged CHALLENGE (others: %lu)",
	   (unsigned long)s.bad_outcome);
	ok(t, s.bad_sid == 0 && s.dup == 0,
	   "cookies match their MAA's Session-Id, none duplicated (mismatch %lu, dup %lu)",
	   (unsigned long)s.bad_sid, (unsigned long)s.dup);
	dia_pool_stats_get(r.pool, &st);
	for (unsigned i = 0; i < DIA_POOL_LAT_BUCKETS; i++)
		hist += st.lat_hist[i];
	ok(t,
	   st.mar_sent == 20000 && st.maa_by_class[2] == 20000 && st.inflight == 0 &&
	       st.rtt_count == 20000 && hist == 20000 && st.timeouts == 0 && st.failovers == 0,
	   "pool counters: mar_sent %lu, 2xxx %lu, inflight %lu, rtt_count %lu, histogram %lu",
	   (unsigned long)st.mar_sent, (unsigned long)st.maa_by_class[2],
	   (unsigned long)st.inflight, (unsigned long)st.rtt_count, (unsigned long)hist);
	ok(t, s.wakes < s.answered / 4 && st.shard_wakes < s.answered / 4,
	   "shard wake-ups are batched (%lu eventfd writes, %lu wakes for %lu answers)",
	   (unsigned long)st.shard_wakes, (unsigned long)s.wakes, (unsigned long)s.answered);
	ok(t, st.pool_wakes < s.submitted / 4,
	   "kicks are batched (%lu eventfd writes to the pool for %lu MARs)",
	   (unsigned long)st.pool_wakes, (unsigned long)s.submitted);
	for (unsigned i = 0; i < np; i++) {
		struct dia_pool_peer_stats ps;

		dia_pool_peer_stats(r.pool, i, &ps);
		note("peer %s: sent %lu answered %lu", pa[i].host, (unsigned long)ps.sent,
		     (unsigned long)ps.answered);
		if (np > 1)
			ok(t, ps.sent > 0, "round-robin used peer %s", pa[i].host);
	}
	note("%.0f MAR/s, mean RTT %.0f us, max submit-to-answer %.1f ms",
	     20000.0 / ((double)(t1 - t0) / 1e9),
	     st.rtt_count ? (double)st.rtt_sum_ns / (double)st.rtt_count / 1000.0 : 0.0,
	     (double)s.lat_max / 1e6);
	rig_down(&r);
}

/* (a') max_inflight 64 with 1,024 requests out: the rest wait in the pool's backlog. */
static void scenario_capped(struct tap *t, const struct peer_arg *pa, unsigned np)
{
	static const struct phase ph = {PH_BULK, 2000, 512, 0};
	struct dia_pool_stats st;
	struct rig r;
	struct sums s;
	bool done;

	note("(a') max_inflight = 64, 1,024 requests out at once");
	if (rig_up(&r, pa, np, 5000, 1000, 0, 64)) {
		ok(t, false, "pool and shards start");
		rig_down(&r);
		return;
	}
	wait_usable(&r, np, 5000);
	done = rig_phase(&r, &ph, -1, 30000);
	s = rig_sums(&r);
	dia_pool_stats_get(r.pool, &st);
	ok(t,
	   done && s.answered == 4000 && s.ok == 4000 && s.bad_outcome == 0 && s.bad_sid == 0 &&
	       s.dup == 0,
	   "4,000 answered with a CHALLENGE, cookies matched (ok %lu, last bad %d)",
	   (unsigned long)s.ok, s.last_bad_status);
	ok(t, st.mar_sent == 4000 && st.timeouts == 0 && st.inflight == 0,
	   "each sent once, none timed out (sent %lu)", (unsigned long)st.mar_sent);
	rig_down(&r);
}

static void scenario_fig4(struct tap *t, const struct peer_arg *pa, unsigned np)
{
	static const struct phase ph = {PH_FIG4, 1, 1, 0};
	struct rig r;
	struct fig4 *f;

	note("(b) RFC 4740 Figure 4: MAR #1 -> challenge -> digest (alice) -> MAR #2");
	if (rig_up(&r, pa, np, 5000, 1000, 0, 0)) {
		ok(t, false, "pool and shards start");
		rig_down(&r);
		return;
	}
	wait_usable(&r, np, 5000);
	ok(t, rig_phase(&r, &ph, 0, 10000), "the three exchanges completed");
	f = &r.sh[0].f4;
	ok(t, f->err == 0 && f->stage == 4, "no error on the way (err %d, stage %d)", f->err,
	   f->stage);
	ok(t, f->out1 == DIA_SIPCLI_CHALLENGE && f->realm[0] && f->nonce[0],
	   "MAR #1 -> CHALLENGE (realm %s, algorithm %s, qop %s)", f->realm, f->alg, f->qop);
	ok(t, strcmp(f->realm, "example.com") == 0, "challenge realm is example.com");
	ok(t, f->out2 == DIA_SIPCLI_AUTHORIZED, "MAR #2 with alice's digest -> AUTHORIZED (%s)",
	   dia_sipcli_outcome_name(f->out2));
	ok(t, f->rspauth_ok, "MAA #2 carries the rspauth the UA expects");
	ok(t, strcmp(f->sid1, f->sid) == 0 && strcmp(f->sid2, f->sid) == 0,
	   "both MAAs carry the Session-Id derived from Call-ID and From tag (%s)", f->sid);
	ok(t, f->out3 == DIA_SIPCLI_REFUSED, "a wrong password -> REFUSED (%s)",
	   dia_sipcli_outcome_name(f->out3));
	rig_down(&r);
}

static void scenario_dead(struct tap *t)
{
	static const struct phase ph = {PH_BULK, 50, 50, -ENOTCONN};
	struct peer_arg pa[2];
	struct dia_pool_stats st;
	struct dia_pool_peer_stats ps;
	struct rig r;
	struct sums s;
	bool tried = false;

	note("(d) every peer down from the start");
	snprintf(pa[0].host, sizeof(pa[0].host), "dead1.test");
	snprintf(pa[0].addr, sizeof(pa[0].addr), "127.0.0.1:%u", dead_port());
	snprintf(pa[1].host, sizeof(pa[1].host), "dead2.test");
	snprintf(pa[1].addr, sizeof(pa[1].addr), "127.0.0.1:%u", dead_port());
	if (rig_up(&r, pa, 2, 2000, 200, 0, 0)) {
		ok(t, false, "pool and shards start");
		rig_down(&r);
		return;
	}
	for (unsigned i = 0; i < 2000 && !tried; i++) {
		sleep_ms(1);
		tried = dia_pool_peer_stats(r.pool, 1, &ps) == 0 && ps.connects >= 2;
	}
	ok(t, tried, "the pool keeps trying to connect (Tc 200 ms)");
	ok(t, dia_pool_usable_peers(r.pool) == 0, "usable_peers == 0");
	ok(t, rig_phase(&r, &ph, -1, 5000), "every request came back");
	s = rig_sums(&r);
	ok(t, s.answered == 100 && s.ok == 100, "100 requests -> -ENOTCONN (bad %lu, last %d)",
	   (unsigned long)s.bad_status, s.last_bad_status);
	ok(t, s.lat_max < 50000000u, "at once: slowest in %.2f ms (< 50 ms)",
	   (double)s.lat_max / 1e6);
	dia_pool_stats_get(r.pool, &st);
	ok(t, st.no_peer == 100 && st.mar_sent == 0, "counted as no_peer (%lu), nothing sent",
	   (unsigned long)st.no_peer);
	rig_down(&r);
}

static void scenario_silent(struct tap *t)
{
	static const struct phase ph_to = {PH_BULK, 5, 5, -ETIMEDOUT};
	static const struct phase ph_cancel = {PH_BULK, 3, 3, -ECANCELED};
	static const struct phase ph_shut = {PH_BULK, 1, 1, 0};
	struct peer_arg pa[1];
	struct dia_pool_stats st;
	struct fake f;
	struct rig r;
	struct sums s;
	bool sent = false;

	note("(e) a peer that completes CER/CEA but swallows every MAR; then stop");
	if (fake_start(&f, false, false)) {
		ok(t, false, "fake peer starts");
		return;
	}
	snprintf(pa[0].host, sizeof(pa[0].host), "fake.test");
	snprintf(pa[0].addr, sizeof(pa[0].addr), "127.0.0.1:%u", f.port);
	if (rig_up(&r, pa, 1, 300, 1000, 0, 0)) {
		ok(t, false, "pool and shards start");
		rig_down(&r);
		fake_stop(&f);
		return;
	}
	ok(t, wait_usable(&r, 1, 5000), "capabilities exchanged with the fake peer");
	ok(t, rig_phase(&r, &ph_to, 0, 5000), "the 5 requests came back");
	s = rig_sums(&r);
	ok(t, s.answered == 5 && s.ok == 5, "all 5 -> -ETIMEDOUT (bad %lu, last %d)",
	   (unsigned long)s.bad_status, s.last_bad_status);
	ok(t, s.lat_min >= 300000000u && s.lat_max < 600000000u,
	   "after the 300 ms timeout: %.1f .. %.1f ms", (double)s.lat_min / 1e6,
	   (double)s.lat_max / 1e6);
	ok(t, atomic_load(&f.mars) == 5, "the fake peer received them (%u)", atomic_load(&f.mars));
	dia_pool_stats_get(r.pool, &st);
	ok(t, st.timeouts == 5 && st.inflight == 0, "counted: timeouts %lu, inflight %lu",
	   (unsigned long)st.timeouts, (unsigned long)st.inflight);

	/* stop while 3 are pending: they come back -ECANCELED, the peer gets DPR */
	atomic_store(&r.sh[0].done, false);
	atomic_store(&r.sh[0].cmd, &ph_cancel);
	io_loop_wake(&r.sh[0].loop);
	for (unsigned i = 0; i < 2000 && !sent; i++) {
		sleep_ms(1);
		sent = atomic_load(&f.mars) == 8;
	}
	ok(t, sent, "3 more MARs reached the fake peer");
	dia_pool_stop(r.pool);
	for (unsigned i = 0; i < 2000 && !atomic_load(&r.sh[0].done); i++)
		sleep_ms(1);
	s = rig_sums(&r);
	ok(t, atomic_load(&r.sh[0].done) && s.answered == 3 && s.ok == 3,
	   "stop hands pending requests back with -ECANCELED (%lu of 3, last bad %d)",
	   (unsigned long)s.ok, s.last_bad_status);
	ok(t, atomic_load(&f.dprs) == 1, "stop sent DPR to the peer (%u)", atomic_load(&f.dprs));
	ok(t, dia_pool_usable_peers(r.pool) == 0, "no usable peer after stop");
	sent = rig_phase(&r, &ph_shut, 0, 2000);
	ok(t, sent && r.sh[0].last_submit_err == -ESHUTDOWN, "submit after stop -> -ESHUTDOWN (%d)",
	   r.sh[0].last_submit_err);
	rig_down(&r);
	fake_stop(&f);
}

/* (f) RFC 3539: a peer that stops answering DWR goes SUSPECT; what it had pending fails over. */
static void scenario_suspect(struct tap *t, const struct peer_arg *pa)
{
	static const struct phase ph = {PH_BULK, 10, 10, 0};
	struct dia_pool_peer_stats pf, pr;
	struct dia_pool_stats st;
	struct peer_arg two[2];
	struct fake f;
	struct rig r;
	struct sums s;
	bool done;

	note("(f) a peer that swallows MARs and DWRs: SUSPECT after 2 x Tw (6 s), then failover");
	if (fake_start(&f, true, false)) {
		ok(t, false, "fake peer starts");
		return;
	}
	snprintf(two[0].host, sizeof(two[0].host), "fake.test");
	snprintf(two[0].addr, sizeof(two[0].addr), "127.0.0.1:%u", f.port);
	two[1] = pa[0];
	if (rig_up(&r, two, 2, 30000, 60000, 6000, 0)) {
		ok(t, false, "pool and shards start");
		rig_down(&r);
		fake_stop(&f);
		return;
	}
	ok(t, wait_usable(&r, 2, 5000), "the fake peer and %s are usable", pa[0].host);
	done = rig_phase(&r, &ph, -1, 25000);
	s = rig_sums(&r);
	dia_pool_stats_get(r.pool, &st);
	dia_pool_peer_stats(r.pool, 0, &pf);
	dia_pool_peer_stats(r.pool, 1, &pr);
	note("fake: sent %lu failed over %lu, DWR seen %u; %s: sent %lu answered %lu; "
	     "slowest %.1f s",
	     (unsigned long)pf.sent, (unsigned long)pf.failed_over, atomic_load(&f.dwrs),
	     pa[0].host, (unsigned long)pr.sent, (unsigned long)pr.answered,
	     (double)s.lat_max / 1e9);
	ok(t, done && s.answered == 20 && s.ok == 20 && s.bad_outcome == 0 && s.dup == 0,
	   "all 20 answered with a CHALLENGE (ok %lu, last bad %d)", (unsigned long)s.ok,
	   s.last_bad_status);
	ok(t, pf.sent == 10 && pf.failed_over == 10 && st.failovers == 10,
	   "the 10 pending on the silent peer failed over (%lu)", (unsigned long)st.failovers);
	ok(t, !pf.usable && (pf.wd == DIA_WD_SUSPECT || pf.state == DIA_PS_CLOSED),
	   "the silent peer is out of rotation (state %s)", dia_peer_state_name(pf.state));
	ok(t, s.lat_min < 1000000000u && s.lat_max >= 6000000000u && st.timeouts == 0,
	   "the others were answered at once, the failed-over ones after >= 6 s, no timeout");
	rig_down(&r);
	fake_stop(&f);
}

/* (g) a peer that stops reading: its connection's tx queue fills, requests wait in the pool's
 * backlog, and every one still comes back (-ETIMEDOUT), none lost. */
static void scenario_deaf(struct tap *t)
{
	static const struct phase ph = {PH_BULK, 1000, 1000, -ETIMEDOUT, true};
	struct dia_pool_stats st;
	struct peer_arg pa[1];
	struct fake f;
	struct rig r;
	struct sums s;
	bool done;

	note("(g) a peer that stops reading after CEA: 2,000 MARs of 3 kB");
	if (fake_start(&f, false, true)) {
		ok(t, false, "fake peer starts");
		return;
	}
	snprintf(pa[0].host, sizeof(pa[0].host), "fake.test");
	snprintf(pa[0].addr, sizeof(pa[0].addr), "127.0.0.1:%u", f.port);
	if (rig_up(&r, pa, 1, 1000, 60000, 0, 0)) {
		ok(t, false, "pool and shards start");
		rig_down(&r);
		fake_stop(&f);
		return;
	}
	ok(t, wait_usable(&r, 1, 5000), "capabilities exchanged with the deaf peer");
	done = rig_phase(&r, &ph, -1, 10000);
	s = rig_sums(&r);
	dia_pool_stats_get(r.pool, &st);
	note("sent %lu of 2000 before the queue filled; slowest %.0f ms",
	     (unsigned long)st.mar_sent, (double)s.lat_max / 1e6);
	ok(t, done && s.answered == 2000 && s.ok == 2000 && s.dup == 0,
	   "all 2000 came back -ETIMEDOUT (ok %lu, last bad %d)", (unsigned long)s.ok,
	   s.last_bad_status);
	ok(t, st.mar_sent < 2000 && st.timeouts == 2000 && st.inflight == 0,
	   "the ones that found no room waited in the backlog (sent %lu, timeouts %lu)",
	   (unsigned long)st.mar_sent, (unsigned long)st.timeouts);
	rig_down(&r);
	fake_stop(&f);
}

/* (c) + (d): the driver kills the first peer, then the second, when told. */
static void scenario_failover(struct tap *t, const struct peer_arg *pa, unsigned np)
{
	static const struct phase ph = {PH_STREAM, 0, 256, 0};
	static const struct phase ph_dead = {PH_BULK, 50, 50, -ENOTCONN};
	struct dia_pool_peer_stats p0, p1;
	struct dia_pool_stats st;
	uint64_t before, t_dead = 0;
	struct rig r;
	struct sums s;
	bool died = false;

	note("(c) failover: a stream of MARs while %s is killed with SIGKILL", pa[0].host);
	if (np < 2 || rig_up(&r, pa, np, 5000, 60000, 0, 0)) {
		ok(t, false, "pool with two peers starts");
		if (np >= 2)
			rig_down(&r);
		return;
	}
	ok(t, wait_usable(&r, 2, 5000), "both peers usable");
	for (unsigned i = 0; i < NSHARDS; i++) {
		atomic_store(&r.sh[i].stop_stream, false);
		atomic_store(&r.sh[i].done, false);
		atomic_store(&r.sh[i].cmd, &ph);
		io_loop_wake(&r.sh[i].loop);
	}
	sleep_ms(300);
	dia_pool_stats_get(r.pool, &st);
	before = st.maa_by_class[2];
	note("KILL %s (streaming: %lu answered so far)", pa[0].host, (unsigned long)before);
	for (unsigned i = 0; i < 20000 && !died; i++) {
		sleep_ms(1);
		dia_pool_peer_stats(r.pool, 0, &p0);
		died = !p0.usable;
	}
	if (died)
		t_dead = mono_ns();
	ok(t, died, "the pool saw %s go away", pa[0].host);
	sleep_ms(500); /* keep streaming on the survivor */
	for (unsigned i = 0; i < NSHARDS; i++) {
		atomic_store(&r.sh[i].stop_stream, true);
		io_loop_wake(&r.sh[i].loop);
	}
	for (unsigned i = 0; i < 10000; i++) {
		if (atomic_load(&r.sh[0].done) && atomic_load(&r.sh[1].done))
			break;
		sleep_ms(1);
	}
	s = rig_sums(&r);
	dia_pool_stats_get(r.pool, &st);
	dia_pool_peer_stats(r.pool, 0, &p0);
	dia_pool_peer_stats(r.pool, 1, &p1);
	note("submitted %lu, answered %lu; %s: sent %lu answered %lu failed over %lu; "
	     "%s: sent %lu answered %lu; pool failovers %lu",
	     (unsigned long)s.submitted, (unsigned long)s.answered, pa[0].host,
	     (unsigned long)p0.sent, (unsigned long)p0.answered, (unsigned long)p0.failed_over,
	     pa[1].host, (unsigned long)p1.sent, (unsigned long)p1.answered,
	     (unsigned long)st.failovers);
	ok(t, atomic_load(&r.sh[0].done) && atomic_load(&r.sh[1].done) && s.answered == s.submitted,
	   "every request of the stream completed (%lu of %lu)", (unsigned long)s.answered,
	   (unsigned long)s.submitted);
	ok(t, s.ok == s.answered && s.bad_outcome == 0 && s.bad_sid == 0 && s.dup == 0,
	   "all with status 0 and a CHALLENGE, cookies matched (bad status %lu last %d, "
	   "bad outcome %lu, sid %lu, dup %lu)",
	   (unsigned long)s.bad_status, s.last_bad_status, (unsigned long)s.bad_outcome,
	   (unsigned long)s.bad_sid, (unsigned long)s.dup);
	ok(t, p0.sent > 0 && st.maa_by_class[2] > before,
	   "the stream used %s before it died and went on after", pa[0].host);
	/* Honest accounting: whatever was sent to the dead peer was either answered by it before
	 * it died or failed over; and failovers > 0 unless nothing was in flight there. */
	ok(t, p0.sent == p0.answered + p0.failed_over && p0.timeouts == 0,
	   "%s: sent %lu = answered %lu + failed over %lu", pa[0].host, (unsigned long)p0.sent,
	   (unsigned long)p0.answered, (unsigned long)p0.failed_over);
	ok(t, st.failovers == p0.failed_over && st.no_peer == 0 && st.timeouts == 0,
	   "each request in flight on the dead peer was re-sent with T to the survivor "
	   "(%lu failovers)%s",
	   (unsigned long)st.failovers,
	   st.failovers ? "" : " # none was in flight there when it died");

	note("(d) KILL %s: no peer left", pa[1].host);
	ok(t, wait_usable(&r, 0, 20000), "usable_peers drops to 0");
	if (t_dead)
		note("second peer gone %.0f ms after the first",
		     (double)(mono_ns() - t_dead) / 1e6);
	ok(t, rig_phase(&r, &ph_dead, -1, 5000), "requests come back");
	s = rig_sums(&r);
	ok(t, s.answered == 100 && s.ok == 100 && s.lat_max < 50000000u,
	   "100 requests -> -ENOTCONN at once (ok %lu, slowest %.2f ms)", (unsigned long)s.ok,
	   (double)s.lat_max / 1e6);
	rig_down(&r);
}

static int parse_peer(const char *arg, struct peer_arg *pa)
{
	const char *eq = strchr(arg, '=');

	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(pa->host) ||
	    strlen(eq + 1) >= sizeof(pa->addr))
		return -EINVAL;
	snprintf(pa->host, sizeof(pa->host), "%.*s", (int)(eq - arg), arg);
	snprintf(pa->addr, sizeof(pa->addr), "%s", eq + 1);
	return 0;
}

int main(int argc, char **argv)
{
	struct peer_arg pa[MAX_PEERS];
	const char *mode = NULL;
	struct tap t = {0};
	unsigned np = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--peer") == 0 && i + 1 < argc && np < MAX_PEERS) {
			if (parse_peer(argv[++i], &pa[np++]))
				goto usage;
		} else if (!mode) {
			mode = argv[i];
		} else {
			goto usage;
		}
	}
	if (!mode || !np)
		goto usage;
	if (strcmp(mode, "basic") == 0) {
		scenario_bulk(&t, pa, np);
		scenario_capped(&t, pa, np);
		scenario_fig4(&t, pa, np);
		scenario_dead(&t);
		scenario_silent(&t);
		scenario_deaf(&t);
		scenario_suspect(&t, pa);
	} else if (strcmp(mode, "failover") == 0) {
		scenario_failover(&t, pa, np);
	} else {
		goto usage;
	}
	printf("1..%d\n", t.n);
	return t.failed ? 1 : 0;
usage:
	fprintf(stderr, "usage: pool_test --peer HOST=IP:PORT [--peer ...] basic|failover\n");
	return 2;
}
