#include "sys/tmpfile.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sys/proc.h"

pid_t tmpfile_writer(const char *name)
{
	const char *t = NULL, *p = name;
	char *end;
	long pid;

	/* The last ".tmp." with only digits after it. */
	while ((p = strstr(p, ".tmp."))) {
		t = p;
		p += 5;
	}
	if (!t || t == name || !t[5])
		return 0;
	errno = 0;
	pid = strtol(t + 5, &end, 10);
	if (errno || *end || pid <= 0 || pid > INT_MAX || t[5] < '0' || t[5] > '9')
		return 0;
	return (pid_t)pid;
}

bool tmpfile_writer_dead(pid_t pid)
{
	struct proc_stat st;

	if (pid <= 0)
		return false;
	if (proc_stat_read(pid, &st) < 0)
		return errno == ESRCH;
	return st.state == 'Z' || st.state == 'X';
}

int tmpfile_sweep_dir(const char *dir, const char *prefix)
{
	size_t plen = strlen(prefix);
	struct dirent *de;
	int removed = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (strncmp(de->d_name, prefix, plen))
			continue;
		if (!tmpfile_writer_dead(tmpfile_writer(de->d_name)))
			continue;
		if (!unlinkat(dirfd(d), de->d_name, 0))
			removed++;
	}
	closedir(d);
	return removed;
}

int tmpfile_sweep_path(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX], prefix[NAME_MAX + 8];

	if (!slash || !slash[1])
		return 0;
	if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	snprintf(prefix, sizeof(prefix), "%s.tmp.", slash + 1);
	return tmpfile_sweep_dir(dir, prefix);
}
