/* Workers: processes an injector runs are chaoslab's own binary re-executed,
 * so `ps` shows the command line the scenario chose.
 *
 * worker_spawn() forks, and the child execs /proc/self/exe with
 * argv = { name, args... } and CHAOSLAB_WORKER=<injector>,
 * CHAOSLAB_WORKER_ARGS=<json>, CHAOSLAB_OWNER=<run>:<step> in its environment.
 * main() sees CHAOSLAB_WORKER and calls worker_main(), which sets the process
 * name, PR_SET_PDEATHSIG and a process group, then runs the injector's worker
 * body. The owner tag lets revert find a run's workers from the journal alone. */
#ifndef CHAOSLAB_WORKER_H
#define CHAOSLAB_WORKER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <sys/types.h>

#include "core/error.h"
#include "sys/proc.h"

/* Entry point when re-executed as a worker. Never returns to the CLI. */
int worker_main(int argc, char **argv);

#endif
