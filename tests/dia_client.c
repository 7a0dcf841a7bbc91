/* SPDX-License-Identifier: MIT
 * dia_client.c - a test Diameter client that plays the SIP server's half of RFC 4740 §6.4
 * Figure 4 against mara-aaa over TCP and checks every answer; prints TAP.
 * Owns: one blocking TCP connection per scenario group. Thread: single.
 * Usage: dia_client HOST PORT [--secret HEX] [--mode all|ha1|user|cross] [--port2 P]
 *                   [--user U --password P]
 *   all   : Figure 4, refusals (wrong password, unknown user, replay, forged/expired nonce,
 *           scheme, AOR), malformed messages, 10,000 pipelined MARs, framing loss
 *   ha1   : against a server with return_ha1 = true (RFC 4740 §6.3)
 *   user  : Figure 4 for one user (reload tests)
 *   cross : MAR #1 to PORT, MAR #2 to --port2 (two servers sharing the nonce secret): the
 *           second re-challenges (Digest-Stale) a nonce the first minted, never accepts it
 *   sec   : Digest security refusals, each once or a known number of times (digest_sec.sh
 *           checks mara_aaa_digest_refused_total{reason}); needs --secret; the server offers
 *           SHA-256 first and allows MD5
 *   sec-policy: against a server whose policy is SHA-256 only: an MD5 answer is refused
 *   relay : PORT is a Diameter relay in front of two mara-aaa, --host1 A and --host2 B: Figure 4
 *           through each (Destination-Host), then A's credentials replayed to B (re-challenged by
 *           B) and to A (refused)
 *   silent: open, then never answer: the server's watchdog must give up on us
 *   nest  : --nest N: a MAR with Proxy-Info nested N deep is served, N + 1 deep is refused
 *           5014 (the server runs max_avp_nest = N) */
#include "auth.h"
#include "dia.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REALM "example.com"
#define RXCAP (4u << 20)

struct cli {
	int fd;
	uint8_t *rx;
	size_t rxlen;
	uint32_t hbh, e2e;
	uint8_t last[65536]; /* the last message received, copied out of rx */
	struct dia_msg m;
};

static const char *host_arg;
static int port_arg;
static int failures, tests;
static struct auth_hash hash;
static uint64_t session_seq;
static bool ha1_expected; /* --mode ha1: challenges for a known user carry Digest-HA1 */

static void ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	tests++;
	printf("%s %d - ", cond ? "ok" : "not ok", tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		failures++;
}

