#include "sys/worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/registry.h"

int worker_main(int argc, char **argv)
{
	const char *kind = getenv("CHAOSLAB_WORKER");
	const char *args = getenv("CHAOSLAB_WORKER_ARGS");
	const struct injector *in = kind ? injector_find(kind) : NULL;
	cJSON *j;
	int rc;

	(void)argc;
	(void)argv;
	if (!in || !in->worker) {
		fprintf(stderr, "chaoslab worker: unknown worker kind '%s'\n", kind ? kind : "");
		return 127;
	}
	j = cJSON_Parse(args ? args : "{}");
	if (!j) {
		fprintf(stderr, "chaoslab worker: CHAOSLAB_WORKER_ARGS is not JSON\n");
		return 127;
	}
	rc = in->worker(j);
	cJSON_Delete(j);
	return rc;
}
