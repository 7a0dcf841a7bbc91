/* SPDX-License-Identifier: MIT
 * stats_http.c - the /metrics endpoint: libmicrohttpd on its own internal polling thread,
 * rendering the registry on each scrape (GET/HEAD /metrics; 404 elsewhere; 405 other methods).
 * Owns: the daemon and its listening socket (ours: bound here so errors keep their errno).
 * Thread: start/stop on the owner's thread; requests on libmicrohttpd's thread, which only
 * reads the frozen registry. */
#include "stats.h"

#include "mr_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define METRICS_PATH   "/metrics"
#define METRICS_CTYPE  "text/plain; version=0.0.4; charset=utf-8"
#define HTTP_CONN_MAX  32u /* scrapers are few; bounds what a misbehaving client can hold */
#define HTTP_TIMEOUT_S 10u /* idle connection timeout */
#define HTTP_BACKLOG   16

struct stats_http {
	struct MHD_Daemon *d;
	struct stats_registry *reg; /* borrowed, frozen */
	uint16_t port;
};

static void http_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	mr_warn("msg=\"metrics http\" detail=\"%s\"", line);
}

static enum MHD_Result reply_static(struct MHD_Connection *c, unsigned status, const char *body,
                                    const char *allow)
{
	struct MHD_Response *rsp;
	enum MHD_Result ret;

	rsp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!rsp)
		return MHD_NO;
	MHD_add_response_header(rsp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(rsp, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, status, rsp);
	MHD_destroy_response(rsp);
	return ret;
}

static enum MHD_Result reply_metrics(struct stats_http *h, struct MHD_Connection *c)
{
	struct stats_buf b = {0};
	struct MHD_Response *rsp;
	enum MHD_Result ret;
	int err;

	err = stats_render(h->reg, &b);
	if (err < 0) {
		stats_buf_free(&b);
		mr_err("msg=\"metrics render failed\" err=%d", err);
		return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "render failed\n", NULL);
	}
	/* MUST_FREE: libmicrohttpd free()s the rendered text once it is sent. */
	rsp = MHD_create_response_from_buffer(b.len, b.p, MHD_RESPMEM_MUST_FREE);
	if (!rsp) {
		stats_buf_free(&b);
		return MHD_NO;
	}
	MHD_add_response_header(rsp, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_CTYPE);
	ret = MHD_queue_response(c, MHD_HTTP_OK, rsp);
	MHD_destroy_response(rsp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
	struct stats_http *h = cls;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	/* Answered on the first call, headers only: a body (POST) is never read, and
	 * libmicrohttpd closes the connection after such an early reply. */
	if (strcmp(url, METRICS_PATH) != 0)
		return reply_static(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_static(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
		                    "GET, HEAD");
	return reply_metrics(h, c);
}

/* Parses an IPv4 or IPv6 literal ("[::1]" too) and @port into @ss. */
static int parse_addr(const char *addr, uint16_t port, struct sockaddr_storage *ss,
                      socklen_t *sslen)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char tmp[INET6_ADDRSTRLEN + 2];
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (!addr)
		addr = "127.0.0.1";
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*sslen = sizeof(*in4);
		return 0;
	}
	n = strlen(addr);
	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']' && n - 2 < sizeof(tmp)) {
		memcpy(tmp, addr + 1, n - 2);
		tmp[n - 2] = '\0';
		addr = tmp;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*sslen = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

static int listen_on(const struct sockaddr_storage *ss, socklen_t sslen, uint16_t *port)
{
	int fd, one = 1, ret;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* "::" means IPv6 only, as the address says; no surprise dual-stack exposure. */
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, sslen) < 0 || listen(fd, HTTP_BACKLOG) < 0)
		goto err;
	{
		struct sockaddr_storage got;
		socklen_t len = sizeof(got);

		if (getsockname(fd, (struct sockaddr *)&got, &len) < 0)
			goto err;
		*port = ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)&got)->sin_port
		                                       : ((struct sockaddr_in6 *)&got)->sin6_port);
	}
	return fd;

err:
	ret = -errno;
	close(fd);
	return ret;
}

int stats_http_start(struct stats_registry *r, const char *addr, uint16_t port,
                     struct stats_http **out)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct stats_http *h;
	int fd, ret;

	ret = parse_addr(addr, port, &ss, &sslen);
	if (ret < 0)
		return ret;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->reg = r;
	stats_registry_freeze(r);
	fd = listen_on(&ss, sslen, &h->port);
	if (fd < 0) {
		free(h);
		return fd;
	}
	h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	                        on_request, h, MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
	                        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
	                        HTTP_CONN_MAX, MHD_OPTION_CONNECTION_TIMEOUT, HTTP_TIMEOUT_S,
	                        MHD_OPTION_END);
	if (!h->d) {
		/* libmicrohttpd closes a socket it was given on most failure paths; close it
		 * only if it is still ours. */
		if (fcntl(fd, F_GETFD) >= 0)
			close(fd);
		free(h);
		return -EIO;
	}
	*out = h;
	return 0;
}

uint16_t stats_http_port(const struct stats_http *h)
{
	return h->port;
}

void stats_http_stop(struct stats_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}

int stats_serve(struct stats_server *s, const char *binary, const char *addr, uint16_t port,
                int (*setup)(struct stats_registry *r, void *arg), void *arg)
{
	int ret = stats_registry_create(binary, &s->reg);

	if (ret == 0)
		ret = setup(s->reg, arg);
	if (ret == 0)
		ret = stats_http_start(s->reg, addr, port, &s->http);
	if (ret) {
		mr_err("msg=\"metrics endpoint not started\" addr=%s port=%u err=%d", addr, port,
		       ret);
		stats_serve_stop(s);
		return ret;
	}
	mr_info("msg=\"metrics endpoint\" url=http://%s:%u/metrics", addr, port);
	return 0;
}

void stats_serve_stop(struct stats_server *s)
{
	if (s->http)
		stats_http_stop(s->http);
	if (s->reg)
		stats_registry_destroy(s->reg);
	s->http = NULL;
	s->reg = NULL;
}
