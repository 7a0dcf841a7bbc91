/* SPDX-License-Identifier: MIT
 * auth_users.c - htdigest user store: strict loader, xxHash open-addressing lookup, refcounted
 * immutable snapshots and the hot-swap reference.
 * Owns: one allocation per loaded store (header, slots, users, name bytes).
 * Thread: a loaded store is read-only and shared; auth_users_ref is mutex-guarded. */
#include "auth.h"

#include "mr_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <xxhash.h>

#define USERS_NAME_MAX 255 /* user and realm, each; htdigest's own limit */

struct users_slot {
	uint64_t hash; /* XXH3_64bits("user\0realm") */
	uint32_t idx;  /* index + 1 into users[]; 0 = empty */
};

struct auth_users {
	_Atomic uint32_t refs;
	uint32_t n;
	size_t mask; /* slots - 1 */
	struct users_slot *slot;
	struct auth_user *user;
	char pool[]; /* "user\0realm\0" for each user, in order */
};

/* Parse-time record: names are offsets into the growing pool (which may move). */
struct load_rec {
	uint32_t off, ulen, rlen, line;
	char ha1[3][65];
};

struct load_state {
	const char *path;
	struct load_rec *rec;
	size_t n, cap;
	char *pool;
	size_t pool_len, pool_cap;
};

static uint64_t key_hash(const char *key, size_t len)
{
	return XXH3_64bits(key, len);
}

static MR_COLD int line_error(const char *path, unsigned line, const char *problem)
{
	mr_err("msg=\"user store rejected\" file=%s line=%u problem=\"%s\"", path, line, problem);
	return -EINVAL;
}

static bool name_ok(struct mr_str s)
{
	if (s.len == 0 || s.len > USERS_NAME_MAX)
		return false;
	for (uint32_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* Copies hex @s of length @len into @out lowercased; @s may be empty when @optional. */
static bool ha1_copy(struct mr_str s, unsigned len, bool optional, char *out)
{
	if (s.len == 0 && optional) {
		out[0] = '\0';
		return true;
	}
	if (s.len != len)
		return false;
	for (uint32_t i = 0; i < len; i++) {
		char c = s.p[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		out[i] = c;
	}
	out[len] = '\0';
	return true;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 16;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem)
			return -ENOMEM;
		ncap *= 2;
	}
	np = realloc(*p, ncap * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

/* Parses one line (without its newline) into a new record. 0, -EINVAL (logged), -ENOMEM. */
static int load_line(struct load_state *st, const char *s, size_t len, unsigned lineno)
{
	static const unsigned hexlen[3] = {32, 64, 64};
	static const char *const bad_ha1[3] = {"MD5 HA1 is not 32 hex digits",
	                                       "SHA-256 HA1 is not 64 hex digits",
	                                       "SHA-512-256 HA1 is not 64 hex digits"};
	struct mr_str field[5];
	struct load_rec *rec;
	unsigned nf = 0;
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != ':')
			continue;
		if (nf == MR_ARRAY_SIZE(field))
			return line_error(st->path, lineno, "too many fields");
		field[nf++] = mr_str_make(s + start, i - start);
		start = i + 1;
	}
	if (nf < 3)
		return line_error(st->path, lineno, "missing field (want user:realm:HA1)");
	if (!name_ok(field[0]))
		return line_error(st->path, lineno, "bad user name (empty, too long or control)");
	if (!name_ok(field[1]))
		return line_error(st->path, lineno, "bad realm (empty, too long or control)");
	if (st->pool_len > UINT32_MAX - 2 * USERS_NAME_MAX)
		return -ENOMEM;
	if (grow((void **)&st->rec, &st->cap, st->n + 1, sizeof(*st->rec)) < 0 ||
	    grow((void **)&st->pool, &st->pool_cap, st->pool_len + field[0].len + field[1].len + 2,
	         1) < 0)
		return -ENOMEM;
	rec = &st->rec[st->n];
	for (unsigned i = 0; i < 3; i++) {
		struct mr_str f = i + 2 < nf ? field[i + 2] : (struct mr_str){0};

		if (!ha1_copy(f, hexlen[i], i > 0, rec->ha1[i]))
			return line_error(st->path, lineno, bad_ha1[i]);
	}
	rec->off = (uint32_t)st->pool_len;
	rec->ulen = field[0].len;
	rec->rlen = field[1].len;
	rec->line = lineno;
	memcpy(st->pool + st->pool_len, field[0].p, field[0].len);
	st->pool[st->pool_len + field[0].len] = '\0';
	memcpy(st->pool + st->pool_len + field[0].len + 1, field[1].p, field[1].len);
	st->pool[st->pool_len + field[0].len + 1 + field[1].len] = '\0';
	st->pool_len += field[0].len + field[1].len + 2;
	st->n++;
	return 0;
}

static int read_file(struct load_state *st, FILE *f)
{
	char *line = NULL;
	size_t linecap = 0;
	unsigned lineno = 0;
	ssize_t got;
	int ret = 0;

	while ((got = getline(&line, &linecap, f)) >= 0) {
		size_t len = (size_t)got, i = 0;

		lineno++;
		if (len && line[len - 1] == '\n')
			len--;
		if (len && line[len - 1] == '\r')
			len--;
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len || line[i] == '#')
			continue;
		if (memchr(line, '\0', len)) {
			ret = line_error(st->path, lineno, "NUL byte");
			break;
		}
		ret = load_line(st, line, len, lineno);
		if (ret < 0)
			break;
	}
	if (ret == 0 && ferror(f))
		ret = -EIO;
	free(line);
	return ret;
}

