#include "sys/proc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *proc_boot_id(void)
{
	static char id[40];
	FILE *f;

	if (id[0])
		return id;
	f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (f) {
		if (fgets(id, sizeof(id), f))
			id[strcspn(id, "\n")] = '\0';
		fclose(f);
	}
	if (!id[0])
		snprintf(id, sizeof(id), "unknown");
	return id;
}

long proc_clk_tck(void)
{
	static long tck;

	if (!tck) {
		tck = sysconf(_SC_CLK_TCK);
		if (tck <= 0)
			tck = 100;
	}
	return tck;
}

double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int proc_stat_parse(const char *text, struct proc_stat *out)
{
	const char *lp, *rp, *p;
	size_t cl;
	int field;

	/* comm is between the first '(' and the last ')'. */
	lp = strchr(text, '(');
	rp = strrchr(text, ')');
	if (!lp || !rp || rp < lp) {
		errno = EINVAL;
		return -1;
	}
	memset(out, 0, sizeof(*out));
	out->pid = (pid_t)atoi(text);
	cl = (size_t)(rp - lp - 1);
	if (cl >= sizeof(out->comm))
		cl = sizeof(out->comm) - 1;
	memcpy(out->comm, lp + 1, cl);
	out->comm[cl] = '\0';
	/* Fields from 3 (state) on, space separated. */
	p = rp + 1;
	for (field = 3; field <= 24; field++) {
		char *end;

		while (*p == ' ')
			p++;
		if (!*p || *p == '\n')
			break;
		switch (field) {
		case 3:
			out->state = *p;
			break;
		case 4:
			out->ppid = (pid_t)strtol(p, NULL, 10);
			break;
		case 14:
			out->utime = strtoull(p, NULL, 10);
			break;
		case 15:
			out->stime = strtoull(p, NULL, 10);
			break;
		case 22:
			out->start_time = strtoull(p, NULL, 10);
			break;
		case 24:
			out->rss_pages = strtol(p, NULL, 10);
			break;
		}
		end = strpbrk(p, " \n");
		p = end ? end : p + strlen(p);
	}
	if (field <= 22) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int proc_stat_read(pid_t pid, struct proc_stat *out)
{
	char path[64], buf[1024];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			errno = ESRCH;
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		errno = ESRCH;
		return -1;
	}
	buf[n] = '\0';
	if (proc_stat_parse(buf, out))
		return -1;
	out->pid = pid;
	return 0;
}

int proc_ident_of(pid_t pid, struct proc_ident *out)
{
	struct proc_stat st;

	if (proc_stat_read(pid, &st))
		return -1;
	out->pid = pid;
	out->start_time = st.start_time;
	snprintf(out->boot_id, sizeof(out->boot_id), "%s", proc_boot_id());
	return 0;
}

bool proc_ident_alive(const struct proc_ident *id)
{
	struct proc_stat st;

	if (id->pid <= 0 || strcmp(id->boot_id, proc_boot_id()))
		return false;
	if (proc_stat_read(id->pid, &st))
		return false;
	return st.start_time == id->start_time;
}

bool proc_is_zombie(pid_t pid)
{
	struct proc_stat st;
	return proc_stat_read(pid, &st) == 0 && (st.state == 'Z' || st.state == 'X');
}

cJSON *proc_ident_to_json(const struct proc_ident *id)
{
	cJSON *j = cJSON_CreateObject();

	if (!j)
		return NULL;
	cJSON_AddNumberToObject(j, "pid", id->pid);
	cJSON_AddNumberToObject(j, "start_time", (double)id->start_time);
	cJSON_AddStringToObject(j, "boot_id", id->boot_id);
	return j;
}

int proc_ident_from_json(const cJSON *j, struct proc_ident *out)
{
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(j, "pid");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "start_time");
	const cJSON *bid = cJSON_GetObjectItemCaseSensitive(j, "boot_id");

	if (!cJSON_IsNumber(pid) || !cJSON_IsNumber(st) || !cJSON_IsString(bid))
		return -1;
	out->pid = (pid_t)pid->valuedouble;
	out->start_time = (unsigned long long)st->valuedouble;
	snprintf(out->boot_id, sizeof(out->boot_id), "%s", bid->valuestring);
	return 0;
}

int proc_environ_get(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	static char data[65536];
	size_t nl = strlen(name);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, data, sizeof(data) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	data[n] = '\0';
	for (char *p = data; p < data + n; p += strlen(p) + 1) {
		if (!strncmp(p, name, nl) && p[nl] == '=') {
			snprintf(buf, size, "%s", p + nl + 1);
			return 0;
		}
	}
	return -1;
}

/* Read a small /proc file whole into buf (NUL-terminated). */
static int read_small_file(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return 0;
}

