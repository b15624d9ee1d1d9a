/* Lab services: small servers a drill runs (demo-api now; the DNS and TLS
 * services later). Each is a worker body (see sys/worker.h): the lab-service
 * injector spawns chaoslab re-executed with CHAOSLAB_WORKER=<service name>,
 * and worker_main() finds the body here when no injector has that name.
 * One file per service in harness/lab/, listed in the table in service.c. */
#ifndef CHAOSLAB_LAB_SERVICE_H
#define CHAOSLAB_LAB_SERVICE_H

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <sys/types.h>

struct lab_service {
	const char *name;        /* as in a scenario's lab: list */
	const char *summary;
	int default_port;
	/* Worker body: serve until killed. args: {"port": N, ...}. Returns the
	 * exit status. Must call worker_lockdown() once its socket is bound. */
	int (*main)(const cJSON *args);
};

/* The services' names, in the order of the table in service.c; a
 * scenario's lab: list takes these and "network". Adding a service means
 * adding its name here and its descriptor to the table (a unit test checks
 * both agree). */
#define LAB_SERVICE_NAMES "demo-api", "dns", "tls"

/* LAB_SERVICE_NAMES, NULL-terminated (the lab-service injector's choices). */
extern const char *const lab_service_names[];

/* The service named name, or NULL. */
const struct lab_service *lab_service_find(const char *name);

/* A service's log line: "2026-05-01T10:00:00.123Z " (UTC, milliseconds),
 * the formatted text (cut at 700 bytes) and a newline, appended to fd in one
 * write. A file already past max bytes is emptied first, so a busy lab
 * cannot fill the disk. Nothing is reported: a service has nowhere to say
 * its log failed. Safe under the services' seccomp filters (fstat,
 * ftruncate, write, clock_gettime). No-op when fd < 0. */
void lab_service_vlog(int fd, off_t max, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#endif
