/* One cumulative counter (CPU ticks, bytes written) for a set of processes
 * that come and go: what the cpu-busy and io-busy verifiers measure.
 *
 * Each sample walks /proc once, reads every live member's own counter and
 * adds what it gained since the previous sample. A member that is new since
 * then adds all of its counter when it started after that sample (its whole
 * life fell in the interval) and is taken as a baseline otherwise (an older
 * process that only now joined the set, e.g. renamed). Members are matched
 * by pid and start time, so a recycled pid is a new member. A member that
 * exits takes its last interval with it: the count never goes backwards. */
#ifndef CHAOSLAB_PROCCOUNT_H
#define CHAOSLAB_PROCCOUNT_H

#include <stdbool.h>
#include <stddef.h>

#include "sys/proc.h"

/* A member's counter now, or -1 when it cannot be read (it is skipped). */
typedef long long (*proc_counter_read_fn)(const struct proc_stat *st);

struct proc_counter_entry {
	pid_t pid;
	unsigned long long start_time;
	unsigned long long value;
};

struct proc_counter {
	struct proc_counter_entry *procs, *next; /* previous sample, this one */
	size_t nprocs, nnext, cap;
	unsigned long long prev_boot_ticks;      /* when the previous sample ran */
	unsigned long long total;                /* the cumulative count */
	bool have_prev;
	size_t live;                             /* members at the last sample */
	char first_comm[32];                     /* a member's name, "" if none */
};

/* Take a sample of set with read; c starts zeroed. 0, or -1 with errno
 * (ENOMEM, or what listing /proc failed with); c is unchanged then but for
 * first_comm. */
int proc_counter_sample(struct proc_counter *c, const struct proc_set *set,
			proc_counter_read_fn read);

/* Free what c holds (c may be zeroed again afterwards). */
void proc_counter_release(struct proc_counter *c);

#endif