/* Builds the final single allocation from @st and indexes it. -EINVAL on a duplicate. */
static int build(struct load_state *st, struct auth_users **out)
{
	size_t nslots = 16, size;
	struct auth_users *u;

	while (nslots < 2 * st->n)
		nslots *= 2;
	size = sizeof(*u) + st->pool_len;
	size = (size + 7) & ~(size_t)7;
	u = calloc(1, size + nslots * sizeof(*u->slot) + st->n * sizeof(*u->user));
	if (!u)
		return -ENOMEM;
	atomic_init(&u->refs, 1);
	u->mask = nslots - 1;
	u->slot = (struct users_slot *)((char *)u + size);
	u->user = (struct auth_user *)(u->slot + nslots);
	if (st->pool_len)
		memcpy(u->pool, st->pool, st->pool_len);

	for (size_t i = 0; i < st->n; i++) {
		const struct load_rec *rec = &st->rec[i];
		struct auth_user *usr = &u->user[i];
		const char *key = u->pool + rec->off;
		size_t keylen = rec->ulen + 1 + rec->rlen;
		uint64_t h = key_hash(key, keylen);
		size_t j = (size_t)h & u->mask;

		usr->name = mr_str_make(key, rec->ulen);
		usr->realm = mr_str_make(key + rec->ulen + 1, rec->rlen);
		memcpy(usr->ha1_md5, rec->ha1[0], sizeof(usr->ha1_md5));
		memcpy(usr->ha1_sha256, rec->ha1[1], sizeof(usr->ha1_sha256));
		memcpy(usr->ha1_sha512_256, rec->ha1[2], sizeof(usr->ha1_sha512_256));
		for (; u->slot[j].idx; j = (j + 1) & u->mask) {
			const struct auth_user *o = &u->user[u->slot[j].idx - 1];

			if (u->slot[j].hash == h && mr_str_eq(o->name, usr->name) &&
			    mr_str_eq(o->realm, usr->realm)) {
				free(u);
				return line_error(st->path, rec->line, "duplicate user:realm");
			}
		}
		u->slot[j] = (struct users_slot){.hash = h, .idx = (uint32_t)i + 1};
		u->n++;
	}
	*out = u;
	return 0;
}

/* HA1s are password-equivalent. A store anyone may write is refused (they could add a user);
 * one others may read, or the group may write, is loaded with a warning: the demo store in a
 * source checkout is 0644, and packaging installs /etc/mara/users 0640 root:mara. */
static int mode_check(const char *path, FILE *f)
{
	struct stat sb;

	if (fstat(fileno(f), &sb) < 0)
		return -errno;
	if (sb.st_mode & S_IWOTH) {
		mr_err("msg=\"user store refused: writable by others\" file=%s mode=%04o", path,
		       (unsigned)(sb.st_mode & 07777));
		return -EPERM;
	}
	if (sb.st_mode & (S_IROTH | S_IWGRP))
		mr_warn("msg=\"user store readable by others or writable by its group: HA1s are "
		        "password-equivalent, chmod 0640\" file=%s mode=%04o",
		        path, (unsigned)(sb.st_mode & 07777));
	return 0;
}

