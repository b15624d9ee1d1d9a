/* Process identity and /proc readers.
 *
 * A process is identified by pid + start time (/proc/PID/stat field 22, in
 * clock ticks since boot) + boot id, never by pid or name alone: a pid that
 * was recycled, or one from before a reboot, never matches. */
#ifndef CHAOSLAB_PROC_H
#define CHAOSLAB_PROC_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <sys/types.h>

struct proc_ident {
	pid_t pid;
	unsigned long long start_time; /* clock ticks after boot */
	char boot_id[40];
};

/* The fields of /proc/PID/stat a verifier needs. */
struct proc_stat {
	pid_t pid, ppid;
	char comm[64];
	char state;                    /* R S D Z T ... */
	unsigned long long utime, stime; /* clock ticks */
	unsigned long long start_time;
	long rss_pages;
};

/* The current boot id (from /proc/sys/kernel/random/boot_id), static buffer. */
const char *proc_boot_id(void);

/* Parse /proc/PID/stat (comm may hold spaces and parentheses). 0 or -1 (errno
 * ESRCH when the process is gone). */
int proc_stat_read(pid_t pid, struct proc_stat *out);

/* Fill the identity of a live pid. -1 when gone. */
int proc_ident_of(pid_t pid, struct proc_ident *out);

/* True only if pid is alive now with the same start time, on the same boot. */
bool proc_ident_alive(const struct proc_ident *id);

/* True if the process is a zombie (state Z) — alive by pid but dead. */
bool proc_is_zombie(pid_t pid);

/* Identity to and from JSON {"pid":..,"start_time":..,"boot_id":".."}. */
cJSON *proc_ident_to_json(const struct proc_ident *id);
int proc_ident_from_json(const cJSON *j, struct proc_ident *out);

/* Read an environment variable of another process (/proc/PID/environ) into
 * buf. 0 when found. */
int proc_environ_get(pid_t pid, const char *name, char *buf, size_t size);

/* Clock ticks per second (sysconf(_SC_CLK_TCK)). */
long proc_clk_tck(void);

/* Monotonic time in seconds. */
double mono_now(void);

#endif
