/* SPDX-License-Identifier: MIT
 * conf_cmdline.c - the command line every daemon of mara shares: -c FILE, --check-config,
 * --print-default, --help, --version.
 * Owns: nothing (@out points into argv). Thread: main, before anything starts. */
#include "conf.h"

#include "mara_build.h"
#include "mr_log.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>

int conf_cmdline(int argc, char **argv, const char *binary, void (*usage)(FILE *f),
                 struct conf_cmdline *out)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},         {"version", no_argument, NULL, 'V'},
	    {"check-config", no_argument, NULL, 'C'}, {"print-default", no_argument, NULL, 'P'},
	    {"config", required_argument, NULL, 'c'}, {NULL, 0, NULL, 0},
	};
	int o;

	*out = (struct conf_cmdline){0};
	while ((o = getopt_long(argc, argv, "hVc:", opts, NULL)) != -1) {
		switch (o) {
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("%s %s\n", binary, MARA_VERSION);
			exit(0);
		case 'P':
			fputs(conf_embedded_default(), stdout);
			exit(0);
		case 'C':
			out->check = true;
			break;
		case 'c':
			out->path = optarg;
			break;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

int conf_start(int argc, char **argv, const char *binary, void (*usage)(FILE *f), struct conf *c,
               struct conf_cmdline *cl)
{
	if (conf_cmdline(argc, argv, binary, usage, cl))
		return 2;
	if (conf_load(c, cl->path)) {
		fprintf(stderr, "%s: %s: configuration refused (see the error above)\n", binary,
		        cl->path ? cl->path : "<embedded>");
		return 1;
	}
	mr_log_set_level((enum mr_log_level)c->log_level);
	mr_log_use_syslog(c->log_syslog, binary);
	return 0;
}