static int tcp_connect(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port_arg)};
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	inet_pton(AF_INET, host_arg, &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("connect");
		exit(1);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Receives one message into c->last / c->m. 0, or -1 on close/timeout/garbage. */
static int recv_msg(struct cli *c)
{
	for (;;) {
		int n = dia_frame(c->rx, c->rxlen, sizeof(c->last));

		if (n > 0) {
			memcpy(c->last, c->rx, (size_t)n);
			memmove(c->rx, c->rx + n, c->rxlen - (size_t)n);
			c->rxlen -= (size_t)n;
			return dia_msg_init(&c->m, c->last, (uint32_t)n);
		}
		if (n < 0)
			return -1;
		ssize_t r = recv(c->fd, c->rx + c->rxlen, RXCAP - c->rxlen, 0);

		if (r <= 0)
			return -1;
		c->rxlen += (size_t)r;
	}
}

static uint32_t result_code(const struct dia_msg *m)
{
	struct dia_avp a;
	uint32_t v = 0;

	if (dia_msg_find(m, DIA_AVP_RESULT_CODE, 0, &a) > 0)
		dia_avp_u32(&a, &v);
	return v;
}

static void cli_open(struct cli *c)
{
	uint8_t buf[1024];
	struct sockaddr_in lo = {.sin_family = AF_INET};
	struct dia_enc e;
	int len;

	memset(c, 0, sizeof(*c));
	c->rx = malloc(RXCAP);
	c->fd = tcp_connect();
	c->hbh = 0x10000000u + (uint32_t)rand();
	c->e2e = 0x20000000u;
	inet_pton(AF_INET, "127.0.0.1", &lo.sin_addr);
	dia_enc_init(&e, buf, sizeof(buf));
	dia_enc_hdr(&e, DIA_FLAG_R, DIA_CMD_CE, 0, c->hbh++, c->e2e++);
	dia_enc_avp_str(&e, DIA_AVP_ORIGIN_HOST, DIA_AVP_F_M, MR_STR_LIT("client.test"));
	dia_enc_avp_str(&e, DIA_AVP_ORIGIN_REALM, DIA_AVP_F_M, MR_STR_LIT("test"));
	dia_enc_avp_addr(&e, DIA_AVP_HOST_IP_ADDRESS, DIA_AVP_F_M, (struct sockaddr *)&lo);
	dia_enc_avp_u32(&e, DIA_AVP_VENDOR_ID, DIA_AVP_F_M, 0);
	dia_enc_avp_str(&e, DIA_AVP_PRODUCT_NAME, 0, MR_STR_LIT("mara-test-client"));
	dia_enc_avp_u32(&e, DIA_AVP_AUTH_APPLICATION_ID, DIA_AVP_F_M, DIA_APP_SIP);
	len = dia_enc_finish(&e);
	if (len < 0 || send_all(c->fd, buf, (size_t)len) || recv_msg(c)) {
		fprintf(stderr, "CER failed\n");
		exit(1);
	}
	if (c->m.hdr.code != DIA_CMD_CE || result_code(&c->m) != DIA_RC_SUCCESS) {
		fprintf(stderr, "CEA refused: %u\n", result_code(&c->m));
		exit(1);
	}
}

static void cli_close(struct cli *c)
{
	close(c->fd);
	free(c->rx);
}

/* What goes in a MAR. */
struct mar {
	const char *user_name; /* User-Name AVP, NULL = absent */
	const char *aor;
	const char *method;
	bool no_method;
	bool item; /* SIP-Auth-Data-Item */
	uint32_t scheme;
	const char *alg_hint;
	struct auth_digest *cred; /* SIP-Authorization */
	uint8_t flags;            /* header flags; default R|P */
	uint32_t extra_code;      /* an extra AVP with this code (M flag) */
	const char *sid;          /* Session-Id to use; NULL = a new one */
	const char *dest_host;    /* Destination-Host, NULL = absent (a relay routes by realm) */
	bool proxy_info;
	int nest; /* Proxy-Info groups nested this deep (0: none) */
};

static int build_mar(struct cli *c, const struct mar *r, uint8_t *buf, uint32_t cap, uint32_t *hbh)
{
	char sid[128];
	struct dia_enc e;

	if (r->sid)
		snprintf(sid, sizeof(sid), "%s", r->sid);
	else
		snprintf(sid, sizeof(sid), "client.test;%ld;%lu", (long)time(NULL), ++session_seq);
	dia_enc_init(&e, buf, cap);
	*hbh = c->hbh++;
	dia_enc_hdr(&e, r->flags ? r->flags : DIA_FLAG_R | DIA_FLAG_P, DIA_CMD_MA, DIA_APP_SIP,
	            *hbh, c->e2e++);
	dia_enc_avp_str(&e, DIA_AVP_SESSION_ID, DIA_AVP_F_M, mr_str_c(sid));
	dia_enc_avp_u32(&e, DIA_AVP_AUTH_APPLICATION_ID, DIA_AVP_F_M, DIA_APP_SIP);
	dia_enc_avp_u32(&e, DIA_AVP_AUTH_SESSION_STATE, DIA_AVP_F_M, 1);
	dia_enc_avp_str(&e, DIA_AVP_ORIGIN_HOST, DIA_AVP_F_M, MR_STR_LIT("client.test"));
	dia_enc_avp_str(&e, DIA_AVP_ORIGIN_REALM, DIA_AVP_F_M, MR_STR_LIT("test"));
	dia_enc_avp_str(&e, DIA_AVP_DESTINATION_REALM, DIA_AVP_F_M, MR_STR_LIT(REALM));
	if (r->dest_host)
		dia_enc_avp_str(&e, DIA_AVP_DESTINATION_HOST, DIA_AVP_F_M, mr_str_c(r->dest_host));
	dia_enc_avp_str(&e, DIA_AVP_SIP_AOR, DIA_AVP_F_M,
	                mr_str_c(r->aor ? r->aor : "sip:bob@example.com"));
	if (!r->no_method)
		dia_enc_avp_str(&e, DIA_AVP_SIP_METHOD, DIA_AVP_F_M,
		                mr_str_c(r->method ? r->method : "INVITE"));
	if (r->user_name)
		dia_enc_avp_str(&e, DIA_AVP_USER_NAME, DIA_AVP_F_M, mr_str_c(r->user_name));
	if (r->item || r->cred) {
		dia_enc_avp_u32(&e, DIA_AVP_SIP_NUMBER_AUTH_ITEMS, DIA_AVP_F_M, 1);
		dia_enc_group_begin(&e, DIA_AVP_SIP_AUTH_DATA_ITEM, DIA_AVP_F_M, 0);
		dia_enc_avp_u32(&e, DIA_AVP_SIP_AUTHENTICATION_SCHEME, DIA_AVP_F_M, r->scheme);
		if (r->alg_hint) {
			dia_enc_group_begin(&e, DIA_AVP_SIP_AUTHENTICATE, DIA_AVP_F_M, 0);
			dia_enc_avp_str(&e, DIA_AVP_DIGEST_ALGORITHM, DIA_AVP_F_M,
			                mr_str_c(r->alg_hint));
			dia_enc_group_end(&e);
		}
		if (r->cred) {
			const struct auth_digest *d = r->cred;
			const struct {
				uint32_t code;
				struct mr_str v;
			} f[] = {
			    {DIA_AVP_DIGEST_USERNAME, d->username},
			    {DIA_AVP_DIGEST_REALM, d->realm},
			    {DIA_AVP_DIGEST_NONCE, d->nonce},
			    {DIA_AVP_DIGEST_URI, d->uri},
			    {DIA_AVP_DIGEST_RESPONSE, d->response},
			    {DIA_AVP_DIGEST_ALGORITHM, d->algorithm},
			    {DIA_AVP_DIGEST_CNONCE, d->cnonce},
			    {DIA_AVP_DIGEST_QOP, d->qop},
			    {DIA_AVP_DIGEST_NONCE_COUNT, d->nc},
			    {DIA_AVP_DIGEST_METHOD, d->method},
			};

			dia_enc_group_begin(&e, DIA_AVP_SIP_AUTHORIZATION, DIA_AVP_F_M, 0);
			for (size_t i = 0; i < MR_ARRAY_SIZE(f); i++)
				if (f[i].v.len)
					dia_enc_avp_str(&e, f[i].code, DIA_AVP_F_M, f[i].v);
			dia_enc_group_end(&e);
		}
		dia_enc_group_end(&e);
	}
	if (r->extra_code)
		dia_enc_avp_u32(&e, r->extra_code, DIA_AVP_F_M, 7);
	for (int i = 0; i < r->nest; i++) {
		dia_enc_group_begin(&e, DIA_AVP_PROXY_INFO, DIA_AVP_F_M, 0);
		dia_enc_avp_str(&e, DIA_AVP_PROXY_HOST, DIA_AVP_F_M, MR_STR_LIT("dra.test"));
	}
	if (r->nest)
		dia_enc_avp_str(&e, DIA_AVP_PROXY_STATE, DIA_AVP_F_M, MR_STR_LIT("s"));
	for (int i = 0; i < r->nest; i++)
		dia_enc_group_end(&e);
	if (r->proxy_info) {
		dia_enc_group_begin(&e, DIA_AVP_PROXY_INFO, DIA_AVP_F_M, 0);
		dia_enc_avp_str(&e, DIA_AVP_PROXY_HOST, DIA_AVP_F_M, MR_STR_LIT("dra.test"));
		dia_enc_avp_str(&e, DIA_AVP_PROXY_STATE, DIA_AVP_F_M, MR_STR_LIT("state-42"));
		dia_enc_group_end(&e);
	}
	return dia_enc_finish(&e);
}

/* Sends a MAR and receives its answer (checked for matching ids). */
static int exchange(struct cli *c, const struct mar *r)
{
	uint8_t buf[8192];
	uint32_t hbh;
	int len = build_mar(c, r, buf, sizeof(buf), &hbh);

	if (len < 0 || send_all(c->fd, buf, (size_t)len) || recv_msg(c))
		return -1;
	if (c->m.hdr.hbh != hbh || c->m.hdr.code != DIA_CMD_MA || (c->m.hdr.flags & DIA_FLAG_R))
		return -1;
	return 0;
}

/* The challenge in an MAA: nonce, algorithm, qop, realm, stale, HA1 (slices into c->last). */
struct challenge {
	struct mr_str realm, nonce, alg, qop, stale, ha1, opaque;
	bool found;
};

static struct challenge get_challenge(const struct dia_msg *m)
{
	struct challenge ch = {0};
	struct dia_avp item, auth, a;

	if (dia_msg_find(m, DIA_AVP_SIP_AUTH_DATA_ITEM, 0, &item) <= 0 ||
	    dia_group_find(&item, DIA_AVP_SIP_AUTHENTICATE, 0, &auth) <= 0)
		return ch;
	ch.found = true;
	if (dia_group_find(&auth, DIA_AVP_DIGEST_REALM, 0, &a) > 0)
		ch.realm = a.data;
	if (dia_group_find(&auth, DIA_AVP_DIGEST_NONCE, 0, &a) > 0)
		ch.nonce = a.data;
	if (dia_group_find(&auth, DIA_AVP_DIGEST_ALGORITHM, 0, &a) > 0)
		ch.alg = a.data;
	if (dia_group_find(&auth, DIA_AVP_DIGEST_QOP, 0, &a) > 0)
		ch.qop = a.data;
	if (dia_group_find(&auth, DIA_AVP_DIGEST_STALE, 0, &a) > 0)
		ch.stale = a.data;
	if (dia_group_find(&auth, DIA_AVP_DIGEST_HA1, 0, &a) > 0)
		ch.ha1 = a.data;
	if (dia_group_find(&auth, DIA_AVP_DIGEST_OPAQUE, 0, &a) > 0)
		ch.opaque = a.data;
	return ch;
}

/* Credentials for @user/@pass answering nonce @nonce with algorithm @alg; strings are kept in
 * @store (a UA's view: it knows the password, not the HA1). */
struct cred_store {
	char nonce[128], resp[AUTH_HEX_MAX + 1], ha1[AUTH_HEX_MAX + 1], nc[9], alg[32];
	struct auth_digest d;
};

static void make_cred(struct cred_store *s, const char *user, const char *pass, struct mr_str nonce,
                      const char *alg, unsigned nc)
{
	int a = auth_alg_parse(mr_str_c(alg));

	memset(s, 0, sizeof(*s));
	mr_str_copy_to(nonce, s->nonce, sizeof(s->nonce));
	snprintf(s->nc, sizeof(s->nc), "%08x", nc);
	snprintf(s->alg, sizeof(s->alg), "%s", alg);
	s->d.username = mr_str_c(user);
	s->d.realm = MR_STR_LIT(REALM);
	s->d.nonce = mr_str_c(s->nonce);
	s->d.uri = MR_STR_LIT("sip:bob@example.com");
	s->d.algorithm = mr_str_c(s->alg);
	s->d.cnonce = MR_STR_LIT("0a4f113b");
	s->d.qop = MR_STR_LIT("auth");
	s->d.nc = mr_str_c(s->nc);
	s->d.method = MR_STR_LIT("INVITE");
	if (auth_digest_ha1(&hash, (enum auth_alg)auth_alg_base((enum auth_alg)a), mr_str_c(user),
	                    MR_STR_LIT(REALM), mr_str_c(pass), s->ha1) < 0 ||
	    auth_digest_response(&hash, &s->d, mr_str_c(s->ha1), false, s->resp) < 0) {
		fprintf(stderr, "digest computation failed\n");
		exit(1);
	}
	s->d.response = mr_str_c(s->resp);
}

/* Figure 4 for one user: MAR -> challenge -> MAR with credentials -> 2006 (+ rspauth). */
static bool figure4_to(struct cli *c, struct cli *c2, const char *user_name,
                       const char *digest_user, const char *pass, const char *alg_hint,
                       const char *label)
{
	struct mar r = {.user_name = user_name, .item = true, .alg_hint = alg_hint};
	struct cred_store cs;
	struct challenge ch;
	char nonce[128], alg[32] = "MD5";
	struct dia_avp item, info, a;
	char rspauth[AUTH_HEX_MAX + 1];
	bool good;

	if (exchange(c, &r)) {
		ok(false, "%s: MAR #1 answered", label);
		return false;
	}
	ch = get_challenge(&c->m);
	/* no Digest-HA1 unless the server runs in §6.3 mode (ha1_expected) */
	good = result_code(&c->m) == DIA_RC_SUCCESS_AUTH_SENT_SERVER_NOT_STORED && ch.found &&
	       mr_str_eq(ch.realm, MR_STR_LIT(REALM)) && ch.nonce.len == AUTH_NONCE_LEN &&
	       mr_str_eq(ch.qop, MR_STR_LIT("auth")) && (ch.ha1.len != 0) == ha1_expected &&
	       (!alg_hint || mr_str_ieq(ch.alg, mr_str_c(alg_hint)));
	ok(good, "%s: MAR #1 -> 2008 with SIP-Authenticate (realm, %u-char nonce, qop, alg %.*s)",
	   label, ch.nonce.len, (int)ch.alg.len, ch.alg.p);
	if (!good)
		return false;
	mr_str_copy_to(ch.nonce, nonce, sizeof(nonce));
	mr_str_copy_to(ch.alg, alg, sizeof(alg));
	make_cred(&cs, digest_user, pass, mr_str_c(nonce), alg, 1);
	r = (struct mar){.user_name = user_name, .cred = &cs.d};
	c = c2; /* MAR #2 may go to another server instance sharing the secret */
	if (exchange(c, &r)) {
		ok(false, "%s: MAR #2 answered", label);
		return false;
	}
	good = result_code(&c->m) == DIA_RC_SUCCESS_SERVER_NAME_NOT_STORED;
	ok(good, "%s: MAR #2 with credentials -> 2006 (got %u)", label, result_code(&c->m));
	if (!good)
		return false;
	auth_digest_response(&hash, &cs.d, mr_str_c(cs.ha1), true, rspauth);
	good = dia_msg_find(&c->m, DIA_AVP_SIP_AUTH_DATA_ITEM, 0, &item) > 0 &&
	       dia_group_find(&item, DIA_AVP_SIP_AUTHENTICATION_INFO, 0, &info) > 0 &&
	       dia_group_find(&info, DIA_AVP_DIGEST_RESPONSE_AUTH, 0, &a) > 0 &&
	       mr_str_eq(a.data, mr_str_c(rspauth));
	ok(good, "%s: MAA carries SIP-Authentication-Info with the right rspauth", label);
	return good;
}

static bool figure4(struct cli *c, const char *user_name, const char *digest_user, const char *pass,
                    const char *alg_hint, const char *label)
{
	return figure4_to(c, c, user_name, digest_user, pass, alg_hint, label);
}

/* A fresh challenge nonce (MAR #1). */
static bool get_nonce(struct cli *c, char *out, size_t cap)
{
	struct mar r = {.item = true};
	struct challenge ch;

	if (exchange(c, &r))
		return false;
	ch = get_challenge(&c->m);
	return ch.found && mr_str_copy_to(ch.nonce, out, cap) == 0;
}

/* Result-Code of the answer to @r, 0 when none came. */
static uint32_t rc_of(struct cli *c, const struct mar *r)
{
	return exchange(c, r) ? 0 : result_code(&c->m);
}

/* The server's max_avp_nest is @max: @max levels pass, one more is 5014. */
static void nest_limit(struct cli *c, int max)
{
	struct mar r = {.item = true, .nest = max};
	uint32_t got = rc_of(c, &r);

	ok(got != 0 && got != DIA_RC_INVALID_AVP_LENGTH, "Proxy-Info nested %d deep: served (%u)",
	   max, got);
	r.nest = max + 1;
	got = rc_of(c, &r);
	ok(got == DIA_RC_INVALID_AVP_LENGTH, "Proxy-Info nested %d deep: 5014 (got %u)", max + 1,
	   got);
}

static void refusals(struct cli *c, const char *secret_hex)
{
	uint32_t got;
	struct cred_store cs;
	char nonce[128];
	struct mar r;
	struct challenge ch;

	/* wrong password */
	get_nonce(c, nonce, sizeof(nonce));
	make_cred(&cs, "alice", "not-the-password", mr_str_c(nonce), "MD5", 1);
	r = (struct mar){.user_name = "alice", .cred = &cs.d};
	got = rc_of(c, &r);
	ok(got == DIA_RC_AUTHENTICATION_REJECTED, "wrong password -> 4001 (got %u)", got);
	/* a wrong password must not burn the nonce: the right one still works with nc 1 */
	make_cred(&cs, "alice", "alice-secret", mr_str_c(nonce), "MD5", 1);
	got = rc_of(c, &r);
	ok(got == DIA_RC_SUCCESS_SERVER_NAME_NOT_STORED,
	   "right password after a wrong one, same nonce -> 2006 (got %u)", got);
	/* nc 2 in one request, then the same request again (same Session-Id: a SIP retransmission
	 * through a stateless proxy) is not a replay; nc 2 from another request is */
	make_cred(&cs, "alice", "alice-secret", mr_str_c(nonce), "MD5", 2);
	r.sid = "client.test;retransmitted;1";
	got = rc_of(c, &r);
	ok(got == DIA_RC_SUCCESS_SERVER_NAME_NOT_STORED, "nc 2 on the same nonce -> 2006 (got %u)",
	   got);
	got = rc_of(c, &r);
	ok(got == DIA_RC_SUCCESS_SERVER_NAME_NOT_STORED,
	   "the same MAR again with the same Session-Id (retransmission) -> 2006 (got %u)", got);
	r.sid = NULL;
	got = rc_of(c, &r);
	ok(got == DIA_RC_AUTHENTICATION_REJECTED,
	   "nc 2 again from another request (Session-Id) -> 4001 replay (got %u)", got);
	make_cred(&cs, "alice", "alice-secret", mr_str_c(nonce), "MD5", 1);
	got = rc_of(c, &r);
	ok(got == DIA_RC_AUTHENTICATION_REJECTED, "replayed nc 1 -> 4001 (got %u)", got);
	make_cred(&cs, "alice", "alice-secret", mr_str_c(nonce), "MD5", 3);
	got = rc_of(c, &r);
	ok(got == DIA_RC_SUCCESS_SERVER_NAME_NOT_STORED,
	   "next nc on the same nonce -> 2006 (got %u)", got);
	make_cred(&cs, "alice", "alice-secret", mr_str_c(nonce), "MD5", 1);
	got = rc_of(c, &r);
	ok(got == DIA_RC_AUTHENTICATION_REJECTED, "lower nc -> 4001 (got %u)", got);

	/* unknown user, in both rounds */
	r = (struct mar){.user_name = "mallory", .item = true};
	got = rc_of(c, &r);
	ok(got == DIA_RC_USER_UNKNOWN, "unknown User-Name in MAR #1 -> 5032 (got %u)", got);
	get_nonce(c, nonce, sizeof(nonce));
	make_cred(&cs, "mallory", "x", mr_str_c(nonce), "MD5", 1);
	r = (struct mar){.user_name = "mallory", .cred = &cs.d};
	got = rc_of(c, &r);
	ok(got == DIA_RC_USER_UNKNOWN, "unknown user with credentials -> 5032 (got %u)", got);

	/* forged nonce: one character changed */
	get_nonce(c, nonce, sizeof(nonce));
	nonce[20] = nonce[20] == 'a' ? 'b' : 'a';
	make_cred(&cs, "alice", "alice-secret", mr_str_c(nonce), "MD5", 1);
	r = (struct mar){.user_name = "alice", .cred = &cs.d};
	got = rc_of(c, &r);
	ok(got == DIA_RC_AUTHENTICATION_REJECTED, "forged nonce -> 4001 (got %u)", got);

	/* expired nonce: minted 1000 s ago with the server's secret -> fresh challenge, stale */
	if (secret_hex) {
		struct auth_nonce_key key = {.lifetime_s = 300};
		struct auth_nonce_ctx nc;

		auth_nonce_key_from_hex(&key, secret_hex);
		auth_nonce_ctx_init(&nc, &key);
		auth_nonce_mint(&nc, MR_STR_LIT(REALM), (uint64_t)time(NULL) - 1000, nonce);
		auth_nonce_ctx_fini(&nc);
		make_cred(&cs, "alice", "alice-secret", mr_str_c(nonce), "MD5", 1);
		r = (struct mar){.user_name = "alice", .cred = &cs.d};
		ch = (struct challenge){0};
		if (!exchange(c, &r))
			ch = get_challenge(&c->m);
		ok(result_code(&c->m) == DIA_RC_SUCCESS_AUTH_SENT_SERVER_NOT_STORED && ch.found &&
		       mr_str_eq(ch.stale, MR_STR_LIT("true")) && ch.nonce.len &&
		       !mr_str_eq(ch.nonce, mr_str_c(nonce)),
		   "expired nonce -> 2008 with a fresh nonce and Digest-Stale true");
	}

	/* unsupported scheme */
	r = (struct mar){.item = true, .scheme = 5};
	got = rc_of(c, &r);
	ok(got == DIA_RC_AUTH_SCHEME_NOT_SUPPORTED, "SIP-Authentication-Scheme 5 -> 5037 (got %u)",
	   got);
	/* REGISTER of someone else's AOR */
	r = (struct mar){
	    .user_name = "bob", .method = "REGISTER", .aor = "sip:alice@example.com", .item = true};
	got = rc_of(c, &r);
	ok(got == DIA_RC_IDENTITIES_DONT_MATCH,
	   "REGISTER by bob of sip:alice@example.com -> 5033 (got %u)", got);
	r.user_name = "alice";
	got = rc_of(c, &r);
	ok(got == DIA_RC_SUCCESS_AUTH_SENT_SERVER_NOT_STORED,
	   "REGISTER by alice of her own AOR -> 2008 (got %u)", got);
	/* Proxy-Info is echoed */
	r = (struct mar){.item = true, .proxy_info = true};
	{
		struct dia_avp pi, st;

		ok(!exchange(c, &r) && dia_msg_find(&c->m, DIA_AVP_PROXY_INFO, 0, &pi) > 0 &&
		       dia_group_find(&pi, DIA_AVP_PROXY_STATE, 0, &st) > 0 &&
		       mr_str_eq(st.data, MR_STR_LIT("state-42")),
		   "Proxy-Info echoed in the MAA");
	}
}

static bool failed_avp_has(const struct dia_msg *m, uint32_t code)
{
	struct dia_avp f, in;

	return dia_msg_find(m, DIA_AVP_FAILED_AVP, 0, &f) > 0 &&
	       dia_group_find(&f, code, 0, &in) > 0;
}

static void malformed(struct cli *c)
{
	struct mar r = {.item = true, .extra_code = 99999};
	uint8_t buf[4096];
	uint32_t hbh;
	int len;

	ok(!exchange(c, &r) && result_code(&c->m) == DIA_RC_AVP_UNSUPPORTED &&
	       failed_avp_has(&c->m, 99999),
	   "unknown M-bit AVP -> 5001 with Failed-AVP (got %u)", result_code(&c->m));
	r = (struct mar){.item = true, .no_method = true};
	ok(!exchange(c, &r) && result_code(&c->m) == DIA_RC_MISSING_AVP &&
	       failed_avp_has(&c->m, DIA_AVP_SIP_METHOD),
	   "MAR without SIP-Method -> 5005 with Failed-AVP SIP-Method (got %u)",
	   result_code(&c->m));
	r = (struct mar){.item = true, .flags = DIA_FLAG_R | DIA_FLAG_P | DIA_FLAG_E};
	ok(!exchange(c, &r) && result_code(&c->m) == DIA_RC_INVALID_HDR_BITS &&
	       (c->m.hdr.flags & DIA_FLAG_E),
	   "E bit on a request -> 3008 with E set (got %u)", result_code(&c->m));
	/* an AVP whose length (5) is shorter than its header; message framing stays intact */
	r = (struct mar){.item = true};
	len = build_mar(c, &r, buf, sizeof(buf), &hbh);
	buf[len] = 0, buf[len + 1] = 0, buf[len + 2] = 0x03, buf[len + 3] = 0xe7; /* code 999 */
	buf[len + 4] = 0x40, buf[len + 5] = 0, buf[len + 6] = 0, buf[len + 7] = 5;
	len += 8;
	buf[1] = (uint8_t)(len >> 16), buf[2] = (uint8_t)(len >> 8), buf[3] = (uint8_t)len;
	ok(!send_all(c->fd, buf, (size_t)len) && !recv_msg(c) && c->m.hdr.hbh == hbh &&
	       result_code(&c->m) == DIA_RC_INVALID_AVP_LENGTH,
	   "AVP length 5 -> 5014 (got %u)", result_code(&c->m));
	/* another command of app 6 */
	r = (struct mar){.item = true};
	len = build_mar(c, &r, buf, sizeof(buf), &hbh);
	buf[7] = DIA_CMD_UA & 0xff; /* UAR, 283 */
	ok(!send_all(c->fd, buf, (size_t)len) && !recv_msg(c) && c->m.hdr.hbh == hbh &&
	       result_code(&c->m) == DIA_RC_COMMAND_UNSUPPORTED,
	   "UAR -> 3001 COMMAND_UNSUPPORTED (got %u)", result_code(&c->m));
	/* the connection survived all of the above */
	ok(figure4(c, "alice", "alice", "alice-secret", NULL, "after malformed input"),
	   "connection still serves after malformed messages");
}

/* 10,000 MARs written back to back on one connection while answers are read. */
static void pipelined(unsigned count)
{
	struct cli c;
	struct mar r = {.item = true};
	uint8_t *out = malloc((size_t)count * 512), *seen = calloc(count, 1);
	uint32_t *e2e = calloc(count, sizeof(uint32_t)), first;
	size_t olen = 0, osent = 0;
	unsigned answered = 0, bad = 0, dup = 0;

	cli_open(&c);
	first = c.hbh;
	for (unsigned i = 0; i < count; i++) {
		uint32_t hbh;

		e2e[i] = c.e2e;
		olen += (size_t)build_mar(&c, &r, out + olen, 512, &hbh);
	}
	fcntl(c.fd, F_SETFL, O_NONBLOCK);
	while (answered + bad < count) {
		struct pollfd p = {.fd = c.fd, .events = POLLIN | (osent < olen ? POLLOUT : 0)};

		if (poll(&p, 1, 10000) <= 0)
			break;
		if ((p.revents & POLLOUT) && osent < olen) {
			ssize_t n = send(c.fd, out + osent, olen - osent, MSG_NOSIGNAL);

			if (n > 0)
				osent += (size_t)n;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(c.fd, c.rx + c.rxlen, RXCAP - c.rxlen, 0);
			size_t off = 0;

			if (n == 0 || (n < 0 && errno != EAGAIN))
				break;
			if (n > 0)
				c.rxlen += (size_t)n;
			for (;;) {
				int m = dia_frame(c.rx + off, c.rxlen - off, 65536);
				struct dia_msg msg;
				uint32_t idx;

				if (m <= 0)
					break;
				dia_msg_init(&msg, c.rx + off, (uint32_t)m);
				idx = msg.hdr.hbh - first;
				if (idx >= count || msg.hdr.e2e != e2e[idx] ||
				    result_code(&msg) != DIA_RC_SUCCESS_AUTH_SENT_SERVER_NOT_STORED)
					bad++;
				else if (seen[idx]++)
					dup++;
				else
					answered++;
				off += (size_t)m;
			}
			memmove(c.rx, c.rx + off, c.rxlen - off);
			c.rxlen -= off;
		}
	}
	ok(answered == count && bad == 0 && dup == 0,
	   "%u pipelined MARs on one connection: %u answered with matching hbh/e2e, %u bad, %u "
	   "duplicate",
	   count, answered, bad, dup);
	cli_close(&c);
	free(out);
	free(seen);
	free(e2e);
}

static void framing_lost(void)
{
	struct cli c;
	uint8_t hdr[20] = {1, 0, 0, 13, 0x80, 0, 1, 0x1e}; /* length 13 < 20 */
	uint8_t b[64];

	cli_open(&c);
	send_all(c.fd, hdr, sizeof(hdr));
	ok(recv(c.fd, b, sizeof(b), 0) == 0, "a header with length 13 -> connection closed");
	cli_close(&c);
}

static void dwr(struct cli *c)
{
	uint8_t buf[256];
	struct dia_enc e;
	int len;

	dia_enc_init(&e, buf, sizeof(buf));
	dia_enc_hdr(&e, DIA_FLAG_R, DIA_CMD_DW, 0, c->hbh++, c->e2e++);
	dia_enc_avp_str(&e, DIA_AVP_ORIGIN_HOST, DIA_AVP_F_M, MR_STR_LIT("client.test"));
	dia_enc_avp_str(&e, DIA_AVP_ORIGIN_REALM, DIA_AVP_F_M, MR_STR_LIT("test"));
	len = dia_enc_finish(&e);
	ok(len > 0 && !send_all(c->fd, buf, (size_t)len) && !recv_msg(c) &&
	       c->m.hdr.code == DIA_CMD_DW && result_code(&c->m) == DIA_RC_SUCCESS,
	   "DWR -> DWA 2001");
}

/* A peer that stops answering: the server must send DWR, go SUSPECT, then close (RFC 3539). */
static void silent_peer(struct cli *c)
{
	time_t end = time(NULL) + 45;
	unsigned dwr = 0;
	bool closed = false;

	while (time(NULL) < end) {
		ssize_t r;

		if (dia_frame(c->rx, c->rxlen, 65536) > 0) {
			recv_msg(c);
			dwr += c->m.hdr.code == DIA_CMD_DW && (c->m.hdr.flags & DIA_FLAG_R);
			continue;
		}
		r = recv(c->fd, c->rx + c->rxlen, RXCAP - c->rxlen, 0);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
			closed = true;
			break;
		}
		if (r > 0)
			c->rxlen += (size_t)r;
	}
	ok(dwr >= 1 && closed, "silent peer: %u DWR sent to it, then the connection closed (%s)",
	   dwr, closed ? "closed" : "still open");
}

