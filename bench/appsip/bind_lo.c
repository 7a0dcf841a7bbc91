/* SPDX-License-Identifier: MIT
 * bind_lo.c - LD_PRELOAD shim for freeDiameterd in bench/appsip/run.sh (which compiles it):
 * freeDiameter 1.2.1 drops loopback addresses given in ListenOn (fd_ep_add_merge filters 127/8)
 * and then binds its server socket to 0.0.0.0. This rewrites any AF_INET bind() to INADDR_ANY
 * into 127.0.0.1 (same port), so freeDiameterd listens on loopback only.
 * Owns: nothing. Thread: any (the lazy dlsym() is idempotent). Not part of the meson build. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real_bind)(int, const struct sockaddr *, socklen_t);
	if (!real_bind)
		real_bind = dlsym(RTLD_NEXT, "bind");
	if (sa && sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in) &&
	    ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY)) {
		struct sockaddr_in s;
		memcpy(&s, sa, sizeof s);
		s.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return real_bind(fd, (struct sockaddr *)&s, sizeof s);
	}
	return real_bind(fd, sa, len);
}
