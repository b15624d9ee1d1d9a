/* Memory cgroups of ours, on cgroup v1 or v2.
 *
 * A step that confines a process makes one cgroup directly under the root of
 * the hierarchy that carries the memory controller:
 *
 *   v1: MOUNT/chaoslab-RUN-STEP   the hierarchy with "memory" among its
 *                                 controllers, e.g. /sys/fs/cgroup/memory
 *   v2: MOUNT/chaoslab-RUN-STEP   the cgroup2 mount, when its root's
 *                                 cgroup.subtree_control lists "memory"
 *
 * The files that matter, per version:
 *
 *   limit       v1 memory.limit_in_bytes     v2 memory.max ("max" = none)
 *   usage       v1 memory.usage_in_bytes     v2 memory.current
 *   OOM kills   v1 memory.oom_control        v2 memory.events
 *               ("oom_kill N" line in both)
 *   members     cgroup.procs (both)
 *
 * Ownership: a cgroup is only removed when its directory name starts with
 * MEMCG_PREFIX, equals the name the journal's run and step give, and sits
 * directly under the root of a live cgroup file system of the journaled
 * version (statfs). Its processes that carry the step's owner tag are
 * killed; any other process found in it is moved to the parent, never
 * killed. Nothing here prints. */
#ifndef CHAOSLAB_CGROUP_H
#define CHAOSLAB_CGROUP_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/error.h"
#include "sys/features.h"

#define MEMCG_PREFIX "chaoslab-"
/* memcg_limit_get() and memcg_parse_limit() for "no limit". */
#define MEMCG_UNLIMITED (~0ULL)

struct memcg {
	enum cgroup_where version; /* CGROUP_V1 or CGROUP_V2 */
	char path[512];		   /* the cgroup's directory */
};

/* Where a memory cgroup can be made on this machine: v2 when a cgroup2
 * mount's root lists memory in cgroup.subtree_control, else the v1 hierarchy
 * carrying memory. 0 with *version and root (the mount point) filled, or -1
 * with why ("the memory controller is in no cgroup hierarchy", "memory is
 * available in /sys/fs/cgroup but not enabled in its cgroup.subtree_control",
 * "cannot create cgroups in ...: Permission denied"). prefer may be
 * CGROUP_V1 or CGROUP_V2 to accept only that version (tests), or
 * CGROUP_NOWHERE for whichever this machine has. */
int memcg_root_find(enum cgroup_where prefer, enum cgroup_where *version, char *root, size_t size,
		    char *why, size_t why_size);

/* The cgroup name of a run's step into buf: "chaoslab-RUN-STEP", every
 * character outside [A-Za-z0-9._-] written as '_'. -1 (buf "") when it would
 * not fit buf or exceed a file name's 255 characters. */
int memcg_name(char *buf, size_t size, const char *run_id, const char *step);

/* Make the cgroup cg->path (mkdir): its parent must be a hierarchy root. An
 * existing directory is an error (EEXIST): a name is never reused. Then
 * keeps the kernel from swapping the group's memory, so that reaching the
 * limit means an OOM kill rather than swapping: v1 memory.swappiness 0, v2
 * memory.swap.max 0 (either file may be absent: no swap accounting). On a
 * failure after mkdir the directory is removed again. */
int memcg_create(const struct memcg *cg, struct cl_error *err);

/* Set the memory limit in bytes (v1 memory.limit_in_bytes, v2 memory.max);
 * MEMCG_UNLIMITED lifts it. */
int memcg_limit_set(const struct memcg *cg, unsigned long long bytes, struct cl_error *err);

/* Read the memory limit; MEMCG_UNLIMITED when there is none (v2 "max", v1's
 * page-rounded LONG_MAX). */
int memcg_limit_get(const struct memcg *cg, unsigned long long *bytes, struct cl_error *err);

/* Memory charged to the cgroup now, in bytes (v1 memory.usage_in_bytes, v2
 * memory.current). */
int memcg_usage(const struct memcg *cg, unsigned long long *bytes, struct cl_error *err);

/* How many processes the kernel's OOM killer has killed in the cgroup (and
 * its descendants) since it was made: the "oom_kill" line of v1
 * memory.oom_control or v2 memory.events. A kernel without the counter
 * (v1 before 4.13) is an error saying so. errnum ENOENT when the cgroup is
 * gone. */
int memcg_oom_kills(const struct memcg *cg, unsigned long long *kills, struct cl_error *err);

/* Move process pid into the cgroup (cgroup.procs); pid 0 moves the caller. */
int memcg_move(const struct memcg *cg, pid_t pid, struct cl_error *err);

/* The processes in the cgroup (cgroup.procs): up to cap of them into pids
 * (may be NULL), in file order. Returns how many there are in all, or -1
 * with err (errnum ENOENT when the cgroup is gone). */
long memcg_procs(const struct memcg *cg, pid_t *pids, size_t cap, struct cl_error *err);

/* The cgroup version of the file system holding path, from statfs:
 * CGROUP_V1, CGROUP_V2, or CGROUP_NOWHERE (not a cgroup file system, or
 * unreadable). */
enum cgroup_where memcg_fs_version(const char *path);

/* Is cg a cgroup of ours? 0 when its name is expected_name (which must
 * start with MEMCG_PREFIX), it is a directory of a cgroup file system of
 * cg->version, and its parent is that file system's root. 1 when it does not
 * exist. -1 with why when it exists but is not provably ours. */
int memcg_check_ours(const struct memcg *cg, const char *expected_name, char *why, size_t size);

/* Remove a cgroup of ours (memcg_check_ours with expected_name first): its
 * processes carrying owner ("RUN:STEP"; NULL or "" = none) get SIGKILL,
 * any other is moved to the parent cgroup; then rmdir, retried while the
 * kernel finishes tearing the members down (up to a few seconds). Counts go
 * to *killed and *migrated (may be NULL); *removed (may be NULL) is true
 * when it was there and is gone now. A cgroup that is already gone is fine
 * (0, nothing removed). -1 with err when it is not ours (nothing touched) or
 * could not be emptied or removed. */
int memcg_remove(const struct memcg *cg, const char *expected_name, const char *owner, int *killed,
		 int *migrated, bool *removed, struct cl_error *err);

/* The value of the "oom_kill N" line in memory.oom_control or memory.events
 * text. 0, or -1 when there is no such line. */
int memcg_parse_oom_kill(const char *text, unsigned long long *out);

/* A limit file's text: "max" (v2) or a byte count; counts at or above v1's
 * "unlimited" (LONG_MAX rounded down to a page) are MEMCG_UNLIMITED. 0, or
 * -1 when it is neither. */
int memcg_parse_limit(const char *text, unsigned long long *out);

/* Undo data: {"path": "...", "version": 1|2}. memcg_to_json returns NULL
 * when out of memory; memcg_from_json is -1 when j is not such an object. */
cJSON *memcg_to_json(const struct memcg *cg);
int memcg_from_json(const cJSON *j, struct memcg *out);

/* Human-readable size: "192 MiB", "1.5 GiB", "unlimited". */
const char *memcg_bytes_text(unsigned long long bytes, char *buf, size_t size);

#endif