static void ha1_mode(struct cli *c)
{
	char want[AUTH_HEX_MAX + 1];
	struct mar r = {.user_name = "alice", .item = true};
	struct challenge ch = {0};

	auth_digest_ha1(&hash, AUTH_ALG_MD5, MR_STR_LIT("alice"), MR_STR_LIT(REALM),
	                MR_STR_LIT("alice-secret"), want);
	if (!exchange(c, &r))
		ch = get_challenge(&c->m);
	ok(result_code(&c->m) == DIA_RC_SUCCESS_AUTH_SENT_SERVER_NOT_STORED && ch.found &&
	       mr_str_eq(ch.ha1, mr_str_c(want)),
	   "HA1 mode: challenge for alice carries Digest-HA1 = H(alice:realm:password)");
	r = (struct mar){.item = true};
	ch = (struct challenge){0};
	if (!exchange(c, &r))
		ch = get_challenge(&c->m);
	ok(result_code(&c->m) == DIA_RC_USER_NAME_REQUIRED && ch.found && !ch.ha1.len,
	   "HA1 mode: MAR without User-Name -> 4013 with a challenge and no HA1 (got %u)",
	   result_code(&c->m));
	ok(figure4(c, "alice", "alice", "alice-secret", NULL, "HA1 mode"),
	   "HA1 mode: the server still validates a MAR with credentials");
}