int proc_cpu_times_parse(const char *text, struct proc_cpu_times *out)
{
	unsigned long long v[8] = { 0 };
	const char *line;
	int n;

	memset(out, 0, sizeof(*out));
	line = text;
	while (line && *line) {
		if (!strncmp(line, "cpu ", 4)) {
			n = sscanf(line + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
				   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
			/* Kernels since 2.6.11 give at least eight; older ones four. */
			if (n < 4) {
				errno = EINVAL;
				return -1;
			}
			out->user = v[0];
			out->nice = v[1];
			out->system = v[2];
			out->idle = v[3];
			out->iowait = v[4];
			out->irq = v[5];
			out->softirq = v[6];
			out->steal = v[7];
			out->total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
			out->busy = out->total - out->idle - out->iowait;
		} else if (!strncmp(line, "cpu", 3) && isdigit((unsigned char)line[3])) {
			out->ncpus++;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	if (!out->total) {
		errno = EINVAL;
		return -1;
	}
	if (!out->ncpus)
		out->ncpus = 1;
	return 0;
}

int proc_cpu_times_read(struct proc_cpu_times *out)
{
	/* One line per CPU plus a few more; 64 KiB covers hundreds of CPUs. */
	static char buf[65536];

	if (read_small_file("/proc/stat", buf, sizeof(buf)))
		return -1;
	return proc_cpu_times_parse(buf, out);
}

int proc_loadavg_parse(const char *text, struct proc_loadavg *out)
{
	int last = 0;

	memset(out, 0, sizeof(*out));
	if (sscanf(text, "%lf %lf %lf %d/%d %d", &out->avg[0], &out->avg[1], &out->avg[2],
		   &out->running, &out->total, &last) < 3) {
		errno = EINVAL;
		return -1;
	}
	out->last_pid = (pid_t)last;
	return 0;
}

int proc_loadavg_read(struct proc_loadavg *out)
{
	char buf[256];

	if (read_small_file("/proc/loadavg", buf, sizeof(buf)))
		return -1;
	return proc_loadavg_parse(buf, out);
}

unsigned long long proc_boot_ticks(void)
{
	struct timespec ts;
	long tck = proc_clk_tck();

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (unsigned long long)ts.tv_sec * (unsigned long long)tck +
	       (unsigned long long)ts.tv_nsec / (1000000000ULL / (unsigned long long)tck);
}

int proc_walk(proc_walk_fn fn, void *arg)
{
	struct proc_stat st;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	d = opendir("/proc");
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char *end;
		long pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		if (proc_stat_read((pid_t)pid, &st))
			continue;
		rc = fn(&st, arg);
		if (rc)
			break;
	}
	closedir(d);
	return rc;
}

int proc_set_from_undo(struct proc_set *s, const cJSON *undo)
{
	const cJSON *owner, *workers, *w;
	size_t n = 0;

	memset(s, 0, sizeof(*s));
	if (!undo)
		return 0;
	owner = cJSON_GetObjectItemCaseSensitive(undo, "owner");
	if (cJSON_IsString(owner) && owner->valuestring)
		snprintf(s->owner, sizeof(s->owner), "%s", owner->valuestring);
	workers = cJSON_GetObjectItemCaseSensitive(undo, "workers");
	if (!cJSON_IsArray(workers) || !cJSON_GetArraySize(workers))
		return 0;
	s->idents = calloc((size_t)cJSON_GetArraySize(workers), sizeof(*s->idents));
	if (!s->idents) {
		errno = ENOMEM;
		return -1;
	}
	cJSON_ArrayForEach(w, workers)
		if (!proc_ident_from_json(w, &s->idents[n]))
			n++;
	s->nidents = n;
	return 0;
}

bool proc_set_contains(const struct proc_set *s, const struct proc_stat *st)
{
	char tag[sizeof(s->owner)];

	if (s->pid > 0 && st->pid == s->pid)
		return true;
	if (s->comm[0] && !strcmp(st->comm, s->comm))
		return true;
	for (size_t i = 0; i < s->nidents; i++)
		if (s->idents[i].pid == st->pid && s->idents[i].start_time == st->start_time &&
		    !strcmp(s->idents[i].boot_id, proc_boot_id()))
			return true;
	if (s->owner[0] && !proc_environ_get(st->pid, "CHAOSLAB_OWNER", tag, sizeof(tag)) &&
	    !strcmp(tag, s->owner))
		return true;
	return false;
}

struct set_find {
	const struct proc_set *set;
	struct proc_stat *out;
	size_t cap;
	long count;
};

static int set_find_one(const struct proc_stat *st, void *arg)
{
	struct set_find *f = arg;

	if (st->state == 'Z' || st->state == 'X' || !proc_set_contains(f->set, st))
		return 0;
	if (f->out && (size_t)f->count < f->cap)
		f->out[f->count] = *st;
	f->count++;
	return 0;
}

static int stat_pid_cmp(const void *a, const void *b)
{
	const struct proc_stat *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

long proc_set_find(const struct proc_set *s, struct proc_stat *out, size_t cap)
{
	struct set_find f = { .set = s, .out = out, .cap = cap };

	if (proc_walk(set_find_one, &f) < 0)
		return -1;
	if (out)
		qsort(out, (size_t)f.count < cap ? (size_t)f.count : cap, sizeof(*out),
		      stat_pid_cmp);
	return f.count;
}

void proc_set_release(struct proc_set *s)
{
	free(s->idents);
	memset(s, 0, sizeof(*s));
}

bool proc_available(void)
{
	return access("/proc/self/stat", R_OK) == 0;
}
