#include "sys/proccount.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct walk {
	struct proc_counter *c;
	const struct proc_set *set;
	proc_counter_read_fn read;
	unsigned long long gained;
	bool oom;
};

static int reserve(struct proc_counter *c)
{
	size_t ncap;
	struct proc_counter_entry *a, *b;

	if (c->nnext < c->cap)
		return 0;
	ncap = c->cap ? c->cap * 2 : 16;
	a = realloc(c->procs, ncap * sizeof(*a));
	if (!a)
		return -1;
	c->procs = a;
	b = realloc(c->next, ncap * sizeof(*b));
	if (!b)
		return -1;
	c->next = b;
	c->cap = ncap;
	return 0;
}

static int one(const struct proc_stat *st, void *arg)
{
	struct walk *w = arg;
	struct proc_counter *c = w->c;
	long long v;

	if (st->state == 'Z' || st->state == 'X' || !proc_set_contains(w->set, st))
		return 0;
	v = w->read(st);
	if (v < 0)
		return 0;
	if (reserve(c)) {
		w->oom = true;
		return 1;
	}
	c->next[c->nnext++] =
		(struct proc_counter_entry){ st->pid, st->start_time, (unsigned long long)v };
	if (!c->first_comm[0])
		snprintf(c->first_comm, sizeof(c->first_comm), "%s", st->comm);
	if (!c->have_prev)
		return 0;
	for (size_t i = 0; i < c->nprocs; i++) {
		if (c->procs[i].pid == st->pid && c->procs[i].start_time == st->start_time) {
			if ((unsigned long long)v > c->procs[i].value)
				w->gained += (unsigned long long)v - c->procs[i].value;
			return 0;
		}
	}
	if (st->start_time >= c->prev_boot_ticks)
		w->gained += (unsigned long long)v;
	return 0;
}

int proc_counter_sample(struct proc_counter *c, const struct proc_set *set,
			proc_counter_read_fn read)
{
	struct walk w = { .c = c, .set = set, .read = read };
	unsigned long long boot = proc_boot_ticks();
	struct proc_counter_entry *tmp;

	c->nnext = 0;
	c->first_comm[0] = '\0';
	if (proc_walk(one, &w) < 0)
		return -1;
	if (w.oom) {
		errno = ENOMEM;
		return -1;
	}
	tmp = c->procs;
	c->procs = c->next;
	c->next = tmp;
	c->nprocs = c->nnext;
	c->live = c->nnext;
	c->total += w.gained;
	c->prev_boot_ticks = boot;
	c->have_prev = true;
	return 0;
}

void proc_counter_release(struct proc_counter *c)
{
	free(c->procs);
	free(c->next);
	c->procs = c->next = NULL;
	c->nprocs = c->nnext = c->cap = 0;
}