/* A fresh challenge with algorithm hint @hint: nonce into @nonce, opaque into @opaque. */
static bool get_nonce_alg(struct cli *c, const char *hint, char *nonce, size_t cap, char *opaque,
                          size_t ocap)
{
	struct mar r = {.item = true, .alg_hint = hint};
	struct challenge ch;

	if (exchange(c, &r))
		return false;
	ch = get_challenge(&c->m);
	if (opaque)
		mr_str_copy_to(ch.opaque, opaque, ocap);
	return ch.found && mr_str_copy_to(ch.nonce, nonce, cap) == 0;
}

/* Two instances sharing the secret: a nonce is only ever validated by the one that minted it. */
static void cross_instance(struct cli *a, struct cli *b)
{
	char nonce_a[128], opaque_a[300] = "", opaque_b[300] = "";
	struct cred_store cs;
	struct challenge ch;
	struct mar r;
	bool good;

	good = get_nonce_alg(a, NULL, nonce_a, sizeof(nonce_a), opaque_a, sizeof(opaque_a));
	ok(good && strncmp(opaque_a, "dh:", 3) == 0,
	   "cross: the challenge names its instance in Digest-Opaque (%s)", opaque_a);
	make_cred(&cs, "alice", "alice-secret", mr_str_c(nonce_a), "MD5", 1);
	r = (struct mar){.user_name = "alice", .cred = &cs.d};
	for (int round = 0; round < 2; round++) {
		ch = (struct challenge){0};
		if (!exchange(b, &r))
			ch = get_challenge(&b->m);
		mr_str_copy_to(ch.opaque, opaque_b, sizeof(opaque_b));
		ok(result_code(&b->m) == DIA_RC_SUCCESS_AUTH_SENT_SERVER_NOT_STORED && ch.found &&
		       mr_str_eq(ch.stale, MR_STR_LIT("true")) &&
		       !mr_str_eq(ch.nonce, mr_str_c(nonce_a)) && strcmp(opaque_a, opaque_b) != 0,
		   "cross: credentials for A's nonce sent to B%s -> fresh challenge from B "
		   "(stale), "
		   "not 2006 (got %u)",
		   round ? " after A accepted them (replay)" : "", result_code(&b->m));
		if (round == 0) {
			uint32_t got = rc_of(a, &r);

			ok(got == DIA_RC_SUCCESS_SERVER_NAME_NOT_STORED,
			   "cross: the same credentials to A, which minted the nonce -> 2006 (got "
			   "%u)",
			   got);
		}
	}
	/* B's fresh nonce works at B */
	if (get_nonce_alg(b, NULL, nonce_a, sizeof(nonce_a), NULL, 0)) {
		uint32_t got;

		make_cred(&cs, "alice", "alice-secret", mr_str_c(nonce_a), "MD5", 1);
		got = rc_of(b, &r);
		ok(got == DIA_RC_SUCCESS_SERVER_NAME_NOT_STORED,
		   "cross: B's own nonce at B -> 2006 (got %u)", got);
	}
}

