/* Workers: processes an injector (or a lab service) runs are chaoslab's own
 * binary re-executed, so `ps` shows the command line the scenario chose.
 *
 * worker_spawn() forks; the child execs /proc/self/exe with
 * argv = { name, extra words... } and, in its environment,
 *   CHAOSLAB_WORKER=<kind>          an injector name or a lab service name
 *   CHAOSLAB_WORKER_ARGS=<json>     the body's arguments
 *   CHAOSLAB_OWNER=<run_id>:<step>  the ownership tag
 *   CHAOSLAB_PARENT=<pid>           the spawning process, to notice that it
 *                                   died before the worker could ask to die
 *                                   with it
 * main() sees CHAOSLAB_WORKER and calls worker_main(): it sets the process
 * name (comm, so `pkill -x NAME` and `top` see it), PR_SET_PDEATHSIG(SIGKILL)
 * so it dies with its parent, its own process group, then runs the body.
 * Everything but fds 0-2 is closed across the exec, signal dispositions and
 * the signal mask start at their defaults, and the nice value is set before
 * the exec.
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
	const char *kind;	  /* injector or lab service whose body runs */
	const char *name;	  /* argv[0] and comm; at most 15 characters */
	const char *const *extra; /* further argv words ps shows; NULL-terminated or NULL */
	const cJSON *args;	  /* arguments for the body; NULL = {} */
	const char *owner;	  /* "<run_id>:<step>" */
	int nice;		  /* applied before exec */
	const char *netns;	  /* NULL, or a named network namespace
				   * (/run/netns/NAME, as `ip netns` makes them)
				   * the worker joins before exec (setns), e.g.
				   * the lab's. Only the network namespace: no
				   * /etc/netns bind mounts (`chaoslab lab shell`
				   * does those, see lab/network.h) */
};

/* Start a worker. With spec->netns, the namespace must exist (it is opened
 * before the fork, so a missing one is reported here). Fills *id and, if
 * pidfd is non-NULL, a pidfd (O_CLOEXEC) that becomes readable when it
 * exits. The caller reaps it (the harness is child subreaper). Returns once
 * the worker carries its name (its setup in worker_main() is done), so
 * `pkill -x NAME` finds it from then on. A worker that cannot be started, or
 * exits before that, is an error (it is then reaped here, and nothing is left
 * running). */
int worker_spawn(const struct worker_spec *spec, struct proc_ident *id, int *pidfd,
		 struct cl_error *err);

/* Tests only: exec path instead of /proc/self/exe (a test binary is not
 * chaoslab; it points this at the real binary). NULL restores the default.
 * The string must outlive its use. */
void worker_set_exe(const char *path);

/* 0 when workers can be started here (the binary to re-execute can be
 * executed), else -1 and why; for an injector's supported(). */
int worker_supported(char *why, size_t size);

/* In a worker, or a process it forked: set the name ps, top and pkill see
 * (comm, and the command line within the space exec gave it). */
void worker_set_title(const char *name);

/* Entry point when re-executed as a worker; returns the exit status (127
 * when the kind is unknown or the arguments are not a JSON object). */
int worker_main(int argc, char **argv);

/* In a worker body: write err to stderr as the worker's last words
 * ("chaoslab worker NAME[PID]: message") and return the exit status to
 * return with (1): how a worker body reports why it stops. */
int worker_exit_error(const struct cl_error *err);

/* Within a worker body, after setup: drop every capability (libcap: the
 * effective, permitted, inheritable and ambient sets, and the bounding set
 * when allowed to), set no_new_privs and install a seccomp allow-list
 * (libseccomp) of a base set plus the named syscalls (NULL-terminated, may be
 * NULL); any other syscall kills the process (SIGSYS). The base set is what a
 * loop that computes, sleeps, writes to an open fd and exits needs: see
 * worker_base_syscalls. A name unknown to this architecture is an error, and
 * then nothing was changed. Irreversible for the calling process and the
 * children it forks afterwards. */
int worker_lockdown(const char *const *extra_syscalls, struct cl_error *err);

/* The base allow-list of worker_lockdown(), NULL-terminated. Names this
 * architecture lacks (fstat on some) are skipped. */
extern const char *const worker_base_syscalls[];

/* Kill every process that is ours for owner: carrying CHAOSLAB_OWNER=owner,
 * or matching one of known[] by pid + start time + boot id. SIGTERM, then
 * SIGKILL after grace_ms. Zombies are left to their reaper. *killed gets the
 * number signalled. Idempotent. owner may be NULL or "" (known[] only), known
 * may be NULL when nknown is 0. The calling process is never signalled.
 * Signals go through a pidfd opened before ownership is checked, so a pid
 * recycled meanwhile is never hit. Returns when every signalled process has
 * exited (processes a dying parent forked meanwhile are caught by a further
 * pass), or -1 with err when /proc cannot be read or one survives SIGKILL. */
int worker_kill_owned(const char *owner, const struct proc_ident *known, size_t nknown,
		      int grace_ms, int *killed, struct cl_error *err);

/* Count live (non-zombie) processes carrying the owner tag; pids (may be
 * NULL) receives up to cap of them, in /proc order. */
size_t worker_find_owned(const char *owner, pid_t *pids, size_t cap);

/* Undo data of a step that runs workers, shared by such injectors and read
 * by the verifiers: {"owner": "<run_id>:<step>", "workers": [identity...]},
 * identities as proc_ident_to_json() writes them.
 *
 * worker_undo_init() sets "owner" and an empty "workers" array in undo
 * (replacing earlier ones); worker_undo_add() appends an identity. Both -1
 * with err on allocation failure. */
int worker_undo_init(cJSON *undo, const char *owner, struct cl_error *err);
int worker_undo_add(cJSON *undo, const struct proc_ident *id, struct cl_error *err);

/* worker_kill_owned() for the owner and identities in undo; fallback_owner
 * (may be NULL) stands in when undo has no "owner" (the bare intent). With
 * neither, nothing is killed and *killed is 0. */
int worker_undo_kill(const cJSON *undo, const char *fallback_owner, int grace_ms, int *killed,
		     struct cl_error *err);

/* The owner tag of a step in buf: "<run_id>:<step>". */
void worker_owner_tag(char *buf, size_t size, const char *run_id, const char *step);

/* Reap every exited child without blocking (the harness is subreaper, so
 * orphans such as a killed forker's zombies come here). Returns the count.
 * Exit statuses are discarded. */
int worker_reap_children(void);

/* Make the calling process a child subreaper. 0, or -1 with errno. */
int worker_become_subreaper(void);

#endif
