/* The lab service table: one entry per service file in harness/lab/. To add a
 * service, write harness/lab/<name>.c exporting one `const struct lab_service`
 * and list it here and its name in LAB_SERVICE_NAMES (service.h). */
#include "lab/service.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern const struct lab_service demo_api_service;
extern const struct lab_service dns_service, tls_service;

const char *const lab_service_names[] = { LAB_SERVICE_NAMES, NULL };

static const struct lab_service *const lab_services[] = {
	&demo_api_service,
	&dns_service, &tls_service,
	NULL,
};

const struct lab_service *lab_service_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; lab_services[i]; i++)
		if (!strcmp(lab_services[i]->name, name))
			return lab_services[i];
	return NULL;
}

void lab_service_vlog(int fd, off_t max, const char *fmt, va_list ap)
{
	char line[768];
	struct timespec ts;
	struct tm tm;
	struct stat st;
	int n;

	if (fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ldZ ", ts.tv_nsec / 1000000);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (n >= (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (!fstat(fd, &st) && st.st_size > max && ftruncate(fd, 0) < 0) {
		/* keep appending: a big log beats no log */
	}
	if (write(fd, line, (size_t)n) < 0) {
		/* nowhere to report it */
	}
}