/* One MAR with credentials @cs (built for alice) as they are; its Result-Code. */
static uint32_t send_cred(struct cli *c, struct cred_store *cs)
{
	struct mar r = {.cred = &cs->d};

	return rc_of(c, &r);
}

/* Digest security refusals; each kind a known number of times (digest_sec.sh counts them). */
static void digest_sec(struct cli *c, const char *secret_hex)
{
	static const struct {
		const char *what;
		const char *name;
		size_t len;
	} odd[] = {
	    {"a double quote", "al\"ice", 6},
	    {"a backslash", "al\\ice", 6},
	    {"a NUL byte", "al\0ice", 6},
	    {"a control byte (CR LF)", "al\r\nice", 7},
	    {"UTF-8",
	     "al\xc3\xaf"
	     "ce",
	     6},
	    {"a space", "al ice", 6},
	};
	char nonce[128], longname[300];
	struct cred_store cs;
	struct challenge ch;
	struct mar r;
	uint32_t got;

	/* replayed nonce counts: 2 refusals */
	get_nonce_alg(c, "SHA-256", nonce, sizeof(nonce), NULL, 0);
	make_cred(&cs, "bob", "bob-secret", mr_str_c(nonce), "SHA-256", 1);
	got = send_cred(c, &cs);
	ok(got == DIA_RC_SUCCESS_SERVER_NAME_NOT_STORED, "sec: first use of nc 1 -> 2006 (got %u)",
	   got);
	got = send_cred(c, &cs);
	ok(got == DIA_RC_AUTHENTICATION_REJECTED,
	   "sec: the same credentials from another request (replay) -> 4001 (got %u)", got);
	make_cred(&cs, "bob", "bob-secret", mr_str_c(nonce), "SHA-256", 3);
	send_cred(c, &cs);
	make_cred(&cs, "bob", "bob-secret", mr_str_c(nonce), "SHA-256", 2);
	got = send_cred(c, &cs);
	ok(got == DIA_RC_AUTHENTICATION_REJECTED, "sec: a lower nonce count -> 4001 (got %u)", got);

	/* forged nonces: 2 (a flipped MAC digit; a nonce minted for another realm) */
	get_nonce_alg(c, "SHA-256", nonce, sizeof(nonce), NULL, 0);
	nonce[60] = nonce[60] == 'a' ? 'b' : 'a';
	make_cred(&cs, "bob", "bob-secret", mr_str_c(nonce), "SHA-256", 1);
	got = send_cred(c, &cs);
	ok(got == DIA_RC_AUTHENTICATION_REJECTED, "sec: forged nonce -> 4001 (got %u)", got);
	{
		struct auth_nonce_key key = {.lifetime_s = 300};
		struct auth_nonce_ctx nc;

		auth_nonce_key_from_hex(&key, secret_hex);
		auth_nonce_ctx_init(&nc, &key);
		auth_nonce_mint_alg(&nc, MR_STR_LIT("other.org"), AUTH_ALG_SHA256,
		                    (uint64_t)time(NULL), nonce);
		make_cred(&cs, "bob", "bob-secret", mr_str_c(nonce), "SHA-256", 1);
		got = send_cred(c, &cs);
		ok(got == DIA_RC_AUTHENTICATION_REJECTED,
		   "sec: a nonce minted (with our secret) for realm other.org -> 4001 (got %u)",
		   got);
		/* expired: 1, answered with a fresh challenge */
		auth_nonce_mint_alg(&nc, MR_STR_LIT(REALM), AUTH_ALG_SHA256,
		                    (uint64_t)time(NULL) - 100000, nonce);
		auth_nonce_ctx_fini(&nc);
		make_cred(&cs, "bob", "bob-secret", mr_str_c(nonce), "SHA-256", 1);
		r = (struct mar){.cred = &cs.d};
		ch = (struct challenge){0};
		if (!exchange(c, &r))
			ch = get_challenge(&c->m);
		ok(result_code(&c->m) == DIA_RC_SUCCESS_AUTH_SENT_SERVER_NOT_STORED && ch.found &&
		       mr_str_eq(ch.stale, MR_STR_LIT("true")),
		   "sec: expired nonce -> 2008 with Digest-Stale true (got %u)",
		   result_code(&c->m));
	}

	/* foreign realm in the credentials: 1 */
	get_nonce_alg(c, "SHA-256", nonce, sizeof(nonce), NULL, 0);
	make_cred(&cs, "bob", "bob-secret", mr_str_c(nonce), "SHA-256", 1);
	cs.d.realm = MR_STR_LIT("other.org");
	got = send_cred(c, &cs);
	ok(got == DIA_RC_AUTHENTICATION_REJECTED, "sec: Digest-Realm other.org -> 4001 (got %u)",
	   got);

	/* algorithm downgrade: 1, an MD5 answer to a SHA-256 nonce (the policy allows MD5) */
	get_nonce_alg(c, "SHA-256", nonce, sizeof(nonce), NULL, 0);
	make_cred(&cs, "bob", "bob-secret", mr_str_c(nonce), "MD5", 1);
	got = send_cred(c, &cs);
	ok(got == DIA_RC_AUTHENTICATION_REJECTED,
	   "sec: MD5 answer to a nonce minted for SHA-256 -> 4001 (got %u)", got);
	make_cred(&cs, "bob", "bob-secret", mr_str_c(nonce), "SHA-256", 1);
	got = send_cred(c, &cs);
	ok(got == DIA_RC_SUCCESS_SERVER_NAME_NOT_STORED,
	   "sec: the refused downgrade did not burn the nonce: SHA-256 answer -> 2006 (got %u)",
	   got);

	/* wrong response: 1 */
	get_nonce_alg(c, "SHA-256", nonce, sizeof(nonce), NULL, 0);
	make_cred(&cs, "bob", "not-bob-secret", mr_str_c(nonce), "SHA-256", 1);
	got = send_cred(c, &cs);
	ok(got == DIA_RC_AUTHENTICATION_REJECTED, "sec: wrong password -> 4001 (got %u)", got);

	/* odd user names: each in MAR #1 (User-Name) and in the credentials: 2 x 7 */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	for (size_t i = 0; i <= MR_ARRAY_SIZE(odd); i++) {
		const char *what = i < MR_ARRAY_SIZE(odd) ? odd[i].what : "299 bytes";
		struct mr_str name = i < MR_ARRAY_SIZE(odd) ? mr_str_make(odd[i].name, odd[i].len)
		                                            : mr_str_c(longname);
		uint8_t buf[8192];
		struct dia_enc e;
		uint32_t hbh;
		int len;

		/* MAR #1 with that User-Name, encoded by hand (it may hold a NUL) */
		r = (struct mar){.item = true};
		len = build_mar(c, &r, buf, sizeof(buf) - 512, &hbh);
		dia_enc_init(&e, buf, sizeof(buf));
		e.len = (uint32_t)len;
		dia_enc_avp_str(&e, DIA_AVP_USER_NAME, DIA_AVP_F_M, name);
		len = dia_enc_finish(&e);
		got = 0;
		if (len > 0 && !send_all(c->fd, buf, (size_t)len) && !recv_msg(c) &&
		    c->m.hdr.hbh == hbh)
			got = result_code(&c->m);
		ok(got == DIA_RC_USER_UNKNOWN, "sec: User-Name with %s -> 5032 (got %u)", what,
		   got);
		get_nonce_alg(c, "SHA-256", nonce, sizeof(nonce), NULL, 0);
		make_cred(&cs, "bob", "bob-secret", mr_str_c(nonce), "SHA-256", 1);
		cs.d.username = name;
		got = send_cred(c, &cs);
		ok(got == DIA_RC_USER_UNKNOWN, "sec: Digest-Username with %s -> 5032 (got %u)",
		   what, got);
	}
}

