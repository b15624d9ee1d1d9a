/* Lab services: small servers a drill runs (demo-api now; the DNS and TLS
 * services later). Each is a worker body (see sys/worker.h): the lab-service
 * injector spawns chaoslab re-executed with CHAOSLAB_WORKER=<service name>,
 * and worker_main() finds the body here when no injector has that name.
 * One file per service in harness/lab/, listed in the table in service.c. */
#ifndef CHAOSLAB_LAB_SERVICE_H
#define CHAOSLAB_LAB_SERVICE_H

#include <cjson/cJSON.h>

struct lab_service {
	const char *name;        /* as in a scenario's lab: list */
	const char *summary;
	int default_port;
	/* Worker body: serve until killed. args: {"port": N, ...}. Returns the
	 * exit status. Must call worker_lockdown() once its socket is bound. */
	int (*main)(const cJSON *args);
};

/* The service named name, or NULL. */
const struct lab_service *lab_service_find(const char *name);

#endif
