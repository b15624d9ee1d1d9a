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

/* Parse the text of a /proc/PID/stat file into out (pid is taken from the
 * text). comm sits between the first '(' and the last ')', so a name holding
 * spaces or parentheses parses. 0, or -1 with errno EINVAL. */
int proc_stat_parse(const char *text, struct proc_stat *out);

/* The aggregate "cpu" line of /proc/stat, in clock ticks. total excludes
 * guest time (already counted in user and nice); busy = total - idle -
 * iowait. ncpus counts the "cpuN" lines. */
struct proc_cpu_times {
	unsigned long long user, nice, system, idle, iowait, irq, softirq, steal;
	unsigned long long total, busy;
	int ncpus;
};

/* Parse /proc/stat text. 0, or -1 with errno EINVAL. */
int proc_cpu_times_parse(const char *text, struct proc_cpu_times *out);

/* Read /proc/stat. 0, or -1 with errno set. */
int proc_cpu_times_read(struct proc_cpu_times *out);

/* /proc/loadavg: "0.52 0.58 0.59 2/467 12345". */
struct proc_loadavg {
	double avg[3];               /* 1, 5 and 15 minutes */
	int running, total;          /* runnable and existing scheduling entities */
	pid_t last_pid;
};

/* Parse /proc/loadavg text. 0, or -1 with errno EINVAL. */
int proc_loadavg_parse(const char *text, struct proc_loadavg *out);

/* Read /proc/loadavg. 0, or -1 with errno set. */
int proc_loadavg_read(struct proc_loadavg *out);

/* Clock ticks since boot now (CLOCK_BOOTTIME, the clock start_time counts
 * in), so a process can be told to have started after a given moment. */
unsigned long long proc_boot_ticks(void);

/* Called by proc_walk() for each process; a non-zero return stops the walk
 * and is passed back. */
typedef int (*proc_walk_fn)(const struct proc_stat *st, void *arg);

/* Call fn for every process (thread group) in /proc, zombies included; a
 * process that exits during the walk is skipped. Returns 0, fn's first
 * non-zero value, or -1 with errno when /proc cannot be listed. */
int proc_walk(proc_walk_fn fn, void *arg);

/* A set of processes named the ways verifiers name them: by owner tag
 * (CHAOSLAB_OWNER in the environment, inherited by children), by journaled
 * identity, by comm, or by pid. A process belongs if any criterion matches. */
struct proc_set {
	char owner[160];             /* "" = no owner criterion */
	struct proc_ident *idents;   /* owned; nidents entries */
	size_t nidents;
	char comm[16];               /* "" = no name criterion */
	pid_t pid;                   /* 0 = no pid criterion */
};

/* Fill s from an inject step's undo data: its "owner" tag and every identity
 * of its "workers" array (entries that do not parse are skipped). s is
 * zeroed first; release with proc_set_release. 0, or -1 (out of memory). */
int proc_set_from_undo(struct proc_set *s, const cJSON *undo);

/* True if st's process belongs to s. Reads /proc/PID/environ only when an
 * owner criterion is set and nothing cheaper matched. */
bool proc_set_contains(const struct proc_set *s, const struct proc_stat *st);

/* The live (not zombie) processes of s: up to cap of them into out (may be
 * NULL), in pid order. Returns how many there are in all, or -1 with errno
 * when /proc cannot be listed. */
long proc_set_find(const struct proc_set *s, struct proc_stat *out, size_t cap);

/* Free what proc_set_from_undo allocated and zero s. */
void proc_set_release(struct proc_set *s);

/* True if /proc is mounted and readable (a verifier's supported()). */
bool proc_available(void);

#endif