/* Against a server that allows SHA-256 only: 1 refusal, algorithm_not_allowed. */
static void digest_sec_policy(struct cli *c)
{
	char nonce[128];
	struct cred_store cs;
	uint32_t got;

	get_nonce_alg(c, NULL, nonce, sizeof(nonce), NULL, 0);
	make_cred(&cs, "bob", "bob-secret", mr_str_c(nonce), "MD5", 1);
	got = send_cred(c, &cs);
	ok(got == DIA_RC_AUTHENTICATION_REJECTED,
	   "sec-policy: SHA-256 challenge answered with MD5, policy SHA-256 only -> 4001 (got %u)",
	   got);
	make_cred(&cs, "bob", "bob-secret", mr_str_c(nonce), "SHA-256", 1);
	got = send_cred(c, &cs);
	ok(got == DIA_RC_SUCCESS_SERVER_NAME_NOT_STORED,
	   "sec-policy: the same nonce answered with SHA-256 -> 2006 (got %u)", got);
}

static struct mr_str origin_host_of(const struct dia_msg *m)
{
	struct dia_avp a;

	return dia_msg_find(m, DIA_AVP_ORIGIN_HOST, 0, &a) > 0 ? a.data : (struct mr_str){0};
}

/* Figure 4 through a relay to instance @host, then a replay of its credentials to @other. */
static void relay_flow(struct cli *c, const char *host, const char *other)
{
	char nonce[128], opaque[300] = "", want[300];
	struct mar r = {.item = true, .dest_host = host};
	struct cred_store cs;
	struct challenge ch = {0};
	uint32_t got;

	snprintf(want, sizeof(want), "dh:%s", host);
	if (!exchange(c, &r))
		ch = get_challenge(&c->m);
	mr_str_copy_to(ch.opaque, opaque, sizeof(opaque));
	ok(result_code(&c->m) == DIA_RC_SUCCESS_AUTH_SENT_SERVER_NOT_STORED && ch.found &&
	       mr_str_eq(origin_host_of(&c->m), mr_str_c(host)) && !strcmp(opaque, want),
	   "relay: MAR #1 with Destination-Host %s -> challenge from %s, opaque %s", host, host,
	   opaque);
	if (mr_str_copy_to(ch.nonce, nonce, sizeof(nonce)))
		return;
	make_cred(&cs, "alice", "alice-secret", mr_str_c(nonce), "MD5", 1);
	/* MAR #2 routed as mara-proxy routes it: to the host named in the opaque */
	r = (struct mar){.user_name = "alice", .cred = &cs.d, .dest_host = opaque + 3};
	got = rc_of(c, &r);
	ok(got == DIA_RC_SUCCESS_SERVER_NAME_NOT_STORED &&
	       mr_str_eq(origin_host_of(&c->m), mr_str_c(host)),
	   "relay: MAR #2 with Destination-Host %s -> 2006 from %s (got %u)", host, host, got);
	/* the same credentials through the other instance: it cannot vouch, fresh challenge */
	r.dest_host = other;
	ch = (struct challenge){0};
	if (!exchange(c, &r))
		ch = get_challenge(&c->m);
	ok(result_code(&c->m) == DIA_RC_SUCCESS_AUTH_SENT_SERVER_NOT_STORED && ch.found &&
	       mr_str_eq(ch.stale, MR_STR_LIT("true")) &&
	       mr_str_eq(origin_host_of(&c->m), mr_str_c(other)),
	   "relay: %s's credentials replayed through %s -> fresh challenge (stale) from %s, not "
	   "2006 (got %u)",
	   host, other, other, result_code(&c->m));
	r.dest_host = host;
	got = rc_of(c, &r);
	ok(got == DIA_RC_AUTHENTICATION_REJECTED,
	   "relay: the same credentials replayed through %s -> 4001 (got %u)", host, got);
}