int auth_users_load(const char *path, struct auth_users **out)
{
	struct load_state st = {.path = path};
	FILE *f;
	int ret;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	ret = mode_check(path, f);
	if (ret) {
		fclose(f);
		return ret;
	}
	ret = read_file(&st, f);
	fclose(f);
	if (ret == 0 && st.n > UINT32_MAX / 2)
		ret = -ENOMEM;
	if (ret == 0)
		ret = build(&st, out);
	free(st.rec);
	free(st.pool);
	return ret;
}

size_t auth_users_count(const struct auth_users *u)
{
	return u->n;
}

bool auth_user_name_ok(struct mr_str name)
{
	if (name.len == 0 || name.len > AUTH_USER_NAME_MAX)
		return false;
	for (uint32_t i = 0; i < name.len; i++) {
		unsigned char c = (unsigned char)name.p[i];

		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == ':')
			return false;
	}
	return true;
}

const struct auth_user *auth_users_find(const struct auth_users *u, struct mr_str name,
                                        struct mr_str realm)
{
	char key[2 * USERS_NAME_MAX + 1];
	size_t keylen = (size_t)name.len + 1 + realm.len;
	uint64_t h;

	/* Longer names cannot have been loaded. */
	if (name.len > USERS_NAME_MAX || realm.len > USERS_NAME_MAX)
		return NULL;
	memcpy(key, name.p, name.len);
	key[name.len] = '\0';
	memcpy(key + name.len + 1, realm.p, realm.len);
	h = key_hash(key, keylen);
	for (size_t j = (size_t)h & u->mask; u->slot[j].idx; j = (j + 1) & u->mask) {
		const struct auth_user *usr = &u->user[u->slot[j].idx - 1];

		if (u->slot[j].hash == h && mr_str_eq(usr->name, name) &&
		    mr_str_eq(usr->realm, realm))
			return usr;
	}
	return NULL;
}

struct mr_str auth_user_ha1(const struct auth_user *usr, enum auth_alg a)
{
	switch (auth_alg_base(a)) {
	case AUTH_ALG_MD5:
		return mr_str_c(usr->ha1_md5);
	case AUTH_ALG_SHA256:
		return mr_str_c(usr->ha1_sha256);
	case AUTH_ALG_SHA512_256:
		return mr_str_c(usr->ha1_sha512_256);
	default:
		return (struct mr_str){0};
	}
}

void auth_users_get(struct auth_users *u)
{
	atomic_fetch_add_explicit(&u->refs, 1, memory_order_relaxed);
}

void auth_users_put(struct auth_users *u)
{
	if (!u)
		return;
	/* acq_rel: each holder's reads of @u happen before its decrement (release), and the last
	 * holder's acquire orders the free after all of them. */
	if (atomic_fetch_sub_explicit(&u->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(u);
}

int auth_users_ref_init(struct auth_users_ref *r, struct auth_users *initial)
{
	int ret = pthread_mutex_init(&r->lock, NULL);

	if (ret != 0) {
		auth_users_put(initial);
		return -ret;
	}
	r->cur = initial;
	atomic_init(&r->gen, 1);
	return 0;
}

void auth_users_ref_fini(struct auth_users_ref *r)
{
	auth_users_put(r->cur);
	r->cur = NULL;
	pthread_mutex_destroy(&r->lock);
}

struct auth_users *auth_users_ref_get(struct auth_users_ref *r, uint64_t *gen)
{
	struct auth_users *u;

	pthread_mutex_lock(&r->lock);
	u = r->cur;
	if (u)
		auth_users_get(u);
	if (gen)
		*gen = atomic_load_explicit(&r->gen, memory_order_relaxed);
	pthread_mutex_unlock(&r->lock);
	return u;
}

void auth_users_ref_swap(struct auth_users_ref *r, struct auth_users *u)
{
	struct auth_users *old;

	pthread_mutex_lock(&r->lock);
	old = r->cur;
	r->cur = u;
	/* A reader that sees the new gen and then takes the lock gets @u (or newer). */
	atomic_fetch_add_explicit(&r->gen, 1, memory_order_release);
	pthread_mutex_unlock(&r->lock);
	auth_users_put(old);
}
