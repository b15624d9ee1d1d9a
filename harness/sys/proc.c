#include "sys/proc.h"

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

int proc_stat_read(pid_t pid, struct proc_stat *out)
{
	char path[64], buf[1024];
	int fd;
	ssize_t n;
	char *lp, *rp, *p;

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
	/* comm is between the first '(' and the last ')'. */
	lp = strchr(buf, '(');
	rp = strrchr(buf, ')');
	if (!lp || !rp || rp < lp) {
		errno = EINVAL;
		return -1;
	}
	memset(out, 0, sizeof(*out));
	out->pid = pid;
	size_t cl = (size_t)(rp - lp - 1);
	if (cl >= sizeof(out->comm))
		cl = sizeof(out->comm) - 1;
	memcpy(out->comm, lp + 1, cl);
	out->comm[cl] = '\0';
	p = rp + 2;
	/* Fields from 3 (state) on, space separated. */
	int field = 3;
	char *save = NULL;
	for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
		switch (field) {
		case 3:
			out->state = tok[0];
			break;
		case 4:
			out->ppid = (pid_t)atoi(tok);
			break;
		case 14:
			out->utime = strtoull(tok, NULL, 10);
			break;
		case 15:
			out->stime = strtoull(tok, NULL, 10);
			break;
		case 22:
			out->start_time = strtoull(tok, NULL, 10);
			break;
		case 24:
			out->rss_pages = atol(tok);
			break;
		}
		if (field > 24)
			break;
	}
	return field > 22 ? 0 : (errno = EINVAL, -1);
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