int main(int argc, char **argv)
{
	const char *mode = "all", *secret = NULL, *user = "alice", *pass = "alice-secret";
	const char *host1 = "aaa1.test", *host2 = "aaa2.test";
	int port2 = 0, nest = 0;
	struct cli c;

	if (argc < 3) {
		fprintf(stderr, "usage: dia_client HOST PORT [--secret HEX] [--mode all|ha1|user] "
		                "[--user U --password P]\n");
		return 2;
	}
	host_arg = argv[1];
	port_arg = atoi(argv[2]);
	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--secret"))
			secret = argv[i + 1];
		else if (!strcmp(argv[i], "--mode"))
			mode = argv[i + 1];
		else if (!strcmp(argv[i], "--user"))
			user = argv[i + 1];
		else if (!strcmp(argv[i], "--password"))
			pass = argv[i + 1];
		else if (!strcmp(argv[i], "--port2"))
			port2 = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--host1"))
			host1 = argv[i + 1];
		else if (!strcmp(argv[i], "--host2"))
			host2 = argv[i + 1];
		else if (!strcmp(argv[i], "--nest"))
			nest = atoi(argv[i + 1]);
	}
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	if (auth_hash_init(&hash))
		return 1;
	cli_open(&c);
	if (!strcmp(mode, "cross")) { /* MAR #1 to PORT, MAR #2 to --port2 */
		struct cli c2;
		int p1 = port_arg;

		port_arg = port2;
		cli_open(&c2);
		port_arg = p1;
		cross_instance(&c, &c2);
		cli_close(&c2);
	} else if (!strcmp(mode, "sec")) {
		if (!secret) {
			fprintf(stderr, "--mode sec needs --secret\n");
			return 2;
		}
		digest_sec(&c, secret);
	} else if (!strcmp(mode, "relay")) {
		relay_flow(&c, host1, host2);
		relay_flow(&c, host2, host1);
	} else if (!strcmp(mode, "sec-policy")) {
		digest_sec_policy(&c);
	} else if (!strcmp(mode, "nest")) {
		nest_limit(&c, nest);
	} else if (!strcmp(mode, "silent")) {
		silent_peer(&c);
	} else if (!strcmp(mode, "user")) {
		figure4(&c, user, user, pass, NULL, user);
	} else if (!strcmp(mode, "ha1")) {
		ha1_expected = true;
		ha1_mode(&c);
	} else {
		figure4(&c, NULL, "alice", "alice-secret", NULL, "Figure 4 (alice, MD5)");
		figure4(&c, "alice@example.com", "alice", "alice-secret", NULL,
		        "User-Name as user@realm");
		figure4(&c, "bob", "bob", "bob-secret", "SHA-256", "bob, SHA-256");
		figure4(&c, "bob", "bob", "bob-secret", "SHA-512-256", "bob, SHA-512-256");
		dwr(&c);
		refusals(&c, secret);
		malformed(&c);
	}
	cli_close(&c);
	if (!strcmp(mode, "all")) {
		pipelined(10000);
		framing_lost();
	}
	auth_hash_fini(&hash);
	printf("1..%d\n", tests);
	return failures ? 1 : 0;
}
