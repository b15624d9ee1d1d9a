/* Workers: processes an injector (or a lab service) runs are chaoslab's own
 * binary re-executed, so `ps` shows the command line the scenario chose.
 *
 * worker_spawn() forks; the child execs /proc/self/exe with
 * argv = { name, extra words... } and, in its environment,
 *   CHAOSLAB_WORKER=<kind>          an injector name or a lab service name
 *   CHAOSLAB_WORKER_ARGS=<json>     the body's arguments
 *   CHAOSLAB_OWNER=<run_id>:<step>  the ownership tag
 * main() sees CHAOSLAB_WORKER and calls worker_main(): it sets the process
 * name (comm, so `pkill -x NAME` and `top` see it), PR_SET_PDEATHSIG(SIGKILL)
 * so it dies with its parent, its own process group, then runs the body.
 *
 * The owner tag lets revert find a run's workers from the journal alone, also
 * processes a worker forked itself (respawned burners): it is inherited. A
 * process is only killed if it carries the tag, or if its pid + start time +
 * boot id match the journal. */
#ifndef CHAOSLAB_WORKER_H
#define CHAOSLAB_WORKER_H

#include <cjson/cJSON.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/error.h"
#include "sys/proc.h"

struct worker_spec {
	const char *kind;        /* injector or lab service whose body runs */
	const char *name;        /* argv[0] and comm; at most 15 characters */
	const char *const *extra;/* further argv words ps shows; NULL-terminated or NULL */
	const cJSON *args;       /* arguments for the body; NULL = {} */
	const char *owner;       /* "<run_id>:<step>" */
	int nice;                /* applied before exec */
};

/* Start a worker. Fills *id and, if pidfd is non-NULL, a pidfd (O_CLOEXEC)
 * that becomes readable when it exits. The caller reaps it (the harness is
 * child subreaper). */
int worker_spawn(const struct worker_spec *spec, struct proc_ident *id, int *pidfd,
		 struct cl_error *err);

/* Entry point when re-executed as a worker; returns the exit status. */
int worker_main(int argc, char **argv);

/* Within a worker body, after setup: drop every capability (libcap), set
 * no_new_privs and install a seccomp allow-list (libseccomp) of a base set
 * plus the named syscalls; any other syscall kills the process. */
int worker_lockdown(const char *const *extra_syscalls, struct cl_error *err);

/* Kill every process that is ours for owner: carrying CHAOSLAB_OWNER=owner,
 * or matching one of known[] by pid + start time + boot id. SIGTERM, then
 * SIGKILL after grace_ms. Zombies are left to their reaper. *killed gets the
 * number signalled. Idempotent. */
int worker_kill_owned(const char *owner, const struct proc_ident *known, size_t nknown,
		      int grace_ms, int *killed, struct cl_error *err);

/* Count live (non-zombie) processes carrying the owner tag; pids (may be
 * NULL) receives up to cap of them. */
size_t worker_find_owned(const char *owner, pid_t *pids, size_t cap);

/* The owner tag of a step in buf: "<run_id>:<step>". */
void worker_owner_tag(char *buf, size_t size, const char *run_id, const char *step);

/* Reap every exited child without blocking (the harness is subreaper, so
 * orphans such as a killed forker's zombies come here). Returns the count. */
int worker_reap_children(void);

/* Make the calling process a child subreaper. */
int worker_become_subreaper(void);

#endif
